"""Quantities reported about a run."""

import numpy as np


def decorrelation_loss(XS):
    """Mean squared off-diagonal covariance of hidden states (the paper's Fig. 8).

    Parameters
    ----------
    XS : array, shape (T, n_hidden)
        Decorrelated hidden states xs_t, one row per step.

    Returns
    -------
    float
        The mean of the squared strictly-lower-triangular entries of the
        covariance matrix of the columns of ``XS``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(5000, 1))
    >>> correlated = np.hstack([z, z + 0.1 * rng.normal(size=(5000, 1))])
    >>> independent = rng.normal(size=(5000, 2))
    >>> decorrelation_loss(correlated) > 10 * decorrelation_loss(independent)
    True
    """
    XS = np.asarray(XS, dtype=np.float64)
    if XS.ndim != 2 or XS.shape[0] < 2 or XS.shape[1] < 2:
        raise ValueError(f"XS must have shape (T >= 2, n_hidden >= 2), got {XS.shape}")
    C = np.cov(XS, rowvar=False)
    lower = C[np.tril_indices_from(C, k=-1)]
    return float(np.mean(lower**2))
