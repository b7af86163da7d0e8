"""The fast path's drivers: one step of both twins, a run over a sequence, a prediction.

One pass over each N x N matrix per step.

``OnlineRNN`` stores R and D column-major, so the kernels receive
RT = R^T and DT = D^T as C-contiguous arrays: row j of RT is column j of R.
Then every product the step needs runs along contiguous rows as a vector
"axpy" (alpha += xs_j * RT[j]), which vectorises without reassociating a
sum: alpha_i still accumulates its terms in the order j = 0, 1, ..., so
the fast path computes exactly the numbers of the reference ``_step``.

The A and R updates of a step are *pending* until the next pass over the
same rows: step t+1 first applies step t's rank-1 update to a block of rows
of RT, then uses them for its own products, so R is read and written once
per step. The decorrelation update of D needs w = D^T xs, whose entry j is
the dot product of row j of DT with xs: with D stored transposed the update
of row j of DT needs only w_j, so step t+1's pass over DT computes w_j,
updates the row and accumulates D x_{t+1} from it, all in one read and one
write. At the end of every ``_run_fast`` call the pending updates are
flushed, so between calls the weights in memory are always current.

Extra buffers: ``pend_g`` (K, N), ``pend_p`` (K, N), ``pend_u`` (K, I): the
factors of the pending rank-k update of A and R (k = ``pend_k[0]``);
the pending decorrelation flag ``pend_k[1]`` uses xs = state[0].
"""

import numpy as np
from numba import njit

from .._jit import FLAT, INNER
from .decorrelation import _d_rows, _decor_factors, _decor_flush
from .guard import _MAX_GRADIENT, _guard_commit, _outside_watch, _watch_targets
from .layout import (
    ADAM,
    C_ACT,
    C_BIAS,
    C_DECOR,
    C_METHOD,
    C_NOISE,
    C_NOISY_REF,
    C_OPT,
    C_SKIP,
    C_WINDOW,
    H_LR,
    H_LR_DEC,
    H_RLS_ALPHA,
    H_RLS_LAM,
    H_SIGMA,
    K_ADAM,
    K_FILL,
    K_POS,
    K_RLS_RESTART,
    NP,
    RADEMACHER,
    R_GAIN,
    R_Q,
    R_W,
    R_Z,
    W_ACC,
    W_ALPHA,
    W_ALPHAN,
    W_DB,
    W_DECA,
    W_DECB,
    W_GA,
    W_GB,
    W_GL,
    W_NU,
    W_NU0,
    W_SINK,
    W_TMP,
    W_TMP2,
    W_W,
    W_X,
    W_XI,
    W_XI0,
    W_XN,
    W_XS,
    W_XSN,
    W_Y,
    W_YN,
)
from .linalg import _absmax, _all_finite, _copy, _fill, _matvec, _max_diag
from .network import _activate, _dact, _draw_wp_bits, _fill_noise, _r_rows, _r_rows_wp, _r_rows_wp_bits
from .optim import (
    _adam_step_bound,
    _apply_pending_ar,
    _update_dense,
    _update_dense_t,
    _update_dense_t_bits,
    _update_lowrank,
    _update_vector,
)
from .parallel import _d_rows_par, _r_rows_par
from .readouts import (
    _readout_twins,
    _readout_twins_wp,
    _readout_extra,
    _readout_extra_wp,
    _regressor,
    _rls_readout_apply,
    _rls_readout_gain,
)
from .rules import _bp_gradients_t, _scaled_direction, _sq_loss


@njit(**INNER)
def _wp_bits(wp, config, N):
    """Whether this WP step keeps its Rademacher noise of R as sign bits: the
    views (flat, xiA, xiR, xiB, xiC, xic, words, XT) have the bit buffers
    (``network._draw_wp_bits``) and the noise is Rademacher."""
    return (config[C_NOISE] == RADEMACHER and wp[7].shape[0] >= N and wp[7].shape[1] > 0
            and wp[6].shape[0] > (wp[0].shape[0] + 63) // 64)


@njit(**FLAT)
def _forward_fast(A, RT, B, DT, mom, wp, state, work_n, work_o, rng, counters,
                  hyper, config, pend_g, pend_p, pend_u, pend_k, u, twins, nthreads, rls):
    """Both twins' forward pass (eq. 1, 3, 7), applying the pending updates.

    The optional buffers select the code compiled (see ``_run_fast``): ``wp``
    only for WP, ``rls`` only for the least-squares read-out, ``nthreads``
    only for more than one thread.
    """
    N, I = A.shape
    O = B.shape[0]
    act = config[C_ACT]
    decor = config[C_DECOR] != 0
    sigma = hyper[H_SIGMA]
    xs = state[0]
    xsn = state[1] if twins else state[0]
    alpha = work_n[W_ALPHA]
    alphan = work_n[W_ALPHAN] if twins else work_n[W_SINK]
    x = work_n[W_X]
    xn = work_n[W_XN] if twins else work_n[W_X]
    xs_new = work_n[W_XS]
    xsn_new = work_n[W_XSN] if twins else work_n[W_SINK]
    xi = work_n[W_XI]
    xi0 = work_n[W_XI0]
    nu = work_o[W_NU]
    nu0 = work_o[W_NU0]

    if wp is not None:
        if twins:
            if _wp_bits(wp, config, N):
                _draw_wp_bits(rng, wp[6], wp[7], wp[0], N * I, N, sigma)
            else:
                _fill_noise(rng, wp[0], sigma, config[C_NOISE])
    elif twins:
        # the least-squares read-out has no output noise (docs/algorithms.md, eq. 12)
        _fill_noise(rng, xi, sigma, config[C_NOISE])
        if rls is None:
            _fill_noise(rng, nu, sigma, config[C_NOISE])
        if config[C_NOISY_REF] != 0:
            _fill_noise(rng, xi0, sigma, config[C_NOISE])
            if rls is None:
                _fill_noise(rng, nu0, sigma, config[C_NOISE])

    fused = _apply_pending_ar(A, RT, O, pend_g, pend_p, pend_u, pend_k, work_n, mom, counters,
                              hyper, config, True)
    # input part, in the order of _hidden_twins / _hidden_twins_wp
    if wp is not None:
        xiA = wp[1]
        for i in range(N):
            c = 0.0
            for k in range(I):
                c += A[i, k] * u[k]
            alpha[i] = c
            if twins:
                n = 0.0
                for k in range(I):
                    n += (A[i, k] + xiA[i, k]) * u[k]
                alphan[i] = n
            else:
                alphan[i] = c
        if twins:
            if _wp_bits(wp, config, N):
                _r_rows_wp_bits(RT, wp[7], abs(wp[0][0]), xs, xsn, alpha, alphan)
            else:
                _r_rows_wp(RT, wp[2], xs, xsn, alpha, alphan)
        else:
            _r_rows(RT, 0, N, 0, N, work_n[W_GL], pend_p[0], fused, xs, xsn, alpha, alphan)
    else:
        for i in range(N):
            c = 0.0
            for k in range(I):
                c += A[i, k] * u[k]
            alpha[i] = c
            alphan[i] = c
        if nthreads is not None:
            _r_rows_par(RT, work_n[W_GL], pend_p[0], fused, xs, xsn, alpha, alphan, nthreads)
        else:
            _r_rows(RT, 0, N, 0, N, work_n[W_GL], pend_p[0], fused, xs, xsn, alpha, alphan)
        if twins:
            for i in range(N):
                alpha[i] = alpha[i] + xi0[i]
                alphan[i] = alphan[i] + xi[i]

    _activate(alpha, x, act)
    if twins:
        _activate(alphan, xn, act)
    if decor:
        pend = pend_k[1] != 0
        if pend:
            _decor_factors(xs, hyper[H_LR_DEC], work_n[W_DECA], work_n[W_DECB])
            pend_k[1] = 0
        for i in range(N):
            xs_new[i] = 0.0
            xsn_new[i] = 0.0
        if nthreads is not None:
            _d_rows_par(DT, pend, xs, work_n[W_DECA], work_n[W_DECB], x, xn, xs_new,
                        xsn_new, work_n, nthreads)
        else:
            _d_rows(DT, 0, N, pend, xs, work_n[W_DECA], work_n[W_DECB], x, xn, xs_new,
                    xsn_new, work_n[W_ACC])
    else:
        _copy(x, xs_new)
        if twins:
            _copy(xn, xsn_new)


@njit(**INNER)
def _step_fast(A, RT, B, DT, mom, wp, history, state, work_n, work_o, work_k,
               rng, counters, hyper, config, pend_g, pend_p, pend_u, pend_k, u2, target, y_out,
               learn, nthreads, C, cb, mom_out, rls, watch):
    """``_step`` on transposed R and D with pending updates: the same numbers.

    Also the read-out extensions of docs/algorithms.md: the skip connection C u
    and bias c (eq. 1b), and the least-squares read-out (eqs. 11-12, ``rls.py``).
    ``u2`` is the input as a (1, I) row. The optional buffers are as in
    ``_run_fast``.

    Returns 0 when the step is committed. A step whose forward pass is not
    finite returns 1, one whose update fails the divergence guard
    (``_guard_commit``) returns 2, and a learning step whose prediction is far
    outside the targets' running range (``_outside_watch``) returns 3; in every
    refused case nothing of the step is committed: the weights, P, states,
    counters, history, watch and random stream are as before it.
    """
    N, I = A.shape
    r0, r1, r2, r3 = rng[0], rng[1], rng[2], rng[3]
    pos = fill = 0
    O = B.shape[0]
    u = u2[0]
    decor = config[C_DECOR] != 0
    opt = config[C_OPT]
    skip = config[C_SKIP] != 0
    bias = config[C_BIAS] != 0
    sigma = hyper[H_SIGMA]
    lr = hyper[H_LR]
    if history is not None:  # BP: the exact gradient, no twins
        twins = False
    else:
        twins = learn

    _forward_fast(A, RT, B, DT, mom, wp, state, work_n, work_o, rng, counters,
                  hyper, config, pend_g, pend_p, pend_u, pend_k, u, twins, nthreads, rls)

    xs = state[0]
    xsn = state[1]
    alpha = work_n[W_ALPHA]
    alphan = work_n[W_ALPHAN]
    x = work_n[W_X]
    xs_new = work_n[W_XS]
    xsn_new = work_n[W_XSN]
    xi = work_n[W_XI]
    ga = work_n[W_GA]
    tmp = work_n[W_TMP]
    tmp2 = work_n[W_TMP2]
    y = work_o[W_Y]
    yn = work_o[W_YN]
    nu = work_o[W_NU]
    nu0 = work_o[W_NU0]
    gb = work_o[W_GB]
    db = work_o[W_DB]

    perturbed = False  # WP's read-out noise (xiB, then xiC, xic) exists only with the
    if wp is not None:  # perturbation read-out
        if twins and rls is None:
            _readout_twins_wp(B, wp[3], xs_new, xsn_new, y, yn)
            if skip or bias:
                _readout_extra_wp(C, cb, wp[4], wp[5], u, skip, bias, y, yn)
            perturbed = True
    if not perturbed:
        if twins:  # eq. 3's output noise: NP's and ANP's with the perturbation read-out
            _readout_twins(B, C, cb, u, skip, bias, xs_new, xsn_new, y, yn, nu0, nu,
                           rls is None and wp is None)
        else:
            _matvec(B, xs_new, y)
            if skip or bias:
                _readout_extra(C, cb, u, skip, bias, y)
    for o in range(O):
        y_out[o] = y[o]
    if not (_all_finite(y) and _all_finite(xs_new)
            and (not twins or (_all_finite(yn) and _all_finite(xsn_new)))):
        rng[0], rng[1], rng[2], rng[3] = r0, r1, r2, r3
        return 1
    if learn and _outside_watch(y, target, watch, hyper, counters):
        rng[0], rng[1], rng[2], rng[3] = r0, r1, r2, r3
        return 3

    if history is not None:
        K = config[C_WINDOW]
        pos = counters[K_POS]
        fill = counters[K_FILL]
        if learn:  # the slot this step overwrites, kept until the update is committed
            _copy(history[pos], history[K])
        h = history[pos]
        for k in range(I):
            h[k] = u[k]
        for i in range(N):
            h[I + i] = xs[i]
        for i in range(N):
            h[I + N + i] = _dact(alpha[i], x[i], config[C_ACT])
        counters[K_POS] = (pos + 1) % K
        if counters[K_FILL] < K:
            counters[K_FILL] += 1

    if not learn:
        _copy(xs_new, xs)
        _copy(xs_new, xsn)
        return 0

    t = counters[K_ADAM] + 1
    if mom is None:  # SGD: no moments, and none of Adam's code compiled
        mA = vA = mR = vR = mB = vB = mC = vC = mc = vc = None
        adam_bound = 0.0
    else:
        mA, vA, mR, vR, mB, vB = mom
        mC, vC, mc, vc = mom_out
        adam_bound = lr * _adam_step_bound(hyper, t) if opt == ADAM else 0.0
    # the largest presynaptic factor of the read-out (xs_t, u_t, 1)
    p_out = _absmax(xs_new)
    if skip:
        p_out = max(p_out, _absmax(u))
    if bias:
        p_out = max(p_out, 1.0)
    k = 0
    scale = 0.0
    if wp is not None:
        dl = _sq_loss(yn, target) - _sq_loss(y, target)
        scale = dl / (sigma * sigma)
        # Rademacher noise has one magnitude: its first entry is its largest (a pass saved)
        g = abs(scale) * (abs(wp[0][0]) if config[C_NOISE] == RADEMACHER else _absmax(wp[0]))
    elif history is not None:
        _bp_gradients_t(RT, B, DT, history, work_k, counters, config, y, target,
                        gb, tmp, tmp2)
        k = counters[K_FILL]
        g = 0.0
        for q in range(k):
            g += _absmax(work_k[q]) * max(_absmax(history[q, 0:I]),
                                          _absmax(history[q, I:I + N]))
        if rls is None:
            g = max(g, _absmax(gb) * p_out)
    else:
        dl = _sq_loss(yn, target) - _sq_loss(y, target)
        if config[C_METHOD] == NP:
            f = dl / (sigma * sigma)
            for i in range(N):
                ga[i] = f * xi[i]
            if rls is None:
                for o in range(O):
                    gb[o] = f * nu[o]
        else:
            for i in range(N):
                tmp[i] = alphan[i] - alpha[i]
            _scaled_direction(tmp, N * dl, ga)
            if rls is None:
                for o in range(O):
                    db[o] = yn[o] - y[o]
                _scaled_direction(db, O * dl, gb)
        g = _absmax(ga) * max(_absmax(u), _absmax(xs))
        if rls is None:
            g = max(g, _absmax(gb) * p_out)
    delta = adam_bound if opt == ADAM else lr * g
    rls_ok = True
    if rls is not None:
        P, P_spare, rls_work = rls
        # the read-out's change is |g_i| |e| with |g_i| = |(P z)_i| / (lam + z'Pz)
        # <= sqrt(P_ii) / (2 sqrt(lam)) (Cauchy-Schwarz in P's inner product)
        z = rls_work[R_Z]
        gain = rls_work[R_GAIN]
        _regressor(xs_new, u, skip, bias, z)
        e_max = 0.0
        for o in range(O):
            e_max = max(e_max, abs(target[o] - y[o]))
        p_diag = max(_max_diag(P), 1.0 / hyper[H_RLS_ALPHA])
        d_rls = e_max * np.sqrt(p_diag / hyper[H_RLS_LAM]) / 2.0
        ok = g <= _MAX_GRADIENT and _guard_commit(A, RT, B, C, cb, DT, hyper,
                                                   max(delta, d_rls), decor, xs_new)
        if ok:
            rls_ok = _rls_readout_gain(P, z, gain, rls_work[R_Q], hyper, counters)
        elif g <= _MAX_GRADIENT:
            # the a priori bound is loose: try the exact gain on a spare P
            restarts = counters[K_RLS_RESTART]
            for i in range(P.shape[0]):
                _copy(P[i], P_spare[i])
            rls_ok = _rls_readout_gain(P_spare, z, gain, rls_work[R_Q], hyper, counters)
            d_rls = _absmax(gain) * e_max * (1.0 + 1e-9) if rls_ok else 0.0
            ok = _guard_commit(A, RT, B, C, cb, DT, hyper, max(delta, d_rls), decor,
                               xs_new)
            if ok:
                for i in range(P.shape[0]):
                    _copy(P_spare[i], P[i])
            else:
                counters[K_RLS_RESTART] = restarts  # nothing of the step is committed
    else:
        ok = g <= _MAX_GRADIENT and _guard_commit(A, RT, B, C, cb, DT, hyper, delta,
                                                   decor, xs_new)
    if not ok:
        rng[0], rng[1], rng[2], rng[3] = r0, r1, r2, r3
        if history is not None:
            _copy(history[config[C_WINDOW]], history[pos])
            _fill(history[config[C_WINDOW]], 0.0)  # the spare row is empty between steps
            counters[K_POS] = pos
            counters[K_FILL] = fill
        return 2
    counters[K_ADAM] = t
    if wp is not None:
        _update_dense(A, wp[1], scale, lr, opt, mA, vA, hyper, t)
        if _wp_bits(wp, config, N):
            _update_dense_t_bits(RT, wp[7], wp[6], N * I, abs(wp[0][0]), scale, lr, opt,
                                 mR, vR, hyper, t, work_n[W_GL])
        else:
            _update_dense_t(RT, wp[2], scale, lr, opt, mR, vR, hyper, t, work_n[W_GL])
        if rls is None:
            _update_dense(B, wp[3], scale, lr, opt, mB, vB, hyper, t)
            if skip:
                _update_dense(C, wp[4], scale, lr, opt, mC, vC, hyper, t)
            if bias:
                _update_vector(cb, wp[5], scale, lr, opt, mc, vc, hyper, t)
    else:
        if history is not None:
            _fill(history[config[C_WINDOW]], 0.0)
            for q in range(k):
                _copy(work_k[q], pend_g[q])
                _copy(history[q, 0:I], pend_u[q])
                _copy(history[q, I:I + N], pend_p[q])
            pend_k[0] = k
        else:
            _copy(ga, pend_g[0])
            _copy(u, pend_u[0])
            _copy(xs, pend_p[0])
            pend_k[0] = 1
        if rls is None:
            gb2 = work_o[W_GB:W_GB + 1]
            _update_lowrank(B, gb2, work_n[W_XS:W_XS + 1], 1, lr, opt, mB, vB, hyper, t)
            if skip:
                _update_lowrank(C, gb2, u2, 1, lr, opt, mC, vC, hyper, t)
            if bias:
                _update_vector(cb, gb, 1.0, lr, opt, mc, vc, hyper, t)
    if rls is not None:
        if rls_ok:
            rls_work = rls[2]
            _rls_readout_apply(B, C, cb, rls_work[R_Z], rls_work[R_GAIN], rls_work[R_W],
                               target, skip, bias)
    if decor:
        pend_k[1] = 1
    _watch_targets(target, watch, counters)

    _copy(xs_new, xs)
    if twins:
        _copy(xsn_new, xsn)
    else:
        _copy(xs_new, xsn)
    return 0


@njit(**FLAT)
def _flush_fast(A, RT, B, DT, mom, state, work_n, counters, hyper, config,
                pend_g, pend_p, pend_u, pend_k):
    """Apply every pending update: afterwards A, R and D are current."""
    _apply_pending_ar(A, RT, B.shape[0], pend_g, pend_p, pend_u, pend_k, work_n, mom, counters,
                      hyper, config, False)
    if pend_k[1] != 0:
        da = work_n[W_DECA]
        db = work_n[W_DECB]
        _decor_factors(state[0], hyper[H_LR_DEC], da, db)
        _decor_flush(DT, state[0], da, db, work_n[W_W])
        pend_k[1] = 0


@njit(cache=True)
def _run_fast(A, RT, B, DT, mom, wp, history, state, work_n, work_o, work_k,
              rng, counters, hyper, config, pend_g, pend_p, pend_u, pend_k, U, Y, out, xs_out,
              learn, nthreads, C, cb, mom_out, rls, watch):
    """``_run`` on the fast path; the weights are current when it returns.

    Stops at the first step that is not committed (see ``_step_fast``) and
    returns (its index, its status), or (-1, 0) when every step was.

    ``mom`` holds Adam's moments as views (mA, vA, mR, vR, mB, vB) and
    ``mom_out`` those of C and c (mC, vC, mc, vc). The optional buffers are
    None when their feature is off, and Numba then compiles none of its code
    (a branch on ``x is None`` for an argument is removed before typing):
    ``mom`` and ``mom_out`` with SGD; ``wp`` the views (flat, xiA, xiR, xiB,
    xiC, xic) of WP's noise, then (words, XT), its Rademacher signs as bits
    (empty with Gaussian noise; ``network._draw_wp_bits``); ``history`` BP's
    window; ``rls`` the least-squares read-out's (P, P_spare, rls_work);
    ``nthreads`` None for one thread.
    """
    record = xs_out.shape[0] > 0
    stop = -1
    status = 0
    for t in range(U.shape[0]):
        status = _step_fast(A, RT, B, DT, mom, wp, history, state, work_n, work_o,
                            work_k, rng, counters, hyper, config, pend_g, pend_p, pend_u,
                            pend_k, U[t:t + 1], Y[t], out[t], learn, nthreads, C, cb, mom_out,
                            rls, watch)
        if status != 0:
            stop = t
            break
        if record:
            _copy(state[0], xs_out[t])
    _flush_fast(A, RT, B, DT, mom, state, work_n, counters, hyper, config,
                pend_g, pend_p, pend_u, pend_k)
    return stop, status


@njit(cache=True)
def _predict_fast(A, RT, B, DT, state, work_n, config, u, out, C, cb):
    """``_predict`` on transposed R and D (nothing pending between calls)."""
    N, I = A.shape
    alpha = work_n[W_ALPHA]
    sink = work_n[W_SINK]
    x = work_n[W_X]
    xs_new = work_n[W_XS]
    xs = state[0]
    for i in range(N):
        c = 0.0
        for k in range(I):
            c += A[i, k] * u[k]
        alpha[i] = c
        sink[i] = c
    _r_rows(RT, 0, N, 0, N, work_n[W_GL], xs, False, xs, xs, alpha, sink)
    _activate(alpha, x, config[C_ACT])
    if config[C_DECOR] != 0:
        for i in range(N):
            xs_new[i] = 0.0
            sink[i] = 0.0
        _d_rows(DT, 0, N, False, xs, x, x, x, x, xs_new, sink, work_n[W_ACC])
    else:
        xs_new[:] = x
    _matvec(B, xs_new, out)
    skip = config[C_SKIP] != 0
    bias = config[C_BIAS] != 0
    if skip or bias:
        _readout_extra(C, cb, u, skip, bias, out)
