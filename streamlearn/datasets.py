"""Data sets of the paper's experiments (Fernández, Keemink & van Gerven, 2024).

Every generator is seeded through :func:`numpy.random.default_rng`; the global
NumPy random state is never touched. All arrays are ``float64``, shaped
``(n_steps, n_features)`` so that they can be fed to
:meth:`streamlearn.OnlineRNN.learn_many` directly.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "mackey_glass_series",
    "mackey_glass",
]


def mackey_glass_series(n_samples, *, tau=17, substeps=10, washout=100, seed=None):
    """Generate a squashed, de-meaned Mackey-Glass time series.

    The delay differential equation

    .. math:: \\frac{dx}{dt} = 0.2 \\frac{x(t-\\tau)}{1 + x(t-\\tau)^{10}} - 0.1 x(t)

    is integrated with the explicit Euler method, ``substeps`` steps per sample
    (``dt = 1 / substeps``). The initial history (``tau`` time units) is drawn
    uniformly from ``[1.1, 1.3)``. Each sample ``x`` is squashed as
    ``tanh(x - 1)``, the first ``washout`` samples are dropped (they still carry
    the arbitrary initial history) and the mean of the kept samples is removed.

    Parameters
    ----------
    n_samples : int
        Number of samples returned (after the washout).
    tau : int, default 17
        Delay, in samples (time units). ``tau=17`` gives the classic chaotic regime.
    substeps : int, default 10
        Euler integration steps per sample.
    washout : int, default 100
        Leading samples discarded.
    seed : int, numpy.random.Generator or None
        Seed for the random initial history.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_samples,)``, dtype ``float64``, mean zero.

    Examples
    --------
    >>> s = mackey_glass_series(500, seed=0)
    >>> s.shape, s.dtype
    ((500,), dtype('float64'))
    >>> bool(abs(s.mean()) < 1e-12)
    True
    >>> bool(np.array_equal(s, mackey_glass_series(500, seed=0)))
    True
    """
    n_samples = int(n_samples)
    tau, substeps, washout = int(tau), int(substeps), int(washout)
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if tau < 1 or substeps < 1 or washout < 0:
        raise ValueError(
            f"need tau >= 1, substeps >= 1, washout >= 0; got tau={tau}, "
            f"substeps={substeps}, washout={washout}"
        )
    rng = np.random.default_rng(seed)
    history = 1.2 + 0.2 * (rng.random(tau * substeps + 1) - 0.5)
    samples = _integrate_mackey_glass(history, n_samples + washout, substeps)
    s = np.tanh(samples[washout:] - 1.0)
    return s - s.mean()


def _integrate_mackey_glass(history, n_samples, substeps):
    """Euler-integrate Mackey-Glass from ``history`` and return raw samples.

    ``history`` holds x(t) for t in [-tau, 0] on the integration grid
    (``tau * substeps + 1`` values, the last one is x(0)). Returns x(1), x(2), ...,
    x(n_samples): one value every ``substeps`` integration steps.
    """
    lag = len(history) - 1  # delay in integration steps
    dt = 1.0 / substeps
    n_steps = n_samples * substeps
    x = np.empty(lag + 1 + n_steps)
    x[: lag + 1] = history
    # A plain Python loop: the recursion is sequential and ~50k steps take a few
    # tens of milliseconds, not worth a compiled kernel.
    for k in range(lag, lag + n_steps):
        delayed = x[k - lag]
        x[k + 1] = x[k] + dt * (0.2 * delayed / (1.0 + delayed**10) - 0.1 * x[k])
    return x[lag + substeps :: substeps][:n_samples].copy()


def mackey_glass(n_steps=5000, *, horizon=15, tau=17, substeps=10, washout=100, seed=None):
    """Mackey-Glass prediction task: predict the series ``horizon`` samples ahead.

    Parameters
    ----------
    n_steps : int, default 5000
        Length of the returned sequence.
    horizon : int, default 15
        How many samples ahead the target lies.
    tau, substeps, washout, seed
        Passed to :func:`mackey_glass_series`, which generates
        ``n_steps + horizon`` samples (de-meaned over all of them).

    Returns
    -------
    U : numpy.ndarray
        Shape ``(n_steps, 1)``: ``s_t``.
    Y : numpy.ndarray
        Shape ``(n_steps, 1)``: ``s_{t + horizon}``.

    Notes
    -----
    The paper generates the training and test sequences separately; use two
    different seeds for that.

    Examples
    --------
    >>> U, Y = mackey_glass(200, horizon=15, seed=1)
    >>> U.shape, Y.shape
    ((200, 1), (200, 1))
    >>> bool(np.array_equal(U[15:], Y[:-15]))
    True
    """
    n_steps, horizon = int(n_steps), int(horizon)
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    if horizon < 0:
        raise ValueError(f"horizon must be >= 0, got {horizon}")
    s = mackey_glass_series(
        n_steps + horizon, tau=tau, substeps=substeps, washout=washout, seed=seed
    )
    U = s[:n_steps].reshape(-1, 1).copy()
    Y = s[horizon : horizon + n_steps].reshape(-1, 1).copy()
    return U, Y
