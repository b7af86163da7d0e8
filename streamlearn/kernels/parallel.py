"""Two-thread mode: the same arithmetic split over column blocks.

Each thread owns a contiguous block of entries i (rows of R and D, 64-byte
aligned) and walks all rows j of RT / DT over its block, so every alpha_i
and xs_i is still summed by one thread in the order j = 0, 1, ...: the
results are bit-identical to one thread. The decorrelation's w_j needs a
whole row of DT, so it is computed first (rows split between threads), then
the column blocks are updated: D is read twice per step in this mode.
"""

from numba import njit, prange

from .._jit import INNER
from .decorrelation import _d_cols
from .layout import W_W
from .linalg import _rmatvec_t
from .network import _r_rows


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
