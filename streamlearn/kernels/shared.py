"""``SharedRNN``'s kernels: one set of weights, k streams per tick, one rank-k update.

A tick steps every present stream's clean and noisy twin on its sample with
the same weights, forms each stream's estimate exactly as the single-stream
fast path (``step._step_fast``) forms it, and applies the mean of the k
estimates once (docs/shared.md). Python (``streamlearn/shared.py``) validates,
maps keys to slots and owns every buffer; the kernels only do arithmetic and
allocate nothing.

Products. The forward pass needs R xs_s for every stream s, a matrix-matrix
product: ``_products`` takes four rows of R^T at a time and runs the
single-stream axpy (``network._r_rows``) over them for every stream, so R is
read once per tick for all k streams (the work per byte of R grows with k)
while each stream's sums still run in the order j = 0, 1, ..., N-1 in the
four-row groups of the single-stream path: with one stream the numbers are
those of ``OnlineRNN`` bit for bit. The decorrelation products D x_s use the
same pass over D^T.

Updates. The rank-k update R <- R - (lr / k) sum_s g_s xs_{s,t-1}^T runs as
axpy over rows of R^T (``_rank_k_rows``), subtracting the streams' terms in
order, four at a time; D^T xs_s for all streams at once (``_dots_t``) runs
with the streams as the inner index, each sum in order of i as
``linalg._rmatvec_t``. A and B use ``optim._update_lowrank`` with the k rows
of factors.

Scratch (allocated by Python for the capacity of streams, grown by doubling):
``work`` (S_NW, cap, N), ``work_o`` (S_NWO, cap, O), ``work_t`` (T_NW, N, cap)
(streams as the last index), ``rows`` (N_ROWS, max(N, 1)) float64.
``state`` (cap, 2, N): per slot, the clean then the noisy twin's xs.
"""

from numba import njit

from .._jit import INNER
from .guard import _MAX_GRADIENT, _guard_commit
from .layout import (
    ADAM,
    C_ACT,
    C_DECOR,
    C_METHOD,
    C_NOISE,
    C_OPT,
    H_EPS,
    H_LR,
    H_LR_DEC,
    H_SIGMA,
    K_ADAM,
    NP,
    SGD,
)
from .linalg import _absmax, _all_finite, _copy, _fill, _matvec, _matvec_twins
from .network import _activate, _fill_noise, _r_rows
from .optim import _adam_coefficients, _adam_element, _adam_step_bound, _update_lowrank
from .rules import _scaled_direction, _sq_loss

# rows of work (S_NW, cap, N): gathered previous states, pre-activations,
# activations, new states, noise, the update factors, decorrelation factors
S_X, S_XN, S_ALPHA, S_ALPHAN, S_XA, S_XNA, S_XS, S_XSN, S_XI, S_F, S_DA, S_TMP, S_DD = range(13)
S_NW = 13
# rows of work_o (S_NWO, cap, O)
S_Y, S_YN, S_NU, S_FB, S_DB = range(5)
S_NWO = 5
# rows of work_t (T_NW, N, cap), streams last: previous and new clean states, D^T xs
T_XP, T_XS, T_W = range(3)
T_NW = 3
# rows of rows (N_ROWS, N) float64: Adam's accumulator, and one slot for the guard's
# max |xs|
ROW_ACC, ROW_TINY = range(2)
N_ROWS = 2

@njit(**INNER)
def _products(MT, k, X, Xn, A, An):
    """A[s] += MT^T X[s] and An[s] += MT^T Xn[s] for s < k: a matrix-matrix product.

    Four rows of MT at a time serve all k streams (``network._r_rows`` over
    those rows, for each stream), so MT is read once per call whatever k is,
    and each stream's sums run in the order j = 0, 1, ..., N-1 in the same
    four-row groups as ``_r_rows`` over all rows: one stream gives the
    single-stream numbers. The column range is the literal 0:M, so that LLVM
    sees the loop start at 0 and vectorises it (with an index that might be
    negative Numba's wrap-around test stays in the loop).
    """
    N, M = MT.shape
    for j0 in range(0, N, 4):
        j1 = min(N, j0 + 4)
        for s in range(k):
            _r_rows(MT, j0, j1, 0, M, A[s], A[s], False, X[s], Xn[s], A[s], An[s])


@njit(**INNER)
def _transpose(X, k, XT):
    """XT[j, s] = X[s, j] for s < k."""
    for s in range(k):
        row = X[s]
        for j in range(row.shape[0]):
            XT[j, s] = row[j]


@njit(**INNER)
def _rank_k_rows(MT, F, PT, k, db, scaled):
    """MT[j, i] <- MT[j, i] (* db[i] if ``scaled``) - F[0, i] PT[j, 0] - ... - F[k-1, i] PT[j, k-1].

    The terms are subtracted in stream order, four streams a pass over the
    row. With one stream this is the single-stream update RT[j, i] - gl[i] P0[j]
    (``_r_rows``, ``_r_flush``), and with ``scaled`` the decorrelation
    update DT[j, i] db[i] - da[i] w_j (``decorrelation._d_rows``). (Tiling
    the streams or the columns was slower on the machine of docs/shared.md.)
    """
    for j in range(MT.shape[0]):
        row = MT[j]
        p = PT[j]
        if scaled:
            for i in range(row.shape[0]):
                row[i] = row[i] * db[i]
        q = 0
        while q + 4 <= k:
            p0, p1, p2, p3 = p[q], p[q + 1], p[q + 2], p[q + 3]
            f0, f1, f2, f3 = F[q], F[q + 1], F[q + 2], F[q + 3]
            for i in range(row.shape[0]):
                row[i] = row[i] - f0[i] * p0 - f1[i] * p1 - f2[i] * p2 - f3[i] * p3
            q += 4
        while q < k:
            pq = p[q]
            f = F[q]
            for i in range(row.shape[0]):
                row[i] = row[i] - f[i] * pq
            q += 1


@njit(**INNER)
def _rank_k_adam(RT, F, PT, k, MT, VT, acc, lr, hyper, t):
    """Adam on R^T with the step entry s_ij = sum_q F[q, i] PT[j, q] (summed from 0.0
    in stream order, in float64, as ``optim._pending_general``); MT, VT are R's
    moments in R^T's layout."""
    b1, b2, bc1, bc2 = _adam_coefficients(hyper, t)
    eps = hyper[H_EPS]
    for j in range(RT.shape[0]):
        row = RT[j]
        p = PT[j]
        for i in range(row.shape[0]):
            acc[i] = 0.0
        for q in range(k):
            pq = p[q]
            f = F[q]
            for i in range(row.shape[0]):
                acc[i] += f[i] * pq
        m = MT[j]
        v = VT[j]
        for i in range(row.shape[0]):
            m[i], v[i], d = _adam_element(m[i], v[i], acc[i], b1, b2, bc1, bc2, eps, lr)
            row[i] -= d


@njit(**INNER)
def _dots_t(MT, XT, k, W):
    """W[j, s] = sum_i MT[j, i] XT[i, s] for s < k: each sum from 0.0 in order of i,
    as ``linalg._rmatvec_t`` / ``_dots8``, with the streams as the inner index."""
    N, M = MT.shape
    for j in range(N):
        r = MT[j]
        w = W[j]
        for s in range(k):
            w[s] = 0.0
        i = 0
        while i + 4 <= M:
            c0, c1, c2, c3 = r[i], r[i + 1], r[i + 2], r[i + 3]
            x0, x1, x2, x3 = XT[i], XT[i + 1], XT[i + 2], XT[i + 3]
            for s in range(k):
                w[s] = w[s] + c0 * x0[s] + c1 * x1[s] + c2 * x2[s] + c3 * x3[s]
            i += 4
        while i < M:
            c = r[i]
            x = XT[i]
            for s in range(k):
                w[s] = w[s] + c * x[s]
            i += 1


@njit(**INNER)
def _forward(A, RT, B, DT, state, slots, U, work, work_o, work_t, rng, hyper, config,
             twins):
    """Both twins of the k = len(slots) streams (eq. 1, 3); a slot < 0 is a zero state.

    With ``twins`` the noise is drawn stream by stream in the order of
    ``slots`` (each stream xi then nu, as the single-stream step draws them);
    without, only the clean twin is meaningful and nothing is drawn.
    """
    k = slots.shape[0]
    act = config[C_ACT]
    sigma = hyper[H_SIGMA]
    X, Xn = work[S_X], work[S_XN]
    alpha, alphan = work[S_ALPHA], work[S_ALPHAN]
    xa, xna = work[S_XA], work[S_XNA]
    xs, xsn = work[S_XS], work[S_XSN]
    xi = work[S_XI]
    y, yn, nu = work_o[S_Y], work_o[S_YN], work_o[S_NU]
    for s in range(k):
        if twins:
            _fill_noise(rng, xi[s], sigma, config[C_NOISE])
            _fill_noise(rng, nu[s], sigma, config[C_NOISE])
        slot = slots[s]
        if slot < 0:
            _fill(X[s], 0.0)
            _fill(Xn[s], 0.0)
        else:
            _copy(state[slot, 0], X[s])
            _copy(state[slot, 1 if twins else 0], Xn[s])
        _matvec(A, U[s], alpha[s])
        _copy(alpha[s], alphan[s])
    _products(RT, k, X, Xn, alpha, alphan)
    for s in range(k):
        if twins:
            a, an, e = alpha[s], alphan[s], xi[s]
            for i in range(a.shape[0]):
                a[i] = a[i] + 0.0  # the single-stream path adds its (zero) xi0 here
                an[i] = an[i] + e[i]
        _activate(alpha[s], xa[s], act)
        _activate(alphan[s], xna[s], act)
    if config[C_DECOR] != 0:
        for s in range(k):
            _fill(xs[s], 0.0)
            _fill(xsn[s], 0.0)
        _products(DT, k, xa, xna, xs, xsn)
    else:
        for s in range(k):
            _copy(xa[s], xs[s])
            _copy(xna[s], xsn[s])
    for s in range(k):
        _matvec_twins(B, xs[s], xsn[s], y[s], yn[s])
        if twins:
            for o in range(y.shape[1]):
                y[s, o] = y[s, o] + 0.0  # the single-stream path's (zero) nu0
                yn[s, o] = yn[s, o] + nu[s, o]


@njit(cache=True)
def _shared_learn(A, RT, B, DT, mom, state, slots, U, Y, out, work, work_o, work_t, rows,
                  rng, counters, hyper, config, learn):
    """One tick of the k = len(slots) streams present; returns a status.

    ``learn``: draw the noise, step both twins, form every stream's estimate
    (eq. 4 or 5), apply their mean (eq. 9) and the mean decorrelation update
    (eq. 10), commit the new states. Without ``learn``: step the clean twins
    only and set each noisy state to its clean one (an advance).

    Returns 0 when committed, 1 when some stream's forward pass was not finite,
    2 when the divergence guard refused the mean update; a refused tick
    commits nothing (weights, moments, states, counters, random stream).
    ``out`` (k, O) receives the clean predictions made before the update.
    ``mom`` = (mA, vA, mRT, vRT, mB, vB), R's moments in R^T's layout; empty for SGD.
    """
    k = slots.shape[0]
    N, I = A.shape
    O = B.shape[0]
    r0, r1, r2, r3 = rng[0], rng[1], rng[2], rng[3]
    _forward(A, RT, B, DT, state, slots, U, work, work_o, work_t, rng, hyper, config,
             learn)
    X, alpha, alphan = work[S_X], work[S_ALPHA], work[S_ALPHAN]
    xs, xsn, xi = work[S_XS], work[S_XSN], work[S_XI]
    F, tmp = work[S_F], work[S_TMP]
    y, yn, nu = work_o[S_Y], work_o[S_YN], work_o[S_NU]
    FB, db = work_o[S_FB], work_o[S_DB]
    finite = True
    for s in range(k):
        _copy(y[s], out[s])
        finite = finite and _all_finite(y[s]) and _all_finite(xs[s]) and (
            not learn or (_all_finite(yn[s]) and _all_finite(xsn[s])))
    if not finite:
        rng[0], rng[1], rng[2], rng[3] = r0, r1, r2, r3
        return 1
    if not learn:
        for s in range(k):
            _copy(xs[s], state[slots[s], 0])
            _copy(xs[s], state[slots[s], 1])
        return 0

    opt = config[C_OPT]
    sigma = hyper[H_SIGMA]
    lr = hyper[H_LR]
    decor = config[C_DECOR] != 0
    # every stream's estimate, formed as the single-stream step forms it
    g = 0.0
    bad = False
    m_xs = 0.0
    for s in range(k):
        dl = _sq_loss(yn[s], Y[s]) - _sq_loss(y[s], Y[s])
        if config[C_METHOD] == NP:
            f = dl / (sigma * sigma)
            for i in range(N):
                F[s, i] = f * xi[s, i]
            for o in range(O):
                FB[s, o] = f * nu[s, o]
        else:
            for i in range(N):
                tmp[s, i] = alphan[s, i] - alpha[s, i]
            _scaled_direction(tmp[s], N * dl, F[s])
            for o in range(O):
                db[s, o] = yn[s, o] - y[s, o]
            _scaled_direction(db[s], O * dl, FB[s])
        # the largest entry of this stream's update; the mean's is no larger
        p_out = _absmax(xs[s])
        gs = _absmax(F[s]) * max(_absmax(U[s]), _absmax(X[s]))
        gs = max(gs, _absmax(FB[s]) * p_out)
        bad = bad or not gs <= _MAX_GRADIENT
        if gs > g:
            g = gs
        if p_out > m_xs:
            m_xs = p_out
    t = counters[K_ADAM] + 1
    delta = lr * _adam_step_bound(hyper, t) if opt == ADAM else lr * g
    tiny = rows[ROW_TINY, 0:1]
    tiny[0] = m_xs  # the guard's bound on D's growth needs max |xs| over the streams
    if bad or not _guard_commit(A, RT, B, B[0:0], B[0, 0:0], DT, hyper, delta, decor, tiny):
        rng[0], rng[1], rng[2], rng[3] = r0, r1, r2, r3
        return 2
    counters[K_ADAM] = t

    # the mean of the k estimates: the factors carry 1 / k; R's SGD factors lr / k,
    # rounded to the model's dtype as the single-stream path rounds lr g
    for s in range(k):
        for i in range(N):
            F[s, i] = F[s, i] / k
        for o in range(O):
            FB[s, o] = FB[s, o] / k
    mA, vA, mRT, vRT, mB, vB = mom
    _update_lowrank(A, F, U, k, lr, opt, mA, vA, hyper, t)
    _update_lowrank(B, FB, xs, k, lr, opt, mB, vB, hyper, t)
    XPT = work_t[T_XP]
    _transpose(X, k, XPT)
    if opt == SGD:
        GL = work[S_TMP]
        for s in range(k):
            for i in range(N):
                GL[s, i] = lr * F[s, i]
        _rank_k_rows(RT, GL, XPT, k, GL[0], False)
    else:
        _rank_k_adam(RT, F, XPT, k, mRT, vRT, rows[ROW_ACC], lr, hyper, t)
    if decor:
        # D <- D - (eps / k) sum_s (xs_s xs_s^T - diag(xs_s^2)) D, with w_s = D^T xs_s
        e = hyper[H_LR_DEC] / k
        XST, WT = work_t[T_XS], work_t[T_W]
        DA = work[S_DA]
        dd = work[S_DD, 0]  # in the model's dtype, as the single-stream path keeps it
        _transpose(xs, k, XST)
        _dots_t(DT, XST, k, WT)
        for i in range(N):
            dd[i] = 1.0
        for s in range(k):
            for i in range(N):
                a = e * xs[s, i]
                DA[s, i] = a
                dd[i] = dd[i] + a * xs[s, i]
        _rank_k_rows(DT, DA, WT, k, dd, True)
    for s in range(k):
        _copy(xs[s], state[slots[s], 0])
        _copy(xsn[s], state[slots[s], 1])
    return 0


@njit(cache=True)
def _shared_predict(A, RT, B, DT, state, slots, U, out, work, work_o, work_t, rng, hyper,
                    config):
    """The clean outputs if U[s] were stream slots[s]'s next input (slot < 0: a
    zero state); changes no weight and no state, draws nothing."""
    _forward(A, RT, B, DT, state, slots, U, work, work_o, work_t, rng, hyper, config,
             False)
    y = work_o[S_Y]
    for s in range(slots.shape[0]):
        _copy(y[s], out[s])
