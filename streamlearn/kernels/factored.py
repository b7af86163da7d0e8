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
Scratch: ``fw`` (N_FW, N), ``fwk`` (2k, N), ``fsm`` (N_FSM, k + 1).

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
from .network import _activate, _fill_noise
from .optim import _update_lowrank, _update_vector
from .readouts import _readout_extra, _readout_twins
from .rules import _scaled_direction, _sq_loss

# rows of fw (F_BLK: four rows of a block to fold)
F_Y, F_W, F_BS, F_A, F_BLK = range(5)
N_FW = F_BLK + 4
# rows of fsm (k + 1 long): cq, dx, dxn, then four rows of fold coefficients
N_FSM = 7
# fk slots
FK_R, FK_D, FK_PEND = 0, 1, 2
# modes of _run_factored
LEARN, ADVANCE, PREDICT = 0, 1, 2


# The factored kernels' arithmetic may reassociate sums and contract a * b + c into
# fused multiply-adds: the mode is not bit-identical to the exact one anyway, and
# every call runs the same compiled code (``_run_factored``), so it is deterministic.
FAST = dict(INNER, fastmath={"reassoc", "contract"})


@njit(**FAST)
def _dot(r, y):
    """sum_i r_i y_i, reassociated so that it vectorises."""
    s = 0.0
    for i in range(r.shape[0]):
        s += r[i] * y[i]
    return s


@njit(**FAST)
def _axpy_rows4(r0, r1, r2, r3, a0, a1, a2, a3, b0, b1, b2, b3, v, vn):
    """v += r0 a0 + r1 a1 + r2 a2 + r3 a3 and vn likewise with the b's."""
    for i in range(v.shape[0]):
        e0 = r0[i]
        e1 = r1[i]
        e2 = r2[i]
        e3 = r3[i]
        v[i] = v[i] + e0 * a0 + e1 * a1 + e2 * a2 + e3 * a3
        vn[i] = vn[i] + e0 * b0 + e1 * b1 + e2 * b2 + e3 * b3


@njit(**FAST)
def _axpy_row(r, a, b, v, vn):
    for i in range(v.shape[0]):
        e = r[i]
        v[i] += e * a
        vn[i] += e * b


@njit(**FAST)
def _r_read_rows(RT, xs, xsn, alpha, alphan):
    """alpha += R0 xs and alphan += R0 xsn: one read of RT, four rows at a time."""
    N = RT.shape[0]
    j = 0
    while j + 4 <= N:
        _axpy_rows4(RT[j], RT[j + 1], RT[j + 2], RT[j + 3], xs[j], xs[j + 1], xs[j + 2],
                    xs[j + 3], xsn[j], xsn[j + 1], xsn[j + 2], xsn[j + 3], alpha, alphan)
        j += 4
    while j < N:
        _axpy_row(RT[j], xs[j], xsn[j], alpha, alphan)
        j += 1


@njit(**FAST)
def _d_read_rows(DT, pend, y, w0, x, xn, v, vn):
    """One read of every row j of DT: v += DT[j] x_j, vn += DT[j] xn_j and, with
    ``pend``, w0_j = DT[j] . y, in one loop over each block of four rows."""
    N = DT.shape[1]
    j = 0
    while j + 4 <= N:
        r0 = DT[j]
        r1 = DT[j + 1]
        r2 = DT[j + 2]
        r3 = DT[j + 3]
        a0, a1, a2, a3 = x[j], x[j + 1], x[j + 2], x[j + 3]
        b0, b1, b2, b3 = xn[j], xn[j + 1], xn[j + 2], xn[j + 3]
        if pend:
            s0 = s1 = s2 = s3 = 0.0
            for i in range(N):
                e0 = r0[i]
                e1 = r1[i]
                e2 = r2[i]
                e3 = r3[i]
                v[i] = v[i] + e0 * a0 + e1 * a1 + e2 * a2 + e3 * a3
                vn[i] = vn[i] + e0 * b0 + e1 * b1 + e2 * b2 + e3 * b3
                q = y[i]
                s0 += e0 * q
                s1 += e1 * q
                s2 += e2 * q
                s3 += e3 * q
            w0[j] = s0
            w0[j + 1] = s1
            w0[j + 2] = s2
            w0[j + 3] = s3
        else:
            _axpy_rows4(r0, r1, r2, r3, a0, a1, a2, a3, b0, b1, b2, b3, v, vn)
        j += 4
    while j < N:
        row = DT[j]
        if pend:
            w0[j] = _dot(row, y)
        _axpy_row(row, x[j], xn[j], v, vn)
        j += 1


@njit(**FAST)
def _fold4(r0, r1, r2, r3, G, c0, c1, c2, c3, k):
    """r_h += sum_{q < k} G[q] c_h[q] for four rows, four q at a time (each row
    read and written once per four updates)."""
    N = r0.shape[0]
    q = 0
    while q + 4 <= k:
        g0 = G[q]
        g1 = G[q + 1]
        g2 = G[q + 2]
        g3 = G[q + 3]
        p00, p01, p02, p03 = c0[q], c0[q + 1], c0[q + 2], c0[q + 3]
        p10, p11, p12, p13 = c1[q], c1[q + 1], c1[q + 2], c1[q + 3]
        p20, p21, p22, p23 = c2[q], c2[q + 1], c2[q + 2], c2[q + 3]
        p30, p31, p32, p33 = c3[q], c3[q + 1], c3[q + 2], c3[q + 3]
        for i in range(N):
            e0 = g0[i]
            e1 = g1[i]
            e2 = g2[i]
            e3 = g3[i]
            r0[i] = r0[i] + e0 * p00 + e1 * p01 + e2 * p02 + e3 * p03
            r1[i] = r1[i] + e0 * p10 + e1 * p11 + e2 * p12 + e3 * p13
            r2[i] = r2[i] + e0 * p20 + e1 * p21 + e2 * p22 + e3 * p23
            r3[i] = r3[i] + e0 * p30 + e1 * p31 + e2 * p32 + e3 * p33
        q += 4
    while q < k:
        g = G[q]
        p0, p1, p2, p3 = c0[q], c1[q], c2[q], c3[q]
        for i in range(N):
            e = g[i]
            r0[i] = r0[i] + e * p0
            r1[i] = r1[i] + e * p1
            r2[i] = r2[i] + e * p2
            r3[i] = r3[i] + e * p3
        q += 1


@njit(**FAST)
def _fold1(r, G, c, k):
    """r += sum_{q < k} G[q] c[q] (one row)."""
    for q in range(k):
        g = G[q]
        p = c[q]
        for i in range(r.shape[0]):
            r[i] = r[i] + g[i] * p


@njit(**FAST)
def _block(M, j, nb, write, blk):
    """Rows j:j + nb of M to fold: the rows themselves (``write``), or copies in
    the scratch ``blk`` (a prediction folds without storing)."""
    if write:
        return M[j:j + nb]
    for h in range(nb):
        src = M[j + h]
        dst = blk[h]
        for i in range(src.shape[0]):
            dst[i] = src[i]
    return blk[0:nb]


@njit(**INNER)
def _r_fold_rows(RT, G, P, k, write, blk, coef, xs, xsn, alpha, alphan):
    """Every row j of RT: the k pending updates RT[j] -= G[q] P[q, j], then
    alpha += RT[j] xs_j, alphan += RT[j] xsn_j; the new rows are stored only
    with ``write`` (a prediction computes, keeps). ``blk`` (4, N) and ``coef``
    (4, k) scratch."""
    N = RT.shape[0]
    j = 0
    while j < N:
        nb = min(4, N - j)
        rows = _block(RT, j, nb, write, blk)
        for h in range(nb):
            for q in range(k):
                coef[h, q] = -P[q, j + h]
        if nb == 4:
            _fold4(rows[0], rows[1], rows[2], rows[3], G, coef[0], coef[1], coef[2], coef[3], k)
            _axpy_rows4(rows[0], rows[1], rows[2], rows[3], xs[j], xs[j + 1], xs[j + 2],
                        xs[j + 3], xsn[j], xsn[j + 1], xsn[j + 2], xsn[j + 3], alpha, alphan)
        else:
            for h in range(nb):
                _fold1(rows[h], G, coef[h], k)
                _axpy_row(rows[h], xs[j + h], xsn[j + h], alpha, alphan)
        j += nb


@njit(**INNER)
def _d_fold_rows(DT, y, cq, FF, m, bs, G, write, blk, coef, x, xn, v, vn):
    """Every row j of DT: fold the m stored factors and the pending update,
    DT'[j, i] = bs_i DT[j, i] + sum_{q <= m} G[q, i] c_q with G[q] = b * c_q
    (q < m), G[m] = -a, c_q = FF[q, j] (q < m) and c_m = w_j = DT[j] . y +
    sum_q FF[q, j] cq_q, then the products v += DT'[j] x_j, vn += DT'[j] xn_j;
    stored only with ``write``."""
    N = DT.shape[0]
    j = 0
    while j < N:
        nb = min(4, N - j)
        for h in range(nb):
            wj = _dot(DT[j + h], y)
            for q in range(m):
                wj += FF[q, j + h] * cq[q]
                coef[h, q] = FF[q, j + h]
            coef[h, m] = wj
        rows = _block(DT, j, nb, write, blk)
        for h in range(nb):
            r = rows[h]
            for i in range(N):
                r[i] = bs[i] * r[i]
        if nb == 4:
            _fold4(rows[0], rows[1], rows[2], rows[3], G, coef[0], coef[1], coef[2], coef[3],
                   m + 1)
            _axpy_rows4(rows[0], rows[1], rows[2], rows[3], x[j], x[j + 1], x[j + 2], x[j + 3],
                        xn[j], xn[j + 1], xn[j + 2], xn[j + 3], v, vn)
        else:
            for h in range(nb):
                _fold1(rows[h], G, coef[h], m + 1)
                _axpy_row(rows[h], x[j + h], xn[j + h], v, vn)
        j += nb


@njit(**INNER)
def _r_pass(A, RT, fg, fp, fk, k, write, fw, fsm, u, xs, xsn, alpha, alphan):
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
        _r_fold_rows(RT, fg, fp, nR, write, fw[F_BLK:F_BLK + 4], fsm[3:7], xs, xsn, alpha,
                     alphan)
        if write:
            fk[FK_R] = 0
        return
    _r_read_rows(RT, xs, xsn, alpha, alphan)
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
            for i in range(N):
                bC[m, i] = -a[i]
            _d_fold_rows(DT, y, cq, ff, m, bs, bC, commit, fw[F_BLK:F_BLK + 4], fsm[3:7], x,
                         xn, v, vn)
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
    _r_pass(A, RT, fg, fp, fk, k, write, fw, fsm, u, xs, xsn, alpha, alphan)
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
