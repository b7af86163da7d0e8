"""Numba kernels for :class:`streamlearn.forecaster.RNNForecaster`: delayed targets.

The forecaster's network has one output per step ahead (``H = max_horizon``
outputs). Output ``k`` (1-based) of the step taken at time ``s`` predicts the
value that arrives at time ``s + k``. Nothing can be learned from it before
then, so every forward step stores the *activity vectors* its later updates
need in a ring of ``H`` slots (slot ``s mod H``); when ``y_t`` arrives, each
pending slot ``s = t - k`` gets the loss difference of its output ``k`` and
contributes its part of the update. No ``N x N`` matrix is stored per step:

======  ==========================================  ============================
method  hidden-layer vector kept per step           output-layer vector per step
======  ==========================================  ============================
anp     ``da = alpha~ - alpha`` and ``||da||^2``    ``db = beta~ - beta``, ``||db||^2``
np      the hidden noise ``xi``                     the output noise ``nu``
wp      the random-stream position (``uint64[4]``)  (same; the noise is redrawn)
bp      ``f'(alpha)``                               (the error, from ``beta``)
======  ==========================================  ============================

plus, for every method, the input ``u_s``, the previous clean state
``xs_{s-1}``, the new clean state ``xs_s`` and both twins' outputs. WP redraws
the weight noise of step ``s`` from the stored stream position (a copy of the
state, so the model's own stream is not disturbed): ``O(H (N I + N^2))`` extra
normal draws per step instead of ``H`` stored ``N x N`` noise matrices.

Per-output loss is ``l_k = (beta_k - y)^2 / H`` so that the ``H`` pieces of one
step add up to the core's mean-over-outputs loss. The hidden-layer update of
one step is the core's update for ``dl = sum_k dl_k``, split into the pieces
as their targets arrive. Row ``k`` of ``B`` only takes ``dl_k``: the other
outputs' loss changes are independent of row ``k``'s perturbation (zero mean)
and arrive at other times. With ``H = 1`` every quantity, the random draws and
the order of operations equal one learning step of the core's ``_step``: this
is tested bit for bit.

Order of operations in :func:`_learn_step` for the value ``z`` arriving at time
``t``: (1) all pending slots' gradients are computed from the current weights,
(2) one optimiser step updates ``A``, ``R``, ``B`` (one Adam step per time
step), (3) the decorrelation update for step ``t - 1`` (postponed to here so
that BP reads the same ``D`` as the core does), (4) the forward step ``t`` of
both twins on input ``u`` (``_forward``, shared with ``forecast_rls.py``),
stored in slot ``t mod H``. Steps (1) to (3) are the core's update of step
``t - 1`` when ``H = 1``. The network's arrays are the core's
(``OnlineRNN.buffers()``: R and D arrive transposed, ``RT = R^T``, and the
kernel works on ``RT.T``, R in its own column-major layout).

**The step is a transaction** (the forecaster's divergence guard, as the
core's is inside ``step._step_fast``). Before it changes anything the kernel
keeps a copy of what the step may change (A, R, B and the moments when an
update is applied, D when it is learned, the counters and the random stream)
in buffers kept for the purpose (``guard._keep``); the forecasts and the new
state are computed into scratch and checked (``guard._forecast_health``: finite
forecasts and state, every weight within ``max_weight``, finite moments)
before they are written into the ring and the state. A refused step copies
the kept arrays back and returns its code: every model array is then as it
was, bit for bit, and nothing else was written.

Bundles (tuples, as ``fleet.py``'s): ``net`` (A, RT, B, DT, moments, wp, rng,
state, hyper, config), the fields of ``OnlineRNN.buffers()``; ``model``
(counters, max_weight); ``rings`` (ring_u, ring_xp, ring_xs, ring_dir, ring_y,
ring_yn, ring_do, ring_s, ring_rng, ring_i); ``work`` (work_n, work_o, grad,
slot_of, dense, wp_flat, rng_tmp, report), scratch written before it is read;
``keep`` the kept copies, four flat buffers (``guard._keep``): the network's
weights and moments, the read-out's state (least squares only), the counters,
the random stream. Few arrays per call keep Numba's dispatch cheap.
"""

from numba import njit

from .._jit import FLAT, INNER
from .guard import _forecast_health, _keep
from .decorrelation import _decorrelate
from .layout import (
    ADAM,
    ANP,
    BP,
    C_ACT,
    C_DECOR,
    C_METHOD,
    C_NOISE,
    C_NOISY_REF,
    C_OPT,
    H_LR,
    H_LR_DEC,
    H_SIGMA,
    NP,
    SGD,
    WP,
)
from .linalg import _copy, _matvec, _matvec_twins, _rmatvec
from .network import _activate, _dact, _fill_noise, _hidden_clean, _hidden_twins, _hidden_twins_wp
from .optim import _split_moments, _update_dense, _update_lowrank, _update_vector
from .readouts import _readout_twins, _readout_twins_wp

# rows of work_n (N,)
F_ALPHA, F_ALPHAN, F_X, F_XN, F_XS, F_XSN, F_XI, F_XI0, F_TMP, F_TMP2 = range(10)
N_FWORK_N = 10
# rows of work_o (H,): both twins' outputs, their output noise, B's per-output
# factors, both twins' forecasts (float64 with the least-squares read-out)
F_Y, F_YN, F_NU, F_NU0, F_COEF, F_FY, F_FYN = range(7)
N_FWORK_O = 7
# counters
FK_ADAM, FK_STEPS = 0, 1
N_FCOUNTERS = 2
# columns of ring_s
S_SSA, S_SSB = 0, 1


@njit(**INNER)
def _update_rows(B, coef, slot_of, XS, lr, opt, M, V, hyper, t):
    """B[o] -= lr * step(coef[o] * XS[slot_of[o]]) for rows with slot_of[o] >= 0.

    Row ``o`` of the read-out is updated from the state of the step whose
    output ``o`` just met its target. With SGD only those rows change; with
    Adam every entry's moments advance (a zero gradient elsewhere), as in the
    core.
    """
    for o in range(B.shape[0]):
        s = slot_of[o]
        if s >= 0:
            if opt != SGD or lr * coef[o] != 0.0:
                _update_vector(B[o], XS[s], coef[o], lr, opt, M[o], V[o], hyper, t)
        elif opt != SGD:  # a zero gradient: the moments still decay
            _update_vector(B[o], XS[0], 0.0, lr, opt, M[o], V[o], hyper, t)


@njit(**INNER)
def _wp_views(noise, N, I, O):
    nA = N * I
    nR = N * N
    xiA = noise[0:nA].reshape((N, I))
    xiR = noise[nA:nA + nR].reshape((N, N))
    xiB = noise[nA + nR:nA + nR + O * N].reshape((O, N))
    return xiA, xiR, xiB


@njit(**INNER)
def _wp_redraw(wp_flat, rng_tmp, ring_rng, s, N, Is, O, sigma, kind):
    """WP's weight noise of the step in slot ``s``, drawn again from its stream
    position (a copy: the model's own stream is not disturbed)."""
    for q in range(4):
        rng_tmp[q] = ring_rng[s, q]
    _fill_noise(rng_tmp, wp_flat[0:N * Is + N * N + O * N], sigma, kind)
    return _wp_views(wp_flat, N, Is, O)


@njit(**INNER)
def _delayed_update(net, counters, rings, work, z):
    """Steps (1) and (2): learn from the value ``z`` that just arrived."""
    A, RT, B, DT, moments, wp, rng, state, hyper, config = net
    ring_u, ring_xp, ring_xs, ring_dir, ring_y, ring_yn, ring_do, ring_s, ring_rng, ring_i = rings
    work_n, work_o, grad, slot_of, dense, wp_flat, rng_tmp, report = work
    R = RT.T
    D = DT.T
    N, I = A.shape
    O = B.shape[0]
    method = config[C_METHOD]
    opt = config[C_OPT]
    decor = config[C_DECOR] != 0
    sigma = hyper[H_SIGMA]
    lr = hyper[H_LR]
    steps = counters[FK_STEPS]
    n_pending = steps if steps < O else O
    if n_pending == 0:
        return
    coef = work_o[F_COEF]
    tmp = work_n[F_TMP]
    tmp2 = work_n[F_TMP2]
    for s in range(O):
        slot_of[s] = -1
        for i in range(N):
            grad[s, i] = 0.0
        coef[s] = 0.0

    counters[FK_ADAM] += 1
    t = counters[FK_ADAM]
    mA, vA, mR, vR, mB, vB = _split_moments(moments, N, I, B.shape[0])

    if method == WP:
        if opt == ADAM:
            for q in range(dense.shape[0]):
                dense[q] = 0.0
            gA, gR, gB = _wp_views(dense, N, I, O)
        else:
            gA, gR, gB = _wp_views(dense, 0, 0, 0)
        for k in range(1, n_pending + 1):
            o = k - 1
            s = (steps - k) % O
            d = ring_y[s, o] - z
            dn = ring_yn[s, o] - z
            dl = (dn * dn) / O - (d * d) / O
            scale = dl / (sigma * sigma)
            Is = ring_i[s]
            xiA, xiR, xiB = _wp_redraw(wp_flat, rng_tmp, ring_rng, s, N, Is, O, sigma,
                                       config[C_NOISE])
            if opt == SGD:
                _update_dense(A[:, 0:Is], xiA, scale, lr, opt, mA, vA, hyper, t)
                _update_dense(R, xiR, scale, lr, opt, mR, vR, hyper, t)
                f = lr * scale
                for j in range(N):
                    B[o, j] -= f * xiB[o, j]
            else:
                for i in range(N):
                    for j in range(Is):
                        gA[i, j] += scale * xiA[i, j]
                    for j in range(N):
                        gR[i, j] += scale * xiR[i, j]
                for j in range(N):
                    gB[o, j] = scale * xiB[o, j]
        if opt == ADAM:
            _update_dense(A, gA, 1.0, lr, opt, mA, vA, hyper, t)
            _update_dense(R, gR, 1.0, lr, opt, mR, vR, hyper, t)
            _update_dense(B, gB, 1.0, lr, opt, mB, vB, hyper, t)
        return

    # (1) every pending slot's gradient rows, from the current weights
    for k in range(1, n_pending + 1):
        o = k - 1
        s = (steps - k) % O
        slot_of[o] = s
        d = ring_y[s, o] - z
        g = grad[s]
        dirs = ring_dir[s]
        if method == BP:
            gb = 2.0 * (ring_y[s, o] - z) / O
            for j in range(N):
                tmp[j] = 0.0 + B[o, j] * gb  # one row of B^T gb, as _rmatvec
            if decor:
                _rmatvec(D, tmp, tmp2)
            else:
                _copy(tmp, tmp2)
            for i in range(N):
                g[i] = dirs[i] * tmp2[i]
            coef[o] = gb
            continue
        dn = ring_yn[s, o] - z
        dl = (dn * dn) / O - (d * d) / O
        if method == NP:
            f = dl / (sigma * sigma)
            for i in range(N):
                g[i] = f * dirs[i]
            coef[o] = f * ring_do[s, o]
        else:  # ANP: scale * d / ||d||^2 per layer, zero when d vanishes
            ssa = ring_s[s, S_SSA]
            f = (N * dl) / ssa if ssa > 0.0 else 0.0
            for i in range(N):
                g[i] = f * dirs[i]
            ssb = ring_s[s, S_SSB]
            fb = (O * dl) / ssb if ssb > 0.0 else 0.0
            coef[o] = fb * ring_do[s, o]

    # (2) one optimiser step; rows of ``grad`` that are not pending are zero
    _update_lowrank(A, grad, ring_u, O, lr, opt, mA, vA, hyper, t)
    _update_lowrank(R, grad, ring_xp, O, lr, opt, mR, vR, hyper, t)
    _update_rows(B, coef, slot_of, ring_xs, lr, opt, mB, vB, hyper, t)


@njit(**INNER)
def _forward(net, work_n, work_o, wp_flat, u, decorrelate, output_noise):
    """Steps (3) and (4) of both read-outs' kernels: with ``decorrelate`` the
    decorrelation update of time t - 1 on its clean state (eq. 10), then both twins
    on ``u`` (eqs. 1, 3, 7), their states into work_n's F_XS and F_XSN rows (F_XSN
    = F_XS without twins). The noise is drawn in the core's order: xi, then
    (``output_noise``, the perturbation read-out's) nu, and with a noisy reference
    twin xi0, nu0; WP's weight noise fills ``wp_flat``."""
    A, DT, rng, state, hyper, config = net[0], net[3], net[6], net[7], net[8], net[9]
    R = net[1].T
    N, I = A.shape
    method, act, kind = config[C_METHOD], config[C_ACT], config[C_NOISE]
    sigma = hyper[H_SIGMA]
    if decorrelate:
        _decorrelate(DT.T, state[0], work_n[F_TMP], hyper[H_LR_DEC])
    alpha, alphan, x, xn = work_n[F_ALPHA], work_n[F_ALPHAN], work_n[F_X], work_n[F_XN]
    if method == WP:
        _fill_noise(rng, wp_flat, sigma, kind)
        xiA = wp_flat[0:N * I].reshape((N, I))
        xiR = wp_flat[N * I:N * I + N * N].reshape((N, N))
        _hidden_twins_wp(A, R, xiA, xiR, u, state[0], state[1], alpha, alphan)
    elif method != BP:
        _fill_noise(rng, work_n[F_XI], sigma, kind)
        if output_noise:
            _fill_noise(rng, work_o[F_NU], sigma, kind)
        if config[C_NOISY_REF] != 0:
            _fill_noise(rng, work_n[F_XI0], sigma, kind)
            _fill_noise(rng, work_o[F_NU0], sigma, kind)
        _hidden_twins(A, R, u, state[0], state[1], work_n[F_XI0], work_n[F_XI], alpha, alphan)
    else:
        _hidden_clean(A, R, u, state[0], alpha)
    _activate(alpha, x, act)
    if method != BP:
        _activate(alphan, xn, act)
        if config[C_DECOR] != 0:
            _matvec_twins(DT.T, x, xn, work_n[F_XS], work_n[F_XSN])
        else:
            _copy(x, work_n[F_XS])
            _copy(xn, work_n[F_XSN])
    else:
        if config[C_DECOR] != 0:
            _matvec(DT.T, x, work_n[F_XS])
        else:
            _copy(x, work_n[F_XS])
        _copy(work_n[F_XS], work_n[F_XSN])


@njit(**INNER)
def _commit_hidden(slot, u, net, work_n, rng0, ring_u, ring_xp, ring_i, ring_dir, ring_rng):
    """Commit the hidden layer's part of the step: the activity its later update
    needs into ring slot ``slot`` (u, xs_{t-1}, the input count, the direction of
    ANP, NP or BP, WP's stream position ``rng0`` before the step's draws), then the
    new states. Returns ||alpha~ - alpha||^2 for ANP (else 0)."""
    state, config = net[7], net[9]
    method = config[C_METHOD]
    N = state.shape[1]
    alpha = work_n[F_ALPHA]
    for k in range(u.shape[0]):
        ring_u[slot, k] = u[k]
    _copy(state[0], ring_xp[slot])
    ring_i[slot] = u.shape[0]
    ss = 0.0
    if method == ANP:
        alphan = work_n[F_ALPHAN]
        for i in range(N):
            d = alphan[i] - alpha[i]
            ring_dir[slot, i] = d
            ss += d * d
    elif method == NP:
        _copy(work_n[F_XI], ring_dir[slot])
    elif method == BP:
        x = work_n[F_X]
        for i in range(N):
            ring_dir[slot, i] = _dact(alpha[i], x[i], config[C_ACT])
    elif method == WP:
        _copy(rng0, ring_rng[slot])  # the position WP's update redraws from
    _copy(work_n[F_XS], state[0])
    _copy(work_n[F_XSN], state[1])
    return ss


@njit(**INNER)
def _lags_in(sample):
    """The lagged values into the input: u[2 + i] = y_{t-1-i} in the target's current
    standard units (``scaled``), for the ``n`` lags seen so far."""
    u, recent, n, mean, std, scaled = sample[1], sample[3], sample[4], sample[5], sample[6], \
        sample[7]
    for i in range(n):
        u[2 + i] = (recent[i] - mean) / std if scaled else recent[i]


@njit(**INNER)
def _lags_push(sample):
    """The lag window moves on (a committed step): the value just learned, in raw
    units, becomes y_{t-1}."""
    z, recent, mean, std, scaled = sample[0], sample[3], sample[5], sample[6], sample[7]
    for i in range(recent.shape[0] - 1, 0, -1):
        recent[i] = recent[i - 1]
    if recent.shape[0]:
        recent[0] = mean + std * z if scaled else z


@njit(**FLAT)
def _learn_step(net, model, rings, work, keep, sample):
    """One time step: learn from ``z`` (the value now arriving), then step on ``u``.

    ``sample`` is (z, u, base, recent, n, mean, std, scaled): the value in standard
    units, the input (its lag columns are filled here, ``_lags_in``), the base of
    the forecasts, the raw lag window and how many lags it holds so far, the
    target's running mean and standard deviation, and whether the target is
    scaled. Returns 0 when the step is committed (the lag window then moves on),
    else the code of ``guard._forecast_health`` with every array as before the step.
    """
    z, u, base = sample[0], sample[1], sample[2]
    _lags_in(sample)
    A, RT, B, DT, moments, wp, rng, state, hyper, config = net
    counters, max_weight = model
    ring_u, ring_xp, ring_xs, ring_dir, ring_y, ring_yn, ring_do, ring_s, ring_rng, ring_i = rings
    work_n, work_o, grad, slot_of, dense, wp_flat, rng_tmp, report = work
    N = A.shape[0]
    O = B.shape[0]
    method = config[C_METHOD]
    decor = config[C_DECOR] != 0
    twins = method != BP
    steps = counters[FK_STEPS]
    learns = steps > 0
    _keep(net, counters, keep, learns, learns, decor and learns, True)

    _delayed_update(net, counters, rings, work, z)
    _forward(net, work_n, work_o, wp_flat, u, decor and learns, True)
    xs_new = work_n[F_XS]
    xsn_new = work_n[F_XSN]
    y = work_o[F_Y]
    yn = work_o[F_YN]
    if method == WP:
        xiB = _wp_views(wp_flat, N, u.shape[0], O)[2]
        _readout_twins_wp(B, xiB, xs_new, xsn_new, y, yn)
    elif twins:
        _readout_twins(B, B, y, u, False, False, xs_new, xsn_new, y, yn, work_o[F_NU0],
                       work_o[F_NU], True)
    else:
        _matvec(B, xs_new, y)
    fy = work_o[F_FY]
    fyn = work_o[F_FYN]
    for o in range(O):
        fy[o] = base + y[o]
        fyn[o] = base + (yn[o] if twins else y[o])
    code = _forecast_health(fy, xs_new, xsn_new, A, RT, B, DT, B[0:0], moments, True, decor,
                            max_weight, report)
    if code != 0:
        _keep(net, counters, keep, learns, learns, decor and learns, False)
        return code

    slot = steps % O
    _copy(fy, ring_y[slot])
    _copy(fyn, ring_yn[slot])
    _copy(xs_new, ring_xs[slot])
    if method == ANP:
        ss = 0.0
        for o in range(O):
            d = yn[o] - y[o]
            ring_do[slot, o] = d
            ss += d * d
        ring_s[slot, S_SSB] = ss
    elif method == NP:
        _copy(work_o[F_NU], ring_do[slot])
    ss = _commit_hidden(slot, u, net, work_n, keep[3], ring_u, ring_xp, ring_i, ring_dir,
                        ring_rng)
    if method == ANP:
        ring_s[slot, S_SSA] = ss
    _lags_push(sample)
    counters[FK_STEPS] += 1
    return 0

