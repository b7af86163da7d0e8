"""Numba kernels for :class:`streamlearn.forecaster.RNNForecaster` with ``readout="rls"``.

Output ``k`` (1-based) of the step taken at time ``s`` forecasts the value that
arrives at time ``s + k`` from the regressor ``z_s = [xs_s, u_s]`` (the clean
hidden state and the input, whose column 0 is the constant 1: the bias):
``yhat_k = base_s + W_k . z_s``. Each horizon's read-out ``W_k`` is fitted by
recursive least squares with forgetting (``rls.py``, R1-R3) on the pairs
``(z_s, y_{s+k} - base_s)``.

**One P for every horizon, exactly.** The RLS gain of a pair depends only on
the regressors before it, not on the targets. Horizon ``k`` sees the
regressors ``z_0, z_1, ...`` in the same order as horizon 1, only ``k - 1``
steps later, so its inverse correlation matrix after ``z_s`` equals the one of
horizon 1 after ``z_s``. The kernel therefore updates a single ``P`` when
``z_s`` is formed (R1-R2, O(M^2)) and keeps the gain ``g_s`` in a ring of ``H``
slots; when ``y_t`` arrives, every horizon ``k`` applies R3 with the stored
``g_{t-k}`` (O(M) each). Per step: one O(M^2) pass plus O(H M), instead of ``H``
O(M^2) passes, with results equal to ``H`` independent RLS read-outs (tested).

**Hidden layer.** A, R (and D) keep learning by the network's rule from the
twins' loss difference. The noisy twin's forecasts come from the same read-out,
``base_s + W_k . [xs~_s, u_s]``, with no output noise, so dl is caused by the
hidden perturbation alone. The step of time ``s`` is judged on all its
horizons: its loss is ``L_s = (1/H) sum_k (yhat_k - y_{s+k})^2``, and its
``dl_s`` (or, for BP, the gradient reaching its state) accumulates as the
targets arrive. When the last one has arrived (time ``s + H``) the step's
update is applied once: one rank-1 (A, R) update per time step whatever ``H``
is. With ``H = 1`` this is the core's online rule with the RLS read-out.

Order of operations in :func:`_learn_step` for the value ``z`` arriving at time
``t`` (standard units): (1) every pending slot's read-out update (R3) and its
loss-difference share, (2) the hidden update of slot ``t - H``, now complete,
(3) the decorrelation update for step ``t - 1``, (4) the forward step of both
twins on input ``u`` (``forecast._forward``), its forecasts, and its gain
(R1-R2), in slot ``t mod H``.

**The step is a transaction**, as in ``forecast.py``: what it may change (A, R,
D, the moments, W, the error scales, the gate's running errors, the pending
slots' accumulated dl, the counters and the random stream) is kept first, and
the forecasts, the new state, the weights and W are checked
(``guard._forecast_health``) before the ring slot, P (R1-R2, which the check
does not read) and the state are written. A refused step puts the kept arrays
back and returns its code.

Bundles: ``net`` as in ``forecast.py`` (``OnlineRNN.buffers()``, with WP's
noise views of the hidden layer alone); ``model`` (W, P, rls, err_scale,
track, counters, max_weight); ``rings`` (ring_u, ring_xp, ring_z, ring_g,
ring_dir, ring_y, ring_yn, ring_s, ring_rng, ring_i, ring_base, ring_dl,
ring_gx); ``work`` (work_n, work_o, grad, gain_q, wp_flat, rng_tmp, report);
``keep`` as in ``forecast.py``, its second buffer holding W, err_scale, track,
ring_dl and ring_gx.
"""

from numba import njit

from .._jit import FLAT, INNER
from .forecast import (
    F_FY,
    F_FYN,
    F_TMP,
    F_XS,
    F_XSN,
    _commit_hidden,
    _forward,
    _lags_in,
    _lags_push,
    _wp_redraw,
)
from .guard import _forecast_health, _keep, _kept, _transfer, _transfer2
from .layout import (
    ANP,
    BP,
    C_DECOR,
    C_METHOD,
    C_NOISE,
    C_OPT,
    H_LR,
    H_SIGMA,
    NP,
    WP,
)
from .linalg import _copy, _rmatvec
from .optim import _split_moments, _update_dense, _update_lowrank
from .rls import _rls_gain_restarting

# counters
FK_ADAM, FK_STEPS, FK_RESTARTS = 0, 1, 2
N_FCOUNTERS = 3
# rls slots (float64): forgetting factor, alpha (P0 = I / alpha), cap on P's diagonal,
# the error clip c (0: none) and the rate floor of the error scale
R_LAM, R_ALPHA, R_PMAX, R_CLIP, R_RATE, R_GATE_RATE = 0, 1, 2, 3, 4, 5
N_RLS = 6


@njit(**INNER)
def _clipped_error(W_o, z_s, target, scale, o, n, rls):
    """The a priori error of horizon ``o``, clipped to ``c`` times its running
    mean absolute size (a Huber-type RLS step: an outlier moves the fit by a
    bounded amount); the running size ``scale[o]`` is updated with the clipped
    magnitude at rate ``max(1 / n, rate)``. The first 10 errors (and any while the
    size is still 0) are not clipped. ``c = 0`` leaves the error as it is."""
    e = target
    for i in range(z_s.shape[0]):
        e -= W_o[i] * z_s[i]
    c = rls[R_CLIP]
    if c <= 0.0:
        return e
    bound = c * scale[o]
    a = abs(e)
    if n > 10 and a > bound > 0.0:  # warm-up: the size is not known yet
        e = bound if e > 0.0 else -bound
        a = bound
    rate = 1.0 / n
    if rate < rls[R_RATE]:
        rate = rls[R_RATE]
    scale[o] += rate * (a - scale[o])
    return e



@njit(**INNER)
def _hidden_update(net, rings, work, counters, s):
    """Step (2): slot ``s``'s update of A and R from its accumulated dl (eqs. 4, 5, 6, 8)."""
    A, RT, B, DT, moments, wp, rng, state, hyper, config = net
    ring_u, ring_xp, ring_z, ring_g, ring_dir, ring_y, ring_yn, ring_s, ring_rng, ring_i, \
        ring_base, ring_dl, ring_gx = rings
    work_n, work_o, grad, gain_q, wp_flat, rng_tmp, report = work
    R = RT.T
    N, I = A.shape
    method = config[C_METHOD]
    opt = config[C_OPT]
    sigma = hyper[H_SIGMA]
    lr = hyper[H_LR]
    counters[FK_ADAM] += 1
    t = counters[FK_ADAM]
    mA, vA, mR, vR, mB, vB = _split_moments(moments, N, I, B.shape[0])
    dl = ring_dl[s]
    g = grad[0]
    if method == WP:
        Is = ring_i[s]
        xiA, xiR, _ = _wp_redraw(wp_flat, rng_tmp, ring_rng, s, N, Is, 0, sigma,
                                 config[C_NOISE])
        scale = dl / (sigma * sigma)
        _update_dense(A[:, 0:Is], xiA, scale, lr, opt, mA[:, 0:Is], vA[:, 0:Is], hyper, t)
        _update_dense(R, xiR, scale, lr, opt, mR, vR, hyper, t)
        return
    dirs = ring_dir[s]
    if method == BP:
        tmp = work_n[F_TMP]
        if config[C_DECOR] != 0:
            _rmatvec(DT.T, ring_gx[s], tmp)
        else:
            _copy(ring_gx[s], tmp)
        for i in range(N):
            g[i] = dirs[i] * tmp[i]
    elif method == NP:
        f = dl / (sigma * sigma)
        for i in range(N):
            g[i] = f * dirs[i]
    else:  # ANP: N dl d / ||d||^2, zero when d vanishes
        ssa = ring_s[s]
        f = (N * dl) / ssa if ssa > 0.0 else 0.0
        for i in range(N):
            g[i] = f * dirs[i]
    _update_lowrank(A, grad, ring_u[s:s + 1], 1, lr, opt, mA, vA, hyper, t)
    _update_lowrank(R, grad, ring_xp[s:s + 1], 1, lr, opt, mR, vR, hyper, t)


@njit(**INNER)
def _learn_readout(W, rls, err_scale, track, rings, counters, config, z):
    """Step (1): every pending slot's read-out update (R3), the gate's running errors
    and the slot's share of its loss difference (or, for BP, of its gradient)."""
    ring_u, ring_xp, ring_z, ring_g, ring_dir, ring_y, ring_yn, ring_s, ring_rng, ring_i, \
        ring_base, ring_dl, ring_gx = rings
    H = W.shape[0]
    N = ring_gx.shape[1]
    steps = counters[FK_STEPS]
    n_pending = steps if steps < H else H
    method = config[C_METHOD]
    for k in range(1, n_pending + 1):
        o = k - 1
        s = (steps - k) % H
        d = ring_y[s, o] - z
        # running mean absolute errors of this horizon's forecast and of the base
        # forecast (persistence, with residual), for the forecaster's gate
        rate = 1.0 / (steps - k + 1)
        if rate < rls[R_GATE_RATE]:
            rate = rls[R_GATE_RATE]
        track[0, o] += rate * (abs(d) - track[0, o])
        track[1, o] += rate * (abs(ring_base[s] - z) - track[1, o])
        if method == BP:
            coef = 2.0 * d / H
            for j in range(N):
                ring_gx[s, j] += coef * W[o, j]
        else:
            dn = ring_yn[s, o] - z
            ring_dl[s] += (dn * dn - d * d) / H
        # (R3), with the error clipped when rls_clip > 0
        e = _clipped_error(W[o], ring_z[s], z - ring_base[s], err_scale, o, steps - k + 1, rls)
        w = W[o]
        g = ring_g[s]
        for i in range(w.shape[0]):
            w[i] += g[i] * e


@njit(**INNER)
def _keep_readout(W, err_scale, track, ring_dl, ring_gx, keep, save):
    """``guard._keep`` for what step (1) changes: W, the error scales, the gate's
    running errors and the pending slots' dl (or, for BP, gradients)."""
    buf = keep[1]
    H, M = W.shape
    _transfer2(W, _kept(buf, 0, W), save)
    _transfer(err_scale, buf[H * M:H * M + H], save)
    _transfer2(track, _kept(buf, H * M + H, track), save)
    _transfer(ring_dl, buf[H * M + 3 * H:H * M + 4 * H], save)
    _transfer2(ring_gx, _kept(buf, H * M + 4 * H, ring_gx), save)


@njit(**FLAT)
def _learn_step(net, model, rings, work, keep, sample):
    """One time step: learn from ``z`` (the value now arriving), then step on ``u``.

    ``sample`` as in ``forecast._learn_step``. Returns 0 when the step is committed,
    else the code of ``guard._forecast_health`` with every array as before the step.
    """
    z, u, base = sample[0], sample[1], sample[2]
    _lags_in(sample)
    A, RT, B, DT, moments, wp, rng, state, hyper, config = net
    W, P, rls, err_scale, track, counters, max_weight = model
    ring_u, ring_xp, ring_z, ring_g, ring_dir, ring_y, ring_yn, ring_s, ring_rng, ring_i, \
        ring_base, ring_dl, ring_gx = rings
    work_n, work_o, grad, gain_q, wp_flat, rng_tmp, report = work
    N, I = A.shape
    H = W.shape[0]
    steps = counters[FK_STEPS]
    method = config[C_METHOD]
    decor = config[C_DECOR] != 0
    hidden = steps >= H and hyper[H_LR] > 0.0
    _keep(net, counters, keep, hidden, False, decor and steps > 0, True)
    if steps > 0:
        _keep_readout(W, err_scale, track, ring_dl, ring_gx, keep, True)
    _learn_readout(W, rls, err_scale, track, rings, counters, config, z)
    # (2) the step of time t - H has all its targets: one hidden update
    if hidden:
        _hidden_update(net, rings, work, counters, (steps - H) % H)
    # (3), (4): D's update of time t - 1, both twins on u (no output noise: the
    # read-out is least squares)
    _forward(net, work_n, work_o, wp_flat, u, decor and steps > 0, False)
    xs_new = work_n[F_XS]
    xsn_new = work_n[F_XSN]
    fy = work_o[F_FY]
    fyn = work_o[F_FYN]
    for o in range(H):
        c = 0.0
        n = 0.0
        w = W[o]
        for j in range(N):
            c += w[j] * xs_new[j]
            n += w[j] * xsn_new[j]
        shared = 0.0
        for k in range(I):
            shared += w[N + k] * u[k]
        fy[o] = base + (c + shared)
        fyn[o] = base + (n + shared)
    code = _forecast_health(fy, xs_new, xsn_new, A, RT, B, DT, W, moments, False, decor,
                            max_weight, report)
    if code != 0:
        _keep(net, counters, keep, hidden, False, decor and steps > 0, False)
        if steps > 0:
            _keep_readout(W, err_scale, track, ring_dl, ring_gx, keep, False)
        return code

    slot = steps % H
    zs = ring_z[slot]
    for j in range(N):
        zs[j] = xs_new[j]
    for k in range(I):
        zs[N + k] = u[k]
    ss = _commit_hidden(slot, u, net, work_n, keep[3], ring_u, ring_xp, ring_i, ring_dir,
                        ring_rng)
    if method == ANP:
        ring_s[slot] = ss
    _copy(fy, ring_y[slot])
    _copy(fyn, ring_yn[slot])
    ring_base[slot] = base
    ring_dl[slot] = 0.0
    for j in range(N):
        ring_gx[slot, j] = 0.0
    # (R1, R2): the gain of z_slot, shared by every horizon
    if _rls_gain_restarting(P, zs, rls[R_LAM], rls[R_PMAX], rls[R_ALPHA], ring_g[slot],
                            gain_q):
        counters[FK_RESTARTS] += 1
    _lags_push(sample)
    counters[FK_STEPS] += 1
    return 0
