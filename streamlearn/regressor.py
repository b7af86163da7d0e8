"""RNNRegressor: an OnlineRNN as a River regressor."""

from __future__ import annotations

import math
import numbers

import numpy as np
from river import base

from .checkpoint import Checkpointable
from .online_rnn import OnlineRNN

__all__ = ["RNNRegressor"]


def _sort_keys(keys):
    """A stable order for new feature names, whatever the dict order."""
    try:
        return sorted(keys)
    except TypeError:  # mixed key types: order by type name, then text
        return sorted(keys, key=lambda k: (type(k).__name__, repr(k)))


def _number(owner, name, value):
    """``value`` as a float, or None when it is missing (None or NaN).

    Booleans are numbers (0/1). Infinities and non-numbers are refused with an
    error that names the feature.
    """
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if not isinstance(value, numbers.Real):
        raise TypeError(
            f"{owner}: feature {name!r} has the non-numeric value {value!r} "
            f"({type(value).__name__}); encode it as numbers first (for instance "
            "with preprocessing.OneHotEncoder) or leave it out of x")
    v = float(value)
    if math.isnan(v):
        return None
    if math.isinf(v):
        raise ValueError(
            f"{owner}: feature {name!r} is {v}; only finite values can be learned "
            "from (leave the feature out, or pass NaN/None, to mark it missing)")
    return v


def _target(owner, y):
    if isinstance(y, (bool, np.bool_)):
        return float(y)
    if not isinstance(y, numbers.Real):
        raise TypeError(f"{owner}: the target must be a number, got {y!r} ({type(y).__name__})")
    v = float(y)
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
        # per feature column (column n_fixed + i): count, mean, squared deviations;
        # Python numbers, so that the one-sample path is plain scalar arithmetic
        self.count = []
        self.mean = []
        self.m2 = []

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "scale" not in state:
            # written before input scaling existed: its weights were learned from
            # raw features, so it carries on unscaled, exactly as it was
            self.scale = False
            k = len(self.columns)
            self.count, self.mean, self.m2 = [0] * k, [0.0] * k, [0.0] * k

    @property
    def n_inputs(self):
        return self.n_fixed + len(self.columns)

    def parse(self, x):
        """Validated values of ``x`` and the sorted names seen for the first time."""
        values = {}
        new = []
        for name, value in x.items():
            v = _number(self.owner, name, value)
            if v is None:
                continue
            values[name] = v
            if name not in self.columns:
                new.append(name)
        return values, _sort_keys(new)

    def add(self, names):
        for name in names:
            self.columns[name] = self.n_fixed + len(self.columns)
            self.count.append(0)
            self.mean.append(0.0)
            self.m2.append(0.0)

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
    # The scalar path (_learn, _z) and the vectorised one (std, encode_rows without
    # learning) do the same IEEE operations in the same order, so they agree bit
    # for bit.

    def _sd(self, i):
        n = self.count[i]
        if n < 2:
            return 0.0
        sd = math.sqrt(self.m2[i] / n)
        return sd if sd > 1e-9 * (1.0 + abs(self.mean[i])) else 0.0

    def _learn(self, i, v):
        """Welford update of feature column ``i`` with the value ``v``."""
        n = self.count[i] + 1
        mean = self.mean[i]
        delta = v - mean
        mean = mean + delta / n
        self.m2[i] += delta * (v - mean)
        self.mean[i] = mean
        self.count[i] = n

    def _z(self, i, v):
        sd = self._sd(i)
        return (v - self.mean[i]) / sd if sd > 0.0 else 0.0

    def std(self):
        """Running standard deviations of the feature columns, as an array.

        0 where the scale is not known: fewer than two values, or all of them
        equal up to rounding.
        """
        count = np.array(self.count, dtype=np.int64)
        mean = np.array(self.mean, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(np.array(self.m2, dtype=np.float64) / count)
        # fewer than two values, or a (nearly) constant feature: no scale to learn
        ok = (count >= 2) & (sd > 1e-9 * (1.0 + np.abs(mean)))
        return np.where(ok, sd, 0.0)

    def encode(self, values, dtype, learn=False):
        """The network's input vector for the parsed ``values``.

        Standardised when ``scale`` is on; with ``learn=True`` the running
        statistics are first updated with ``values``. Columns must have been
        added for new names first (``add``); names without a column are left out.
        """
        if not self.scale:
            return self.vector(values, dtype)
        u = np.zeros(self.n_inputs, dtype=dtype)
        u[0] = 1.0
        columns, fixed = self.columns, self.n_fixed
        for name, v in values.items():
            j = columns.get(name)
            if j is not None:
                if learn:
                    self._learn(j - fixed, v)
                u[j] = self._z(j - fixed, v)
        return u

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
            Z = np.zeros(M.shape)
            features = idx.tolist()
            for r, row in enumerate(M.tolist()):
                for k, (i, v) in enumerate(zip(features, row)):
                    if v == v:  # not NaN
                        self._learn(i, v)
                        Z[r, k] = self._z(i, v)
            U[:, cols] = Z
        else:
            mean = np.array(self.mean, dtype=np.float64)[idx]
            sd = self.std()[idx]
            known = present & (sd > 0.0)
            U[:, cols] = np.where(known, (M - mean) / np.where(sd > 0.0, sd, 1.0), 0.0)
        return U

    def stats(self):
        """A copy of the running statistics (to undo a refused step)."""
        return list(self.count), list(self.mean), list(self.m2)

    def restore(self, saved):
        count, mean, m2 = saved
        k = len(count)  # columns added since keep their (empty) statistics
        extra = len(self.count) - k
        self.count = list(count) + [0] * extra
        self.mean = list(mean) + [0.0] * extra
        self.m2 = list(m2) + [0.0] * extra

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


class RNNRegressor(base.MiniBatchRegressor, Checkpointable):
    """Recurrent network trained online by random perturbations, as a River regressor.

    A one-hidden-layer RNN (:class:`streamlearn.OnlineRNN`) learns from every
    sample as it arrives with activity-based node perturbation (``"anp"``),
    node perturbation (``"np"``), weight perturbation (``"wp"``) or the exact
    gradient through the current step (``"bp"``), optionally with a learned
    decorrelation of the hidden state (Fernández, Keemink & van Gerven, 2024).

    The model is **stateful**: its hidden state carries the past samples of
    the stream, so the order of the samples matters.

    * ``predict_one(x)`` is pure: it returns the prediction the network would
      make if ``x`` were the next input, and changes nothing.
    * ``learn_one(x, y)`` advances the hidden state by one step on ``x`` and
      learns from ``y``.
    * ``advance_one(x)`` advances the hidden state on a sample that has no
      label, without learning (``advance_many`` for a frame of them).
    * ``learn_many(X, y)`` equals ``learn_one`` row after row;
      ``predict_many(X)`` equals ``predict_one`` on every row from the
      current state (the rows are alternatives, not a sequence).

    Features are read from the dict by name. A feature takes an input unit of
    its own the first time it carries a value (new weights, drawn from the
    model's random stream; features that appear together are placed in
    sorted order); a missing feature, ``None`` or NaN reads as 0; booleans
    are 0/1; a non-numeric value or an infinity raises an error that names
    the feature. ``predict_one`` ignores features that have no input unit yet.
    An extra constant input of 1 stands in for the biases the paper's network
    does not have.

    With ``scale_target=True`` (the default) the network learns the target
    in running standard units, ``(y - mean) / std`` with the mean and
    standard deviation of the targets seen so far (updated before each step),
    and its predictions are mapped back; raw targets of any scale and offset
    work without a target scaler. With ``scale_inputs=True`` (the default)
    every feature is standardised the same way, with its own running mean
    and standard deviation, updated with each learned sample before the
    network sees it (``predict_one`` and ``advance_one`` read the statistics
    without updating them). Raw features of any scale, such as a date
    counted in days (~7e5), work without a ``StandardScaler``; a missing
    feature reads 0, its running mean.

    Parameters
    ----------
    n_hidden
        Number of hidden units.
    method
        ``"anp"``, ``"np"``, ``"wp"`` or ``"bp"``.
    decorrelation
        Learn a decorrelating matrix on the hidden state (DANP, DNP, DWP, DBP).
    lr
        Learning rate; ``None`` takes the core's per-method, width-aware
        default (``streamlearn.defaults.default_lr``).
    lr_decorrelation
        Learning rate of the decorrelating matrix.
    sigma
        Standard deviation of the perturbations.
    optimizer
        ``"sgd"`` or ``"adam"``.
    activation
        ``"tanh"``, ``"relu"``, ``"identity"`` or ``"sign"`` (not with ``"bp"``).
    seed
        Seed of the model's own random stream (weights and noise); ``None``
        draws one from the operating system.
    dtype
        ``numpy.float64`` or ``numpy.float32``.
    bptt_window
        For ``"bp"``: how many steps back the gradient goes (1 = the paper's
        online baseline).
    noisy_reference
        For ``"anp"``: make the reference twin noisy too.
    adam_betas
        Adam's decay rates.
    adam_eps
        Adam's denominator constant.
    scale_target
        Learn the target in running standard units (see above).
    scale_inputs
        Standardise every feature online with its running mean and standard
        deviation (see above). A feature reads 0 until its scale is known
        (two different learned values); a constant feature always reads 0.
    on_invalid
        ``"raise"`` (default): a sample with an invalid value (a non-numeric
        or infinite feature, a missing or non-finite target) raises an error
        naming it. ``"skip"``: such a sample is ignored and counted in
        ``n_skipped``. Either way the model is left as it was.
    on_divergence
        What a step refused by the network's divergence guard does:
        ``"raise"`` (``streamlearn.DivergenceError``), ``"rollback"`` or
        ``"reset"``; see :class:`streamlearn.OnlineRNN` and
        docs/reliability.md. A refused step leaves the weights, states and
        target statistics as they were (a feature seen for the first time
        keeps its new input column).
    max_weight
        The guard's bound on the magnitude of any weight.
    readout
        ``"perturbation"`` (the paper's read-out, learned by ``method``) or
        ``"rls"``: recursive least squares with forgetting on the hidden state
        and, through a skip connection, the (scaled) features themselves; the
        hidden layer keeps learning by ``method`` (docs/algorithms.md,
        "Least-squares read-out").
    rls_forgetting, rls_alpha
        The least-squares read-out's forgetting factor and its start
        ``P = I / rls_alpha``.

    Attributes
    ----------
    network : streamlearn.OnlineRNN
        The network (weights ``A``, ``R``, ``B``, ``D`` and the hidden state).
    feature_columns : dict
        Feature name -> input column of ``network.A`` (column 0 is the constant).
    feature_means, feature_stds : dict
        Feature name -> running mean / standard deviation of its learned values
        (what ``scale_inputs`` standardises with; the std is 0 while unknown).

    Examples
    --------

    >>> from river import datasets, evaluate, metrics
    >>> from streamlearn.regressor import RNNRegressor

    >>> model = RNNRegressor(method="anp", seed=42)
    >>> evaluate.progressive_val_score(datasets.TrumpApproval(), model, metrics.MAE())
    MAE: 0.349074

    The features (polls near 40 and ``ordinal_date``, a day count near
    736,000) and the targets (approval ratings near 40) are used as they
    are: the learner standardises them internally.

    >>> round(model.target_mean, 2), round(model.feature_means["ordinal_date"])
    (40.75, 736889)

    The hidden state moves on with every ``learn_one``; ``predict_one`` only looks:

    >>> reg = RNNRegressor(n_hidden=8, seed=1)
    >>> reg.learn_one({"a": 0.5}, 40.0)
    >>> reg.predict_one({"a": 0.5}) == reg.predict_one({"a": 0.5})
    True
    >>> reg.advance_one({"a": 0.1})   # a sample without a label
    >>> sorted(reg.feature_columns)
    ['a']

    """

    def __init__(
        self,
        n_hidden: int = 100,
        method: str = "anp",
        decorrelation: bool = False,
        lr: float | None = None,
        lr_decorrelation: float = 1e-4,
        sigma: float = 1e-3,
        optimizer: str = "sgd",
        activation: str = "tanh",
        seed: int | None = None,
        dtype: type = np.float64,
        bptt_window: int = 1,
        noisy_reference: bool = False,
        adam_betas: tuple = (0.9, 0.999),
        adam_eps: float = 1e-8,
        scale_target: bool = True,
        scale_inputs: bool = True,
        on_invalid: str = "raise",
        on_divergence: str = "raise",
        max_weight: float = 1e3,
        readout: str = "perturbation",
        rls_forgetting: float = 0.9995,
        rls_alpha: float = 1e-2,
    ):
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
        self.bptt_window = bptt_window
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
        self.readout = readout
        self.rls_forgetting = rls_forgetting
        self.rls_alpha = rls_alpha
        self.n_skipped = 0

        # Built now so that a bad parameter fails here, not at the first sample;
        # it starts with the constant input only and grows one column per feature.
        self.network = OnlineRNN(
            1, n_hidden, 1, method=method, decorrelation=decorrelation, lr=lr,
            lr_decorrelation=lr_decorrelation, sigma=sigma, optimizer=optimizer,
            activation=activation, seed=seed, dtype=dtype, bptt_window=bptt_window,
            noisy_reference=noisy_reference, adam_betas=adam_betas, adam_eps=adam_eps,
            on_divergence=on_divergence, max_weight=max_weight, readout=readout,
            rls_forgetting=rls_forgetting, rls_alpha=rls_alpha,
            # the constant input column (0) is the read-out's bias through the skip
            skip=None, bias=False if str(readout).lower() == "rls" else None)
        self._features = _FeatureMap(type(self).__name__, scale=bool(scale_inputs))
        self._target = _TargetScaler(bool(scale_target))

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "scale_inputs" not in state:  # saved before input scaling existed
            self.scale_inputs = False  # its features were never scaled; neither are they now
        if "readout" not in state:  # saved before the least-squares read-out existed
            self.readout, self.rls_forgetting, self.rls_alpha = "perturbation", 0.9995, 1e-2

    @classmethod
    def _unit_test_params(cls):
        for method in ("anp", "np", "wp", "bp"):
            for decorrelation in (False, True):
                yield {"n_hidden": 12, "method": method, "decorrelation": decorrelation}

    @property
    def feature_columns(self):
        """Feature name -> input column of ``network.A`` (column 0 is the constant 1)."""
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

    # -- one sample at a time ------------------------------------------------------

    def _columns(self, new):
        if new:
            self._features.add(new)
            self.network.add_inputs(len(new))

    def _parse(self, x, y=None, labelled=False):
        """Validate a sample; None when it is invalid and the policy skips it."""
        try:
            parsed = self._features.parse(x)
            target = _target(type(self).__name__, y) if labelled else None
        except (TypeError, ValueError):
            if getattr(self, "on_invalid", "raise") == "skip":
                self.n_skipped = getattr(self, "n_skipped", 0) + 1
                return None
            raise
        return parsed, target

    def learn_one(self, x, y):
        """Advance the hidden state one step on ``x`` and learn from ``y``."""
        sample = self._parse(x, y, labelled=True)  # validate before changing anything
        if sample is None:
            return
        (values, new), target = sample
        self._columns(new)
        scaler, features = self._target, self._features
        before = (scaler.n, scaler.mean, scaler.m2), features.stats()
        z = scaler.learn(target)
        u = features.encode(values, self.network.dtype, learn=True)
        try:
            self.network.learn_one(u, np.array([z], dtype=self.network.dtype))
        except FloatingPointError:  # refused by the divergence guard: nothing learned
            (scaler.n, scaler.mean, scaler.m2), stats = before
            features.restore(stats)
            raise

    def predict_one(self, x):
        """The prediction if ``x`` were the next input; nothing changes."""
        values, _ = self._features.parse(x)
        u = self._features.encode(values, self.network.dtype)
        return float(self._target.invert(float(self.network.predict_one(u)[0])))

    def advance_one(self, x):
        """Advance the hidden state one step on ``x`` without learning.

        For samples that carry no label. No weight changes, except that a
        feature seen for the first time gets its input weights. Returns None.
        """
        sample = self._parse(x)
        if sample is not None:
            values, new = sample[0]
            self._columns(new)
            self.network.advance_one(self._features.encode(values, self.network.dtype))

    def reset_state(self):
        """Forget the hidden state (e.g. between independent sequences); weights stay."""
        self.network.reset_state()

    # -- mini-batches ----------------------------------------------------------------

    def _known(self, names, M):
        """The frame's columns that have input columns: (feature indices, values)."""
        fixed, known = self._features.n_fixed, self._features.columns
        js = [j for j, name in enumerate(names) if name in known]
        idx = np.array([known[names[j]] - fixed for j in js], dtype=np.int64)
        return idx, M[:, js]

    def _segments(self, names, M, learn=False):
        """Split a frame where features first carry a value, as learn_one would.

        Yields ``(start, stop, U)``: rows ``start:stop`` as input vectors, after
        the features first seen at row ``start`` have been given their columns
        (with ``learn``, the input statistics are updated row by row).
        """
        present = ~np.isnan(M)
        known = self._features.columns
        first = {}
        for j, name in enumerate(names):
            if name not in known and present[:, j].any():
                first[name] = int(np.argmax(present[:, j]))
        starts = sorted(set(first.values()) | {0})
        bounds = starts + [len(M)]
        for a, b in zip(bounds[:-1], bounds[1:]):
            self._columns(_sort_keys([n for n, r in first.items() if r == a]))
            idx, V = self._known(names, M[a:b])
            yield a, b, self._features.encode_rows(idx, V, self.network.dtype, learn=learn)

    def learn_many(self, X, y):
        """``learn_one`` over the rows of ``X`` in order, with targets ``y``."""
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} values")
        if getattr(self, "on_invalid", "raise") == "skip":  # row by row, skipping bad rows
            for x, target in zip(X.to_dict("records"), y.tolist()):
                self.learn_one(x, target)
            return
        owner = type(self).__name__
        names, M = self._features.frame(X, np.float64)
        targets = [_target(owner, v) for v in y.tolist()]
        scaler, features = self._target, self._features
        before = (scaler.n, scaler.mean, scaler.m2)
        Z = np.array([scaler.learn(v) for v in targets], dtype=self.network.dtype)
        segments = self._segments(names, M, learn=True)
        while True:
            stats = features.stats()  # before this segment's rows are learned
            try:
                a, b, U = next(segments)
            except StopIteration:
                return
            try:
                self.network.learn_many(U, Z[a:b].reshape(-1, 1))
            except FloatingPointError as exc:  # the guard refused row a + step
                # leave everything as learn_one, row by row, would have left it
                scaler.n, scaler.mean, scaler.m2 = before
                for v in targets[:a + exc.step]:
                    scaler.learn(v)
                features.restore(stats)
                idx, V = self._known(names, M[a:a + exc.step])
                features.encode_rows(idx, V, self.network.dtype, learn=True)
                raise

    def advance_many(self, X):
        """``advance_one`` over the rows of ``X`` in order."""
        for _, _, U in self._segments(*self._features.frame(X, np.float64)):
            self.network.advance_many(U)

    def predict_many(self, X):
        """``predict_one`` for every row of ``X``, each from the current state."""
        import pandas as pd

        names, M = self._features.frame(X, np.float64)
        U = self._features.encode_rows(*self._known(names, M), self.network.dtype)
        out = [float(self._target.invert(float(self.network.predict_one(u)[0]))) for u in U]
        return pd.Series(out, index=X.index, dtype=float)
