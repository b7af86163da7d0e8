"""The divergence guard and the output watch: may a step be committed?"""

import numpy as np
from numba import njit

from .._jit import INNER
from .layout import (
    H_DMAX,
    H_LR_DEC,
    H_MAX_WEIGHT,
    H_OUT_BOUND,
    H_WMAX,
    K_SEEN,
    WATCH_WARMUP,
    Y_MAX,
    Y_MIN,
)
from .linalg import _absmax, _absmax2, _all_finite


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


# -- the forecaster's guard: its step is a transaction (kernels/forecast*.py) ----------


@njit(**INNER)
def _transfer(a, b, save):
    """b[:] = a (save) or a[:] = b (restore), for 1-D arrays."""
    if save:
        for i in range(a.shape[0]):
            b[i] = a[i]
    else:
        for i in range(a.shape[0]):
            a[i] = b[i]


@njit(**INNER)
def _transfer2(a, b, save):
    """``_transfer`` row by row, for 2-D arrays."""
    for i in range(a.shape[0]):
        _transfer(a[i], b[i], save)


@njit(**INNER)
def _kept(buf, off, M):
    """The part of the flat kept buffer ``buf`` from ``off`` that mirrors the 2-D ``M``."""
    return buf[off:off + M.shape[0] * M.shape[1]].reshape(M.shape)


@njit(**INNER)
def _keep(net, counters, keep, weights, readout, dmat, save):
    """Keep (``save``) or put back what a forecaster step may change: the counters and
    the random stream always, A, R and the moments when ``weights`` (an update is
    applied this step), B when ``readout``, D when ``dmat``. ``net`` is the
    network's bundle (A, RT, B, DT, moments, wp, rng, ...) and ``keep`` holds flat
    buffers: (A, RT, B, DT, moments in that order, ..., counters, rng)."""
    A, RT, B, DT, moments = net[0], net[1], net[2], net[3], net[4]
    buf = keep[0]
    nA = A.shape[0] * A.shape[1]
    nR = RT.shape[0] * RT.shape[1]
    nB = B.shape[0] * B.shape[1]
    _transfer(counters, keep[2], save)
    _transfer(net[6], keep[3], save)
    if weights:
        _transfer2(A, _kept(buf, 0, A), save)
        _transfer2(RT, _kept(buf, nA, RT), save)
        _transfer(moments, buf[nA + 2 * nR + nB:nA + 2 * nR + nB + moments.shape[0]], save)
    if readout:
        _transfer2(B, _kept(buf, nA + nR, B), save)
    if dmat:
        _transfer2(DT, _kept(buf, nA + nR + nB, DT), save)


@njit(**INNER)
def _absmax_ok(M, bound):
    """True if every entry of the 2-D ``M`` is finite and at most ``bound`` in magnitude
    (a row at a time, without an early exit inside a row, so that it vectorises)."""
    for i in range(M.shape[0]):
        row = M[i]
        bad = False
        for j in range(row.shape[0]):
            bad |= not abs(row[j]) <= bound
        if bad:
            return False
    return True


@njit(**INNER)
def _absmax_nan(M):
    """max |M| as NumPy's ``np.abs(M).max()`` gives it: NaN if any entry is NaN."""
    m = 0.0
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            a = abs(M[i, j])
            if a != a:
                return np.nan
            if a > m:
                m = a
    return m


@njit(**INNER)
def _forecast_health(forecasts, xs, xsn, A, RT, B, DT, W, moments, check_b, check_d,
                     max_weight, report):
    """May a forecaster step stand? 0 yes; 1 the forecasts or the new state are not
    finite; 2 a weight of A, R, B (``check_b``) or D (``check_d``) is beyond
    ``max_weight`` or not finite; 3 the least-squares read-out ``W`` is not finite;
    4 the optimizer's moments are not finite. On 2, ``report`` receives max |A|,
    |R|, |B|, |D| (NaN-propagating, as NumPy's) for the message."""
    if not (_all_finite(forecasts) and _all_finite(xs) and _all_finite(xsn)):
        return 1
    if not (_absmax_ok(A, max_weight) and _absmax_ok(RT, max_weight)
            and (not check_b or _absmax_ok(B, max_weight))
            and (not check_d or _absmax_ok(DT, max_weight))):
        report[0] = _absmax_nan(A)
        report[1] = _absmax_nan(RT)
        report[2] = _absmax_nan(B)
        report[3] = _absmax_nan(DT)
        return 2
    if not _absmax_ok(W, np.inf):
        return 3
    if not _all_finite(moments):
        return 4
    return 0
