"""The optimisers (eq. 9 with SGD or Adam) and the pending A and R updates of the fast path."""

import numpy as np
from numba import njit

from .._jit import FLAT, INNER
from .layout import C_OPT, H_BETA1, H_BETA2, H_EPS, H_LR, K_ADAM, SGD, W_GL
from .network import WP_TILE, _bit

_U = np.uint64

# Adam's per-entry arithmetic: IEEE division (no Python zero-divisor check) lets it vectorise.
ADAM = dict(INNER, error_model="numpy")


@njit(**INNER)
def _adam_coefficients(hyper, t):
    b1 = hyper[H_BETA1]
    b2 = hyper[H_BETA2]
    return b1, b2, 1.0 - b1**t, 1.0 - b2**t


@njit(**ADAM)
def _adam_element(m, v, s, b1, b2, bc1, bc2, eps, lr):
    """One entry of Adam (eq. 9) for the step entry ``s``: its new moments and
    the amount to subtract from the weight (bias-corrected by bc1, bc2)."""
    m = b1 * m + (1.0 - b1) * s
    v = b2 * v + (1.0 - b2) * s * s
    return m, v, lr * (m / bc1) / (np.sqrt(v / bc2) + eps)


@njit(**ADAM)
def _update_lowrank(W, G, P, k, lr, opt, M, V, hyper, t):
    """W -= lr * step(sum_q G[q] P[q]^T) over the first k rows (eq. 9).

    With SGD the step is the gradient itself: rank-k and in place. With Adam
    each element's moments are updated from the same outer-product entries.
    """
    rows, cols = W.shape
    if M is None or opt == SGD:  # None: SGD, Adam's code not compiled
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
            M[i, j], V[i, j], d = _adam_element(M[i, j], V[i, j], s, b1, b2, bc1, bc2, eps, lr)
            W[i, j] -= d


@njit(**ADAM)
def _update_dense(W, Xi, scale, lr, opt, M, V, hyper, t):
    """W -= lr * step(scale * Xi): the WP update (eq. 8)."""
    rows, cols = W.shape
    if M is None or opt == SGD:  # None: SGD, Adam's code not compiled
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
            M[i, j], V[i, j], d = _adam_element(M[i, j], V[i, j], s, b1, b2, bc1, bc2, eps, lr)
            W[i, j] -= d


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


@njit(**INNER)
def _pending_general(RT, j0, j1, G, P, k, lr, opt, M, V, hyper, t, w):
    """Rows j0:j1 of RT (columns of R): R -= lr * step(sum_q G[q] P[q]^T).

    The element arithmetic of ``_update_lowrank``; M and V are R's moments in
    R's own (row-major) layout; w is a scratch row of length N.
    """
    N = RT.shape[1]
    if M is None or opt == SGD:  # None: SGD, Adam's code not compiled
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
    _adam_transposed(RT, j0, j1, G, P, k, 1.0, None, M, V, hyper, t, lr, w)


@njit(**ADAM)
def _adam_transposed(RT, j0, j1, G, P, k, scale, Xi, M, V, hyper, t, lr, w):
    """Adam on columns j0:j1 of R = RT^T with moments M, V in R's row-major layout.

    The step entry (i, j) is sum_q G[q, i] P[q, j] (summed from 0.0 in q order),
    or scale * Xi[i, j] when Xi is given. In float64, row i of M and V is done
    at once in the scratch w, which vectorises (``error_model="numpy"``: no zero-divisor branch),
    then scattered into column i of RT; each entry's arithmetic is the same as
    ``_adam_element`` in any order, so the result is bit for bit the same.
    """
    b1, b2, bc1, bc2 = _adam_coefficients(hyper, t)
    eps = hyper[H_EPS]
    N = RT.shape[1]
    if w.itemsize != 8:
        # float32 model: w would round the float64 entries; entry by entry, as
        # _adam_element (moments strided, not vectorised)
        for j in range(j0, j1):
            row = RT[j]
            for i in range(N):
                if Xi is None:
                    s = 0.0
                    for q in range(k):
                        s += G[q, i] * P[q, j]
                else:
                    s = scale * Xi[i, j]
                M[i, j], V[i, j], d = _adam_element(M[i, j], V[i, j], s, b1, b2, bc1, bc2,
                                                    eps, lr)
                row[i] -= d
        return
    for i in range(N):
        Mi = M[i]
        Vi = V[i]
        if Xi is None:
            for j in range(j0, j1):
                w[j] = 0.0
            for q in range(k):
                g = G[q, i]
                Pq = P[q]
                for j in range(j0, j1):
                    w[j] += g * Pq[j]
        else:
            Xr = Xi[i]
            for j in range(j0, j1):
                w[j] = scale * Xr[j]
        for j in range(j0, j1):
            m = b1 * Mi[j] + (1.0 - b1) * w[j]
            v = b2 * Vi[j] + (1.0 - b2) * w[j] * w[j]
            Mi[j] = m
            Vi[j] = v
            w[j] = lr * (m / bc1) / (np.sqrt(v / bc2) + eps)
        for j in range(j0, j1):
            RT[j, i] -= w[j]


@njit(**INNER)
def _r_flush(RT, gl, P0):
    N = RT.shape[1]
    for j in range(RT.shape[0]):
        row = RT[j]
        p = P0[j]
        for i in range(N):
            row[i] = row[i] - gl[i] * p


@njit(**FLAT)
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
    if mom is None:  # SGD (see step._run_fast)
        mA = vA = mR = vR = None
    else:
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
    _pending_general(RT, 0, N, pend_g, pend_p, k, lr, opt, mR, vR, hyper, t, work_n[W_GL])
    return False


@njit(**ADAM)
def _update_vector(w, g, scale, lr, opt, M, V, hyper, t):
    """w -= lr * step(scale * g): the bias c's update, as ``_update_dense``."""
    if M is None or opt == SGD:  # None: SGD, Adam's code not compiled
        f = lr * scale
        for i in range(w.shape[0]):
            w[i] -= f * g[i]
        return
    b1, b2, bc1, bc2 = _adam_coefficients(hyper, t)
    eps = hyper[H_EPS]
    for i in range(w.shape[0]):
        s = scale * g[i]
        M[i], V[i], d = _adam_element(M[i], V[i], s, b1, b2, bc1, bc2, eps, lr)
        w[i] -= d


@njit(**INNER)
def _update_dense_t(RT, Xi, scale, lr, opt, M, V, hyper, t, w):
    """``_update_dense`` of R stored transposed; Xi, M, V in R's layout; w a scratch row."""
    N = RT.shape[0]
    if M is None or opt == SGD:  # None: SGD, Adam's code not compiled
        f = lr * scale
        for i0 in range(0, N, WP_TILE):  # tiles, as in _r_rows_wp
            i1 = min(N, i0 + WP_TILE)
            for j in range(N):
                row = RT[j]
                for i in range(i0, i1):
                    row[i] -= f * Xi[i, j]
        return
    _adam_transposed(RT, 0, N, Xi, Xi, 0, scale, Xi, M, V, hyper, t, lr, w)


@njit(**INNER)
def _update_dense_t_bits(RT, XT, words, off, sig, scale, lr, opt, M, V, hyper, t, w):
    """``_update_dense_t`` with Xi = xiR as sign bits (``network._draw_wp_bits``),
    magnitude ``sig`` in the model's dtype: the same numbers. SGD reads the
    transposed bits XT, row j of RT with row j of XT; Adam, which walks R's
    rows (its moments' layout), reads bit off + i * N + j of ``words``.

    Each entry's step is scale * (+-sig), that is +-(scale * sig) exactly, and
    with SGD it subtracts lr * scale * (+-sig) = +-((lr * scale) * sig).
    """
    N = RT.shape[0]
    if M is None or opt == SGD:  # None: SGD, Adam's code not compiled
        fp = (lr * scale) * sig
        fm = -fp
        W = XT.shape[1]
        for j in range(N):
            row = RT[j]
            for k in range(W):
                wj = XT[j, k]
                base = 64 * k
                for s in range(min(64, N - base)):
                    i = base + s
                    row[i] -= fp if (wj >> _U(s)) & _U(1) else fm
        return
    _adam_transposed_bits(RT, words, off, scale * sig, M, V, hyper, t, lr, w)


@njit(**ADAM)
def _adam_transposed_bits(RT, words, off, sp, M, V, hyper, t, lr, w):
    """``_adam_transposed``'s Xi case (step entry scale * Xi[i, j]) with Xi's
    signs as bit off + i * N + j of ``words`` and sp = scale * sig: the entry
    is sp or -sp, the same value. Arithmetic and order as ``_adam_transposed``."""
    b1, b2, bc1, bc2 = _adam_coefficients(hyper, t)
    eps = hyper[H_EPS]
    N = RT.shape[1]
    sm = -sp
    if w.itemsize != 8:
        for j in range(N):
            row = RT[j]
            for i in range(N):
                s = sp if _bit(words, off + i * N + j) else sm
                M[i, j], V[i, j], d = _adam_element(M[i, j], V[i, j], s, b1, b2, bc1, bc2,
                                                    eps, lr)
                row[i] -= d
        return
    for i in range(N):
        Mi = M[i]
        Vi = V[i]
        p0 = off + i * N
        for j in range(N):
            w[j] = sp if _bit(words, p0 + j) else sm
        for j in range(N):
            m = b1 * Mi[j] + (1.0 - b1) * w[j]
            v = b2 * Vi[j] + (1.0 - b2) * w[j] * w[j]
            Mi[j] = m
            Vi[j] = v
            w[j] = lr * (m / bc1) / (np.sqrt(v / bc2) + eps)
        for j in range(N):
            RT[j, i] -= w[j]
