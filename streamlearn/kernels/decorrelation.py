"""Input decorrelation (eq. 10): the update of D and the products with it."""

from numba import njit

from .._jit import INNER
from .linalg import _axpy4, _dots8, _rmatvec, _rmatvec_t


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
def _update4(r0, r1, r2, r3, w0, w1, w2, w3, a0, a1, a2, a3, b0, b1, b2, b3, da, db,
             xs_new, xsn_new, i0, i1):
    """Eq. 10 on columns i0:i1 of four rows of DT given their w, then their
    products (in order)."""
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


@njit(**INNER)
def _d_rows(DT, j0, j1, pend, xsp, da, db, x, xn, xs_new, xsn_new, acc):
    """Rows j0:j1 of DT: the pending decorrelation update, then the products.

    With ``pend``: w_j = (D^T xsp)_j = DT[j] . xsp (summed over i in order, as
    ``_rmatvec``), then DT[j, i] = DT[j, i] * db[i] - da[i] * w_j, which is
    eq. 10's D[i, j] update with da = eps xsp, db = 1 + da xsp. Then
    xs_new += DT[j] x[j], xsn_new += DT[j] xn[j]. ``acc`` has >= 8 scratch slots.
    """
    N = DT.shape[1]
    j = int(j0)  # an int64 even for a literal j0: one compiled _dots8
    if pend:
        # eight sums in flight (each still in order) hide the add latency
        while j + 8 <= j1:
            _dots8(DT, j, xsp, acc)
            for h in range(2):
                k = j + 4 * h
                _update4(DT[k], DT[k + 1], DT[k + 2], DT[k + 3],
                         acc[4 * h], acc[4 * h + 1], acc[4 * h + 2], acc[4 * h + 3],
                         x[k], x[k + 1], x[k + 2], x[k + 3],
                         xn[k], xn[k + 1], xn[k + 2], xn[k + 3], da, db, xs_new, xsn_new,
                         0, N)
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
                     da, db, xs_new, xsn_new, 0, N)
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
            _update4(r0, r1, r2, r3, w[j], w[j + 1], w[j + 2], w[j + 3], a0, a1, a2, a3,
                     b0, b1, b2, b3, da, db, xs_new, xsn_new, i0, i1)
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
