"""Online standardisation of the River learners' features (``river_base._FeatureMap``).

``stats`` is float64 (6, F): rows count, mean, m2 (Welford's running sum of
squared deviations) of the F feature columns, then the same three rows as
they were before the last learned sample (to undo it exactly when the step
that follows is refused). The operations, and their order, are those of
the scalar Python they replace, so every value is the same bit for bit.
"""

import math

from numba import njit


@njit(cache=True)
def _standardise(stats, raw, cols, u, fixed, learn):
    """Write ``u[fixed + cols[p]] = (raw[p] - mean) / sd`` for each value p.

    A NaN value is missing: it reads 0 and is not learned; the other input
    columns read 0 as well, except column 0, the constant 1. With ``learn``
    each value first updates its column's count, mean and m2, and rows 3-5
    keep the old ones. A column reads 0 while its scale is unknown: fewer
    than two values, or sd <= 1e-9 (1 + |mean|). Returns False, before
    changing anything, when a value is infinite.
    """
    for p in range(raw.size):
        if math.isinf(raw[p]):
            return False
    for j in range(u.size):
        u[j] = 0.0
    u[0] = 1.0
    if learn:
        for r in range(3):
            for k in range(stats.shape[1]):
                stats[3 + r, k] = stats[r, k]
    for p in range(raw.size):
        v = raw[p]
        if v != v:
            continue
        k = cols[p]
        if learn:
            n = stats[0, k] + 1.0
            mu = stats[1, k]
            delta = v - mu
            mu = mu + delta / n
            stats[2, k] += delta * (v - mu)
            stats[1, k] = mu
            stats[0, k] = n
        else:
            n = stats[0, k]
            mu = stats[1, k]
        if n < 2.0:
            continue
        sd = math.sqrt(stats[2, k] / n)
        if sd > 1e-9 * (1.0 + abs(mu)):
            u[fixed + k] = (v - mu) / sd
    return True
