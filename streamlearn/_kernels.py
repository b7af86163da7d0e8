"""Numba kernels for one online step of the twin networks.

Only arithmetic lives here; ``online_rnn.py`` validates inputs and owns the
buffers. Equation numbers refer to ``docs/algorithms.md``. Every kernel works in
place on preallocated arrays: a step allocates nothing.

Buffers (shapes with N hidden, I inputs, O outputs, K = bptt window):

- ``A`` (N, I), ``R`` (N, N), ``B`` (O, N), ``D`` (N, N): the shared weights.
- ``moments`` (2 * (N*I + N*N + O*N),): Adam's first then second moments for
  A, R, B in that order (empty for SGD).
- ``wp_noise`` (N*I + N*N + O*N,): the weight noise of one WP step (empty
  otherwise).
- ``state`` (2, N): row 0 the clean twin's xs_{t-1}, row 1 the noisy twin's.
- ``history`` (K, I + 2N): for BP, the last K steps' u_j, xs_{j-1}, f'(alpha_j).
- ``work_n`` (N_WORK_N, N), ``work_o`` (N_WORK_O, O), ``work_k`` (K, N):
  scratch.
- ``rng`` uint64[4]: the model's random stream (``_random.py``).
- ``counters`` int64[3]: Adam step, next history slot, history fill.
- ``hyper`` float64[6]: lr, lr_decorrelation, sigma, adam beta1, beta2, eps.
- ``config`` int64[6]: method, activation, decorrelation, optimizer,
  noisy_reference, K.
"""

import numpy as np
from numba import njit

from ._random import _fill_normal

# config codes
ANP, NP, WP, BP = 0, 1, 2, 3
TANH, RELU, IDENTITY, SIGN = 0, 1, 2, 3
SGD, ADAM = 0, 1

# hyper slots
H_LR, H_LR_DEC, H_SIGMA, H_BETA1, H_BETA2, H_EPS = 0, 1, 2, 3, 4, 5
# config slots
C_METHOD, C_ACT, C_DECOR, C_OPT, C_NOISY_REF, C_WINDOW = 0, 1, 2, 3, 4, 5
# counter slots
K_ADAM, K_POS, K_FILL = 0, 1, 2

# rows of work_n
W_ALPHA, W_ALPHAN, W_X, W_XN, W_XS, W_XSN, W_XI, W_XI0, W_GA, W_TMP, W_TMP2 = range(11)
N_WORK_N = 11
# rows of work_o
W_Y, W_YN, W_NU, W_NU0, W_GB, W_DB = range(6)
N_WORK_O = 6


@njit(cache=True, inline="always")
def _act(a, kind):
    if kind == TANH:
        return np.tanh(a)
    if kind == RELU:
        return a if a > 0.0 else 0.0
    if kind == IDENTITY:
        return a
    # SIGN: a hard threshold, no useful derivative
    if a > 0.0:
        return 1.0
    if a < 0.0:
        return -1.0
    return 0.0


@njit(cache=True, inline="always")
def _dact(a, fa, kind):
    """f'(a) given a and f(a); only for differentiable activations."""
    if kind == TANH:
        return 1.0 - fa * fa
    if kind == RELU:
        return 1.0 if a > 0.0 else 0.0
    return 1.0


@njit(cache=True)
def _hidden_twins(A, R, u, xs, xsn, xi0, xi, alpha, alphan):
    """Eq. 1 and 3: alpha = A u + R xs + xi0 and alpha~ = A u + R xs~ + xi.

    One pass over R serves both twins.
    """
    N, I = A.shape
    for i in range(N):
        a_in = 0.0
        for k in range(I):
            a_in += A[i, k] * u[k]
        c = a_in
        n = a_in
        for j in range(N):
            r = R[i, j]
            c += r * xs[j]
            n += r * xsn[j]
        alpha[i] = c + xi0[i]
        alphan[i] = n + xi[i]


@njit(cache=True)
def _hidden_twins_wp(A, R, xiA, xiR, u, xs, xsn, alpha, alphan):
    """Eq. 1 and 7: the noisy twin runs on perturbed weights A + xiA, R + xiR."""
    N, I = A.shape
    for i in range(N):
        c = 0.0
        n = 0.0
        for k in range(I):
            a = A[i, k]
            c += a * u[k]
            n += (a + xiA[i, k]) * u[k]
        for j in range(N):
            r = R[i, j]
            c += r * xs[j]
            n += (r + xiR[i, j]) * xsn[j]
        alpha[i] = c
        alphan[i] = n


@njit(cache=True)
def _hidden_clean(A, R, u, xs, alpha):
    """Eq. 1 for the clean twin alone."""
    N, I = A.shape
    for i in range(N):
        c = 0.0
        for k in range(I):
            c += A[i, k] * u[k]
        for j in range(N):
            c += R[i, j] * xs[j]
        alpha[i] = c


@njit(cache=True)
def _activate(alpha, x, kind):
    for i in range(alpha.shape[0]):
        x[i] = _act(alpha[i], kind)


@njit(cache=True)
def _matvec(M, v, out):
    """out = M v."""
    rows, cols = M.shape
    for i in range(rows):
        s = 0.0
        for j in range(cols):
            s += M[i, j] * v[j]
        out[i] = s


@njit(cache=True)
def _matvec_twins(M, v, vn, out, outn):
    """out = M v and outn = M vn in one pass over M."""
    rows, cols = M.shape
    for i in range(rows):
        s = 0.0
        sn = 0.0
        for j in range(cols):
            m = M[i, j]
            s += m * v[j]
            sn += m * vn[j]
        out[i] = s
        outn[i] = sn


@njit(cache=True)
def _rmatvec(M, v, out):
    """out = M^T v, reading M row by row."""
    rows, cols = M.shape
    for j in range(cols):
        out[j] = 0.0
    for i in range(rows):
        vi = v[i]
        for j in range(cols):
            out[j] += M[i, j] * vi


@njit(cache=True)
def _sq_loss(y, target):
    """Per-step loss l = mean_o (y_o - y*_o)^2 (eq. 2)."""
    s = 0.0
    for o in range(y.shape[0]):
        d = y[o] - target[o]
        s += d * d
    return s / y.shape[0]


@njit(cache=True)
def _scaled_direction(d, scale, out):
    """out = scale * d / ||d||^2 (ANP, eq. 5); zero when d vanishes."""
    ss = 0.0
    for i in range(d.shape[0]):
        ss += d[i] * d[i]
    if ss > 0.0:
        f = scale / ss
    else:
        f = 0.0
    for i in range(d.shape[0]):
        out[i] = f * d[i]


@njit(cache=True)
def _adam_coefficients(hyper, t):
    b1 = hyper[H_BETA1]
    b2 = hyper[H_BETA2]
    return b1, b2, 1.0 - b1**t, 1.0 - b2**t


@njit(cache=True)
def _update_lowrank(W, G, P, k, lr, opt, M, V, hyper, t):
    """W -= lr * step(sum_q G[q] P[q]^T) over the first k rows (eq. 9).

    With SGD the step is the gradient itself: rank-k and in place. With Adam
    each element's moments are updated from the same outer-product entries.
    """
    rows, cols = W.shape
    if opt == SGD:
        if k == 1:
            for i in range(rows):
                g = lr * G[0, i]
                if g != 0.0:
                    for j in range(cols):
                        W[i, j] -= g * P[0, j]
            return
        for i in range(rows):
            for j in range(cols):
                s = 0.0
                for q in range(k):
                    s += G[q, i] * P[q, j]
                W[i, j] -= lr * s
        return
    b1, b2, bc1, bc2 = _adam_coefficients(hyper, t)
    eps = hyper[H_EPS]
    for i in range(rows):
        for j in range(cols):
            s = 0.0
            for q in range(k):
                s += G[q, i] * P[q, j]
            m = b1 * M[i, j] + (1.0 - b1) * s
            v = b2 * V[i, j] + (1.0 - b2) * s * s
            M[i, j] = m
            V[i, j] = v
            W[i, j] -= lr * (m / bc1) / (np.sqrt(v / bc2) + eps)


@njit(cache=True)
def _update_dense(W, Xi, scale, lr, opt, M, V, hyper, t):
    """W -= lr * step(scale * Xi): the WP update (eq. 8)."""
    rows, cols = W.shape
    if opt == SGD:
        f = lr * scale
        for i in range(rows):
            for j in range(cols):
                W[i, j] -= f * Xi[i, j]
        return
    b1, b2, bc1, bc2 = _adam_coefficients(hyper, t)
    eps = hyper[H_EPS]
    for i in range(rows):
        for j in range(cols):
            s = scale * Xi[i, j]
            m = b1 * M[i, j] + (1.0 - b1) * s
            v = b2 * V[i, j] + (1.0 - b2) * s * s
            M[i, j] = m
            V[i, j] = v
            W[i, j] -= lr * (m / bc1) / (np.sqrt(v / bc2) + eps)


@njit(cache=True)
def _decorrelate(D, xs, w, eps):
    """D <- D - eps (xs xs^T - diag(xs^2)) D (eq. 10), as rank-1 work.

    (xs xs^T) D = xs (D^T xs)^T, so with w = D^T xs the update of entry (i, j)
    is eps * (xs_i w_j - xs_i^2 D_ij): O(N^2), never a matrix product.
    """
    _rmatvec(D, xs, w)
    N = D.shape[0]
    for i in range(N):
        a = eps * xs[i]
        b = 1.0 + a * xs[i]
        for j in range(N):
            D[i, j] = D[i, j] * b - a * w[j]


@njit(cache=True)
def _split_moments(moments, N, I, O):
    nA = N * I
    nR = N * N
    nB = O * N
    total = nA + nR + nB
    if moments.shape[0] == 0:
        e = moments[0:0].reshape((0, 0))
        return e, e, e, e, e, e
    mA = moments[0:nA].reshape((N, I))
    mR = moments[nA:nA + nR].reshape((N, N))
    mB = moments[nA + nR:total].reshape((O, N))
    vA = moments[total:total + nA].reshape((N, I))
    vR = moments[total + nA:total + nA + nR].reshape((N, N))
    vB = moments[total + nA + nR:2 * total].reshape((O, N))
    return mA, vA, mR, vR, mB, vB


@njit(cache=True)
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
        _fill_normal(rng, wp_noise, sigma)
        _hidden_twins_wp(A, R, xiA, xiR, u, xs, xsn, alpha, alphan)
    elif twins:
        _fill_normal(rng, xi, sigma)
        _fill_normal(rng, nu, sigma)
        if noisy_ref:
            _fill_normal(rng, xi0, sigma)
            _fill_normal(rng, nu0, sigma)
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
