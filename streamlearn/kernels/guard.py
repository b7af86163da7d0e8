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
from .linalg import _absmax, _absmax2


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
