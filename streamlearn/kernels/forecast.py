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

Order of operations in :func:`learn_step` for the value ``z`` arriving at time
``t``: (1) all pending slots' gradients are computed from the current weights,
(2) one optimiser step updates ``A``, ``R``, ``B`` (one Adam step per time
step), (3) the decorrelation update for step ``t - 1`` (postponed to here so
that BP reads the same ``D`` as the core does), (4) the forward step ``t`` of
both twins on input ``u``, stored in slot ``t mod H``. Steps (1) to (3) are
the core's update of step ``t - 1`` when ``H = 1``.
"""

import numpy as np
from numba import njit

from .._jit import INNER
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
    H_EPS,
    H_LR,
    H_LR_DEC,
    H_SIGMA,
    NP,
    SGD,
    WP,
)
from .linalg import _matvec, _matvec_twins, _rmatvec
from .network import _activate, _dact, _fill_noise, _hidden_clean, _hidden_twins, _hidden_twins_wp
from .optim import (
    _adam_coefficients,
    _adam_element,
    _split_moments,
    _update_dense,
    _update_lowrank,
)

# rows of work_n (N,)
F_ALPHA, F_ALPHAN, F_X, F_XN, F_XS, F_XSN, F_XI, F_XI0, F_TMP, F_TMP2 = range(10)
N_FWORK_N = 10
# rows of work_o (H,)
F_Y, F_YN, F_NU, F_NU0, F_COEF = range(5)
N_FWORK_O = 5
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
    rows, cols = B.shape
    if opt == SGD:
        for o in range(rows):
            s = slot_of[o]
            if s < 0:
                continue
            g = lr * coef[o]
            if g != 0.0:
                for j in range(cols):
                    B[o, j] -= g * XS[s, j]
        return
    b1, b2, bc1, bc2 = _adam_coefficients(hyper, t)
    eps = hyper[H_EPS]
    for o in range(rows):
        s = slot_of[o]
        for j in range(cols):
            if s >= 0:
                g = coef[o] * XS[s, j]
            else:
                g = 0.0
            M[o, j], V[o, j], d = _adam_element(M[o, j], V[o, j], g, b1, b2, bc1, bc2, eps, lr)
            B[o, j] -= d


@njit(**INNER)
def _wp_views(noise, N, I, O):
    nA = N * I
    nR = N * N
    xiA = noise[0:nA].reshape((N, I))
    xiR = noise[nA:nA + nR].reshape((N, N))
    xiB = noise[nA + nR:nA + nR + O * N].reshape((O, N))
    return xiA, xiR, xiB


@njit(**INNER)
def _delayed_update(A, R, B, D, moments, wp_noise, dense, rng_tmp, work_n, work_o,
                    grad, slot_of, ring_u, ring_xp, ring_xs, ring_dir, ring_y,
                    ring_yn, ring_do, ring_s, ring_rng, ring_i, counters, hyper,
                    config, z):
    """Steps (1) and (2): learn from the value ``z`` that just arrived."""
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
    mA, vA, mR, vR, mB, vB = _split_moments(moments, N, I, O)

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
            for q in range(4):
                rng_tmp[q] = ring_rng[s, q]
            size = N * Is + N * N + O * N
            _fill_noise(rng_tmp, wp_noise[0:size], sigma, config[C_NOISE])
            xiA, xiR, xiB = _wp_views(wp_noise, N, Is, O)
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
                tmp2[:] = tmp
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
def _forward(A, R, B, D, wp_noise, state, work_n, work_o, rng, hyper, config, u,
             ring_u, ring_xp, ring_xs, ring_dir, ring_y, ring_yn, ring_do, ring_s,
             ring_rng, ring_i, slot, base):
    """Step (4): both twins on input ``u``; the activity goes to ``slot``.

    ``base`` is added to every stored prediction (both twins): the network's
    outputs are then corrections to ``base`` (e.g. the last value) and the
    losses compare ``base + beta`` with the value that arrives.
    """
    N, I = A.shape
    O = B.shape[0]
    method = config[C_METHOD]
    act = config[C_ACT]
    decor = config[C_DECOR] != 0
    noisy_ref = config[C_NOISY_REF] != 0
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
    y = work_o[F_Y]
    yn = work_o[F_YN]
    nu = work_o[F_NU]
    nu0 = work_o[F_NU0]
    twins = method != BP

    for k in range(I):
        ring_u[slot, k] = u[k]
    for j in range(N):
        ring_xp[slot, j] = xs[j]
    ring_i[slot] = I

    if method == WP:
        for q in range(4):
            ring_rng[slot, q] = rng[q]  # the position WP will redraw from
        xiA, xiR, xiB = _wp_views(wp_noise, N, I, O)
        _fill_noise(rng, wp_noise[0:N * I + N * N + O * N], sigma, config[C_NOISE])
        _hidden_twins_wp(A, R, xiA, xiR, u, xs, xsn, alpha, alphan)
    elif twins:
        _fill_noise(rng, xi, sigma, config[C_NOISE])
        _fill_noise(rng, nu, sigma, config[C_NOISE])
        if noisy_ref:
            _fill_noise(rng, xi0, sigma, config[C_NOISE])
            _fill_noise(rng, nu0, sigma, config[C_NOISE])
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

    if method == WP:
        xiA, xiR, xiB = _wp_views(wp_noise, N, I, O)
        for o in range(O):
            c = 0.0
            n = 0.0
            for j in range(N):
                b = B[o, j]
                c += b * xs_new[j]
                n += (b + xiB[o, j]) * xsn_new[j]
            y[o] = c
            yn[o] = n
    elif twins:
        _matvec_twins(B, xs_new, xsn_new, y, yn)
        for o in range(O):
            y[o] += nu0[o]
            yn[o] += nu[o]
    else:
        _matvec(B, xs_new, y)

    for o in range(O):
        ring_y[slot, o] = base + y[o]
        ring_yn[slot, o] = base + (yn[o] if twins else y[o])
    for j in range(N):
        ring_xs[slot, j] = xs_new[j]

    if method == ANP:
        ss = 0.0
        for i in range(N):
            d = alphan[i] - alpha[i]
            ring_dir[slot, i] = d
            ss += d * d
        ring_s[slot, S_SSA] = ss
        ss = 0.0
        for o in range(O):
            d = yn[o] - y[o]
            ring_do[slot, o] = d
            ss += d * d
        ring_s[slot, S_SSB] = ss
    elif method == NP:
        for i in range(N):
            ring_dir[slot, i] = xi[i]
        for o in range(O):
            ring_do[slot, o] = nu[o]
    elif method == BP:
        for i in range(N):
            ring_dir[slot, i] = _dact(alpha[i], x[i], act)

    xs[:] = xs_new
    if twins:
        xsn[:] = xsn_new
    else:
        xsn[:] = xs_new


@njit(cache=True)
def learn_step(A, R, B, D, moments, wp_noise, dense, rng, rng_tmp, state, work_n,
               work_o, grad, slot_of, ring_u, ring_xp, ring_xs, ring_dir, ring_y,
               ring_yn, ring_do, ring_s, ring_rng, ring_i, counters, hyper, config,
               z, u, base):
    """One time step: learn from ``z`` (the value now arriving), then step on ``u``."""
    _delayed_update(A, R, B, D, moments, wp_noise, dense, rng_tmp, work_n, work_o,
                    grad, slot_of, ring_u, ring_xp, ring_xs, ring_dir, ring_y,
                    ring_yn, ring_do, ring_s, ring_rng, ring_i, counters, hyper,
                    config, z)
    # (3) the decorrelation step of time t - 1, on its clean state
    if config[C_DECOR] != 0 and counters[FK_STEPS] > 0:
        _decorrelate(D, state[0], work_n[F_TMP], hyper[H_LR_DEC])
    O = B.shape[0]
    slot = counters[FK_STEPS] % O
    _forward(A, R, B, D, wp_noise, state, work_n, work_o, rng, hyper, config, u,
             ring_u, ring_xp, ring_xs, ring_dir, ring_y, ring_yn, ring_do, ring_s,
             ring_rng, ring_i, slot, base)
    counters[FK_STEPS] += 1
