"""Small dense kernels: products, copies and maxima, each sum in a fixed order."""

import numpy as np
from numba import njit

from .._jit import INNER


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
def _dots_perturbed(row, xi, v, vn, c, n):
    """(c + row . v, n + (row + xi) . vn), each sum in order: a row of a product and
    of the same product with perturbed weights (WP's twins, eq. 7)."""
    for j in range(row.shape[0]):
        r = row[j]
        c += r * v[j]
        n += (r + xi[j]) * vn[j]
    return c, n


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
def _max_diag(P):
    m = 0.0
    for i in range(P.shape[0]):
        if P[i, i] > m:
            m = P[i, i]
    return m


@njit(**INNER)
def _copy(src, dst):
    """dst[:] = src, as a loop (a slice assignment costs more to compile)."""
    for i in range(src.shape[0]):
        dst[i] = src[i]


@njit(**INNER)
def _fill(dst, value):
    for i in range(dst.shape[0]):
        dst[i] = value


_U = np.uint64
# the masks of the 64 x 64 bit transpose's levels: the columns c with c & j == 0
_TMASK = np.array([0x00000000FFFFFFFF, 0x0000FFFF0000FFFF, 0x00FF00FF00FF00FF,
                   0x0F0F0F0F0F0F0F0F, 0x3333333333333333, 0x5555555555555555],
                  dtype=np.uint64)


@njit(**INNER)
def _transpose_bits64(X, r0, col):
    """Transpose in place the 64 x 64 bit block X[r0:r0 + 64, col]: bit c (least
    significant first) of word r becomes bit r of word c.

    The recursive block swap (Warren, Hacker's Delight, 7-3): at level j = 32,
    16, ..., 1 the rows k and k + j (k & j == 0) swap their off-diagonal j x j
    sub-blocks.
    """
    j = 32
    for level in range(6):
        m = _TMASK[level]
        uj = _U(j)
        for k in range(64):
            if k & j == 0:
                a = X[r0 + k, col]
                b = X[r0 + k + j, col]
                t = ((a >> uj) ^ b) & m
                X[r0 + k + j, col] = b ^ t
                X[r0 + k, col] = a ^ (t << uj)
        j >>= 1
