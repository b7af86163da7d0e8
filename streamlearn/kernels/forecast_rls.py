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

Order of operations in :func:`learn_step` for the value ``z`` arriving at time
``t`` (standard units): (1) every pending slot's read-out update (R3) and its
loss-difference share, (2) the hidden update of slot ``t - H``, now complete,
(3) the decorrelation update for step ``t - 1``, (4) the forward step of both
twins on input ``u``, its forecasts, and its gain (R1-R2), in slot ``t mod H``.
"""

import numpy as np
from numba import njit

from .._jit import INNER
from .decorrelation import _decorrelate
from .layout import ANP, BP, C_ACT, C_NOISE, C_DECOR, C_METHOD, C_OPT, H_LR, H_LR_DEC, H_SIGMA, NP, WP
from .linalg import _matvec, _matvec_twins, _rmatvec
from .network import _activate, _dact, _fill_noise, _hidden_clean, _hidden_twins, _hidden_twins_wp
from .optim import _split_moments, _update_dense, _update_lowrank
from .rls import _rls_gain_restarting, _rls_restart

# rows of work_n (N,)
F_ALPHA, F_ALPHAN, F_X, F_XN, F_XS, F_XSN, F_XI, F_XI0, F_TMP, F_TMP2 = range(10)
N_FWORK_N = 10
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
def _hidden_update(A, R, moments, wp_noise, rng_tmp, grad, ring_u, ring_xp, ring_dir,
                   ring_s, ring_rng, ring_i, ring_dl, ring_gx, D, work_n, counters,
                   hyper, config, s):
    """Step (2): slot ``s``'s update of A and R from its accumulated dl (eqs. 4, 5, 6, 8)."""
    N, I = A.shape
    method = config[C_METHOD]
    opt = config[C_OPT]
    sigma = hyper[H_SIGMA]
    lr = hyper[H_LR]
    counters[FK_ADAM] += 1
    t = counters[FK_ADAM]
    O = (moments.shape[0] // 2 - N * I - N * N) // N if moments.shape[0] else 0
    mA, vA, mR, vR, mB, vB = _split_moments(moments, N, I, O)
    dl = ring_dl[s]
    g = grad[0]
    if method == WP:
        Is = ring_i[s]
        for q in range(4):
            rng_tmp[q] = ring_rng[s, q]
        size = N * Is + N * N
        _fill_noise(rng_tmp, wp_noise[0:size], sigma, config[C_NOISE])
        xiA = wp_noise[0:N * Is].reshape((N, Is))
        xiR = wp_noise[N * Is:size].reshape((N, N))
        scale = dl / (sigma * sigma)
        if opt == 0:
            _update_dense(A[:, 0:Is], xiA, scale, lr, opt, mA, vA, hyper, t)
        else:
            _update_dense(A[:, 0:Is], xiA, scale, lr, opt, mA[:, 0:Is], vA[:, 0:Is], hyper, t)
        _update_dense(R, xiR, scale, lr, opt, mR, vR, hyper, t)
        return
    dirs = ring_dir[s]
    if method == BP:
        tmp = work_n[F_TMP]
        if config[C_DECOR] != 0:
            _rmatvec(D, ring_gx[s], tmp)
        else:
            tmp[:] = ring_gx[s]
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
def _forward(A, R, D, W, P, wp_noise, state, work_n, rng, hyper, rls, config, u,
             gain_q, ring_u, ring_xp, ring_z, ring_g, ring_dir, ring_y, ring_yn,
             ring_s, ring_rng, ring_i, ring_base, ring_dl, ring_gx, counters, slot, base):
    """Step (4): both twins on ``u``, the forecasts of both, and the gain of z (R1-R2)."""
    N, I = A.shape
    H = W.shape[0]
    method = config[C_METHOD]
    act = config[C_ACT]
    decor = config[C_DECOR] != 0
    sigma = hyper[H_SIGMA]
    xs = state[0]
    xsn = state[1]
    alpha = work_n[F_ALPHA]
    alphan = work_n[F_ALPHAN]
    x = work_n[F_X]
    xn = work_n[F_XN]
    xs_new = work_n[F_XS]
    xsn_new = work_n[F_XSN]
    xi = work_n[F_XI]
    xi0 = work_n[F_XI0]
    twins = method != BP

    for k in range(I):
        ring_u[slot, k] = u[k]
    for j in range(N):
        ring_xp[slot, j] = xs[j]
    ring_i[slot] = I
    if method == WP:
        for q in range(4):
            ring_rng[slot, q] = rng[q]  # the position the update redraws from
        size = N * I + N * N
        _fill_noise(rng, wp_noise[0:size], sigma, config[C_NOISE])
        xiA = wp_noise[0:N * I].reshape((N, I))
        xiR = wp_noise[N * I:size].reshape((N, N))
        _hidden_twins_wp(A, R, xiA, xiR, u, xs, xsn, alpha, alphan)
    elif twins:
        _fill_noise(rng, xi, sigma, config[C_NOISE])
        _hidden_twins(A, R, u, xs, xsn, xi0, xi, alpha, alphan)
    else:
        _hidden_clean(A, R, u, xs, alpha)
    _activate(alpha, x, act)
    if twins:
        _activate(alphan, xn, act)
        if decor:
            _matvec_twins(D, x, xn, xs_new, xsn_new)
        else:
            xs_new[:] = x
            xsn_new[:] = xn
    else:
        if decor:
            _matvec(D, x, xs_new)
        else:
            xs_new[:] = x
        xsn_new[:] = xs_new

    z = ring_z[slot]
    for j in range(N):
        z[j] = xs_new[j]
    for k in range(I):
        z[N + k] = u[k]
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
        ring_y[slot, o] = base + (c + shared)
        ring_yn[slot, o] = base + (n + shared)
    ring_base[slot] = base
    ring_dl[slot] = 0.0
    for j in range(N):
        ring_gx[slot, j] = 0.0

    if method == ANP:
        ss = 0.0
        for i in range(N):
            d = alphan[i] - alpha[i]
            ring_dir[slot, i] = d
            ss += d * d
        ring_s[slot] = ss
    elif method == NP:
        for i in range(N):
            ring_dir[slot, i] = xi[i]
    elif method == BP:
        for i in range(N):
            ring_dir[slot, i] = _dact(alpha[i], x[i], act)

    # (R1, R2): the gain of z_slot, shared by every horizon
    g = ring_g[slot]
    if _rls_gain_restarting(P, z, rls[R_LAM], rls[R_PMAX], rls[R_ALPHA], g, gain_q):
        counters[FK_RESTARTS] += 1

    xs[:] = xs_new
    xsn[:] = xsn_new


@njit(cache=True)
def learn_step(A, R, D, W, P, moments, wp_noise, rng, rng_tmp, state, work_n, grad,
               gain_q, ring_u, ring_xp, ring_z, ring_g, ring_dir, ring_y, ring_yn, ring_s,
               ring_rng, ring_i, ring_base, ring_dl, ring_gx, err_scale, track, counters, hyper,
               rls, config, z, u, base):
    """One time step: learn from ``z`` (the value now arriving), then step on ``u``."""
    N = A.shape[0]
    H = W.shape[0]
    steps = counters[FK_STEPS]
    n_pending = steps if steps < H else H
    method = config[C_METHOD]
    # (1) read-out updates (R3) and each slot's share of its loss difference
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
    # (2) the step of time t - H has all its targets: one hidden update
    if steps >= H and hyper[H_LR] > 0.0:
        _hidden_update(A, R, moments, wp_noise, rng_tmp, grad, ring_u, ring_xp, ring_dir,
                       ring_s, ring_rng, ring_i, ring_dl, ring_gx, D, work_n, counters,
                       hyper, config, (steps - H) % H)
    # (3) the decorrelation step of time t - 1, on its clean state
    if config[C_DECOR] != 0 and steps > 0:
        _decorrelate(D, state[0], work_n[F_TMP], hyper[H_LR_DEC])
    slot = steps % H
    _forward(A, R, D, W, P, wp_noise, state, work_n, rng, hyper, rls, config, u, gain_q,
             ring_u, ring_xp, ring_z, ring_g, ring_dir, ring_y, ring_yn, ring_s, ring_rng,
             ring_i, ring_base, ring_dl, ring_gx, counters, slot, base)
    counters[FK_STEPS] += 1


@njit(**INNER)
def _absmax_ok(M, bound):
    """True if every entry of the 2-D ``M`` is finite and at most ``bound`` in magnitude."""
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            if not abs(M[i, j]) <= bound:
                return False
    return True


@njit(cache=True)
def health(A, R, B, D, W, moments, state, last, max_weight):
    """Why the step just taken must not stand: 0 healthy, 1 the forecasts or the
    state are not finite, 2 a weight of A, R, B, D is beyond ``max_weight`` (or
    not finite), 3 the least-squares read-out is not finite, 4 the optimizer's
    moments are not finite. One pass, no allocation (the forecaster's guard)."""
    for v in last:
        if not np.isfinite(v):
            return 1
    for i in range(state.shape[0]):
        for j in range(state.shape[1]):
            if not np.isfinite(state[i, j]):
                return 1
    if not (_absmax_ok(A, max_weight) and _absmax_ok(R, max_weight)
            and _absmax_ok(B, max_weight) and _absmax_ok(D, max_weight)):
        return 2
    if not _absmax_ok(W, np.inf):
        return 3
    for v in moments:
        if not np.isfinite(v):
            return 4
    return 0
