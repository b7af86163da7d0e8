"""The factored update mode (``OnlineRNN(update="factored")``, docs/factored.md).

The exact fast path (``step.py``) reads and writes R and D once per step. This
mode keeps the recent updates as factors and reads the stored matrices only,
writing them back every k = ``factor_rank`` updates:

    R_eff = R0 - sum_q g_q p_q^T            (q < nR <= k; g_q = lr ga_q, p_q = xs_{q-1})
    D_eff = diag(s) D0 + sum_q c_q f_q^T     (q < nD <= k - 1)

One eq. 10 step is D <- M D with M = diag(b) - a xs^T, a = eps xs,
b = 1 + a * xs (eq. 10: D - eps (xs xs^T - diag(xs^2)) D), so with
w = D_eff^T xs = D0^T (s * xs) + sum_q f_q (c_q . xs):

    s <- b * s,   c_q <- b * c_q,   new factor (c, f) = (-a, w).

The forward pass reads R0 once (both twins' R0 xs, plus O(k N) corrections)
and D0 once: its rows give D0 x for both twins and, for the decorrelation
update pending from the last step, the dot products D0^T (s * xs). A step
whose pass finds the factor buffer full folds the factors into the stored
matrix in the same pass (R0 when nR = k; D0 when the pending update would
make k), reading and writing it once: per step about (2 + 4 / k) N^2 words
against the exact path's 4 N^2.

The numbers are not the exact path's: the corrections and the fold round
differently, and the dot products D0^T y are summed with reassociation
(``_dot``, vectorised). They are deterministic: every call goes through
``_run_factored`` (one compiled function for learning, advancing and
predicting), the factors are model state that survives calls, and the fold
happens when the buffer is full, never at a call boundary, so a sequence call
equals the same single calls bit for bit.

State (model arrays, saved with the model): ``fg``, ``fp`` (k, N) R's factors;
``fc``, ``ff`` (k, N) D's; ``fvec`` (2, N): s, then xsp, the clean state the
pending decorrelation update uses; ``fk`` int64[3]: nR, nD, pending flag.
Scratch: ``fw`` (N_FW, N), ``fwk`` (2k, N), ``fsm`` (3, k + 1).

Supported: ANP and NP (with or without decorrelation), SGD, the perturbation
read-out (with skip and bias), one thread; ``OnlineRNN`` refuses the rest.
"""

import numpy as np
from numba import njit

from .._jit import INNER
from .guard import _MAX_GRADIENT, _outside_watch, _watch_targets
from .layout import (
    C_ACT, C_BIAS, C_DECOR, C_METHOD, C_NOISE, C_NOISY_REF, C_SKIP, H_DMAX, H_LR, H_LR_DEC,
    H_MAX_WEIGHT, H_SIGMA, H_WMAX, K_ADAM, NP, W_ALPHA, W_ALPHAN, W_DB, W_GA, W_GB, W_GL,
    W_NU, W_NU0, W_SINK, W_TMP, W_X, W_XI, W_XI0, W_XN, W_XS, W_XSN, W_Y, W_YN,
)
from .linalg import _absmax, _absmax2, _all_finite, _copy, _matvec
from .network import _activate, _fill_noise, _r_rows
from .optim import _update_lowrank, _update_vector
from .readouts import _readout_extra, _readout_twins
from .rules import _scaled_direction, _sq_loss

# rows of fw
F_Y, F_W, F_BS, F_A, F_ROW = range(5)
N_FW = 5
# fk slots
FK_R, FK_D, FK_PEND = 0, 1, 2
# modes of _run_factored
LEARN, ADVANCE, PREDICT = 0, 1, 2


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True, fastmath={"reassoc"})
def _dot(r, y):
    """sum_i r_i y_i, reassociated so that it vectorises (one compiled order)."""
    s = 0.0
    for i in range(r.shape[0]):
        s += r[i] * y[i]
    return s


@njit(**INNER)
def _r_fold_rows(RT, G, P, k, write, row_tmp, xs, xsn, alpha, alphan):
    """Every row j of RT: the k pending updates RT[j] -= G[q] P[q, j] in q order
    (as k exact rank-1 steps), then alpha += RT[j] xs_j, alphan += RT[j] xsn_j;
    the new rows are stored only with ``write`` (predict computes, keeps)."""
    N = RT.shape[1]
    for j in range(RT.shape[0]):
        row = RT[j]
        for i in range(N):
            row_tmp[i] = row[i]
        for q in range(k):
            g = G[q]
            p = P[q, j]
            for i in range(N):
                row_tmp[i] = row_tmp[i] - g[i] * p
        a = xs[j]
        b = xsn[j]
        for i in range(N):
            v = row_tmp[i]
            alpha[i] += v * a
            alphan[i] += v * b
        if write:
            for i in range(N):
                row[i] = row_tmp[i]


@njit(**INNER)
def _d_read_rows(DT, pend, y, w0, x, xn, v, vn):
    """One read of every row j of DT: v += DT[j] x_j, vn += DT[j] xn_j (in j order,
    four rows at a time as the exact path's products) and, with ``pend``,
    w0_j = DT[j] . y (``_dot``)."""
    N = DT.shape[1]
    j = 0
    while j + 4 <= N:
        r0 = DT[j]
        r1 = DT[j + 1]
        r2 = DT[j + 2]
        r3 = DT[j + 3]
        a0, a1, a2, a3 = x[j], x[j + 1], x[j + 2], x[j + 3]
        b0, b1, b2, b3 = xn[j], xn[j + 1], xn[j + 2], xn[j + 3]
        for i in range(N):
            e0 = r0[i]
            e1 = r1[i]
            e2 = r2[i]
            e3 = r3[i]
            v[i] = v[i] + e0 * a0 + e1 * a1 + e2 * a2 + e3 * a3
            vn[i] = vn[i] + e0 * b0 + e1 * b1 + e2 * b2 + e3 * b3
        if pend:
            w0[j] = _dot(r0, y)
            w0[j + 1] = _dot(r1, y)
            w0[j + 2] = _dot(r2, y)
            w0[j + 3] = _dot(r3, y)
        j += 4
    while j < N:
        row = DT[j]
        a = x[j]
        b = xn[j]
        for i in range(N):
            e = row[i]
            v[i] += e * a
            vn[i] += e * b
        if pend:
            w0[j] = _dot(row, y)
        j += 1


@njit(**INNER)
def _d_fold_rows(DT, y, cq, FF, m, bs, bC, a, write, row_tmp, x, xn, v, vn):
    """Every row j of DT: fold the m stored factors and the pending update,
    DT'[j, i] = bs_i DT[j, i] + sum_q bC[q, i] FF[q, j] - a_i w_j with
    w_j = DT[j] . y + sum_q FF[q, j] cq_q (as ``_resolve``), then the products
    v += DT'[j] x_j, vn += DT'[j] xn_j; stored only with ``write``."""
    N = DT.shape[1]
    for j in range(DT.shape[0]):
        row = DT[j]
        wj = _dot(row, y)
        for q in range(m):
            wj += FF[q, j] * cq[q]
        for i in range(N):
            row_tmp[i] = bs[i] * row[i]
        for q in range(m):
            c = bC[q]
            f = FF[q, j]
            for i in range(N):
                row_tmp[i] = row_tmp[i] + c[i] * f
        for i in range(N):
            row_tmp[i] = row_tmp[i] - a[i] * wj
        aj = x[j]
        bj = xn[j]
        for i in range(N):
            e = row_tmp[i]
            v[i] += e * aj
            vn[i] += e * bj
        if write:
            for i in range(N):
                row[i] = row_tmp[i]


@njit(**INNER)
def _r_pass(A, RT, fg, fp, fk, k, write, fw, u, xs, xsn, alpha, alphan):
    """alpha = A u + R_eff xs and alphan = A u + R_eff xsn (both twins, one read of
    R0), folding R's factors into R0 first when the buffer is full (k of them)."""
    N, I = A.shape
    for i in range(N):
        c = 0.0
        for kk in range(I):
            c += A[i, kk] * u[kk]
        alpha[i] = c
        alphan[i] = c
    nR = fk[FK_R]
    if nR == k:
        _r_fold_rows(RT, fg, fp, nR, write, fw[F_ROW], xs, xsn, alpha, alphan)
        if write:
            fk[FK_R] = 0
        return
    _r_rows(RT, 0, N, 0, N, fw[F_ROW], xs, False, xs, xsn, alpha, alphan)
    for q in range(nR):
        c = _dot(fp[q], xs)
        cn = _dot(fp[q], xsn)
        g = fg[q]
        for i in range(N):
            alpha[i] -= g[i] * c
            alphan[i] -= g[i] * cn


@njit(**INNER)
def _d_pass(DT, fc, ff, fvec, fk, k, commit, fw, fwk, fsm, eps, x, xn, v, vn):
    """v = D_eff' x, vn = D_eff' xn, where D_eff' is D_eff after the pending
    decorrelation update (if any), in one read of D0; folds when the pending
    update makes k. With ``commit`` the factors (and on a fold D0) become
    D_eff'; without (predict) nothing changes."""
    N = DT.shape[0]
    s = fvec[0]
    xsp = fvec[1]
    m = fk[FK_D]
    pend = fk[FK_PEND] != 0
    y = fw[F_Y]
    w = fw[F_W]
    bs = fw[F_BS]
    a = fw[F_A]
    cq = fsm[0]
    for i in range(N):
        v[i] = 0.0
        vn[i] = 0.0
    if pend:
        for i in range(N):
            y[i] = s[i] * xsp[i]
            ai = eps * xsp[i]
            a[i] = ai
            bs[i] = (1.0 + ai * xsp[i]) * s[i]
        for q in range(m):
            cq[q] = _dot(fc[q], xsp)
        bC = fwk[0:k]
        for q in range(m):
            cr = fc[q]
            br = bC[q]
            for i in range(N):
                br[i] = (1.0 + a[i] * xsp[i]) * cr[i]
        if m + 1 == k:  # the buffer is full: fold into D0 in this pass
            _d_fold_rows(DT, y, cq, ff, m, bs, bC, a, commit, fw[F_ROW], x, xn, v, vn)
            if commit:
                for i in range(N):
                    s[i] = 1.0
                fk[FK_D] = 0
                fk[FK_PEND] = 0
            return
        _d_read_rows(DT, True, y, w, x, xn, v, vn)
        for q in range(m):
            f = ff[q]
            c = cq[q]
            for j in range(N):
                w[j] += f[j] * c
        if commit:
            S, Cm, Fm = s, fc, ff
            for q in range(m):
                _copy(bC[q], fc[q])
        else:
            S, Cm, Fm = bs, bC, fwk[k:2 * k]
            for q in range(m):
                _copy(ff[q], Fm[q])
        for i in range(N):
            Cm[m, i] = -a[i]
            Fm[m, i] = w[i]
        if commit:
            _copy(bs, s)
            fk[FK_D] = m + 1
            fk[FK_PEND] = 0
        m += 1
    else:
        _d_read_rows(DT, False, y, w, x, xn, v, vn)
        S, Cm, Fm = s, fc, ff
    dx = fsm[1]
    dxn = fsm[2]
    for q in range(m):
        dx[q] = _dot(Fm[q], x)
        dxn[q] = _dot(Fm[q], xn)
    for i in range(N):
        v[i] = S[i] * v[i]
        vn[i] = S[i] * vn[i]
    for q in range(m):
        c = Cm[q]
        for i in range(N):
            v[i] += c[i] * dx[q]
            vn[i] += c[i] * dxn[q]


@njit(**INNER)
def _bounds(RT, DT, fg, fp, fc, ff, fvec, fk, decor):
    """Upper bounds on max |R_eff| and max |D_eff| from the factors (one read of
    R0 and D0): the divergence guard's rescans."""
    r = _absmax2(RT)
    for q in range(fk[FK_R]):
        r += _absmax(fg[q]) * _absmax(fp[q])
    d = 0.0
    if decor:
        d = _absmax(fvec[0]) * _absmax2(DT)
        for q in range(fk[FK_D]):
            d += _absmax(fc[q]) * _absmax(ff[q])
    return r, d


@njit(**INNER)
def _guard_factored(A, RT, B, C, cb, DT, fg, fp, fc, ff, fvec, fk, hyper, delta, decor,
                    xs_new):
    """``guard._guard_commit`` with R and D factored: the same running bounds,
    rescanned as ``_bounds`` (max |R0| plus the factors' products, and so on),
    which only exceeds the effective maximum, so the guard is never laxer."""
    limit = hyper[H_MAX_WEIGHT]
    if not delta < np.inf:
        return False
    wmax = hyper[H_WMAX]
    dmax = hyper[H_DMAX]
    rescanned = False
    rb = db = 0.0
    if wmax + delta > limit:
        rb, db = _bounds(RT, DT, fg, fp, fc, ff, fvec, fk, decor)
        rescanned = True
        wmax = max(_absmax2(A), rb, _absmax2(B), _absmax2(C), _absmax(cb))
        if not wmax + delta <= limit:
            return False
    growth = 1.0
    if decor:
        m = _absmax(xs_new)
        growth = 1.0 + hyper[H_LR_DEC] * m * m * (DT.shape[0] + 1)
        if dmax * growth > limit:
            if not rescanned:
                rb, db = _bounds(RT, DT, fg, fp, fc, ff, fvec, fk, decor)
            dmax = db
            if not dmax * growth <= limit:
                return False
    hyper[H_WMAX] = wmax + delta
    hyper[H_DMAX] = dmax * growth
    return True


@njit(**INNER)
def _step_factored(A, RT, B, DT, C, cb, state, work_n, work_o, rng, counters, hyper, config,
                   fg, fp, fc, ff, fvec, fk, fw, fwk, fsm, u2, target, y_out, mode, watch):
    """One step (``mode`` LEARN or ADVANCE) or a prediction (PREDICT, nothing
    changes), with the status codes and refusal semantics of
    ``step._step_fast``: a refused step commits nothing of its own; the fold
    or the pending decorrelation update its pass applied change the
    representation, not the matrices it stands for."""
    N, I = A.shape
    O = B.shape[0]
    k = fg.shape[0]
    r0, r1, r2, r3 = rng[0], rng[1], rng[2], rng[3]
    u = u2[0]
    decor = config[C_DECOR] != 0
    skip = config[C_SKIP] != 0
    bias = config[C_BIAS] != 0
    sigma = hyper[H_SIGMA]
    lr = hyper[H_LR]
    learn = mode == LEARN
    write = mode != PREDICT
    twins = learn
    xs = state[0]
    xsn = state[1] if twins else state[0]
    alpha = work_n[W_ALPHA]
    alphan = work_n[W_ALPHAN] if twins else work_n[W_SINK]
    x = work_n[W_X]
    xn = work_n[W_XN] if twins else work_n[W_X]
    xs_new = work_n[W_XS]
    xsn_new = work_n[W_XSN] if twins else work_n[W_SINK]
    xi = work_n[W_XI]
    xi0 = work_n[W_XI0]
    ga = work_n[W_GA]
    tmp = work_n[W_TMP]
    y = work_o[W_Y]
    yn = work_o[W_YN]
    nu = work_o[W_NU]
    nu0 = work_o[W_NU0]
    gb = work_o[W_GB]
    db = work_o[W_DB]

    if twins:  # the draws of step._forward_fast, in its order
        _fill_noise(rng, xi, sigma, config[C_NOISE])
        _fill_noise(rng, nu, sigma, config[C_NOISE])
        if config[C_NOISY_REF] != 0:
            _fill_noise(rng, xi0, sigma, config[C_NOISE])
            _fill_noise(rng, nu0, sigma, config[C_NOISE])
    _r_pass(A, RT, fg, fp, fk, k, write, fw, u, xs, xsn, alpha, alphan)
    if twins:
        for i in range(N):
            alpha[i] = alpha[i] + xi0[i]
            alphan[i] = alphan[i] + xi[i]
    _activate(alpha, x, config[C_ACT])
    if twins:
        _activate(alphan, xn, config[C_ACT])
    if decor:
        _d_pass(DT, fc, ff, fvec, fk, k, write, fw, fwk, fsm, hyper[H_LR_DEC], x, xn,
                xs_new, xsn_new)
    else:
        _copy(x, xs_new)
        if twins:
            _copy(xn, xsn_new)

    if twins:
        _readout_twins(B, C, cb, u, skip, bias, xs_new, xsn_new, y, yn, nu0, nu, True)
    else:
        _matvec(B, xs_new, y)
        if skip or bias:
            _readout_extra(C, cb, u, skip, bias, y)
    for o in range(O):
        y_out[o] = y[o]
    if mode == PREDICT:
        return 0
    if not (_all_finite(y) and _all_finite(xs_new)
            and (not twins or (_all_finite(yn) and _all_finite(xsn_new)))):
        rng[0], rng[1], rng[2], rng[3] = r0, r1, r2, r3
        return 1
    if learn and _outside_watch(y, target, watch, hyper, counters):
        rng[0], rng[1], rng[2], rng[3] = r0, r1, r2, r3
        return 3
    if not learn:
        _copy(xs_new, state[0])
        _copy(xs_new, state[1])
        return 0

    t = counters[K_ADAM] + 1
    p_out = _absmax(xs_new)
    if skip:
        p_out = max(p_out, _absmax(u))
    if bias:
        p_out = max(p_out, 1.0)
    dl = _sq_loss(yn, target) - _sq_loss(y, target)
    if config[C_METHOD] == NP:
        f = dl / (sigma * sigma)
        for i in range(N):
            ga[i] = f * xi[i]
        for o in range(O):
            gb[o] = f * nu[o]
    else:
        for i in range(N):
            tmp[i] = alphan[i] - alpha[i]
        _scaled_direction(tmp, N * dl, ga)
        for o in range(O):
            db[o] = yn[o] - y[o]
        _scaled_direction(db, O * dl, gb)
    g = _absmax(ga) * max(_absmax(u), _absmax(xs))
    g = max(g, _absmax(gb) * p_out)
    ok = g <= _MAX_GRADIENT and _guard_factored(A, RT, B, C, cb, DT, fg, fp, fc, ff, fvec, fk,
                                                 hyper, lr * g, decor, xs_new)
    if not ok:
        rng[0], rng[1], rng[2], rng[3] = r0, r1, r2, r3
        return 2
    counters[K_ADAM] = t
    # A at once (the exact path applies the same update at the next step's start)
    _update_lowrank(A, work_n[W_GA:W_GA + 1], u2, 1, lr, 0, None, None, hyper, t)
    nR = fk[FK_R]  # < k: a full buffer was folded by this step's pass
    gl = work_n[W_GL]
    for i in range(N):
        gl[i] = lr * ga[i]
    _copy(gl, fg[nR])
    _copy(xs, fp[nR])
    fk[FK_R] = nR + 1
    gb2 = work_o[W_GB:W_GB + 1]
    _update_lowrank(B, gb2, work_n[W_XS:W_XS + 1], 1, lr, 0, None, None, hyper, t)
    if skip:
        _update_lowrank(C, gb2, u2, 1, lr, 0, None, None, hyper, t)
    if bias:
        _update_vector(cb, gb, 1.0, lr, 0, None, None, hyper, t)
    if decor:
        _copy(xs_new, fvec[1])
        fk[FK_PEND] = 1
    _watch_targets(target, watch, counters)
    _copy(xs_new, xs)
    _copy(xsn_new, xsn)
    return 0


@njit(cache=True)
def _run_factored(A, RT, B, DT, C, cb, state, work_n, work_o, rng, counters, hyper, config,
                  fg, fp, fc, ff, fvec, fk, fw, fwk, fsm, U, Y, out, xs_out, mode, watch):
    """``step._run_fast`` for the factored mode: stops at the first refused step
    and returns (its index, its status), or (-1, 0). Nothing is flushed at the
    end: the factors stay pending (model state). ``mode`` PREDICT takes one row
    and changes nothing."""
    record = xs_out.shape[0] > 0
    for t in range(U.shape[0]):
        status = _step_factored(A, RT, B, DT, C, cb, state, work_n, work_o, rng, counters,
                                hyper, config, fg, fp, fc, ff, fvec, fk, fw, fwk, fsm,
                                U[t:t + 1], Y[t], out[t], mode, watch)
        if status != 0:
            return t, status
        if record:
            _copy(state[0], xs_out[t])
    return -1, 0
