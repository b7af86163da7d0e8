"""The twins' hidden layer (eq. 1, 3, 7): activations and the products with R."""

import numpy as np
from numba import njit

from .._jit import INNER
from .._random import _fill_normal, _fill_rademacher, _fill_words
from .layout import IDENTITY, RADEMACHER, RELU, TANH
from .linalg import _axpy4, _dots_perturbed, _transpose_bits64

_U = np.uint64


@njit(**INNER)
def _fill_noise(rng, out, sigma, kind):
    """The twins' perturbations: ``out`` filled with N(0, sigma^2) draws
    (``kind`` GAUSSIAN) or +-sigma signs (RADEMACHER), in ``_random``'s order."""
    if kind == RADEMACHER:
        _fill_rademacher(rng, out, sigma)
    else:
        _fill_normal(rng, out, sigma)


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
    for i in range(A.shape[0]):
        c, n = _dots_perturbed(A[i], xiA[i], u, u, 0.0, 0.0)
        alpha[i], alphan[i] = _dots_perturbed(R[i], xiR[i], xs, xsn, c, n)


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
def _bit(words, p):
    """Bit p of the bit string ``words`` (bit p % 64 of word p // 64)."""
    return (words[p >> 6] >> _U(p & 63)) & _U(1)


@njit(**INNER)
def _draw_wp_bits(rng, words, XT, flat, nA, N, sigma):
    """WP's Rademacher noise kept as sign bits: the stream's words as
    ``_fill_noise(rng, flat, sigma, RADEMACHER)`` reads them, unexpanded.

    ``flat`` has xiA (nA = N * I values), xiR (N * N) and the read-out's noise
    in that order, value p being bit p of ``words`` (``_fill_words``). Only
    xiA and the read-out's part are expanded to floats (the same +-sigma as
    ``_fill_rademacher`` writes, also flat[0], whose magnitude is sigma in
    the model's dtype); xiR stays in bits, transposed into XT
    (64 * ceil(N / 64), ceil(N / 64)) uint64: bit s of XT[j, k] is the sign of
    xiR[64 k + s, j], so that row j of XT matches row j of RT. Rows of XT from
    N on are scratch. ``words`` has one word more than the fill reads.
    """
    n = flat.shape[0]
    _fill_words(rng, words, n)
    for p in range(max(nA, 1)):
        flat[p] = sigma if _bit(words, p) else -sigma
    for p in range(nA + N * N, n):
        flat[p] = sigma if _bit(words, p) else -sigma
    W = XT.shape[1]
    for kb in range(W):  # rows i of R in kb's block of 64
        for jb in range(W):  # columns j of R in jb's block: XT[64 jb:64 jb + 64, kb]
            j0 = 64 * jb
            for r in range(64):
                i = 64 * kb + r
                w = _U(0)
                if i < N:
                    p = nA + i * N + j0  # bits j0 .. j0 + 63 of row i, from bit p on
                    q = p >> 6
                    sh = p & 63
                    w = words[q] >> _U(sh)
                    if sh != 0:
                        w |= words[q + 1] << _U(64 - sh)
                XT[j0 + r, kb] = w
            _transpose_bits64(XT, j0, kb)


@njit(**INNER)
def _r_rows_wp_bits(RT, XT, sig, xs, xsn, alpha, alphan):
    """``_r_rows_wp`` with xiR as sign bits (``_draw_wp_bits``' XT, magnitude
    ``sig`` in the model's dtype): alpha += R xs, alphan += (R + xiR) xsn, each
    sum in j order, four rows of RT at a time as ``_axpy4``: the same numbers.
    """
    N = RT.shape[0]
    W = XT.shape[1]
    j = 0
    while j + 4 <= N:
        r0 = RT[j]
        r1 = RT[j + 1]
        r2 = RT[j + 2]
        r3 = RT[j + 3]
        a0, a1, a2, a3 = xs[j], xs[j + 1], xs[j + 2], xs[j + 3]
        b0, b1, b2, b3 = xsn[j], xsn[j + 1], xsn[j + 2], xsn[j + 3]
        for k in range(W):
            w0 = XT[j, k]
            w1 = XT[j + 1, k]
            w2 = XT[j + 2, k]
            w3 = XT[j + 3, k]
            base = 64 * k
            for s in range(min(64, N - base)):
                i = base + s
                us = _U(s)
                v0 = r0[i]
                v1 = r1[i]
                v2 = r2[i]
                v3 = r3[i]
                e0 = v0 + (sig if (w0 >> us) & _U(1) else -sig)
                e1 = v1 + (sig if (w1 >> us) & _U(1) else -sig)
                e2 = v2 + (sig if (w2 >> us) & _U(1) else -sig)
                e3 = v3 + (sig if (w3 >> us) & _U(1) else -sig)
                alpha[i] = alpha[i] + v0 * a0 + v1 * a1 + v2 * a2 + v3 * a3
                alphan[i] = alphan[i] + e0 * b0 + e1 * b1 + e2 * b2 + e3 * b3
        j += 4
    while j < N:
        row = RT[j]
        a = xs[j]
        b = xsn[j]
        for k in range(W):
            w = XT[j, k]
            base = 64 * k
            for s in range(min(64, N - base)):
                i = base + s
                v = row[i]
                alpha[i] += v * a
                alphan[i] += (v + (sig if (w >> _U(s)) & _U(1) else -sig)) * b
        j += 1
