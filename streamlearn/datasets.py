"""Data sets of the paper's experiments (Fernández, Keemink & van Gerven, 2024).

Every generator is seeded through :func:`numpy.random.default_rng`; the global
NumPy random state is never touched. All arrays are ``float64``, shaped
``(n_steps, n_features)`` so that they can be fed to
:meth:`streamlearn.OnlineRNN.learn_many` directly.
"""

from __future__ import annotations

import csv
import os
import pathlib
from typing import NamedTuple

import numpy as np

__all__ = [
    "mackey_glass_series",
    "mackey_glass",
    "copy_memory",
    "WeatherData",
    "weather",
    "fetch_weather",
    "data_dir",
    "WEATHER_URL",
    "WEATHER_SHA256",
    "DATA_DIR_ENV",
    "WEATHER_COLUMNS",
    "WEATHER_DROPPED",
    "WEATHER_TARGET",
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


PAIRINGS = ("forecast", "recall")


def mackey_glass(n_steps=5000, *, horizon=15, tau=17, substeps=10, washout=100, seed=None,
                 pairing="forecast"):
    """Mackey-Glass task: forecast the series ``horizon`` samples ahead, or recall it.

    Parameters
    ----------
    n_steps : int, default 5000
        Length of the returned sequence.
    horizon : int, default 15
        How many samples apart input and target lie.
    tau, substeps, washout, seed
        Passed to :func:`mackey_glass_series`, which generates
        ``n_steps + horizon`` samples (de-meaned over all of them).
    pairing : {"forecast", "recall"}
        ``"forecast"`` (the paper's text): the input at step t is ``s_t`` and
        the target ``s_{t + horizon}``. ``"recall"`` (the authors' released
        code, ``datasets.py: generate_mackey_glass_data``, ``Y = X[:-15]; X =
        X[15:]``): the input is ``s_{t + horizon}`` and the target ``s_t``,
        the value ``horizon`` steps back (docs/datasets.md).

    Returns
    -------
    U : numpy.ndarray
        Shape ``(n_steps, 1)``: ``s_t`` (forecast) or ``s_{t + horizon}`` (recall).
    Y : numpy.ndarray
        Shape ``(n_steps, 1)``: ``s_{t + horizon}`` (forecast) or ``s_t`` (recall).

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
    >>> Ur, Yr = mackey_glass(200, horizon=15, seed=1, pairing="recall")
    >>> bool(np.array_equal(Ur, Y) and np.array_equal(Yr, U))
    True
    """
    n_steps, horizon = int(n_steps), int(horizon)
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    if horizon < 0:
        raise ValueError(f"horizon must be >= 0, got {horizon}")
    if pairing not in PAIRINGS:
        raise ValueError(f"unknown pairing {pairing!r}; choose one of {list(PAIRINGS)}")
    s = mackey_glass_series(
        n_steps + horizon, tau=tau, substeps=substeps, washout=washout, seed=seed
    )
    U = s[:n_steps].reshape(-1, 1).copy()
    Y = s[horizon : horizon + n_steps].reshape(-1, 1).copy()
    return (U, Y) if pairing == "forecast" else (Y, U)


def copy_memory(
    n_sequences=1,
    *,
    n_symbols=100,
    delay=10,
    n_values=8,
    seed=None,
    return_mask=False,
):
    """Copying-memory task: reproduce a random symbol sequence after a delay.

    Each sequence has ``L = n_symbols + delay + n_symbols`` steps, one-hot coded in
    ``n_values + 2`` dimensions (10 for the paper's setup, so ``L = 210``):

    ============================  ===========================  ========================
    phase (steps)                 input                        target
    ============================  ===========================  ========================
    present, ``n_symbols``        a random symbol ``v``        blank
    delay, ``delay``              delay marker (blank)         blank
    recall, ``n_symbols``         recall marker                the presented symbols
    ============================  ===========================  ========================

    Symbols ``0 .. n_values - 1`` occupy the first ``n_values`` dimensions, the
    delay marker is dimension ``n_values`` and the recall marker dimension
    ``n_values + 1``. The *blank* target is the delay-marker class: outside the
    recall phase the network must output ``e_{n_values}``, as in Arjovsky et al.
    (2016) where the "blank" category is both the filler input and the target
    before recall. Targets are never all-zero, so the MSE over all steps is the
    paper's measure; use ``return_mask=True`` to score the recall phase alone.

    Sequences are drawn independently and concatenated into one stream.

    Parameters
    ----------
    n_sequences : int, default 1
        Number of independent sequences in the stream.
    n_symbols : int, default 100
        Length of the sequence to memorise (and to recall).
    delay : int, default 10
        Steps between the end of presentation and the start of recall.
    n_values : int, default 8
        Size of the symbol alphabet.
    seed : int, numpy.random.Generator or None
        Seed for the symbols.
    return_mask : bool, default False
        Also return the boolean recall-phase mask.

    Returns
    -------
    U : numpy.ndarray
        Shape ``(n_sequences * L, n_values + 2)``, one-hot inputs.
    Y : numpy.ndarray
        Same shape, one-hot targets.
    mask : numpy.ndarray, optional
        Shape ``(n_sequences * L,)``, ``True`` on recall steps. Only if
        ``return_mask``.

    Examples
    --------
    >>> U, Y, mask = copy_memory(2, n_symbols=5, delay=3, seed=0, return_mask=True)
    >>> U.shape, Y.shape, mask.shape
    ((26, 10), (26, 10), (26,))
    >>> bool(np.array_equal(Y[mask][:5], U[:5]))
    True
    >>> U[5:8].argmax(1).tolist(), U[8:13].argmax(1).tolist()
    ([8, 8, 8], [9, 9, 9, 9, 9])
    >>> Y[:8].argmax(1).tolist()
    [8, 8, 8, 8, 8, 8, 8, 8]
    """
    n_sequences, n_symbols = int(n_sequences), int(n_symbols)
    delay, n_values = int(delay), int(n_values)
    if n_sequences < 1 or n_symbols < 1 or delay < 0 or n_values < 1:
        raise ValueError(
            "need n_sequences >= 1, n_symbols >= 1, delay >= 0, n_values >= 1; got "
            f"n_sequences={n_sequences}, n_symbols={n_symbols}, delay={delay}, "
            f"n_values={n_values}"
        )
    rng = np.random.default_rng(seed)
    blank, recall = n_values, n_values + 1
    length = 2 * n_symbols + delay
    symbols = rng.integers(0, n_values, size=(n_sequences, n_symbols))
    inputs = np.empty((n_sequences, length), dtype=np.int64)
    inputs[:, :n_symbols] = symbols
    inputs[:, n_symbols : n_symbols + delay] = blank
    inputs[:, n_symbols + delay :] = recall
    targets = np.full((n_sequences, length), blank, dtype=np.int64)
    targets[:, n_symbols + delay :] = symbols
    eye = np.eye(n_values + 2)
    U = eye[inputs.ravel()]
    Y = eye[targets.ravel()]
    if not return_mask:
        return U, Y
    mask = np.zeros((n_sequences, length), dtype=bool)
    mask[:, n_symbols + delay :] = True
    return U, Y, mask.ravel()


# --------------------------------------------------------------------------- weather
#: Columns of ``WTH.csv`` (Informer benchmark version of the NOAA hourly data).
WEATHER_COLUMNS = (
    "date",
    "Visibility",
    "DryBulbFarenheit",
    "DryBulbCelsius",
    "WetBulbFarenheit",
    "DewPointFarenheit",
    "DewPointCelsius",
    "RelativeHumidity",
    "WindSpeed",
    "WindDirection",
    "StationPressure",
    "Altimeter",
    "WetBulbCelsius",
)
#: Celsius duplicates of Fahrenheit columns, dropped as in the paper.
WEATHER_DROPPED = ("DryBulbCelsius", "DewPointCelsius", "WetBulbCelsius")
#: The predicted feature.
WEATHER_TARGET = "DryBulbFarenheit"
#: Where :func:`fetch_weather` downloads ``WTH.csv`` from: the paper authors'
#: public repository (github.com/jesusgf96/NP_RNNs, branch ``main``).
WEATHER_URL = "https://raw.githubusercontent.com/jesusgf96/NP_RNNs/main/data/WTH.csv"
#: SHA-256 of that file (2,109,091 bytes); a download that differs is refused.
WEATHER_SHA256 = "153fead3ea2a83dc5c4127d3994af6b167322f6f5e292c99491f43a2caf14cd4"
#: Environment variable that overrides the download folder.
DATA_DIR_ENV = "STREAMLEARN_DATA_DIR"


def data_dir():
    """The folder downloaded data sets are cached in.

    ``$STREAMLEARN_DATA_DIR`` when it is set, otherwise the user's cache
    folder for streamlearn (``pooch.os_cache("streamlearn")``: for instance
    ``~/.cache/streamlearn`` on Linux).
    """
    folder = os.environ.get(DATA_DIR_ENV)
    if folder:
        return pathlib.Path(folder).expanduser()
    import pooch

    return pathlib.Path(pooch.os_cache("streamlearn"))


def fetch_weather(*, url=None, sha256=None, folder=None):
    """Path of a local, verified ``WTH.csv``, downloaded once if needed.

    The file is cached as ``WTH.csv`` in ``folder`` (default :func:`data_dir`).
    A cached file whose SHA-256 matches is used without touching the network;
    otherwise it is downloaded with pooch from ``url`` and its hash checked
    before it is kept.

    Parameters
    ----------
    url : str, optional
        Where to download from; default :data:`WEATHER_URL`.
    sha256 : str, optional
        The expected SHA-256 of the file (hex); default :data:`WEATHER_SHA256`.
    folder : str or os.PathLike, optional
        The cache folder; default :func:`data_dir`.

    Returns
    -------
    pathlib.Path
        The cached file.

    Raises
    ------
    ConnectionError
        If the file is not cached and cannot be downloaded (no network, an
        HTTP error). The message says where to put the file by hand.
    ValueError
        If the downloaded file's SHA-256 is not ``sha256`` (nothing is kept).
    """
    import pooch

    url = WEATHER_URL if url is None else url
    sha256 = WEATHER_SHA256 if sha256 is None else sha256
    folder = pathlib.Path(data_dir() if folder is None else folder)
    target = folder / "WTH.csv"
    by_hand = (
        f"download {url} yourself and put it at {str(target)!r} (or set "
        f"{DATA_DIR_ENV} to the folder that holds WTH.csv, or pass its path: "
        f"weather('/path/to/WTH.csv', ...)); its SHA-256 must be {sha256}"
    )
    try:  # pooch logs the download, once
        path = pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname="WTH.csv",
                              path=folder, progressbar=False)
    except ValueError as exc:
        if "hash" not in str(exc).lower():
            raise
        raise ValueError(
            f"the WTH.csv downloaded from {url} is not the expected file: its SHA-256 "
            f"is not {sha256} ({exc}). Nothing was kept; {by_hand}") from None
    except Exception as exc:  # requests' errors, OSError: no network, HTTP status, ...
        raise ConnectionError(
            f"could not download WTH.csv from {url}: {type(exc).__name__}: {exc}. "
            f"Without network, {by_hand}") from None
    return pathlib.Path(path)


class WeatherData(NamedTuple):
    """Result of :func:`weather`.

    Attributes
    ----------
    U_train, Y_train : numpy.ndarray
        Training inputs ``(n_train - h, 9)`` and targets ``(n_train - h, 1)``.
    U_test, Y_test : numpy.ndarray
        Test inputs ``(n_rows - n_train - h, 9)`` and targets.
    feature_names : tuple of str
        Names of the 9 input columns, in order.
    data_min, data_max : numpy.ndarray
        Per-feature minimum and maximum over the training rows, shape ``(9,)``,
        used for the min-max normalisation. ``x = raw * (data_max - data_min) +
        data_min`` undoes it (for a constant column ``data_max == data_min``).
    target_index : int
        Index of the target feature in ``feature_names``.
    horizon_hours : int
        How far ahead the target lies.
    """

    U_train: np.ndarray
    Y_train: np.ndarray
    U_test: np.ndarray
    Y_test: np.ndarray
    feature_names: tuple
    data_min: np.ndarray
    data_max: np.ndarray
    target_index: int
    horizon_hours: int


def _read_weather_csv(path):
    """Read ``WTH.csv`` into (feature_names, float array) with precise errors."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"weather data file not found: {path!r} (expected the hourly WTH.csv with "
            f"columns {', '.join(WEATHER_COLUMNS)})"
        )
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise ValueError(f"{path}: the file is empty (expected a header row)")
    header = [name.strip() for name in rows[0]]
    missing = [c for c in WEATHER_COLUMNS if c not in header]
    extra = [c for c in header if c not in WEATHER_COLUMNS]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if missing or extra or duplicated:
        parts = []
        if missing:
            parts.append(f"missing column(s) {missing}")
        if extra:
            parts.append(f"unexpected column(s) {extra}")
        if duplicated:
            parts.append(f"duplicated column(s) {duplicated}")
        raise ValueError(
            f"{path}: bad header: {'; '.join(parts)}; expected exactly {list(WEATHER_COLUMNS)}"
        )
    names = [c for c in WEATHER_COLUMNS[1:] if c not in WEATHER_DROPPED]
    index = [header.index(c) for c in names]
    body = rows[1:]
    for i, row in enumerate(body):
        if len(row) != len(header):
            # line numbers are 1-based and count the header
            raise ValueError(
                f"{path}: line {i + 2} has {len(row)} fields, the header has {len(header)}"
            )
    cells = [[row[j] for j in index] for row in body]
    try:
        data = np.array(cells, dtype=np.float64).reshape(len(body), len(names))
    except ValueError:
        data = None
    if data is None or not np.all(np.isfinite(data)):
        # slow path only to name the offending cell
        for i, row in enumerate(cells):
            for name, cell in zip(names, row):
                try:
                    value = float(cell)
                except ValueError:
                    value = None
                if value is None or not np.isfinite(value):
                    raise ValueError(
                        f"{path}: line {i + 2}, column {name!r}: {cell!r} is not a finite number"
                    ) from None
    return tuple(names), data


def weather(path=None, horizon_hours=24, *, n_train=33600):
    """Hourly weather prediction task (NOAA local climatological data, 2010-2013).

    Reads ``WTH.csv`` (from ``path``, or, without one, downloaded once and
    cached by :func:`fetch_weather`) (a ``date`` column and 12 numeric columns, see
    :data:`WEATHER_COLUMNS`), drops the three Celsius duplicates
    (:data:`WEATHER_DROPPED`), keeping 9 input features, and predicts the
    normalised ``DryBulbFarenheit`` ``horizon_hours`` rows (hours) ahead. The first
    ``n_train`` rows form the training sequence and the remaining rows the test
    sequence; each split loses its last ``horizon_hours`` inputs, whose targets
    would lie beyond it.

    Every feature is min-max normalised with the minimum and maximum of the
    *training rows only*, so no test statistics leak into training; training
    values lie in [0, 1] and test values may fall slightly outside. (The authors'
    code normalised with the whole file; over 2010-2013 the two agree closely.)
    A column constant over the training rows is mapped to 0.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Location of ``WTH.csv``. ``None`` (default): the cached download of
        :func:`fetch_weather` (from :data:`WEATHER_URL`, verified against
        :data:`WEATHER_SHA256`, kept in :func:`data_dir`).
    horizon_hours : int, default 24
        Prediction horizon in hours (the paper uses 1, 24 and 48); >= 1.
    n_train : int, default 33600
        Number of leading rows used for training (about 28 months).

    Returns
    -------
    WeatherData
        Named tuple ``(U_train, Y_train, U_test, Y_test, feature_names,
        data_min, data_max, target_index, horizon_hours)``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (the message names the path).
    ConnectionError
        Without ``path``, if the file is not cached and cannot be downloaded
        (the message says where to put it).
    ValueError
        If the header has missing, extra or duplicated columns, a row has the
        wrong number of fields, a cell is not a finite number (the message names
        the line and column), or either split has no more than ``horizon_hours``
        rows.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> rows = [",".join(WEATHER_COLUMNS)] + [
    ...     f"1/1/2010 {h}:00," + ",".join(str(h + k) for k in range(12)) for h in range(10)]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = pathlib.Path(d) / "WTH.csv"
    ...     _ = f.write_text("\\n".join(rows))
    ...     data = weather(f, 2, n_train=6)
    >>> data.U_train.shape, data.Y_train.shape, data.U_test.shape, data.Y_test.shape
    ((4, 9), (4, 1), (2, 9), (2, 1))
    >>> len(data.feature_names), data.feature_names[data.target_index]
    (9, 'DryBulbFarenheit')
    >>> float(data.U_train.min()), float(data.U_train.max())  # rows 0-3 of 0-5
    (0.0, 0.6)
    """
    if isinstance(horizon_hours, bool) or int(horizon_hours) != horizon_hours:
        raise ValueError(f"horizon_hours must be an integer, got {horizon_hours!r}")
    horizon = int(horizon_hours)
    n_train = int(n_train)
    if horizon < 1:
        raise ValueError(f"horizon_hours must be >= 1, got {horizon}")
    if path is None:
        path = fetch_weather()
    names, raw = _read_weather_csv(path)
    n_rows = raw.shape[0]
    n_test = n_rows - n_train
    if n_train <= horizon or n_test <= horizon:
        raise ValueError(
            f"{os.fspath(path)}: {n_rows} data rows are too few for a split with "
            f"n_train={n_train} and horizon_hours={horizon}: both the training part "
            f"({n_train} rows) and the test part ({n_test} rows) need more than "
            f"{horizon} rows"
        )
    data_min = raw[:n_train].min(axis=0)
    data_max = raw[:n_train].max(axis=0)
    span = data_max - data_min
    # constant columns: avoid 0/0, map them to 0
    scaled = (raw - data_min) / np.where(span > 0, span, 1.0)
    target_index = names.index(WEATHER_TARGET)
    train, test = scaled[:n_train], scaled[n_train:]
    return WeatherData(
        U_train=train[:-horizon].copy(),
        Y_train=train[horizon:, target_index : target_index + 1].copy(),
        U_test=test[:-horizon].copy(),
        Y_test=test[horizon:, target_index : target_index + 1].copy(),
        feature_names=names,
        data_min=data_min,
        data_max=data_max,
        target_index=target_index,
        horizon_hours=horizon,
    )
