"""The fleet's driver: many independent models, each stepped by ``step._step_fast``.

A fleet holds K models with one set of settings in stacked arrays: member k's
weights are ``A[k]``, ``RT[k]``, ... with exactly the shapes and layouts an
``OnlineRNN`` passes to ``_run_fast``, so each member runs the very code of a
stand-alone model and computes its numbers bit for bit (tests/test_fleet.py).

Members are split over ``nchunks`` chunks (chunk c takes the c-th of
``nchunks`` contiguous blocks of the call's members), which ``Fleet`` runs in
parallel from Python threads (the kernel releases the GIL; a ``prange`` loop
compiled 30-60 s longer and cannot take nested tuples). Each chunk owns one
set of scratch buffers, which a member leaves empty when it is done
(``_flush_fast`` applies every pending update before the chunk moves on).
Members share nothing else, so one member's refused step never touches
another.

The entry ``_fleet_run`` takes three bundles (tuples), the learning flag and
the chunk:

- ``members`` (net, mom, mom_out, model, config, history, P), stacked, the
  first axis the member's slot: ``net`` (A, RT, B, DT, C, cb); ``mom`` (mA,
  vA, mR, vR, mB, vB) and ``mom_out`` (mC, vC, mc, vc), with empty trailing
  axes without Adam; ``model`` (state, rng, counters, hyper, watch);
  ``history`` BP's windows or None; ``P`` the least-squares read-outs' inverse
  correlation matrices or None.
- ``scratch`` (work, rls_scratch, wp), the first axis the chunk: ``work``
  (work_n, work_o, work_k, pend_g, pend_p, pend_u, pend_k); ``rls_scratch``
  (P_spare, rls_work) or None; ``wp`` None, or one tuple of WP's noise views
  (flat, xiA, xiR, xiB, xiC, xic) per chunk.
- ``call`` (slots, U, Y, present, out, result, stats): the members stepped and
  their samples (``_fleet_run``).
"""

from numba import njit, types
from numba.extending import overload

from .._jit import INNER
from .step import _flush_fast, _predict_fast, _step_fast


# The optional buffers of one member or chunk: None when the feature is off. Numba
# resolves ``x is None`` at compile time only for an argument that is None, so a
# helper returning either None or a view needs an overload, typed per case.
def _member_rls(P, rls_scratch, k, c):
    """The ``rls`` argument of ``_step_fast`` for member k on chunk c."""


def _member_history(history, k):
    """BP's window of member k."""


def _chunk_wp(wp, c):
    """WP's noise views (flat, xiA, xiR, xiB, xiC, xic) of chunk c."""


@overload(_member_rls, jit_options=INNER)
def _member_rls_typed(P, rls_scratch, k, c):
    if isinstance(P, types.NoneType):
        return lambda P, rls_scratch, k, c: None
    return lambda P, rls_scratch, k, c: (P[k], rls_scratch[0][c], rls_scratch[1][c])


@overload(_member_history, jit_options=INNER)
def _member_history_typed(history, k):
    if isinstance(history, types.NoneType):
        return lambda history, k: None
    return lambda history, k: history[k]


@overload(_chunk_wp, jit_options=INNER)
def _chunk_wp_typed(wp, c):
    if isinstance(wp, types.NoneType):
        return lambda wp, c: None
    return lambda wp, c: wp[c]


@njit(**INNER)
def _run_member(net, mom, mom_out, model, config, history, P, scratch, rls_scratch, wp_c,
                k, c, U, Y, present, out, learn):
    """Member k's ``_run_fast`` over its ticks (those marked in ``present``) on chunk
    c's scratch; returns (index of the first refused tick, status)."""
    A, RT, B, DT, C, cb = net
    state, rng, counters, hyper, watch = model
    work_n, work_o, work_k, pend_g, pend_p, pend_u, pend_k = scratch
    mom_k = (mom[0][k], mom[1][k], mom[2][k], mom[3][k], mom[4][k], mom[5][k])
    mom_out_k = (mom_out[0][k], mom_out[1][k], mom_out[2][k], mom_out[3][k])
    hist_k = _member_history(history, k)
    rls_k = _member_rls(P, rls_scratch, k, c)
    stop = -1
    status = 0
    for t in range(U.shape[0]):
        if not present[t]:
            continue
        status = _step_fast(A[k], RT[k], B[k], DT[k], mom_k, wp_c, hist_k, state[k],
                            work_n[c], work_o[c], work_k[c], rng[k], counters[k], hyper[k],
                            config, pend_g[c], pend_p[c], pend_u[c], pend_k[c], U[t:t + 1],
                            Y[t], out[t], learn, None, C[k], cb[k], mom_out_k, rls_k,
                            watch[k])
        if status != 0:
            stop = t
            break
    _flush_fast(A[k], RT[k], B[k], DT[k], mom_k, state[k], work_n[c], counters[k], hyper[k],
                config, pend_g[c], pend_p[c], pend_u[c], pend_k[c])
    return stop, status


@njit(cache=True, nogil=True)
def _fleet_run(members, scratch, call, learn, c, nchunks):
    """Step chunk c of the members ``slots[j]`` (the c-th of nchunks blocks of j) over
    ``U[j]`` / ``Y[j]`` (shape (n, T, .)), on chunk c's scratch.

    ``members`` is (net, mom, mom_out, model, config, history, P), ``scratch``
    (work, rls_scratch, wp) and ``call`` (slots, U, Y, present, out, result,
    stats); see the module docstring. ``present`` (n, T) marks the ticks each
    member has a sample for. ``out[j, t]`` receives the prequential
    prediction; ``result[j]`` is (the first refused tick or -1, its status as
    in ``_step_fast``); each committed tick adds to member k's row of
    ``stats``: 1, the mean |error| and the mean squared error over the
    outputs. A member stops at its first refused tick with nothing of that
    tick committed. The GIL is released, so chunks run in parallel from
    Python threads (``Fleet``); chunks share nothing but read-only settings.
    """
    net, mom, mom_out, model, config, history, P = members
    work, rls_scratch, wp = scratch
    slots, U, Y, present, out, result, stats = call
    wp_c = _chunk_wp(wp, c)
    n = slots.shape[0]
    # a contiguous block of the call's members: with the members' slots in order,
    # the next member's arrays follow the last one's in memory (the prefetcher's way)
    for j in range(c * n // nchunks, (c + 1) * n // nchunks):
        stop, status = _run_member(net, mom, mom_out, model, config, history, P, work,
                                   rls_scratch, wp_c, slots[j], c, U[j], Y[j], present[j],
                                   out[j], learn)
        result[j, 0] = stop
        result[j, 1] = status
        k = slots[j]
        Uj, Yj, oj, pj = U[j], Y[j], out[j], present[j]
        O = Yj.shape[1]
        for t in range(stop if stop >= 0 else Uj.shape[0]):
            if pj[t]:
                sa = 0.0
                ss = 0.0
                for o in range(O):
                    d = oj[t, o] - Yj[t, o]
                    sa += abs(d)
                    ss += d * d
                stats[k, 0] += 1.0
                stats[k, 1] += sa / O
                stats[k, 2] += ss / O


@njit(cache=True)
def _fleet_predict(net, state, work_n, config, slots, U, out):
    """``_predict_fast`` for the members ``slots[j]`` on inputs ``U[j]`` (one thread:
    a prediction costs a fraction of a step)."""
    A, RT, B, DT, C, cb = net
    for j in range(slots.shape[0]):
        k = slots[j]
        _predict_fast(A[k], RT[k], B[k], DT[k], state[k], work_n[0], config, U[j], out[j],
                      C[k], cb[k])
