"""One model's buffers in three arenas, and the few-argument entries that read them.

Numba unboxes every array argument of a call from Python (about 0.1 us each
here), and ``step._run_fast`` takes some 30. ``OnlineRNN`` therefore keeps
its buffers (once it has stepped alone, see ``OnlineRNN._pack``) as views of
three flat arrays, and its one-sample calls pass those: ``f`` in the model's
dtype (weights, states, scratch, Adam's moments), ``d`` in float64 (hyper,
the output watch, the least-squares read-out's P and scratch) and ``i`` in
int64 (a header of sizes and offsets, then counters, config, pend_k, and the
random stream's four words, which the entries view as uint64). The
entries rebuild the views (a few nanoseconds each) and run the very same
``_run_fast`` / ``_predict_fast`` with the same argument types as the
many-argument call, so the arithmetic, and every result, is unchanged.

The header is written by ``OnlineRNN._pack`` (the one place the layout is
computed); the entries only read offsets from it.
"""

import math

import numpy as np
from numba import njit

from .._jit import FLAT
from .layout import N_RLS_WORK
from .standardise import _standardise
from .step import _predict_fast, _run_fast

# header of the int arena: sizes, then each buffer's offset in its arena
I_N, I_I, I_O, I_K, I_M, I_ADAM_OUT = range(6)
(F_A, F_RT, F_B, F_DT, F_C, F_CB, F_STATE, F_WORK_N, F_WORK_O, F_WORK_K, F_PEND_G,
 F_PEND_P, F_PEND_U, F_MOM, F_MOM_OUT, F_U, F_Y, F_OUT) = range(6, 24)
D_HYPER, D_WATCH, D_P, D_P_SPARE, D_RLS_WORK = range(24, 29)
J_COUNTERS, J_CONFIG, J_PEND_K, J_RNG = range(29, 33)
N_HEADER = 33

# the status an entry returns, before changing anything, when u or y is not finite
INVALID = -1


@njit(**FLAT)
def _finite(u, y):
    for k in range(u.size):
        if not math.isfinite(u[k]):
            return False
    for k in range(y.size):
        if not math.isfinite(y[k]):
            return False
    return True


@njit(**FLAT)
def _float_views(f, i):
    """The dtype arena's weights, states and scratch, in ``_run_fast``'s layouts."""
    N, I, O, K = i[I_N], i[I_I], i[I_O], i[I_K]
    A = f[i[F_A]:i[F_A] + N * I].reshape(N, I)
    RT = f[i[F_RT]:i[F_RT] + N * N].reshape(N, N)
    B = f[i[F_B]:i[F_B] + O * N].reshape(O, N)
    DT = f[i[F_DT]:i[F_DT] + N * N].reshape(N, N)
    C = f[i[F_C]:i[F_C] + O * I].reshape(O, I)
    cb = f[i[F_CB]:i[F_CB] + O]
    state = f[i[F_STATE]:i[F_STATE] + 2 * N].reshape(2, N)
    nw = (i[F_WORK_O] - i[F_WORK_N]) // N
    work_n = f[i[F_WORK_N]:i[F_WORK_O]].reshape(nw, N)
    nwo = (i[F_WORK_K] - i[F_WORK_O]) // O
    work_o = f[i[F_WORK_O]:i[F_WORK_K]].reshape(nwo, O)
    work_k = f[i[F_WORK_K]:i[F_WORK_K] + K * N].reshape(K, N)
    pend_g = f[i[F_PEND_G]:i[F_PEND_G] + K * N].reshape(K, N)
    pend_p = f[i[F_PEND_P]:i[F_PEND_P] + K * N].reshape(K, N)
    pend_u = f[i[F_PEND_U]:i[F_PEND_U] + K * I].reshape(K, I)
    return A, RT, B, DT, C, cb, state, work_n, work_o, work_k, pend_g, pend_p, pend_u


@njit(**FLAT)
def _moment_views(f, i):
    """Adam's moments (mA, vA, mR, vR, mB, vB) and, for C and c, (mC, vC, mc, vc)
    (empty unless the read-out learns C, c with Adam): as ``OnlineRNN._kernel_views``."""
    N, I, O = i[I_N], i[I_I], i[I_O]
    m = i[F_MOM]
    half = N * I + N * N + O * N
    mA = f[m:m + N * I].reshape(N, I)
    vA = f[m + half:m + half + N * I].reshape(N, I)
    m += N * I
    mR = f[m:m + N * N].reshape(N, N)
    vR = f[m + half:m + half + N * N].reshape(N, N)
    m += N * N
    mB = f[m:m + O * N].reshape(O, N)
    vB = f[m + half:m + half + O * N].reshape(O, N)
    mo = i[F_MOM_OUT]
    if i[I_ADAM_OUT] != 0:
        nC, h = O * I, O * I + O
        mom_out = (f[mo:mo + nC].reshape(O, I), f[mo + h:mo + h + nC].reshape(O, I),
                   f[mo + nC:mo + h], f[mo + h + nC:mo + 2 * h])
    else:
        mom_out = (f[mo:mo].reshape(0, 0), f[mo:mo].reshape(0, 0), f[mo:mo], f[mo:mo])
    return (mA, vA, mR, vR, mB, vB), mom_out


@njit(**FLAT)
def _rls_views(d, i):
    M = i[I_M]
    P = d[i[D_P]:i[D_P] + M * M].reshape(M, M)
    P_spare = d[i[D_P_SPARE]:i[D_P_SPARE] + M * M].reshape(M, M)
    rls_work = d[i[D_RLS_WORK]:i[D_RLS_WORK] + N_RLS_WORK * M].reshape(N_RLS_WORK, M)
    return P, P_spare, rls_work


@njit(**FLAT)
def _small_views(d, i):
    O = i[I_O]
    hyper = d[i[D_HYPER]:i[D_WATCH]]
    watch = d[i[D_WATCH]:i[D_WATCH] + 2 * O].reshape(2, O)
    counters = i[i[J_COUNTERS]:i[J_CONFIG]]
    config = i[i[J_CONFIG]:i[J_PEND_K]]
    pend_k = i[i[J_PEND_K]:i[J_PEND_K] + 2]
    return hyper, watch, counters, config, pend_k


@njit(**FLAT)
def _step_one(f, d, i, u, y, out, mom, mom_out, rls):
    """``_run_fast`` over the one sample ``u``, ``y``; the prediction goes to
    ``out``. ``mom``, ``mom_out`` and ``rls`` as for ``_run_fast`` (None: off)."""
    A, RT, B, DT, C, cb, state, work_n, work_o, work_k, pend_g, pend_p, pend_u = _float_views(f, i)
    hyper, watch, counters, config, pend_k = _small_views(d, i)
    rng = i[i[J_RNG]:i[J_RNG] + 4].view(np.uint64)
    N, I, O = i[I_N], i[I_I], i[I_O]
    learn = N > 0  # a run-time flag: the same specialisation as the call from Python
    return _run_fast(A, RT, B, DT, mom, None, None, state, work_n, work_o, work_k, rng,
                     counters, hyper, config, pend_g, pend_p, pend_u, pend_k,
                     u.reshape(1, I), y.reshape(1, O), out.reshape(1, O),
                     f[0:0].reshape(0, N), learn, None, C, cb, mom_out, rls, watch)


@njit(**FLAT)
def _io_views(f, i):
    """The arena's one-sample input, target and prediction (the River learners')."""
    I, O = i[I_I], i[I_O]
    return (f[i[F_U]:i[F_U] + I], f[i[F_Y]:i[F_Y] + O], f[i[F_OUT]:i[F_OUT] + O])


@njit(**FLAT)
def _raw_in(f, i, stats, raw, cols, fixed, z):
    """Standardise ``raw`` into the arena's input slot, learning the statistics,
    and put the target ``z`` in its target slot; False if a value is infinite."""
    u, y, out = _io_views(f, i)
    if not _standardise(stats, raw, cols, u, fixed, True):
        return False
    y[0] = z
    return True


# One-sample entries, by (Adam, least squares) (not both: see LEARN_ONE):
# ``_learn_one_*(f, d, i, u, y, out)``, for ``OnlineRNN.learn_one``: returns
# (stop, status) as ``_run_fast``, or (-1, INVALID) without a change when u or y
# holds NaN or inf.
# ``_learn_raw_*(f, d, i, stats, raw, cols, fixed, z)``, for
# ``RNNRegressor.learn_one``: the raw feature values and their feature columns
# (``standardise``), the standardised target; (-1, INVALID) without a change when
# a value is infinite. Input, target and prediction are the arena's io slots.

@njit(cache=True)
def _learn_one_sgd(f, d, i, u, y, out):
    if not _finite(u, y):
        return -1, INVALID
    return _step_one(f, d, i, u, y, out, None, None, None)


@njit(cache=True)
def _learn_one_adam(f, d, i, u, y, out):
    if not _finite(u, y):
        return -1, INVALID
    mom, mom_out = _moment_views(f, i)
    return _step_one(f, d, i, u, y, out, mom, mom_out, None)


@njit(cache=True)
def _learn_one_rls(f, d, i, u, y, out):
    if not _finite(u, y):
        return -1, INVALID
    return _step_one(f, d, i, u, y, out, None, None, _rls_views(d, i))


@njit(cache=True)
def _learn_raw_sgd(f, d, i, stats, raw, cols, fixed, z):
    if not _raw_in(f, i, stats, raw, cols, fixed, z):
        return -1, INVALID
    u, y, out = _io_views(f, i)
    return _step_one(f, d, i, u, y, out, None, None, None)


@njit(cache=True)
def _learn_raw_adam(f, d, i, stats, raw, cols, fixed, z):
    if not _raw_in(f, i, stats, raw, cols, fixed, z):
        return -1, INVALID
    u, y, out = _io_views(f, i)
    mom, mom_out = _moment_views(f, i)
    return _step_one(f, d, i, u, y, out, mom, mom_out, None)


@njit(cache=True)
def _learn_raw_rls(f, d, i, stats, raw, cols, fixed, z):
    if not _raw_in(f, i, stats, raw, cols, fixed, z):
        return -1, INVALID
    u, y, out = _io_views(f, i)
    return _step_one(f, d, i, u, y, out, None, None, _rls_views(d, i))


# (optimiser is Adam, read-out is least squares) -> entry
# entry; Adam with the least-squares read-out (rare) keeps the general call, which
# saves two more specialisations' compile
LEARN_ONE = {(False, False): _learn_one_sgd, (True, False): _learn_one_adam,
             (False, True): _learn_one_rls, (True, True): None}
LEARN_RAW = {(False, False): _learn_raw_sgd, (True, False): _learn_raw_adam,
             (False, True): _learn_raw_rls, (True, True): None}


@njit(cache=True)
def _predict_one(f, i, u, out):
    """``_predict_fast`` on the arena's buffers."""
    _predict_one_views(f, i, u, out)


@njit(cache=True)
def _predict_raw(f, i, stats, raw, cols, fixed):
    """``_predict_one`` on ``raw`` standardised (without learning) into the arena's
    input slot; returns the first output, or NaN when a value is infinite."""
    u, y, out = _io_views(f, i)
    if not _standardise(stats, raw, cols, u, fixed, False):
        return math.nan
    _predict_one_views(f, i, u, out)
    return out[0]


@njit(**FLAT)
def _predict_one_views(f, i, u, out):
    A, RT, B, DT, C, cb, state, work_n, work_o, work_k, pend_g, pend_p, pend_u = _float_views(f, i)
    config = i[i[J_CONFIG]:i[J_PEND_K]]
    _predict_fast(A, RT, B, DT, state, work_n, config, u, out, C, cb)
