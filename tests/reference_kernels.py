"""The reference path: one plain loop per equation, on row-major R and D.

Not an engine of any learner: the oracle the fast path is tested against,
bit for bit (tests/test_performance_paths.py)."""

from numba import njit

from streamlearn._jit import INNER
from streamlearn.kernels.decorrelation import _decorrelate
from streamlearn.kernels.layout import (
    BP,
    C_ACT,
    C_DECOR,
    C_METHOD,
    C_NOISE,
    C_NOISY_REF,
    C_OPT,
    C_WINDOW,
    H_LR,
    H_LR_DEC,
    H_SIGMA,
    K_ADAM,
    K_FILL,
    K_POS,
    NP,
    WP,
    W_ALPHA,
    W_ALPHAN,
    W_DB,
    W_GA,
    W_GB,
    W_NU,
    W_NU0,
    W_TMP,
    W_TMP2,
    W_X,
    W_XI,
    W_XI0,
    W_XN,
    W_XS,
    W_XSN,
    W_Y,
    W_YN,
)
from streamlearn.kernels.linalg import _matvec, _matvec_twins, _rmatvec
from streamlearn.kernels.network import (
    _fill_noise,
    _activate,
    _dact,
    _hidden_clean,
    _hidden_twins,
    _hidden_twins_wp,
)
from streamlearn.kernels.optim import _split_moments, _update_dense, _update_lowrank
from streamlearn.kernels.rules import _scaled_direction, _sq_loss


@njit(**INNER)
def _step(A, R, B, D, moments, wp_noise, history, state, work_n, work_o, work_k,
          rng, counters, hyper, config, u, target, y_out, learn):
    """One step of both twins on input u; if ``learn``, the update for target.

    Writes the clean prediction made before the update into ``y_out`` and
    leaves the new clean state in ``state[0]``.
    """
    N, I = A.shape
    O = B.shape[0]
    method = config[C_METHOD]
    act = config[C_ACT]
    decor = config[C_DECOR] != 0
    opt = config[C_OPT]
    noisy_ref = config[C_NOISY_REF] != 0
    sigma = hyper[H_SIGMA]
    lr = hyper[H_LR]

    xs = state[0]
    xsn = state[1]
    alpha = work_n[W_ALPHA]
    alphan = work_n[W_ALPHAN]
    x = work_n[W_X]
    xn = work_n[W_XN]
    xs_new = work_n[W_XS]
    xsn_new = work_n[W_XSN]
    xi = work_n[W_XI]
    xi0 = work_n[W_XI0]
    ga = work_n[W_GA]
    tmp = work_n[W_TMP]
    tmp2 = work_n[W_TMP2]
    y = work_o[W_Y]
    yn = work_o[W_YN]
    nu = work_o[W_NU]
    nu0 = work_o[W_NU0]
    gb = work_o[W_GB]
    db = work_o[W_DB]

    twins = learn and method != BP
    if wp_noise.shape[0] > 0:
        nA = N * I
        nR = N * N
        xiA = wp_noise[0:nA].reshape((N, I))
        xiR = wp_noise[nA:nA + nR].reshape((N, N))
        xiB = wp_noise[nA + nR:nA + nR + O * N].reshape((O, N))
    else:
        xiA = xiR = xiB = wp_noise.reshape((0, 0))
    if twins and method == WP:
        _fill_noise(rng, wp_noise, sigma, config[C_NOISE])
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

    # read-out (eq. 1); WP perturbs B, NP and ANP the output pre-activation
    if twins and method == WP:
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
        y_out[o] = y[o]

    if method == BP:
        # history ring: u_j, xs_{j-1}, f'(alpha_j) for the last K steps
        K = config[C_WINDOW]
        pos = counters[K_POS]
        h = history[pos]
        h[0:I] = u
        h[I:I + N] = xs
        for i in range(N):
            h[I + N + i] = _dact(alpha[i], x[i], act)
        counters[K_POS] = (pos + 1) % K
        if counters[K_FILL] < K:
            counters[K_FILL] += 1

    if learn:
        mA, vA, mR, vR, mB, vB = _split_moments(moments, N, I, O)
        counters[K_ADAM] += 1
        t = counters[K_ADAM]
        if method == WP:
            dl = _sq_loss(yn, target) - _sq_loss(y, target)
            scale = dl / (sigma * sigma)
            _update_dense(A, xiA, scale, lr, opt, mA, vA, hyper, t)
            _update_dense(R, xiR, scale, lr, opt, mR, vR, hyper, t)
            _update_dense(B, xiB, scale, lr, opt, mB, vB, hyper, t)
        elif method == BP:
            _bp_gradients(R, B, D, history, work_k, counters, config, y, target,
                          gb, tmp, tmp2)
            k = counters[K_FILL]
            hu = history[:, 0:I]
            hp = history[:, I:I + N]
            _update_lowrank(A, work_k, hu, k, lr, opt, mA, vA, hyper, t)
            _update_lowrank(R, work_k, hp, k, lr, opt, mR, vR, hyper, t)
            _update_lowrank(B, gb.reshape((1, O)), xs_new.reshape((1, N)), 1,
                            lr, opt, mB, vB, hyper, t)
        else:
            dl = _sq_loss(yn, target) - _sq_loss(y, target)
            if method == NP:
                # eq. 4: dl * noise / sigma^2
                f = dl / (sigma * sigma)
                for i in range(N):
                    ga[i] = f * xi[i]
                for o in range(O):
                    gb[o] = f * nu[o]
            else:
                # eq. 5: measured activity change, scaled by the layer width
                for i in range(N):
                    tmp[i] = alphan[i] - alpha[i]
                _scaled_direction(tmp, N * dl, ga)
                for o in range(O):
                    db[o] = yn[o] - y[o]
                _scaled_direction(db, O * dl, gb)
            _update_lowrank(A, ga.reshape((1, N)), u.reshape((1, I)), 1,
                            lr, opt, mA, vA, hyper, t)
            _update_lowrank(R, ga.reshape((1, N)), xs.reshape((1, N)), 1,
                            lr, opt, mR, vR, hyper, t)
            _update_lowrank(B, gb.reshape((1, O)), xs_new.reshape((1, N)), 1,
                            lr, opt, mB, vB, hyper, t)
        if decor:
            _decorrelate(D, xs_new, tmp, hyper[H_LR_DEC])

    xs[:] = xs_new
    if twins:
        xsn[:] = xsn_new
    else:
        xsn[:] = xs_new


@njit(cache=True)
def _run(A, R, B, D, moments, wp_noise, history, state, work_n, work_o, work_k,
         rng, counters, hyper, config, U, Y, out, xs_out, learn):
    """Step over a whole sequence in one call; ``xs_out`` may have 0 rows."""
    record = xs_out.shape[0] > 0
    for t in range(U.shape[0]):
        _step(A, R, B, D, moments, wp_noise, history, state, work_n, work_o,
              work_k, rng, counters, hyper, config, U[t], Y[t], out[t], learn)
        if record:
            xs_out[t] = state[0]


@njit(cache=True)
def _predict(A, R, B, D, state, work_n, config, u, out):
    """The clean output if u were the next input; touches only scratch."""
    act = config[C_ACT]
    alpha = work_n[W_ALPHA]
    x = work_n[W_X]
    xs_new = work_n[W_XS]
    _hidden_clean(A, R, u, state[0], alpha)
    _activate(alpha, x, act)
    if config[C_DECOR] != 0:
        _matvec(D, x, xs_new)
    else:
        xs_new[:] = x
    _matvec(B, xs_new, out)


@njit(cache=True)
def _bp_gradients(R, B, D, history, G, counters, config, y, target, gb, tmp, tmp2):
    """Truncated BPTT through the history ring (eq. 6).

    Fills gb = dl/dbeta and, in ring slot order, G[slot] = dl/dalpha_j for the
    last ``fill`` steps, holding the weights fixed over the window.
    """
    N = R.shape[0]
    O = B.shape[0]
    I = history.shape[1] - 2 * N
    K = config[C_WINDOW]
    decor = config[C_DECOR] != 0
    fill = counters[K_FILL]
    for o in range(O):
        gb[o] = 2.0 * (y[o] - target[o]) / O
    _rmatvec(B, gb, tmp)  # dl/dxs_t
    slot = (counters[K_POS] - 1) % K
    for q in range(fill):
        d = history[slot, I + N:I + 2 * N]
        if decor:
            _rmatvec(D, tmp, tmp2)  # dl/dx = D^T dl/dxs
        else:
            tmp2[:] = tmp
        g = G[slot]
        for i in range(N):
            g[i] = d[i] * tmp2[i]
        if q + 1 < fill:
            _rmatvec(R, g, tmp)  # dl/dxs_{j-1} = R^T dl/dalpha_j
        slot = (slot - 1) % K
