"""The forecaster's step in eight arguments: its buffers in arenas, as the core's.

``RNNForecaster`` keeps its network's buffers in the network's three arenas
(``arena.py``, packed by ``OnlineRNN._pack(driver=True)``) and its own (the
rings, the least-squares read-out, the target's running statistics, scratch
and the guard's kept copies) in three more: ``ff`` in the network's dtype,
``fd`` in float64 and ``fi`` in int64, whose head is a table of slots: slot
``k``'s offset, rows and columns at ``fi[3k : 3k + 3]`` (written by
``RNNForecaster._pack``, the one place the layout is computed). A step is
one call, ``perturbation_step`` or ``rls_step(nf, nd, ni, ff, fd, fi, y,
exo)``, with ``y`` the raw value that arrived and ``exo`` whether the input
slot already holds this step's standardised exogenous features. The entry
rebuilds the bundles of ``forecast.py`` / ``forecast_rls.py`` as views and
runs their very same step, so every number is unchanged; around it, it
learns the target's running mean and standard deviation (as
``river_base._TargetScaler.learn``, the same IEEE operations), forms the
input, and on a committed step writes the forecasts in the target's units
for ``RNNForecaster.forecast`` (row 0 the model's, row 1 with the gate's
choice of persistence). A refused step puts the target's statistics back
as well, so that nothing has changed.
"""

import math

import numpy as np
from numba import njit

from .._jit import FLAT
from . import arena as KA
from . import forecast as FK
from . import forecast_rls as FR

# slots of the forecaster's arenas (the arena each lives in depends on the read-out)
(S_RING_U, S_RING_XP, S_RING_DIR, S_WORK_N, S_GRAD, S_WP, S_KEEP0, S_RING_I, S_RING_RNG,
 S_RNG_TMP, S_COUNTERS, S_KEEP2, S_KEEP3, S_FLAGS, S_REPORT, S_KEEP1, S_RECENT, S_TARGET,
 S_FC, S_RING_XS, S_RING_Y, S_RING_YN, S_RING_DO, S_RING_S, S_WORK_O, S_DENSE, S_SLOT_OF,
 S_W, S_P, S_RLS, S_ERR, S_TRACK, S_RING_Z, S_RING_G, S_RING_BASE, S_RING_DL, S_RING_GX,
 S_GAIN_Q, S_MISC) = range(39)
N_SLOTS = 39
N_HEAD = 3 * N_SLOTS
# the arena of each slot ("f": the network's dtype, "d": float64, "i": int64, where
# uint64 buffers are viewed), by read-out; the entries below read them so
_COMMON = dict.fromkeys((S_RING_U, S_RING_XP, S_RING_DIR, S_WORK_N, S_GRAD, S_WP, S_KEEP0),
                        "f")
_COMMON.update(dict.fromkeys((S_RING_I, S_RING_RNG, S_RNG_TMP, S_COUNTERS, S_KEEP2, S_KEEP3,
                              S_FLAGS), "i"))
_COMMON.update(dict.fromkeys((S_REPORT, S_KEEP1, S_RECENT, S_TARGET, S_FC, S_MISC), "d"))
ARENA_OF = {
    "perturbation": {**_COMMON, S_SLOT_OF: "i", **dict.fromkeys(
        (S_RING_XS, S_RING_Y, S_RING_YN, S_RING_DO, S_RING_S, S_WORK_O, S_DENSE), "f")},
    "rls": {**_COMMON, **dict.fromkeys(
        (S_W, S_P, S_RLS, S_ERR, S_TRACK, S_RING_Z, S_RING_G, S_RING_Y, S_RING_YN, S_RING_S,
         S_RING_BASE, S_RING_DL, S_RING_GX, S_WORK_O, S_GAIN_Q), "d")},
}
assert FK.FK_STEPS == FR.FK_STEPS
# flags (int64): the target is scaled, the forecasts are residual, the number of lags
G_SCALED, G_RESIDUAL, G_LAGS = range(3)
N_FLAGS = 3
# misc (float64): the weight bound
M_MAX_WEIGHT = 0
N_MISC = 1
# target (float64): count, mean, m2, then the same three before the last value
T_N, T_MEAN, T_M2 = 0, 1, 2
N_TARGET = 6
# rows of fc: the forecasts, the forecasts with the gate's choice
FC_MODEL, FC_GATED = 0, 1


@njit(**FLAT)
def _v1(a, fi, k):
    o = fi[3 * k]
    return a[o:o + fi[3 * k + 1] * fi[3 * k + 2]]


@njit(**FLAT)
def _v2(a, fi, k):
    return _v1(a, fi, k).reshape(fi[3 * k + 1], fi[3 * k + 2])


@njit(**FLAT)
def _u1(fi, k):
    return _v1(fi, fi, k).view(np.uint64)


@njit(**FLAT)
def _u2(fi, k):
    return _u1(fi, k).reshape(fi[3 * k + 1], fi[3 * k + 2])


@njit(**FLAT)
def _network(nf, nd, ni):
    """The network's bundle (``OnlineRNN.buffers()``'s fields, as the forecast
    kernels take them) and its one-sample input slot, from its arenas."""
    A, RT, B, DT, C, cb, state, work_n, work_o, work_k, pend_g, pend_p, pend_u = \
        KA._float_views(nf, ni)
    hyper, watch, counters, config, pend_k = KA._small_views(nd, ni)
    rng = ni[ni[KA.J_RNG]:ni[KA.J_RNG] + 4].view(np.uint64)
    moments = nf[ni[KA.F_MOM]:ni[KA.F_MOM_OUT]]
    u = nf[ni[KA.F_U]:ni[KA.F_U] + ni[KA.I_I]]
    return (A, RT, B, DT, moments, None, rng, state, hyper, config), u


@njit(**FLAT)
def _keep_views(ff, fd, fi):
    return (_v1(ff, fi, S_KEEP0), _v1(fd, fi, S_KEEP1), _v1(fi, fi, S_KEEP2),
            _u1(fi, S_KEEP3))


@njit(**FLAT)
def _target_learn(target, y, scaled):
    """(z, mean, std): ``_TargetScaler.learn(y)`` on ``target`` (count, mean, m2;
    the old three kept behind them), the same operations in the same order."""
    for r in range(3):
        target[3 + r] = target[r]
    if not scaled:
        return y, 0.0, 1.0
    n = target[T_N] + 1.0
    delta = y - target[T_MEAN]
    mean = target[T_MEAN] + delta / n
    target[T_M2] = target[T_M2] + delta * (y - mean)
    target[T_MEAN] = mean
    target[T_N] = n
    std = 1.0
    if n >= 2.0:
        sd = math.sqrt(target[T_M2] / n)
        if sd > 1e-9 * (1.0 + abs(mean)):
            std = sd
    return (y - mean) / std, mean, std


@njit(**FLAT)
def _sample(u, y, exo, target, recent, flags, steps):
    """``RNNForecaster``'s sample bundle for the raw value ``y``: the target learned,
    the input's constant and latest value written (and, without ``exo``, the
    rest of it zeroed; ``forecast._lags_in`` fills the lags)."""
    scaled = flags[G_SCALED] != 0
    z, mean, std = _target_learn(target, y, scaled)
    if not exo:
        for k in range(u.shape[0]):
            u[k] = 0.0
        u[0] = 1.0
    u[1] = z
    seen = (target[T_N] if scaled else steps + 1.0) - 1.0
    n = flags[G_LAGS] if seen > flags[G_LAGS] else int(seen)
    base = z if flags[G_RESIDUAL] != 0 else 0.0
    return (z, u, base, recent, n, mean, std, scaled)


@njit(**FLAT)
def _forecasts(fc, fy, base, track, gate, sample):
    """The committed step's forecasts in the target's units (as
    ``RNNForecaster.forecast`` formed them): row 0 the model's, row 1 persistence
    where ``gate`` and the model's running error ``track[0]`` exceeds the base's."""
    mean, std, scaled = sample[5], sample[6], sample[7]
    for o in range(fy.shape[0]):
        v = fy[o]
        w = base if gate and track[0, o] > track[1, o] else v
        fc[FC_MODEL, o] = mean + std * v if scaled else v
        fc[FC_GATED, o] = mean + std * w if scaled else w


@njit(**FLAT)
def _refused(target):
    for r in range(3):
        target[r] = target[3 + r]


@njit(cache=True)
def perturbation_step(nf, nd, ni, ff, fd, fi, y, exo):
    """One time step of ``forecast._learn_step`` (the perturbation read-out) on the
    arenas; returns its code (0: committed)."""
    return _perturbation(nf, nd, ni, ff, fd, fi, y, exo)


@njit(cache=True)
def rls_step(nf, nd, ni, ff, fd, fi, y, exo):
    """One time step of ``forecast_rls._learn_step`` (the least-squares read-out) on
    the arenas; returns its code (0: committed)."""
    return _rls(nf, nd, ni, ff, fd, fi, y, exo)


@njit(**FLAT)
def _fleet(step, NF, ND, NI, FF, FD, FI, rows, ys, stop):
    """``step`` over the ticks ``ys`` (T, n) of the members in rows ``rows`` of the
    stacked arenas (``ForecasterFleet``): a NaN value is absent (the member does
    not move). A member stops at its first refused step: ``stop[j]`` is (the
    tick, the code), or (T, 0) when every step was committed."""
    T = ys.shape[0]
    for j in range(rows.shape[0]):
        r = rows[j]
        stop[j, 0] = T
        stop[j, 1] = 0
        for t in range(T):
            y = ys[t, j]
            if y != y:
                continue
            code = step(NF[r], ND[r], NI[r], FF[r], FD[r], FI[r], y, False)
            if code != 0:
                stop[j, 0] = t
                stop[j, 1] = code
                break


@njit(cache=True, nogil=True)
def perturbation_fleet(NF, ND, NI, FF, FD, FI, rows, ys, stop):
    """``perturbation_step`` for many members and ticks (see ``_fleet``)."""
    _fleet(_perturbation, NF, ND, NI, FF, FD, FI, rows, ys, stop)


@njit(cache=True, nogil=True)
def rls_fleet(NF, ND, NI, FF, FD, FI, rows, ys, stop):
    """``rls_step`` for many members and ticks (see ``_fleet``)."""
    _fleet(_rls, NF, ND, NI, FF, FD, FI, rows, ys, stop)


@njit(**FLAT)
def _begin(nf, nd, ni, fd, fi, y, exo):
    """The network's bundle, the counters, the target's statistics and the sample
    (``_sample``) of a step on the arenas."""
    net, u = _network(nf, nd, ni)
    counters = _v1(fi, fi, S_COUNTERS)
    target = _v1(fd, fi, S_TARGET)
    # FK_STEPS is the same slot in both read-outs' counters
    sample = _sample(u, y, exo, target, _v1(fd, fi, S_RECENT), _v1(fi, fi, S_FLAGS),
                     counters[FK.FK_STEPS])
    return net, counters, target, sample


@njit(**FLAT)
def _perturbation(nf, nd, ni, ff, fd, fi, y, exo):
    net, counters, target, sample = _begin(nf, nd, ni, fd, fi, y, exo)
    rings = (_v2(ff, fi, S_RING_U), _v2(ff, fi, S_RING_XP), _v2(ff, fi, S_RING_XS),
             _v2(ff, fi, S_RING_DIR), _v2(ff, fi, S_RING_Y), _v2(ff, fi, S_RING_YN),
             _v2(ff, fi, S_RING_DO), _v2(ff, fi, S_RING_S), _u2(fi, S_RING_RNG),
             _v1(fi, fi, S_RING_I))
    work = (_v2(ff, fi, S_WORK_N), _v2(ff, fi, S_WORK_O), _v2(ff, fi, S_GRAD),
            _v1(fi, fi, S_SLOT_OF), _v1(ff, fi, S_DENSE), _v1(ff, fi, S_WP),
            _u1(fi, S_RNG_TMP), _v1(fd, fi, S_REPORT))
    model = (counters, _v1(fd, fi, S_MISC)[M_MAX_WEIGHT])
    code = FK._learn_step(net, model, rings, work, _keep_views(ff, fd, fi), sample)
    if code != 0:
        _refused(target)
        return code
    fc = _v2(fd, fi, S_FC)
    fy = rings[4][(counters[FK.FK_STEPS] - 1) % fc.shape[1]]
    _forecasts(fc, fy, 0.0, fc, False, sample)
    return 0


@njit(**FLAT)
def _rls(nf, nd, ni, ff, fd, fi, y, exo):
    net, counters, target, sample = _begin(nf, nd, ni, fd, fi, y, exo)
    track = _v2(fd, fi, S_TRACK)
    model = (_v2(fd, fi, S_W), _v2(fd, fi, S_P), _v1(fd, fi, S_RLS), _v1(fd, fi, S_ERR),
             track, counters, _v1(fd, fi, S_MISC)[M_MAX_WEIGHT])
    ring_y = _v2(fd, fi, S_RING_Y)
    ring_base = _v1(fd, fi, S_RING_BASE)
    rings = (_v2(ff, fi, S_RING_U), _v2(ff, fi, S_RING_XP), _v2(fd, fi, S_RING_Z),
             _v2(fd, fi, S_RING_G), _v2(ff, fi, S_RING_DIR), ring_y, _v2(fd, fi, S_RING_YN),
             _v1(fd, fi, S_RING_S), _u2(fi, S_RING_RNG), _v1(fi, fi, S_RING_I), ring_base,
             _v1(fd, fi, S_RING_DL), _v2(fd, fi, S_RING_GX))
    work = (_v2(ff, fi, S_WORK_N), _v2(fd, fi, S_WORK_O), _v2(ff, fi, S_GRAD),
            _v1(fd, fi, S_GAIN_Q), _v1(ff, fi, S_WP), _u1(fi, S_RNG_TMP), _v1(fd, fi, S_REPORT))
    code = FR._learn_step(net, model, rings, work, _keep_views(ff, fd, fi), sample)
    if code != 0:
        _refused(target)
        return code
    slot = (counters[FR.FK_STEPS] - 1) % ring_y.shape[0]
    _forecasts(_v2(fd, fi, S_FC), ring_y[slot], ring_base[slot], track, True, sample)
    return 0
