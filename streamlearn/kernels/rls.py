"""Recursive least squares (RLS) with a forgetting factor: the least-squares read-out.

Pure kernels, in the manner of reservoirpy's ``_rls(P, r, e)``: the caller owns
the arrays and the time loop. For a regressor ``z`` (length M) and a forgetting
factor ``lam`` in (0, 1], one step of exponentially weighted least squares is

    (R1)  q = P z,   d = lam + z^T q,   g = q / d
    (R2)  P <- (P - g q^T) / lam            (the gain g does not need a target)
    (R3)  w <- w + g (y - w^T z)            (a priori error, one per output)

``P`` starts at ``I / alpha`` (the regularised start: ``alpha`` is the ridge
penalty of the first steps, which forgetting fades). Numerical care:

- (R2) is computed on the upper triangle and mirrored, so ``P`` stays exactly
  symmetric;
- the inflation ``1 / lam`` is skipped on a step where it would lift the
  largest diagonal entry of ``P`` above ``p_max`` (wind-up: a regressor that
  stops exciting some direction would otherwise make ``P`` grow without bound);
- if ``d`` is not a finite positive number, or (R2) would make a diagonal entry
  non-positive, ``P`` has lost positive-definiteness to rounding: the step
  returns False and leaves ``P`` unchanged, and the caller restarts ``P`` at
  ``I / alpha`` (:func:`_rls_restart`).

The gain depends only on the sequence of regressors, not on the targets: every
read-out that sees the same regressors in the same order shares one ``P``. The
forecaster uses this for its horizons (docs/forecasting.md).
"""

import numpy as np
from numba import njit


@njit(cache=True)
def _rls_restart(P, alpha):
    """P <- I / alpha (the regularised start)."""
    M = P.shape[0]
    for i in range(M):
        for j in range(M):
            P[i, j] = 0.0
        P[i, i] = 1.0 / alpha


@njit(cache=True)
def _rls_gain(P, z, lam, p_max, gain, q):
    """(R1) and (R2): the gain ``g`` of regressor ``z`` into ``gain``, and P updated.

    ``q`` is scratch of length M. Returns False (P untouched) when P has lost
    positive-definiteness; see the module docstring.
    """
    M = z.shape[0]
    for i in range(M):
        s = 0.0
        for j in range(M):
            s += P[i, j] * z[j]
        q[i] = s
    d = lam
    for i in range(M):
        d += z[i] * q[i]
    if not (d > 0.0 and d < np.inf):
        return False
    biggest = 0.0
    for i in range(M):
        gain[i] = q[i] / d
        pii = P[i, i] - gain[i] * q[i]
        if not pii > 0.0:
            return False
        if pii > biggest:
            biggest = pii
    inv = 1.0 / lam
    if biggest * inv > p_max:
        inv = 1.0
    for i in range(M):
        gi = gain[i]
        for j in range(i, M):
            v = (P[i, j] - gi * q[j]) * inv
            P[i, j] = v
            P[j, i] = v
    return True


@njit(cache=True)
def _rls_gain_restarting(P, z, lam, p_max, alpha, gain, q):
    """:func:`_rls_gain`, restarting ``P`` at ``I / alpha`` once if it has lost
    positive-definiteness. Returns 0 (gain computed), 1 (P restarted, gain
    computed) or 2 (P restarted and still no gain: ``z`` is too large for a finite
    ``d``; ``gain`` is then zero, so the read-out does not move)."""
    if _rls_gain(P, z, lam, p_max, gain, q):
        return 0
    _rls_restart(P, alpha)
    if _rls_gain(P, z, lam, p_max, gain, q):
        return 1
    for i in range(gain.shape[0]):
        gain[i] = 0.0
    return 2


@njit(cache=True)
def _rls_apply(w, z, gain, target):
    """(R3) for one output: w <- w + g (target - w^T z); returns the a priori error."""
    M = z.shape[0]
    e = target
    for i in range(M):
        e -= w[i] * z[i]
    for i in range(M):
        w[i] += gain[i] * e
    return e
