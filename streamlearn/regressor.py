"""RNNRegressor: an OnlineRNN as a River regressor."""

from __future__ import annotations

import numpy as np
from river import base

from .online_rnn import OnlineRNN
# _FeatureMap and _TargetScaler lived here: checkpoints written before
# river_base.py existed name them as streamlearn.regressor's, so they stay importable.
from .river_base import RNNLearner, _FeatureMap, _TargetScaler, _number, _sort_keys, _target  # noqa: F401

__all__ = ["RNNRegressor"]


class RNNRegressor(RNNLearner, base.MiniBatchRegressor):
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
        Learning rate of the decorrelating matrix; ``None`` takes the core's
        width-aware default (``streamlearn.defaults.default_lr_decorrelation``).
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
    noise
        ``"gaussian"`` (default, the paper's) or ``"rademacher"``: the
        perturbations of "np", "anp" and "wp" are N(0, sigma^2) draws or
        +-sigma signs with equal odds, which are much cheaper to draw (see
        :class:`streamlearn.OnlineRNN`); ``"bp"`` ignores it.
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
        lr_decorrelation: float | None = None,
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
        noise: str = "gaussian",
    ):
        super().__init__(
            n_hidden=n_hidden, method=method, decorrelation=decorrelation, lr=lr,
            lr_decorrelation=lr_decorrelation, sigma=sigma, optimizer=optimizer,
            activation=activation, seed=seed, dtype=dtype, noisy_reference=noisy_reference,
            adam_betas=adam_betas, adam_eps=adam_eps, scale_target=scale_target,
            scale_inputs=scale_inputs, on_invalid=on_invalid, on_divergence=on_divergence,
            max_weight=max_weight, noise=noise)
        self.bptt_window = bptt_window
        self.readout = readout
        self.rls_forgetting = rls_forgetting
        self.rls_alpha = rls_alpha

        # Built now so that a bad parameter fails here, not at the first sample;
        # it starts with the constant input only and grows one column per feature.
        self.network = OnlineRNN(1, n_hidden, 1, **self._network_kwargs(
            bptt_window=bptt_window, readout=readout, rls_forgetting=rls_forgetting,
            rls_alpha=rls_alpha,
            # the constant input column (0) is the read-out's bias through the skip
            skip=None, bias=False if str(readout).lower() == "rls" else None))
        self._init_maps()

    def __setstate__(self, state):
        super().__setstate__(state)
        if "readout" not in state:  # saved before the least-squares read-out existed
            self.readout, self.rls_forgetting, self.rls_alpha = "perturbation", 0.9995, 1e-2

    @classmethod
    def _unit_test_params(cls):
        for method in ("anp", "np", "wp", "bp"):
            for decorrelation in (False, True):
                yield {"n_hidden": 12, "method": method, "decorrelation": decorrelation}
        for method in ("anp", "wp"):
            yield {"n_hidden": 12, "method": method, "decorrelation": True, "noise": "rademacher"}

    # -- one sample at a time ------------------------------------------------------

    def _columns(self, new):
        if new:
            self._features.add(new)
            self.network.add_inputs(len(new))

    def learn_one(self, x, y):
        """Advance the hidden state one step on ``x`` and learn from ``y``."""
        scaler, features, net = self._target, self._features, self.network
        packed = net._packed
        if (type(y) is float and y - y == 0.0 and type(x) is dict
                and (packed is None or packed[2] is not None)):
            sample = features.raw(x)
            if sample is not None:  # the common sample: one kernel call
                before = scaler.n, scaler.mean, scaler.m2
                z = scaler.learn(y)
                try:
                    if net._learn_raw(features._stats, *sample, features.n_fixed, z):
                        return
                except (FloatingPointError, ValueError):  # refused: nothing learned
                    self._unlearn(before)
                    raise
                scaler.n, scaler.mean, scaler.m2 = before  # nothing changed: in general
        sample = self._parse(x, y, labelled=True)  # validate before changing anything
        if sample is None:
            return
        (values, new), y = sample
        self._columns(new)
        u = features.encode(values, net.dtype, learn=True)
        before = scaler.n, scaler.mean, scaler.m2
        z = scaler.learn(y)
        try:
            net._learn_scalar(u, z)
        except (FloatingPointError, ValueError):  # refused: nothing learned
            self._unlearn(before)
            raise

    def _unlearn(self, before):
        """Put the target's statistics (``before``) and the features' back after a
        refused step."""
        scaler = self._target
        scaler.n, scaler.mean, scaler.m2 = before
        self._features.undo()

    def predict_one(self, x):
        """The prediction if ``x`` were the next input; nothing changes."""
        features, net = self._features, self.network
        if type(x) is dict:
            sample = features.raw(x)
            if sample is not None:
                out = net._predict_raw(features._stats, *sample, features.n_fixed)
                if out is not None:
                    return float(self._target.invert(out))
        values, _ = features.parse(x)
        u = features.encode(values, net.dtype)
        return float(self._target.invert(float(net._predict_vector(u)[0])))

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
