"""What the River learners share: parameters, sample parsing, feature and target maps.

:class:`RNNLearner` is to :class:`~streamlearn.regressor.RNNRegressor` and
:class:`~streamlearn.forecaster.RNNForecaster` what River's
``linear_model.base.GLM`` is to its linear models: the constructor parameters
both take (the network's: ``n_hidden``, ``method``, ``lr``, ... and the
stream's: ``scale_target``, ``scale_inputs``, ``on_invalid``,
``on_divergence``, ``max_weight``), their validation, the keyword arguments of
the :class:`~streamlearn.OnlineRNN` built from them, the parsing of a sample
(``on_invalid``), and the maps from feature names to input columns
(:class:`_FeatureMap`, with online standardisation) and from targets to
standard units (:class:`_TargetScaler`).

Each learner keeps its own explicit ``__init__`` signature (River reads the
parameters from it, for ``clone`` and ``_get_params``) and passes the shared
ones to ``RNNLearner.__init__``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .checkpoint import Checkpointable
from .kernels.standardise import _standardise

__all__ = ["RNNLearner"]


def _sort_keys(keys):
    """A stable order for new feature names, whatever the dict order."""
    try:
        return sorted(keys)
    except TypeError:  # mixed key types: order by type name, then text
        return sorted(keys, key=lambda k: (type(k).__name__, repr(k)))


# ints of smaller magnitude convert to a finite float
_INT_FLOAT = 2**1023
_F64 = np.dtype(np.float64)


def _number(owner, name, value):
    """``value`` as a float, or None when it is missing (None or NaN).

    Booleans are numbers (0/1). Infinities and non-numbers are refused with an
    error that names the feature.
    """
    t = type(value)
    if t is float:  # the common case, without the ABC checks below
        if value - value == 0.0:  # finite
            return value
    elif t is int and -_INT_FLOAT < value < _INT_FLOAT:
        return float(value)
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if not isinstance(value, numbers.Real):
        raise TypeError(
            f"{owner}: feature {name!r} has the non-numeric value {value!r} "
            f"({type(value).__name__}); encode it as numbers first (for instance "
            "with preprocessing.OneHotEncoder) or leave it out of x")
    try:
        v = float(value)
    except OverflowError:
        v = math.inf if value > 0 else -math.inf
    if math.isnan(v):
        return None
    if math.isinf(v):
        raise ValueError(
            f"{owner}: feature {name!r} is {v}; only finite values can be learned "
            "from (leave the feature out, or pass NaN/None, to mark it missing)")
    return v


def _target(owner, y):
    t = type(y)
    if t is float:  # the common case, without the ABC checks below
        if y - y == 0.0:  # finite
            return y
    elif t is int and -_INT_FLOAT < y < _INT_FLOAT:
        return float(y)
    if isinstance(y, (bool, np.bool_)):
        return float(y)
    if not isinstance(y, numbers.Real):
        raise TypeError(f"{owner}: the target must be a number, got {y!r} ({type(y).__name__})")
    try:
        v = float(y)
    except OverflowError:  # an int beyond float range
        v = math.inf if y > 0 else -math.inf
    if not math.isfinite(v):
        raise ValueError(
            f"{owner}: the target is {v}; a missing label cannot be learned from "
            "(use advance_one(x) to move the state on a sample without a label)")
    return v


class _FeatureMap:
    """Feature name -> input column, learned on the fly, with online standardisation.

    Column 0 is a constant 1 (the network has no biases, so this input gives
    every hidden unit a learnable offset); the owner may reserve more leading
    columns (``n_fixed``) for inputs of its own. A feature takes the next free
    column the first time it carries a value; features that appear together
    are placed in sorted order, so the layout does not depend on dict order.

    With ``scale=True`` (default) every feature column keeps a running count,
    mean and sum of squared deviations (Welford) of the values it has carried
    in learned samples. ``encode(values, dtype, learn=True)`` updates them with
    the sample first and then returns ``(v - mean) / std``; ``learn=False``
    (prediction, unlabeled steps) reads them without updating. A missing
    feature reads 0, the running mean. So does a feature whose scale is not
    known yet: fewer than two learned values, or all of them equal up to
    rounding (a constant feature carries no information). Since the update
    comes first, a learned value is at most ``sqrt(n - 1)`` standard units
    from the mean of the ``n`` values so far. The ``n_fixed``
    leading columns are the owner's and are never scaled. ``vector`` is the
    raw, unscaled layout.
    """

    def __init__(self, owner, n_fixed=1, scale=True):
        self.owner = owner
        self.n_fixed = n_fixed  # leading columns the owner fills itself
        self.columns = {}
        self.scale = bool(scale)
        # per feature column (column n_fixed + k): count, mean, squared deviations,
        # then the same before the last learned sample (kernels.standardise)
        self._stats = np.zeros((6, 0))
        self._fast = None  # (x's keys in order, their feature indices), see learn_known

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "scale" not in state:
            # written before input scaling existed: its weights were learned from
            # raw features, so it carries on unscaled, exactly as it was
            self.scale = False
        stats = np.zeros((6, len(self.columns)))  # rows 3-5: scratch for undo
        if "_stats" in state:
            stats[:3] = state["_stats"]
        else:  # written when the statistics were Python lists (or before they existed)
            for r, name in enumerate(("count", "mean", "m2")):
                if name in state:
                    stats[r] = state[name]
                    del self.__dict__[name]
        self._stats = stats
        self._fast = None

    def __getstate__(self):
        state = {k: v for k, v in self.__dict__.items() if k != "_fast"}
        if "_stats" in state:
            state["_stats"] = self._stats[:3].copy()  # rows 3-5 are scratch
        return state

    @property
    def count(self):
        """Learned values per feature column (float64: exact up to 2**53)."""
        return self._stats[0]

    @property
    def mean(self):
        return self._stats[1]

    @property
    def m2(self):
        return self._stats[2]

    @property
    def n_inputs(self):
        return self.n_fixed + len(self.columns)

    def parse(self, x):
        """Validated values of ``x`` and the sorted names seen for the first time."""
        values = {}
        new = []
        columns, owner = self.columns, self.owner
        for name, value in x.items():
            if type(value) is float and value - value == 0.0:  # inlined _number: finite float
                v = value
            else:
                v = _number(owner, name, value)
                if v is None:
                    continue
            values[name] = v
            if name not in columns:
                new.append(name)
        return values, (_sort_keys(new) if new else new)

    def add(self, names):
        for name in names:
            self.columns[name] = self.n_fixed + len(self.columns)
        if names:
            self._stats = np.concatenate([self._stats, np.zeros((6, len(names)))], axis=1)
            self._fast = None

    def vector(self, values, dtype):
        """The raw input vector; names without a column (not learned yet) are left out."""
        u = np.zeros(self.n_inputs, dtype=dtype)
        u[0] = 1.0
        columns = self.columns
        for name, v in values.items():
            j = columns.get(name)
            if j is not None:
                u[j] = v
        return u

    # -- standardisation ---------------------------------------------------------
    # The kernel (kernels.standardise), the scalar Python reference in the tests
    # and the vectorised std() do the same IEEE operations in the same order, so
    # they agree bit for bit.

    def std(self):
        """Running standard deviations of the feature columns, as an array.

        0 where the scale is not known: fewer than two values, or all of them
        equal up to rounding.
        """
        count, mean = self._stats[0], self._stats[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(self._stats[2] / count)
        # fewer than two values, or a (nearly) constant feature: no scale to learn
        ok = (count >= 2) & (sd > 1e-9 * (1.0 + np.abs(mean)))
        return np.where(ok, sd, 0.0)

    def encode(self, values, dtype, learn=False, out=None):
        """The network's input vector for the parsed ``values`` (into ``out`` if given).

        Standardised when ``scale`` is on; with ``learn=True`` the running
        statistics are first updated with ``values``. Columns must have been
        added for new names first (``add``); names without a column are left out.
        """
        if not self.scale:
            return self.vector(values, dtype)
        if not values:  # e.g. a forecaster without features: only the constant
            u = np.zeros(self.n_inputs, dtype=dtype) if out is None else out
            u[:] = 0.0
            u[0] = 1.0
            return u
        columns, fixed = self.columns, self.n_fixed
        raw, cols = [], []
        for name, v in values.items():
            j = columns.get(name)
            if j is not None:
                raw.append(v)
                cols.append(j - fixed)
        u = np.empty(self.n_inputs, dtype=dtype) if out is None else out
        _standardise(self._stats, np.array(raw, dtype=np.float64),
                     np.array(cols, dtype=np.int64), u, fixed, learn)
        return u

    def raw(self, x):
        """``(values, feature indices)`` of ``x`` as arrays, for ``kernels.standardise``,
        when the sample is the common one: every key of ``x`` a feature with a
        column, every value a float or an int (NaN: missing; inf is left to the
        kernel, which refuses it). None for any other sample, which the
        general path (``parse``, ``encode``) then handles."""
        fast = self._fast
        keys = tuple(x)
        if fast is None or fast[0] != keys:
            columns, fixed = self.columns, self.n_fixed
            if not self.scale or any(k not in columns for k in keys):
                return None
            fast = self._fast = (keys, np.array([columns[k] - fixed for k in keys], np.int64))
        try:
            raw = np.array(list(x.values()))
        except (TypeError, ValueError, OverflowError):
            return None
        if raw.dtype is not _F64 or raw.shape != fast[1].shape:
            return None  # ints only, text, None, objects: the general path decides
        return raw, fast[1]

    def undo(self):
        """Undo the statistics' last learned sample (a refused step)."""
        self._stats[:3] = self._stats[3:]

    def encode_rows(self, idx, M, dtype, learn=False):
        """Input rows for ``M`` (NaN = missing) whose columns are feature columns ``idx``.

        Row by row, equal to ``encode`` on each row (``learn=True`` updates the
        statistics row after row, as a sequence of ``encode`` calls would).
        """
        U = np.zeros((len(M), self.n_inputs), dtype=dtype)
        U[:, 0] = 1.0
        if not idx.size:
            return U
        cols = idx + self.n_fixed
        present = ~np.isnan(M)
        if not self.scale:
            U[:, cols] = np.where(present, M, 0.0)
        elif learn:
            idx = np.ascontiguousarray(idx, dtype=np.int64)
            M = np.ascontiguousarray(M, dtype=np.float64)
            for r in range(len(M)):
                _standardise(self._stats, M[r], idx, U[r], self.n_fixed, True)
        else:
            mean = self._stats[1][idx]
            sd = self.std()[idx]
            known = present & (sd > 0.0)
            U[:, cols] = np.where(known, (M - mean) / np.where(sd > 0.0, sd, 1.0), 0.0)
        return U

    def stats(self):
        """A copy of the running statistics (to undo a refused step)."""
        return self._stats[:3].copy()

    def restore(self, saved):
        k = saved.shape[1]  # columns added since keep their (empty) statistics
        self._stats[:3, :k] = saved
        self._stats[:3, k:] = 0.0

    def frame(self, X, dtype):
        """Columns of a DataFrame as a float matrix (NaN = missing), validated."""
        names = list(X.columns)
        M = np.empty((len(X), len(names)), dtype=np.float64)
        for j, name in enumerate(names):
            col = X[name]
            if col.dtype == bool or col.dtype.kind in "iuf":
                M[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
            else:  # object / nullable / anything else: value by value
                for i, value in enumerate(col.tolist()):
                    v = _number(self.owner, name, value)
                    M[i, j] = np.nan if v is None else v
            inf = np.isinf(M[:, j])
            if inf.any():
                i = int(np.argmax(inf))
                _number(self.owner, name, M[i, j])  # raises, naming the feature
        return names, M


class _TargetScaler:
    """Running mean and standard deviation (Welford) of the targets."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    @property
    def std(self):
        if self.n < 2:
            return 1.0
        sd = math.sqrt(self.m2 / self.n)
        # a (nearly) constant target has no scale to learn: keep unit scale
        return sd if sd > 1e-9 * (1.0 + abs(self.mean)) else 1.0

    def learn(self, y):
        """Update with ``y``; return ``y`` in the updated standard units."""
        if not self.enabled:
            return y
        self.n += 1
        delta = y - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (y - self.mean)
        return (y - self.mean) / self.std

    def invert(self, z):
        if not self.enabled:
            return z
        return self.mean + self.std * z


class RNNLearner(Checkpointable):
    """Base of the River learners: shared parameters, parsing, feature and target maps.

    Not a learner itself. A subclass calls ``RNNLearner.__init__`` with the
    shared parameters (documented on the learners), then
    :meth:`_init_maps`, and builds its network with
    ``OnlineRNN(n_inputs, n_hidden, n_outputs, **self._network_kwargs(...))``.
    """

    def __init__(self, *, n_hidden, method, decorrelation, lr, lr_decorrelation, sigma,
                 optimizer, activation, seed, dtype, noisy_reference, adam_betas, adam_eps,
                 scale_target, scale_inputs, on_invalid, on_divergence, max_weight,
                 noise="gaussian"):
        self.n_hidden = n_hidden
        self.method = method
        self.decorrelation = decorrelation
        self.lr = lr
        self.lr_decorrelation = lr_decorrelation
        self.sigma = sigma
        self.optimizer = optimizer
        self.activation = activation
        self.seed = seed
        self.dtype = dtype
        self.noisy_reference = noisy_reference
        self.adam_betas = adam_betas
        self.adam_eps = adam_eps
        self.scale_target = scale_target
        self.scale_inputs = scale_inputs
        if on_invalid not in ("raise", "skip"):
            raise ValueError(f"unknown on_invalid {on_invalid!r}; choose 'raise' or 'skip'")
        self.on_invalid = on_invalid
        self.on_divergence = on_divergence
        self.max_weight = max_weight
        self.noise = noise
        self.n_skipped = 0

    def _network_kwargs(self, **overrides):
        """``OnlineRNN`` keyword arguments from the shared parameters (the core
        validates them all); ``overrides`` replace or add to them."""
        kw = dict(method=self.method, decorrelation=self.decorrelation, lr=self.lr,
                  lr_decorrelation=self.lr_decorrelation, sigma=self.sigma,
                  optimizer=self.optimizer, activation=self.activation, seed=self.seed,
                  dtype=self.dtype, noisy_reference=self.noisy_reference,
                  adam_betas=self.adam_betas, adam_eps=self.adam_eps,
                  on_divergence=self.on_divergence, max_weight=self.max_weight,
                  noise=self.noise)
        kw.update(overrides)
        return kw

    def _init_maps(self, n_fixed=1):
        """The feature map (``n_fixed`` leading input columns are the learner's own)
        and the target scaler."""
        self._features = _FeatureMap(type(self).__name__, n_fixed=n_fixed,
                                     scale=bool(self.scale_inputs))
        self._target = _TargetScaler(bool(self.scale_target))

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "scale_inputs" not in state:  # saved before input scaling existed
            self.scale_inputs = False  # its features were never scaled; neither are they now
        if "noise" not in state:  # saved before the noise option: Gaussian, as it was
            self.noise = "gaussian"

    # -- a sample ------------------------------------------------------------------

    def _parse(self, x, y=None, labelled=False):
        """Validate a sample: ``((values, new names), target)``, or None when it is
        invalid and ``on_invalid="skip"`` (counted in ``n_skipped``). ``x=None``
        or empty: no features."""
        try:
            parsed = self._features.parse(x) if x else ({}, [])
            target = _target(type(self).__name__, y) if labelled else None
        except (TypeError, ValueError):
            if getattr(self, "on_invalid", "raise") == "skip":
                self.n_skipped = getattr(self, "n_skipped", 0) + 1
                return None
            raise
        return parsed, target

    # -- what the maps have learned ---------------------------------------------------

    @property
    def feature_columns(self):
        """Feature name -> input column of ``network.A``."""
        return dict(self._features.columns)

    def _feature_stat(self, values):
        fixed = self._features.n_fixed
        return {name: float(values[j - fixed]) for name, j in self._features.columns.items()}

    @property
    def feature_means(self):
        """Feature name -> running mean of its learned values (0 before any)."""
        return self._feature_stat(self._features.mean)

    @property
    def feature_stds(self):
        """Feature name -> running standard deviation (0 while its scale is unknown)."""
        return self._feature_stat(self._features.std())

    @property
    def target_mean(self):
        """Running mean of the targets (0 with ``scale_target=False``)."""
        return self._target.mean

    @property
    def target_std(self):
        """Running standard deviation of the targets (1 with ``scale_target=False``)."""
        return self._target.std
