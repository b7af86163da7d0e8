"""The read-out's extra terms (skip C u and bias c, eq. 1b) and the least-squares read-out (eqs. 11-12)."""

from numba import njit

from .._jit import INNER
from .layout import H_RLS_ALPHA, H_RLS_LAM, H_RLS_PMAX, K_RLS_RESTART
from .linalg import _dots_perturbed, _matvec_twins
from .rls import _rls_apply, _rls_gain_restarting


@njit(**INNER)
def _readout_twins(B, C, cb, u, skip, bias, xs_new, xsn_new, y, yn, nu0, nu, noise):
    """Both twins' read-out: y = B xs (+ C u + c, eq. 1b) and yn = B xs~ (+ C u + c),
    then with ``noise`` eq. 3's output noise, y += nu0 (zero unless the reference twin
    is noisy) and yn += nu."""
    _matvec_twins(B, xs_new, xsn_new, y, yn)
    if skip or bias:
        _readout_extra(C, cb, u, skip, bias, y)
        _readout_extra(C, cb, u, skip, bias, yn)
    if noise:
        for o in range(y.shape[0]):
            y[o] += nu0[o]
            yn[o] += nu[o]


@njit(**INNER)
def _readout_twins_wp(B, xiB, xs_new, xsn_new, y, yn):
    """Eq. 7's read-out: y = B xs and yn = (B + xiB) xs~, in one pass over B."""
    for o in range(B.shape[0]):
        y[o], yn[o] = _dots_perturbed(B[o], xiB[o], xs_new, xsn_new, 0.0, 0.0)


@njit(**INNER)
def _readout_extra(C, cb, u, skip, bias, y):
    """y += C u (with ``skip``) and y += c (with ``bias``): eq. 1b's input and bias terms."""
    I = u.shape[0]
    for o in range(y.shape[0]):
        s = y[o]
        if skip:
            for k in range(I):
                s += C[o, k] * u[k]
        if bias:
            s += cb[o]
        y[o] = s


@njit(**INNER)
def _readout_extra_wp(C, cb, xiC, xic, u, skip, bias, y, yn):
    """Eq. 1b and 7b: y += C u + c and yn += (C + xiC) u + (c + xic)."""
    I = u.shape[0]
    for o in range(y.shape[0]):
        s = y[o]
        n = yn[o]
        if skip:
            for k in range(I):
                c = C[o, k]
                s += c * u[k]
                n += (c + xiC[o, k]) * u[k]
        if bias:
            s += cb[o]
            n += cb[o] + xic[o]
        y[o] = s
        yn[o] = n


@njit(**INNER)
def _regressor(xs, u, skip, bias, z):
    """The least-squares read-out's regressor z = [xs, u, 1] (eq. 11); u and 1 only
    with ``skip`` and ``bias``."""
    N = xs.shape[0]
    for i in range(N):
        z[i] = xs[i]
    m = N
    if skip:
        for k in range(u.shape[0]):
            z[m + k] = u[k]
        m += u.shape[0]
    if bias:
        z[m] = 1.0


@njit(**INNER)
def _rls_readout_gain(P, z, gain, q, hyper, counters):
    """(R1), (R2) of ``rls.py`` for this step's regressor; P restarts at I / alpha
    (counted in K_RLS_RESTART) when it has lost positive-definiteness.

    Returns False when even the restarted P gives no gain (z too large for d to
    be finite); P is then I / alpha and the read-out does not move this step.
    """
    code = _rls_gain_restarting(P, z, hyper[H_RLS_LAM], hyper[H_RLS_PMAX],
                                hyper[H_RLS_ALPHA], gain, q)
    if code:
        counters[K_RLS_RESTART] += 1
    return code != 2


@njit(**INNER)
def _rls_readout_apply(B, C, cb, z, gain, w, target, skip, bias):
    """(R3) of ``rls.py`` for each output o on the row W_o = [B_o, C_o, c_o]."""
    N = B.shape[1]
    I = C.shape[1]
    for o in range(B.shape[0]):
        for i in range(N):
            w[i] = B[o, i]
        m = N
        if skip:
            for k in range(I):
                w[m + k] = C[o, k]
            m += I
        if bias:
            w[m] = cb[o]
        _rls_apply(w, z, gain, target[o])
        for i in range(N):
            B[o, i] = w[i]
        if skip:
            for k in range(I):
                C[o, k] = w[N + k]
        if bias:
            cb[o] = w[m]
