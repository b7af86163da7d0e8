"""ForecasterRouter: one River forecaster per series, routed by a key field of ``x``."""

from __future__ import annotations

from river.time_series.base import Forecaster

from .checkpoint import Checkpointable
from .fleet import Fleet, _check_key

__all__ = ["ForecasterRouter"]


class ForecasterRouter(Checkpointable, Forecaster):
    """Many series in one River forecaster: ``x[key]`` says which series a value is from.

    Each series gets its own copy of ``forecaster`` (by default an
    :class:`streamlearn.RNNForecaster`), made when its first value arrives,
    and learns only from its own values, in their order; a loop over many
    interleaved series then learns each as if it were alone. A forecaster
    with a ``seed`` parameter gets, for the series that joins ``j``-th, the
    seed ``Fleet.member_seed(seed, j)`` (the fleet's rule), so that the
    series do not all start from the same weights and a run is reproducible.

    The copies are separate Python objects: for thousands of series at one
    reading each per tick, a :class:`streamlearn.ForecasterFleet` (the same
    forecasters, bit for bit, stepped in one call per tick), a
    :class:`streamlearn.Fleet` or ``streamlearn serve`` learns faster. A value without the key field belongs to the
    series ``""``.

    Parameters
    ----------
    key
        The field of ``x`` that names the series.
    forecaster
        The template, cloned per series; None means
        ``RNNForecaster(max_horizon=12, n_hidden=32, seed=0)``.

    Examples
    --------
    >>> import math
    >>> from streamlearn import ForecasterRouter
    >>> from streamlearn.forecaster import RNNForecaster
    >>> router = ForecasterRouter(key="city", forecaster=RNNForecaster(
    ...     max_horizon=3, n_hidden=16, exogenous=False, seed=1))
    >>> for t in range(300):
    ...     for city, level in (("oslo", 5.0), ("rome", 20.0)):
    ...         router.learn_one(level + 3 * math.sin(2 * math.pi * t / 24), {"city": city})
    >>> [round(v, 1) for v in router.forecast(3, key="rome")]   # truth: 20.0, 19.2, 18.5
    [20.0, 19.2, 18.5]
    >>> sorted(router.series)
    ['oslo', 'rome']
    """

    _DEFAULT = ""

    def __init__(self, key: str = "key", forecaster: Forecaster | None = None):
        _check_key(key)
        self.key = key
        self.forecaster = forecaster
        self._models = {}

    @classmethod
    def _unit_test_params(cls):
        from .forecaster import RNNForecaster

        yield {"key": "key", "forecaster": RNNForecaster(max_horizon=3, n_hidden=8, seed=0)}

    def _template(self):
        if self.forecaster is not None:
            return self.forecaster
        from .forecaster import RNNForecaster

        return RNNForecaster(max_horizon=12, n_hidden=32, seed=0)

    @property
    def series(self):
        """The series seen so far, in the order they joined."""
        return list(self._models)

    def __getitem__(self, series):
        """The forecaster of ``series``."""
        try:
            return self._models[series]
        except KeyError:
            raise KeyError(f"no series {series!r} yet") from None

    def _split(self, x):
        x = x or {}
        series = x.get(self.key, self._DEFAULT)
        _check_key(series)
        return series, {k: v for k, v in x.items() if k != self.key}

    def learn_one(self, y, x=None):
        """Learn the value ``y`` of the series ``x[key]`` (the rest of ``x`` is its features)."""
        series, features = self._split(x)
        model = self._models.get(series)
        if model is None:
            template = self._template()
            params = {}
            seed = template._get_params().get("seed")
            if seed is not None:
                params["seed"] = Fleet.member_seed(seed, len(self._models))
            model = template.clone(params)
        model.learn_one(y, features or None)
        self._models[series] = model  # joins once its first value was learned

    def forecast(self, horizon, xs=None, key=None):
        """Forecasts of the next ``horizon`` values of the series ``key`` (or of the
        series named by ``xs[0][key]``, River's future features); a series not
        seen yet gets its untrained forecaster's forecast."""
        if key is None:
            key = xs[0].get(self.key, self._DEFAULT) if xs else self._DEFAULT
        _check_key(key)
        model = self._models.get(key)
        if model is None:
            model = self._template().clone()
        future = [self._split(x)[1] for x in xs] if xs else None
        return model.forecast(horizon, future)

    def __getstate__(self):
        return dict(self.__dict__)

    def __setstate__(self, state):
        self.__dict__.update(state)
