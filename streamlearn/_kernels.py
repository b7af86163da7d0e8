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
- ``config`` int64[9]: method, activation, decorrelation, optimizer,
  noisy_reference, K, skip, bias, read-out (PERTURBATION or RLS).

The fast path's read-out extensions (``_step_fast``): ``C`` (O, I) and ``cb``
(O,) the read-out's skip weights and bias (eq. 1b; zero and unused without
skip / bias); ``moments_out`` Adam's moments of C and c; ``P`` (M, M) float64
the least-squares read-out's inverse correlation matrix (eq. 11, M = N +
I * skip + bias; 0 x 0 otherwise), ``P_spare`` its scratch copy for the exact
guard, ``rls_work`` (N_RLS_WORK, M) float64 scratch (z, gain, q, a row of W);
``watch`` (2, O) float64 the running min and max of each output's targets
(the output watch, ``_outside_watch``). ``counters`` then has N_COUNTERS
slots and ``hyper`` N_HYPER.
"""

import numpy as np
from numba import njit, prange

from ._jit import INNER
from ._random import _fill_normal
from ._rls import _rls_apply, _rls_gain_restarting

# config codes
ANP, NP, WP, BP = 0, 1, 2, 3
TANH, RELU, IDENTITY, SIGN = 0, 1, 2, 3
SGD, ADAM = 0, 1

# hyper slots
H_LR, H_LR_DEC, H_SIGMA, H_BETA1, H_BETA2, H_EPS = 0, 1, 2, 3, 4, 5
# divergence guard: the bound on |weight|, and running upper bounds on max |A, R, B|
# and max |D| (see _guard_commit)
H_MAX_WEIGHT, H_WMAX, H_DMAX = 6, 7, 8
# the least-squares read-out: forgetting factor, P0 = I / alpha, wind-up cap on diag P;
# the output watch: a prediction beyond H_OUT_BOUND spans of the targets' range is refused
H_RLS_LAM, H_RLS_ALPHA, H_RLS_PMAX, H_OUT_BOUND = 9, 10, 11, 12
N_HYPER = 13
# config slots
C_METHOD, C_ACT, C_DECOR, C_OPT, C_NOISY_REF, C_WINDOW = 0, 1, 2, 3, 4, 5
# read-out: skip connection C u, bias c, and which read-out (PERTURBATION or RLS)
C_SKIP, C_BIAS, C_READOUT = 6, 7, 8
N_CONFIG = 9
PERTURBATION, RLS = 0, 1
# counter slots; K_SEEN counts the targets the output watch has seen, K_RLS_RESTART
# the restarts of P after a loss of positive-definiteness
K_ADAM, K_POS, K_FILL, K_SEEN, K_RLS_RESTART = 0, 1, 2, 3, 4
N_COUNTERS = 5
# the output watch starts after this many targets
WATCH_WARMUP = 100
# rows of the watch array: running min and max of each output's targets
Y_MIN, Y_MAX = 0, 1
# rows of rls_work (float64, length M = N + I * skip + bias)
R_Z, R_GAIN, R_Q, R_W = 0, 1, 2, 3
N_RLS_WORK = 4

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


@njit(**INNER)
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


@njit(**INNER)
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


@njit(**INNER)
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


@njit(**INNER)
def _activate(alpha, x, kind):
    for i in range(alpha.shape[0]):
        x[i] = _act(alpha[i], kind)


@njit(**INNER)
def _matvec(M, v, out):
    """out = M v."""
    rows, cols = M.shape
    for i in range(rows):
        s = 0.0
        for j in range(cols):
            s += M[i, j] * v[j]
        out[i] = s


@njit(**INNER)
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


@njit(**INNER)
def _rmatvec(M, v, out):
    """out = M^T v, reading M row by row."""
    rows, cols = M.shape
    for j in range(cols):
        out[j] = 0.0
    for i in range(rows):
        vi = v[i]
        for j in range(cols):
            out[j] += M[i, j] * vi


@njit(**INNER)
def _sq_loss(y, target):
    """Per-step loss l = mean_o (y_o - y*_o)^2 (eq. 2)."""
    s = 0.0
    for o in range(y.shape[0]):
        d = y[o] - target[o]
        s += d * d
    return s / y.shape[0]


@njit(**INNER)
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


@njit(**INNER)
def _adam_coefficients(hyper, t):
    b1 = hyper[H_BETA1]
    b2 = hyper[H_BETA2]
    return b1, b2, 1.0 - b1**t, 1.0 - b2**t


@njit(**INNER)
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


@njit(**INNER)
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


@njit(**INNER)
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


@njit(**INNER)
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


@njit(**INNER)
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


@njit(**INNER)
def _absmax(v):
    """max |v_i|, or inf if any entry is NaN."""
    m = 0.0
    for i in range(v.shape[0]):
        a = abs(v[i])
        if a > m:
            m = a
        elif a != a:
            return np.inf
    return m


@njit(**INNER)
def _absmax2(M):
    m = 0.0
    for i in range(M.shape[0]):
        a = _absmax(M[i])
        if a > m:
            m = a
    return m


@njit(**INNER)
def _all_finite(v):
    for i in range(v.shape[0]):
        if not np.isfinite(v[i]):
            return False
    return True


@njit(cache=True)
def _adam_step_bound(hyper, t):
    """An upper bound on |Adam step| / lr after t steps, whatever the gradients.

    By Cauchy-Schwarz, |m_t| <= (1 - b1) sqrt(sum_k (b1^2/b2)^k) sqrt(v_t / (1 - b2)),
    and the bias corrections scale it by sqrt(1 - b2^t) / (1 - b1^t).
    """
    b1 = hyper[H_BETA1]
    b2 = hyper[H_BETA2]
    r = b1 * b1 / b2
    geo = float(t) if r == 1.0 else (1.0 - r**t) / (1.0 - r)
    return (1.0 - b1) * np.sqrt(geo / (1.0 - b2)) * np.sqrt(1.0 - b2**t) / (1.0 - b1**t)


# A gradient entry above this is divergence whatever the optimizer (its square
# must stay finite in Adam's second moment, even in float32).
_MAX_GRADIENT = 1e18


@njit(**INNER)
def _guard_commit(A, RT, B, C, cb, DT, hyper, delta, decor, xs_new):
    """May an update that moves no weight by more than ``delta`` be committed?

    Yes when every weight provably stays within hyper[H_MAX_WEIGHT]. The running
    bounds H_WMAX (max |A, R, B, C, c|) and H_DMAX (max |D|) only grow by each
    committed step's worst case; when a bound would cross the limit the exact
    maximum is rescanned (one read of the matrices) and the test repeated.
    The decorrelation step (eq. 10) changes D_ij by at most
    eps xs_i^2 |D_ij| + eps |xs_i| |w_j| with |w_j| <= N max|D| max|xs|, so
    max |D| grows by at most the factor 1 + eps m^2 (N + 1), m = max |xs|.
    """
    limit = hyper[H_MAX_WEIGHT]
    if not delta < np.inf:  # NaN or inf
        return False
    wmax = hyper[H_WMAX]
    dmax = hyper[H_DMAX]
    if wmax + delta > limit:
        wmax = max(_absmax2(A), _absmax2(RT), _absmax2(B), _absmax2(C), _absmax(cb))
        if not wmax + delta <= limit:
            return False  # the bounds stay as they were: a refused step changes nothing
    growth = 1.0
    if decor:
        m = _absmax(xs_new)
        growth = 1.0 + hyper[H_LR_DEC] * m * m * (DT.shape[0] + 1)
        if dmax * growth > limit:
            dmax = _absmax2(DT)
            if not dmax * growth <= limit:
                return False
    hyper[H_WMAX] = wmax + delta
    hyper[H_DMAX] = dmax * growth
    return True


# ---------------------------------------------------------------------------
# Fast path: one pass over each N x N matrix per step.
#
# ``OnlineRNN`` stores R and D column-major, so the kernels below receive
# RT = R^T and DT = D^T as C-contiguous arrays: row j of RT is column j of R.
# Then every product the step needs runs along contiguous rows as a vector
# "axpy" (alpha += xs_j * RT[j]), which vectorises without reassociating a
# sum: alpha_i still accumulates its terms in the order j = 0, 1, ..., so
# the fast path computes exactly the numbers of the reference ``_step``.
#
# The A and R updates of a step are *pending* until the next pass over the
# same rows: step t+1 first applies step t's rank-1 update to a block of rows
# of RT, then uses them for its own products, so R is read and written once
# per step. The decorrelation update of D needs w = D^T xs, whose entry j is
# the dot product of row j of DT with xs: with D stored transposed the update
# of row j of DT needs only w_j, so step t+1's pass over DT computes w_j,
# updates the row and accumulates D x_{t+1} from it, all in one read and one
# write. At the end of every ``_run_fast`` call the pending updates are
# flushed, so between calls the weights in memory are always current.
#
# Extra buffers: ``pend_g`` (K, N), ``pend_p`` (K, N), ``pend_u`` (K, I): the
# factors of the pending rank-k update of A and R (k = ``pend_k[0]``);
# the pending decorrelation flag ``pend_k[1]`` uses xs = state[0].
# ---------------------------------------------------------------------------

# extra rows of work_n used by the fast path
W_GL, W_DECA, W_DECB, W_SINK, W_ACC, W_W = 11, 12, 13, 14, 15, 16
N_WORK_N_FAST = 17


@njit(**INNER)
def _pending_general(RT, j0, j1, G, P, k, lr, opt, M, V, hyper, t):
    """Rows j0:j1 of RT (columns of R): R -= lr * step(sum_q G[q] P[q]^T).

    The element arithmetic of ``_update_lowrank``; M and V are R's moments in
    R's own (row-major) layout.
    """
    N = RT.shape[1]
    if opt == SGD:
        if k == 1:
            for j in range(j0, j1):
                row = RT[j]
                pj = P[0, j]
                for i in range(N):
                    g = lr * G[0, i]
                    if g != 0.0:
                        row[i] -= g * pj
            return
        for j in range(j0, j1):
            row = RT[j]
            for i in range(N):
                s = 0.0
                for q in range(k):
                    s += G[q, i] * P[q, j]
                row[i] -= lr * s
        return
    b1, b2, bc1, bc2 = _adam_coefficients(hyper, t)
    eps = hyper[H_EPS]
    for j in range(j0, j1):
        row = RT[j]
        for i in range(N):
            s = 0.0
            for q in range(k):
                s += G[q, i] * P[q, j]
            m = b1 * M[i, j] + (1.0 - b1) * s
            v = b2 * V[i, j] + (1.0 - b2) * s * s
            M[i, j] = m
            V[i, j] = v
            row[i] -= lr * (m / bc1) / (np.sqrt(v / bc2) + eps)


@njit(**INNER)
def _axpy4(r0, r1, r2, r3, a0, a1, a2, a3, b0, b1, b2, b3, i0, i1, acc, accn):
    """acc += r0 a0 + ... + r3 a3 and accn += r0 b0 + ..., in that order."""
    for i in range(i0, i1):
        v0 = r0[i]
        v1 = r1[i]
        v2 = r2[i]
        v3 = r3[i]
        acc[i] = acc[i] + v0 * a0 + v1 * a1 + v2 * a2 + v3 * a3
        accn[i] = accn[i] + v0 * b0 + v1 * b1 + v2 * b2 + v3 * b3


@njit(**INNER)
def _r_rows(RT, j0, j1, i0, i1, gl, P0, fused, xs, xsn, alpha, alphan):
    """Rows j0:j1 of RT, columns i0:i1: optionally the pending SGD rank-1
    update RT[j, i] -= gl[i] * P0[j] (``fused``), then
    alpha[i] += RT[j, i] xs[j] and alphan[i] += RT[j, i] xsn[j] in j order.
    """
    j = j0
    while j + 4 <= j1:
        r0 = RT[j]
        r1 = RT[j + 1]
        r2 = RT[j + 2]
        r3 = RT[j + 3]
        a0, a1, a2, a3 = xs[j], xs[j + 1], xs[j + 2], xs[j + 3]
        b0, b1, b2, b3 = xsn[j], xsn[j + 1], xsn[j + 2], xsn[j + 3]
        if fused:
            p0, p1, p2, p3 = P0[j], P0[j + 1], P0[j + 2], P0[j + 3]
            for i in range(i0, i1):
                g = gl[i]
                v0 = r0[i] - g * p0
                r0[i] = v0
                v1 = r1[i] - g * p1
                r1[i] = v1
                v2 = r2[i] - g * p2
                r2[i] = v2
                v3 = r3[i] - g * p3
                r3[i] = v3
                alpha[i] = alpha[i] + v0 * a0 + v1 * a1 + v2 * a2 + v3 * a3
                alphan[i] = alphan[i] + v0 * b0 + v1 * b1 + v2 * b2 + v3 * b3
        else:
            _axpy4(r0, r1, r2, r3, a0, a1, a2, a3, b0, b1, b2, b3, i0, i1, alpha, alphan)
        j += 4
    while j < j1:
        row = RT[j]
        a = xs[j]
        b = xsn[j]
        if fused:
            p = P0[j]
            for i in range(i0, i1):
                v = row[i] - gl[i] * p
                row[i] = v
                alpha[i] += v * a
                alphan[i] += v * b
        else:
            for i in range(i0, i1):
                v = row[i]
                alpha[i] += v * a
                alphan[i] += v * b
        j += 1


WP_TILE = 16  # hidden units per tile of the WP passes


@njit(**INNER)
def _r_rows_wp(RT, xiR, xs, xsn, alpha, alphan):
    """WP products: alpha += R xs and alphan += (R + xiR) xsn, in j order.

    The noise xiR is in R's row-major layout (the draw order) while R is
    stored transposed; tiles of WP_TILE hidden units keep both streams in
    cache: for each tile, all j, the tile's entries of row j of RT (one or two
    cache lines) and WP_TILE rows of xiR read front to back.
    """
    N = RT.shape[0]
    for i0 in range(0, N, WP_TILE):
        i1 = min(N, i0 + WP_TILE)
        for j in range(N):
            row = RT[j]
            a = xs[j]
            b = xsn[j]
            for i in range(i0, i1):
                r = row[i]
                alpha[i] += r * a
                alphan[i] += (r + xiR[i, j]) * b


@njit(**INNER)
def _dots8(DT, j, v, acc):
    """acc[k] = DT[j + k] . v for k < 8, each sum in order of i."""
    N = DT.shape[1]
    r0 = DT[j]
    r1 = DT[j + 1]
    r2 = DT[j + 2]
    r3 = DT[j + 3]
    r4 = DT[j + 4]
    r5 = DT[j + 5]
    r6 = DT[j + 6]
    r7 = DT[j + 7]
    acc[0] = 0.0
    s0 = acc[0]
    s1 = s0
    s2 = s0
    s3 = s0
    s4 = s0
    s5 = s0
    s6 = s0
    s7 = s0
    for i in range(N):
        q = v[i]
        s0 += r0[i] * q
        s1 += r1[i] * q
        s2 += r2[i] * q
        s3 += r3[i] * q
        s4 += r4[i] * q
        s5 += r5[i] * q
        s6 += r6[i] * q
        s7 += r7[i] * q
    acc[0] = s0
    acc[1] = s1
    acc[2] = s2
    acc[3] = s3
    acc[4] = s4
    acc[5] = s5
    acc[6] = s6
    acc[7] = s7


@njit(**INNER)
def _update4(r0, r1, r2, r3, w0, w1, w2, w3, a0, a1, a2, a3, b0, b1, b2, b3, da, db,
             xs_new, xsn_new):
    """Eq. 10 on four rows of DT given their w, then their products (in order)."""
    for i in range(r0.shape[0]):
        c = da[i]
        d = db[i]
        v0 = r0[i] * d - c * w0
        r0[i] = v0
        v1 = r1[i] * d - c * w1
        r1[i] = v1
        v2 = r2[i] * d - c * w2
        r2[i] = v2
        v3 = r3[i] * d - c * w3
        r3[i] = v3
        xs_new[i] = xs_new[i] + v0 * a0 + v1 * a1 + v2 * a2 + v3 * a3
        xsn_new[i] = xsn_new[i] + v0 * b0 + v1 * b1 + v2 * b2 + v3 * b3


@njit(**INNER)
def _d_rows(DT, j0, j1, pend, xsp, da, db, x, xn, xs_new, xsn_new, acc):
    """Rows j0:j1 of DT: the pending decorrelation update, then the products.

    With ``pend``: w_j = (D^T xsp)_j = DT[j] . xsp (summed over i in order, as
    ``_rmatvec``), then DT[j, i] = DT[j, i] * db[i] - da[i] * w_j, which is
    eq. 10's D[i, j] update with da = eps xsp, db = 1 + da xsp. Then
    xs_new += DT[j] x[j], xsn_new += DT[j] xn[j]. ``acc`` has >= 8 scratch slots.
    """
    N = DT.shape[1]
    j = j0
    if pend:
        # eight sums in flight (each still in order) hide the add latency
        while j + 8 <= j1:
            _dots8(DT, j, xsp, acc)
            for h in range(2):
                k = j + 4 * h
                _update4(DT[k], DT[k + 1], DT[k + 2], DT[k + 3],
                         acc[4 * h], acc[4 * h + 1], acc[4 * h + 2], acc[4 * h + 3],
                         x[k], x[k + 1], x[k + 2], x[k + 3],
                         xn[k], xn[k + 1], xn[k + 2], xn[k + 3], da, db, xs_new, xsn_new)
            j += 8
    while j + 4 <= j1:
        r0 = DT[j]
        r1 = DT[j + 1]
        r2 = DT[j + 2]
        r3 = DT[j + 3]
        a0, a1, a2, a3 = x[j], x[j + 1], x[j + 2], x[j + 3]
        b0, b1, b2, b3 = xn[j], xn[j + 1], xn[j + 2], xn[j + 3]
        if pend:
            acc[0] = 0.0
            acc[1] = 0.0
            acc[2] = 0.0
            acc[3] = 0.0
            w0 = acc[0]
            w1 = acc[1]
            w2 = acc[2]
            w3 = acc[3]
            for i in range(N):
                q = xsp[i]
                w0 += r0[i] * q
                w1 += r1[i] * q
                w2 += r2[i] * q
                w3 += r3[i] * q
            _update4(r0, r1, r2, r3, w0, w1, w2, w3, a0, a1, a2, a3, b0, b1, b2, b3,
                     da, db, xs_new, xsn_new)
        else:
            _axpy4(r0, r1, r2, r3, a0, a1, a2, a3, b0, b1, b2, b3, 0, N, xs_new, xsn_new)
        j += 4
    while j < j1:
        row = DT[j]
        a = x[j]
        b = xn[j]
        if pend:
            acc[0] = 0.0
            w = acc[0]
            for i in range(N):
                w += row[i] * xsp[i]
            for i in range(N):
                v = row[i] * db[i] - da[i] * w
                row[i] = v
                xs_new[i] += v * a
                xsn_new[i] += v * b
        else:
            for i in range(N):
                v = row[i]
                xs_new[i] += v * a
                xsn_new[i] += v * b
        j += 1


@njit(**INNER)
def _decor_factors(xsp, eps, da, db):
    for i in range(xsp.shape[0]):
        a = eps * xsp[i]
        da[i] = a
        db[i] = 1.0 + a * xsp[i]


@njit(**INNER)
def _decor_flush(DT, xsp, da, db, w):
    """Apply the pending decorrelation update alone (no products)."""
    _rmatvec_t(DT, xsp, w)
    N = DT.shape[1]
    for j in range(DT.shape[0]):
        row = DT[j]
        wj = w[j]
        for i in range(N):
            row[i] = row[i] * db[i] - da[i] * wj


@njit(**INNER)
def _r_flush(RT, gl, P0):
    N = RT.shape[1]
    for j in range(RT.shape[0]):
        row = RT[j]
        p = P0[j]
        for i in range(N):
            row[i] = row[i] - gl[i] * p


@njit(**INNER)
def _apply_pending_ar(A, RT, O, pend_g, pend_p, pend_u, pend_k, work_n, mom, counters, hyper,
                      config, fuse_r):
    """Apply the pending A update, and the R update unless ``_r_rows`` fuses it.

    Returns True when the pending R update is a rank-1 SGD one left for
    ``_r_rows`` to fuse; its row factor lr * g is then in work_n[W_GL].
    """
    k = pend_k[0]
    if k == 0:
        return False
    N, I = A.shape
    opt = config[C_OPT]
    lr = hyper[H_LR]
    t = counters[K_ADAM]
    mA, vA, mR, vR, mB, vB = mom
    _update_lowrank(A, pend_g, pend_u, k, lr, opt, mA, vA, hyper, t)
    pend_k[0] = 0
    if opt == SGD and k == 1:
        gl = work_n[W_GL]
        for i in range(N):
            gl[i] = lr * pend_g[0, i]
        if fuse_r:
            return True
        _r_flush(RT, gl, pend_p[0])
        return False
    _pending_general(RT, 0, N, pend_g, pend_p, k, lr, opt, mR, vR, hyper, t)
    return False


@njit(**INNER)
def _bp_gradients_t(RT, B, DT, history, G, counters, config, y, target, gb, tmp, tmp2):
    """``_bp_gradients`` with R and D stored transposed (same arithmetic)."""
    N = RT.shape[0]
    O = B.shape[0]
    I = history.shape[1] - 2 * N
    K = config[C_WINDOW]
    decor = config[C_DECOR] != 0
    fill = counters[K_FILL]
    for o in range(O):
        gb[o] = 2.0 * (y[o] - target[o]) / O
    _rmatvec(B, gb, tmp)
    slot = (counters[K_POS] - 1) % K
    for q in range(fill):
        d = history[slot, I + N:I + 2 * N]
        if decor:
            _rmatvec_t(DT, tmp, tmp2)
        else:
            _copy(tmp, tmp2)
        g = G[slot]
        for i in range(N):
            g[i] = d[i] * tmp2[i]
        if q + 1 < fill:
            _rmatvec_t(RT, g, tmp)
        slot = (slot - 1) % K


@njit(**INNER)
def _rmatvec_t(MT, v, out):
    """out = M^T v from MT = M^T: out[j] = sum_i MT[j, i] v[i], as ``_rmatvec``."""
    rows, cols = MT.shape
    j = 0
    while j + 4 <= rows:  # four independent sums at a time, each in order
        r0 = MT[j]
        r1 = MT[j + 1]
        r2 = MT[j + 2]
        r3 = MT[j + 3]
        out[j] = 0.0
        s0 = out[j]
        s1 = s0
        s2 = s0
        s3 = s0
        for i in range(cols):
            q = v[i]
            s0 += r0[i] * q
            s1 += r1[i] * q
            s2 += r2[i] * q
            s3 += r3[i] * q
        out[j] = s0
        out[j + 1] = s1
        out[j + 2] = s2
        out[j + 3] = s3
        j += 4
    while j < rows:
        out[j] = 0.0
        s = out[j]
        r = MT[j]
        for i in range(cols):
            s += r[i] * v[i]
        out[j] = s
        j += 1


@njit(**INNER)
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
            _fill_normal(rng, wp[0], sigma)
    elif twins:
        # the least-squares read-out has no output noise (docs/algorithms.md, eq. 12)
        _fill_normal(rng, xi, sigma)
        if rls is None:
            _fill_normal(rng, nu, sigma)
        if config[C_NOISY_REF] != 0:
            _fill_normal(rng, xi0, sigma)
            if rls is None:
                _fill_normal(rng, nu0, sigma)

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
def _readout_extra(C, cb, u, skip, bias, y):
    """y += C u (with ``skip``) and y += c (with ``bias``): eq. 1b's input and bias terms."""
    I = u.shape[0]
    for o in range(y.shape[0]):
        s = y[o]
        if skip:
            for k in range(I):
                s += C[o, k] * u[k]
        if bias:
            s += cb[o]
        y[o] = s


@njit(**INNER)
def _readout_extra_wp(C, cb, xiC, xic, u, skip, bias, y, yn):
    """Eq. 1b and 7b: y += C u + c and yn += (C + xiC) u + (c + xic)."""
    I = u.shape[0]
    for o in range(y.shape[0]):
        s = y[o]
        n = yn[o]
        if skip:
            for k in range(I):
                c = C[o, k]
                s += c * u[k]
                n += (c + xiC[o, k]) * u[k]
        if bias:
            s += cb[o]
            n += cb[o] + xic[o]
        y[o] = s
        yn[o] = n


@njit(**INNER)
def _regressor(xs, u, skip, bias, z):
    """The least-squares read-out's regressor z = [xs, u, 1] (eq. 11); u and 1 only
    with ``skip`` and ``bias``."""
    N = xs.shape[0]
    for i in range(N):
        z[i] = xs[i]
    m = N
    if skip:
        for k in range(u.shape[0]):
            z[m + k] = u[k]
        m += u.shape[0]
    if bias:
        z[m] = 1.0


@njit(**INNER)
def _max_diag(P):
    m = 0.0
    for i in range(P.shape[0]):
        if P[i, i] > m:
            m = P[i, i]
    return m


@njit(**INNER)
def _rls_readout_gain(P, z, gain, q, hyper, counters):
    """(R1), (R2) of ``_rls.py`` for this step's regressor; P restarts at I / alpha
    (counted in K_RLS_RESTART) when it has lost positive-definiteness.

    Returns False when even the restarted P gives no gain (z too large for d to
    be finite); P is then I / alpha and the read-out does not move this step.
    """
    code = _rls_gain_restarting(P, z, hyper[H_RLS_LAM], hyper[H_RLS_PMAX],
                                hyper[H_RLS_ALPHA], gain, q)
    if code:
        counters[K_RLS_RESTART] += 1
    return code != 2


@njit(**INNER)
def _rls_readout_apply(B, C, cb, z, gain, w, target, skip, bias):
    """(R3) of ``_rls.py`` for each output o on the row W_o = [B_o, C_o, c_o]."""
    N = B.shape[1]
    I = C.shape[1]
    for o in range(B.shape[0]):
        for i in range(N):
            w[i] = B[o, i]
        m = N
        if skip:
            for k in range(I):
                w[m + k] = C[o, k]
            m += I
        if bias:
            w[m] = cb[o]
        _rls_apply(w, z, gain, target[o])
        for i in range(N):
            B[o, i] = w[i]
        if skip:
            for k in range(I):
                C[o, k] = w[N + k]
        if bias:
            cb[o] = w[m]


@njit(**INNER)
def _update_vector(w, g, scale, lr, opt, M, V, hyper, t):
    """w -= lr * step(scale * g): the bias c's update, as ``_update_dense``."""
    if opt == SGD:
        f = lr * scale
        for i in range(w.shape[0]):
            w[i] -= f * g[i]
        return
    b1, b2, bc1, bc2 = _adam_coefficients(hyper, t)
    eps = hyper[H_EPS]
    for i in range(w.shape[0]):
        s = scale * g[i]
        m = b1 * M[i] + (1.0 - b1) * s
        v = b2 * V[i] + (1.0 - b2) * s * s
        M[i] = m
        V[i] = v
        w[i] -= lr * (m / bc1) / (np.sqrt(v / bc2) + eps)


@njit(**INNER)
def _split_out_moments(moments_out, O, I):
    """Adam's moments of C (O, I) and c (O,): mC, vC, mc, vc (empty without Adam)."""
    if moments_out.shape[0] == 0:
        e = moments_out[0:0]
        return e.reshape((0, 0)), e.reshape((0, 0)), e, e
    nC = O * I
    half = nC + O
    mC = moments_out[0:nC].reshape((O, I))
    mc = moments_out[nC:half]
    vC = moments_out[half:half + nC].reshape((O, I))
    vc = moments_out[half + nC:2 * half]
    return mC, vC, mc, vc


@njit(**INNER)
def _outside_watch(y, target, watch, hyper, counters):
    """Is a prediction useless: more than k = H_OUT_BOUND spans outside its targets'
    running range, and more than k spans from its own target?

    Only once WATCH_WARMUP targets have been seen; the span is max - min of the
    targets seen. The second test spares a prediction that follows its target
    out of the range seen so far. An output whose targets have all been equal
    has no scale to judge by and is not watched.
    """
    k = hyper[H_OUT_BOUND]
    if counters[K_SEEN] < WATCH_WARMUP or not k < np.inf:
        return False
    for o in range(y.shape[0]):
        lo = watch[Y_MIN, o]
        hi = watch[Y_MAX, o]
        span = hi - lo
        if not span > 0.0:
            continue
        if (y[o] > hi + k * span or y[o] < lo - k * span) and abs(y[o] - target[o]) > k * span:
            return True
    return False


@njit(**INNER)
def _watch_targets(target, watch, counters):
    if counters[K_SEEN] == 0:
        for o in range(target.shape[0]):
            watch[Y_MIN, o] = target[o]
            watch[Y_MAX, o] = target[o]
    else:
        for o in range(target.shape[0]):
            if target[o] < watch[Y_MIN, o]:
                watch[Y_MIN, o] = target[o]
            if target[o] > watch[Y_MAX, o]:
                watch[Y_MAX, o] = target[o]
    counters[K_SEEN] += 1


@njit(**INNER)
def _copy(src, dst):
    """dst[:] = src, as a loop (a slice assignment costs more to compile)."""
    for i in range(src.shape[0]):
        dst[i] = src[i]


@njit(**INNER)
def _step_fast(A, RT, B, DT, mom, wp, history, state, work_n, work_o, work_k,
               rng, counters, hyper, config, pend_g, pend_p, pend_u, pend_k, u2, target, y_out,
               learn, nthreads, C, cb, mom_out, rls, watch):
    """``_step`` on transposed R and D with pending updates: the same numbers.

    Also the read-out extensions of docs/algorithms.md: the skip connection C u
    and bias c (eq. 1b), and the least-squares read-out (eqs. 11-12, ``_rls.py``).
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

    if wp is not None:
        # WP's read-out noise (xiB, then xiC, xic) exists only with the perturbation read-out
        if twins and rls is None:
            xiB = wp[3]
            for o in range(O):
                c = 0.0
                n = 0.0
                for j in range(N):
                    b = B[o, j]
                    c += b * xs_new[j]
                    n += (b + xiB[o, j]) * xsn_new[j]
                y[o] = c
                yn[o] = n
            if skip or bias:
                _readout_extra_wp(C, cb, wp[4], wp[5], u, skip, bias, y, yn)
        elif twins:
            _matvec_twins(B, xs_new, xsn_new, y, yn)
            if skip or bias:
                _readout_extra(C, cb, u, skip, bias, y)
                _readout_extra(C, cb, u, skip, bias, yn)
        else:
            _matvec(B, xs_new, y)
            if skip or bias:
                _readout_extra(C, cb, u, skip, bias, y)
    elif twins:
        _matvec_twins(B, xs_new, xsn_new, y, yn)
        if skip or bias:
            _readout_extra(C, cb, u, skip, bias, y)
            _readout_extra(C, cb, u, skip, bias, yn)
        if rls is None:  # eq. 3's output noise; the least-squares read-out has none
            for o in range(O):
                y[o] += nu0[o]
                yn[o] += nu[o]
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

    mA, vA, mR, vR, mB, vB = mom
    mC, vC, mc, vc = mom_out
    t = counters[K_ADAM] + 1
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
        g = abs(scale) * _absmax(wp[0])
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
        _update_dense_t(RT, wp[2], scale, lr, opt, mR, vR, hyper, t)
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


@njit(**INNER)
def _fill(dst, value):
    for i in range(dst.shape[0]):
        dst[i] = value


@njit(**INNER)
def _update_dense_t(RT, Xi, scale, lr, opt, M, V, hyper, t):
    """``_update_dense`` of R stored transposed; Xi, M, V in R's layout."""
    N = RT.shape[0]
    if opt == SGD:
        f = lr * scale
        for i0 in range(0, N, WP_TILE):  # tiles, as in _r_rows_wp
            i1 = min(N, i0 + WP_TILE)
            for j in range(N):
                row = RT[j]
                for i in range(i0, i1):
                    row[i] -= f * Xi[i, j]
        return
    b1, b2, bc1, bc2 = _adam_coefficients(hyper, t)
    eps = hyper[H_EPS]
    for j in range(N):
        row = RT[j]
        for i in range(N):
            s = scale * Xi[i, j]
            m = b1 * M[i, j] + (1.0 - b1) * s
            v = b2 * V[i, j] + (1.0 - b2) * s * s
            M[i, j] = m
            V[i, j] = v
            row[i] -= lr * (m / bc1) / (np.sqrt(v / bc2) + eps)


@njit(**INNER)
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
    ``mom_out`` those of C and c (mC, vC, mc, vc), empty without Adam. Three
    optional buffers are None when their feature is off, and Numba then
    compiles none of its code (a branch on ``x is None`` for an argument is
    removed before typing): ``wp`` the views (flat, xiA, xiR, xiB, xiC, xic)
    of WP's noise; ``history`` BP's window; ``rls`` the least-squares
    read-out's (P, P_spare, rls_work); ``nthreads`` None for one thread.
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


# ---------------------------------------------------------------------------
# Two-thread mode: the same arithmetic split over column blocks.
#
# Each thread owns a contiguous block of entries i (rows of R and D, 64-byte
# aligned) and walks all rows j of RT / DT over its block, so every alpha_i
# and xs_i is still summed by one thread in the order j = 0, 1, ...: the
# results are bit-identical to one thread. The decorrelation's w_j needs a
# whole row of DT, so it is computed first (rows split between threads), then
# the column blocks are updated: D is read twice per step in this mode.
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _block(N, c, nthreads):
    """Column range of block c of nthreads, boundaries multiples of 8."""
    per = ((N + nthreads - 1) // nthreads + 7) // 8 * 8
    i0 = min(N, c * per)
    i1 = min(N, i0 + per)
    return i0, i1


@njit(parallel=True, **INNER)
def _r_rows_par(RT, gl, P0, fused, xs, xsn, alpha, alphan, nthreads):
    N = RT.shape[0]
    for c in prange(nthreads):
        i0, i1 = _block(N, c, nthreads)
        _r_rows(RT, 0, N, i0, i1, gl, P0, fused, xs, xsn, alpha, alphan)


@njit(**INNER)
def _d_cols(DT, i0, i1, pend, w, da, db, x, xn, xs_new, xsn_new):
    """Columns i0:i1 of every row of DT: update with the given w, then products."""
    N = DT.shape[0]
    j = 0
    while j + 4 <= N:
        r0 = DT[j]
        r1 = DT[j + 1]
        r2 = DT[j + 2]
        r3 = DT[j + 3]
        a0, a1, a2, a3 = x[j], x[j + 1], x[j + 2], x[j + 3]
        b0, b1, b2, b3 = xn[j], xn[j + 1], xn[j + 2], xn[j + 3]
        if pend:
            w0, w1, w2, w3 = w[j], w[j + 1], w[j + 2], w[j + 3]
            for i in range(i0, i1):
                c = da[i]
                d = db[i]
                v0 = r0[i] * d - c * w0
                r0[i] = v0
                v1 = r1[i] * d - c * w1
                r1[i] = v1
                v2 = r2[i] * d - c * w2
                r2[i] = v2
                v3 = r3[i] * d - c * w3
                r3[i] = v3
                xs_new[i] = xs_new[i] + v0 * a0 + v1 * a1 + v2 * a2 + v3 * a3
                xsn_new[i] = xsn_new[i] + v0 * b0 + v1 * b1 + v2 * b2 + v3 * b3
        else:
            _axpy4(r0, r1, r2, r3, a0, a1, a2, a3, b0, b1, b2, b3, i0, i1, xs_new, xsn_new)
        j += 4
    while j < N:
        row = DT[j]
        a = x[j]
        b = xn[j]
        if pend:
            wj = w[j]
            for i in range(i0, i1):
                v = row[i] * db[i] - da[i] * wj
                row[i] = v
                xs_new[i] += v * a
                xsn_new[i] += v * b
        else:
            for i in range(i0, i1):
                v = row[i]
                xs_new[i] += v * a
                xsn_new[i] += v * b
        j += 1


@njit(parallel=True, **INNER)
def _w_par(DT, xsp, w, nthreads):
    """Phase 1: w_j = DT[j] . xsp, rows split between the threads."""
    N = DT.shape[0]
    for c in prange(nthreads):
        j0, j1 = _block(N, c, nthreads)
        _rmatvec_t(DT[j0:j1], xsp, w[j0:j1])


@njit(parallel=True, **INNER)
def _d_cols_par(DT, pend, w, da, db, x, xn, xs_new, xsn_new, nthreads):
    """Phase 2: every row of DT, columns split between the threads."""
    N = DT.shape[0]
    for c in prange(nthreads):
        i0, i1 = _block(N, c, nthreads)
        _d_cols(DT, i0, i1, pend, w, da, db, x, xn, xs_new, xsn_new)


@njit(**INNER)
def _d_rows_par(DT, pend, xsp, da, db, x, xn, xs_new, xsn_new, work_n, nthreads):
    # two parallel functions, not two prange loops in one: Numba may fuse
    # adjacent prange loops, and phase 2 reads every w_j phase 1 writes
    w = work_n[W_W]
    if pend:
        _w_par(DT, xsp, w, nthreads)
    _d_cols_par(DT, pend, w, da, db, x, xn, xs_new, xsn_new, nthreads)
