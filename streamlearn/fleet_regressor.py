"""FleetRegressor: one recurrent network per stream, routed by a key field, as a River regressor."""

from __future__ import annotations

import numpy as np
from river import base

from .checkpoint import Checkpointable
from .fleet import Fleet, FleetDivergenceError, _check_key
from .river_base import _FeatureMap, _TargetScaler, _sort_keys, _target

__all__ = ["FleetRegressor"]


class FleetRegressor(Checkpointable, base.Regressor):
    """Many streams in one River regressor: ``x[key]`` says which stream a sample is from.

    Each stream has its own recurrent network (a member of a
    :class:`streamlearn.Fleet`: its own weights, hidden state and random
    stream), its own running standardisation of the features and of the
    target, and learns only from its own samples, in their order; a River
    evaluation loop over many interleaved series (``evaluate``,
    ``progressive_val_score``) then learns each series as if it were alone.
    Each stream's network equals, bit for bit, the ``OnlineRNN`` of
    ``fleet.seed_of(stream)`` fed that stream. ``learn_many`` learns a frame of
    interleaved rows in one jitted call over all its streams.

    The features are fixed when the first sample is learned (``features``
    names them up front): every other field of that sample but the key, in
    sorted order, plus a constant input. A field outside that set is ignored;
    a missing feature, None or NaN reads as its running mean (0 in standard
    units). A sample without the key field belongs to the stream ``""``.
    A stream joins with its first sample; until then its prediction is 0.

    Parameters
    ----------
    key
        The field of ``x`` that names the stream (a string, an integer or a
        tuple of them).
    features
        The feature names, or None to take them from the first learned sample.
    n_hidden, method, decorrelation, lr, sigma, optimizer, activation
        Every stream's network, as in :class:`streamlearn.OnlineRNN`.
    seed
        The fleet's seed (each stream's seed is derived from it and the order
        in which the streams joined); None draws one.
    scale_target, scale_inputs
        Standardise the target and the features online, per stream (see
        :class:`streamlearn.RNNRegressor`).
    on_invalid
        ``"raise"``: a non-numeric feature or target raises, naming it, before
        anything changes; ``"skip"``: such a sample is ignored and counted in
        ``n_skipped``.
    on_divergence
        Each stream's policy for a refused step (``"rollback"``, the default,
        ``"reset"`` or ``"raise"``), as in :class:`streamlearn.OnlineRNN`.
    threads
        Threads of ``learn_many`` (None: Numba's thread count).

    Examples
    --------
    Two sensors with their own daily cycles, interleaved in one stream of samples:

    >>> import math
    >>> from river import metrics
    >>> from streamlearn import FleetRegressor
    >>> model = FleetRegressor(key="sensor", n_hidden=16, seed=0)
    >>> mae = metrics.MAE()
    >>> for t in range(2000):
    ...     for sensor, phase in (("north", 0.0), ("south", 2.0)):
    ...         level = 10.0 * (sensor == "south")
    ...         x = {"sensor": sensor, "hour": t % 24}
    ...         y = level + math.sin(2 * math.pi * t / 24 + phase)
    ...         if t >= 1000:
    ...             mae.update(y, model.predict_one(x))
    ...         model.learn_one(x, y)
    >>> print(mae)
    MAE: 0.091059
    >>> sorted(model.streams)
    ['north', 'south']
    """

    _DEFAULT = ""

    def __init__(self, key: str = "key", features: list | None = None, n_hidden: int = 32,
                 method: str = "anp", decorrelation: bool = False, lr: float | None = None,
                 sigma: float = 1e-3, optimizer: str = "sgd", activation: str = "tanh",
                 seed: int | None = None, scale_target: bool = True, scale_inputs: bool = True,
                 on_invalid: str = "raise", on_divergence: str = "rollback",
                 threads: int | None = None):
        _check_key(key)
        self.key = key
        if features is not None:
            features = list(features)
            if key in features:
                raise ValueError(f"the key field {key!r} cannot also be a feature")
        self.features = features
        self.n_hidden = n_hidden
        self.method = method
        self.decorrelation = decorrelation
        self.lr = lr
        self.sigma = sigma
        self.optimizer = optimizer
        self.activation = activation
        self.seed = seed
        self.scale_target = scale_target
        self.scale_inputs = scale_inputs
        if on_invalid not in ("raise", "skip"):
            raise ValueError(f"unknown on_invalid {on_invalid!r}; choose 'raise' or 'skip'")
        self.on_invalid = on_invalid
        self.on_divergence = on_divergence
        self.threads = threads
        self.n_skipped = 0
        self._maps = {}   # stream -> (_FeatureMap, _TargetScaler)
        self._fleet = None
        # built now with the constant input alone, so that a bad setting fails here
        self._build(features or [])
        if features is None:
            self._fleet = None

    @classmethod
    def _unit_test_params(cls):
        yield {"n_hidden": 8, "method": "anp", "decorrelation": True}
        yield {"n_hidden": 8, "method": "np", "optimizer": "adam"}

    def _build(self, names):
        self._names = _sort_keys(list(names))
        self._fleet = Fleet(1 + len(self._names), self.n_hidden, 1, seed=self.seed,
                            threads=self.threads, method=self.method,
                            decorrelation=self.decorrelation, lr=self.lr, sigma=self.sigma,
                            optimizer=self.optimizer, activation=self.activation,
                            on_divergence=self.on_divergence)

    @property
    def fleet(self):
        """The :class:`streamlearn.Fleet` of the streams' networks (None before the
        first sample when ``features`` is None)."""
        return self._fleet

    @property
    def streams(self):
        """The streams seen so far, in the order they joined."""
        return list(self._maps)

    # -- a sample ------------------------------------------------------------------

    def _stream(self, x):
        stream = x.get(self.key, self._DEFAULT)
        _check_key(stream)
        return stream

    def _maps_of(self, stream):
        maps = self._maps.get(stream)
        if maps is None:
            features = _FeatureMap(type(self).__name__, n_fixed=1, scale=bool(self.scale_inputs))
            features.add(self._names)
            maps = (features, _TargetScaler(bool(self.scale_target)))
        return maps

    def _parse(self, x, y):
        """(stream, parsed values, target), or None for a skipped invalid sample."""
        try:
            stream = self._stream(x)
            fields = {k: v for k, v in x.items() if k != self.key}
            # parsing validates and reads the values; it needs no stream's statistics
            values, _ = _FeatureMap(type(self).__name__).parse(fields)
            names = [k for k, v in fields.items() if v is not None] if self._fleet is None else None
            target = _target(type(self).__name__, y) if y is not None else None
        except (TypeError, ValueError):
            if self.on_invalid == "skip":
                self.n_skipped += 1
                return None
            raise
        if names is not None:
            self._build(names)
        return stream, values, target

    def learn_one(self, x, y):
        """Learn ``y`` for the stream ``x[key]``, advancing that stream's state."""
        sample = self._parse(x, y)
        if sample is None:
            return
        stream, values, target = sample
        features, scaler = self._maps_of(stream)
        dtype = self._fleet.dtype
        before = (scaler.n, scaler.mean, scaler.m2), features.stats()
        z = scaler.learn(target)
        u = features.encode(values, dtype, learn=True)
        try:
            self._fleet.learn_one(stream, u, np.array([z], dtype))
        except FleetDivergenceError:  # refused: nothing of the sample is learned
            (scaler.n, scaler.mean, scaler.m2), stats = before
            features.restore(stats)
            raise
        self._maps[stream] = (features, scaler)

    def predict_one(self, x):
        """The prediction for ``x``'s stream if ``x`` were its next input; nothing changes."""
        stream = self._stream(x)
        if stream not in self._maps:
            return 0.0
        features, scaler = self._maps[stream]
        values, _ = features.parse({k: v for k, v in x.items() if k != self.key})
        u = features.encode(values, self._fleet.dtype)
        return float(scaler.invert(float(self._fleet[stream].predict_one(u)[0])))

    def learn_many(self, X, y):
        """``learn_one`` over the rows of a DataFrame ``X`` in order: each stream's
        rows become its ticks, and all streams learn in one fleet call."""
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} values")
        if self.on_divergence == "raise" or self.on_invalid == "skip" or self._fleet is None:
            for x, target in zip(X.to_dict("records"), y.tolist()):
                self.learn_one(x, target)
            return
        rows = X.to_dict("records")
        targets = y.tolist()
        parsed = [self._parse(x, t) for x, t in zip(rows, targets)]  # validates all first
        order, ticks, cols = {}, [], []
        for stream, _, _ in parsed:
            j = order.setdefault(stream, len(order))
            cols.append(j)
        count = np.zeros(len(order), np.int64)
        for j in cols:
            ticks.append(count[j])
            count[j] += 1
        T, n = int(count.max(initial=0)), len(order)
        if T == 0:
            return
        dtype = self._fleet.dtype
        U = np.zeros((T, n, self._fleet.n_inputs), dtype)
        Z = np.zeros((T, n, 1), dtype)
        present = np.zeros((T, n), bool)
        maps = {s: self._maps_of(s) for s in order}
        for (stream, values, target), t, j in zip(parsed, ticks, cols):
            features, scaler = maps[stream]
            Z[t, j, 0] = scaler.learn(target)
            U[t, j] = features.encode(values, dtype, learn=True)
            present[t, j] = True
        self._maps.update(maps)
        self._fleet.learn_many(list(order), U, Z, present)

    # -- checkpoints ---------------------------------------------------------------

    def __getstate__(self):
        return dict(self.__dict__)

    def __setstate__(self, state):
        self.__dict__.update(state)
