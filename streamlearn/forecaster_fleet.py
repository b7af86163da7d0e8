"""ForecasterFleet: many independent RNNForecasters, stepped together in one jitted call."""

from __future__ import annotations

import pickle

import numba
import numpy as np

from ._random import fresh_seed
from .checkpoint import Checkpointable
from .fleet import Fleet, FleetDivergenceError, _check_key, _Members
from .forecaster import RNNForecaster
from .kernels import forecast_arena as FA
from .online_rnn import DivergenceError

__all__ = ["ForecasterFleet"]

# member-steps of a call below which it runs on one thread (a step costs some 10 us
# at 32 units; waking the pool, tens of microseconds)
PARALLEL_STEPS = 64


class _FleetForecaster(RNNForecaster):
    """An RNNForecaster whose arenas are rows of its fleet's stacked arenas.

    Its arithmetic and policies are RNNForecaster's; only where its buffers
    live differs, so ``fleet[key].learn_one(y)`` steps it alone, in the fleet.
    """

    def _pack(self, rows=None):
        # into new arrays first: the buffers being moved may live in the fleet's row
        fleet = self._fleet
        super()._pack(rows=tuple(np.zeros(size, dtype) for size, dtype in fleet._layout))
        return super()._pack(rows=fleet._rows(self._row))

    def _refused(self, code, target, values):
        try:
            return super()._refused(code, target, values)
        finally:  # a reset gives new buffers: back into the fleet's row
            self._arenas()

    def __reduce_ex__(self, protocol):
        raise TypeError("a fleet member is a view into its fleet; pickle the fleet, or "
                        "take a stand-alone copy with fleet.model(key)")


class ForecasterFleet(_Members, Checkpointable):
    """K independent :class:`streamlearn.RNNForecaster` s of one series each, with
    one set of settings, stepped together.

    Each member forecasts its own series from its own values: its own
    network (weights, states, optimiser moments, random stream), read-out,
    rings of pending forecasts and target scaling. The members' buffers are
    rows of six stacked arrays (the arenas of ``kernels/forecast_arena.py``,
    memory O(K N^2)), and one call, ``learn_many(keys, ys)``, steps any subset
    of them on one value each, or over a block of ticks, in one jitted call.
    Every member computes exactly what a stand-alone ``RNNForecaster`` with the
    same settings and ``fleet.seed_of(key)`` computes on the same values, bit
    for bit (``fleet.model(key)`` is that forecaster). The members read their
    series alone (``exogenous=False``). Streams are keyed by strings, integers
    or tuples of them; a key joins the first time it sends a value (or by
    ``add``) and leaves by ``remove``; a stream that sends nothing in a tick
    does not move. See docs/fleet.md.

    Parameters
    ----------
    seed : int or None
        The fleet's seed: the member that joins ``j``-th gets the seed
        ``Fleet.member_seed(seed, j)`` unless ``add`` is given one. ``None``
        draws one from the operating system.
    threads : int or None
        Threads the members are split over (None: Numba's thread count). The
        results do not depend on it.
    capacity : int
        Members the arrays hold before they grow (they double when full).
    on_divergence : {"raise", "rollback", "reset"}
        Each member's policy for a refused step, as in ``RNNForecaster``; the
        default here is "rollback", so one member's blow-up never stops the
        fleet. Under "raise", ``FleetDivergenceError`` reports the members
        (each as it was before its refused step; the others' steps stand).
    **settings
        Any other ``RNNForecaster`` keyword (max_horizon, n_hidden, method,
        readout, lags, lr, on_invalid, ...), the same for every member.
        ``on_invalid="skip"`` treats a value that is NaN, inf or not a number
        as absent (the member's ``n_skipped`` grows); the default "raise"
        refuses the whole call before anything changes.

    Examples
    --------
    >>> import numpy as np
    >>> from streamlearn import ForecasterFleet
    >>> t = np.arange(2000)
    >>> rng = np.random.default_rng(0)
    >>> keys = [f"sensor-{i}" for i in range(50)]
    >>> ys = (10 + np.sin(2 * np.pi * (t[:, None] + 3 * np.arange(50)) / 24)
    ...       + rng.normal(0, 0.1, (2000, 50)))               # (ticks, streams)
    >>> fleet = ForecasterFleet(max_horizon=6, n_hidden=16, seed=0)
    >>> errors = []
    >>> for i in range(len(t) - 6):
    ...     if i >= 1000:  # score the forecasts of 6 hours ahead
    ...         errors.append(np.abs(fleet.forecast_many(keys, 6)[:, 5] - ys[i + 5]))
    ...     fleet.learn_many(keys, ys[i])
    >>> round(float(np.mean(errors)), 3) < 0.2, len(fleet)
    (True, 50)
    """

    def __init__(self, seed=None, threads=None, capacity=16, on_divergence="rollback",
                 **settings):
        if "seed" in settings:
            raise TypeError("'seed' is set per fleet, not per member")
        if threads is None:
            threads = numba.config.NUMBA_NUM_THREADS
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        self.threads = int(threads)
        if settings.get("exogenous"):
            raise ValueError("a fleet's members read their series alone (exogenous=False): "
                             "features would give each member its own inputs")
        settings["exogenous"] = False
        self.settings = dict(on_divergence=on_divergence, **settings)
        template = RNNForecaster(**self.settings, seed=0)  # validates every setting
        self.max_horizon = template.max_horizon
        self.seed = fresh_seed() if seed is None else int(seed)
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) \
                or capacity < 1:
            raise ValueError(f"capacity must be an integer >= 1, got {capacity!r}")
        p = template._arenas()
        self._layout = [(a.size, a.dtype) for a in p[2:8]]
        self._entry = FA.rls_fleet if template.readout == "rls" else FA.perturbation_fleet
        self._n_joined = 0
        self._slot_of = {}    # key -> row, in joining order
        self._keys = []       # row -> key, rows 0 .. len - 1 in use
        self._members = []    # row -> _FleetForecaster
        self._allocate(int(capacity))

    # -- storage -------------------------------------------------------------------

    def _allocate(self, capacity):
        self._stacks = [np.zeros((capacity, size), dtype) for size, dtype in self._layout]

    def _rows(self, row):
        return tuple(s[row] for s in self._stacks)

    def _grow(self):
        old = self._stacks
        self._allocate(2 * old[0].shape[0])
        for s, o in zip(self._stacks, old):
            s[:o.shape[0]] = o
        for m in self._members:
            m._pack()

    def add(self, key, seed=None):
        """Add stream ``key``, a fresh forecaster (``seed``, or the fleet's next
        member seed)."""
        _check_key(key)
        if key in self._slot_of:
            raise ValueError(f"stream {key!r} is already in the fleet")
        if seed is None:
            seed = Fleet.member_seed(self.seed, self._n_joined)
        member = RNNForecaster(**self.settings, seed=seed)
        member.__class__ = _FleetForecaster
        self._n_joined += 1
        self._put(key, member)
        return self

    def _put(self, key, member):
        row = len(self._keys)
        if row == self._stacks[0].shape[0]:
            self._grow()
        member._fleet, member._row = self, row
        member._pack()
        self._keys.append(key)
        self._members.append(member)
        self._slot_of[key] = row

    def model(self, key):
        """A stand-alone copy of member ``key``: an ``RNNForecaster`` that continues
        exactly as the member would."""
        return _standalone(self[key])

    def remove(self, key):
        """Take stream ``key`` out of the fleet; returns it as a stand-alone forecaster."""
        out = self.model(key)
        row = self._slot_of.pop(key)
        last = len(self._keys) - 1
        moved = self._members[last]
        self._members[row], self._keys[row] = moved, self._keys[last]
        self._members.pop()
        self._keys.pop()
        if row != last:
            moved._row = row
            moved._pack()
            self._slot_of[self._keys[row]] = row
        return out

    # -- learning ------------------------------------------------------------------

    def learn_many(self, keys, ys):
        """Learn one value per stream: ``ys[j]`` for stream ``keys[j]``.

        ``ys`` of shape (n,) is one tick; (T, n) is T ticks, which equal T
        one-tick calls. NaN is an absent value: the stream does not move in
        that tick. New keys join first.
        """
        keys = keys if type(keys) is list else list(keys)
        n = len(keys)
        ys = np.asarray(ys)
        if ys.dtype.kind not in "fiu":
            raise TypeError(f"ys must hold numbers, got dtype {ys.dtype}")
        ys = np.ascontiguousarray(ys, dtype=np.float64)
        if ys.ndim == 1:
            ys = ys[None]
        if ys.ndim != 2 or ys.shape[1] != n:
            raise ValueError(f"ys must have shape ({n},) or (T, {n}) for {n} keys, got "
                             f"{ys.shape}")
        row_of = self._slot_of
        new = [k for k in keys if k not in row_of]
        for key in new:
            _check_key(key)
        if n > 1 and len(set(keys)) != n:
            raise ValueError("each key may appear once per call (one value per tick)")
        inf = np.isinf(ys)
        inf = inf if inf.any() else None
        if inf is not None:
            if self.settings.get("on_invalid", "raise") != "skip":
                t, j = np.argwhere(inf)[0]
                raise ValueError(f"stream {keys[j]!r}, tick {t}: the value must be finite "
                                 f"or NaN (absent), got {ys[t, j]!r}")
            ys = np.where(inf, np.nan, ys)
        for key in new:
            self.add(key)
        if inf is not None:
            for j in np.flatnonzero(inf.any(axis=0)):
                m = self._members[row_of[keys[j]]]
                m.n_skipped = getattr(m, "n_skipped", 0) + int(inf[:, j].sum())
        rows = np.fromiter(map(row_of.__getitem__, keys), np.int64, n)
        stop = np.empty((n, 2), np.int64)
        chunks = max(1, min(self.threads, n)) if n * ys.shape[0] >= PARALLEL_STEPS else 1
        if chunks == 1:
            self._entry(*self._stacks, rows, ys, stop)
        else:  # the entries release the GIL; each member is stepped by one thread
            cuts = np.linspace(0, n, chunks + 1).astype(int)
            parts = [(rows[a:b], np.ascontiguousarray(ys[:, a:b]), stop[a:b])
                     for a, b in zip(cuts[:-1], cuts[1:])]
            pool = self._pool()
            done = [pool.submit(self._entry, *self._stacks, *part) for part in parts[1:]]
            self._entry(*self._stacks, *parts[0])
            for f in done:
                f.result()
        if not stop[:, 1].any():
            return
        errors = {}
        for j in np.flatnonzero(stop[:, 1]):
            key, t, code = keys[j], int(stop[j, 0]), int(stop[j, 1])
            member = self._members[rows[j]]
            try:
                member._refused(code, float(ys[t, j]), None)
                for y in ys[t + 1:, j].tolist():
                    if y == y:
                        member.learn_one(y)
            except DivergenceError as error:
                errors[key] = error
        if errors:
            raise FleetDivergenceError(errors)

    def learn_one(self, key, y):
        """One value of one stream: ``learn_many([key], [y])``."""
        self.learn_many([key], [y])

    def forecast(self, key, horizon):
        """Member ``key``'s forecasts of its next ``horizon`` values (a list)."""
        return self[key].forecast(horizon)

    def forecast_many(self, keys, horizon):
        """The forecasts of the next ``horizon`` values of each stream of ``keys``, as
        an array (len(keys), horizon): row ``j`` is ``forecast(keys[j], horizon)``."""
        keys = keys if type(keys) is list else list(keys)
        return np.array([self._members[self._slot(k)].forecast(horizon) for k in keys],
                        dtype=np.float64).reshape(len(keys), horizon)

    # -- checkpoints ---------------------------------------------------------------

    def __getstate__(self):
        return {"settings": self.settings, "seed": self.seed, "threads": self.threads,
                "n_joined": self._n_joined,
                "keys": list(self._slot_of),  # in joining order
                "members": [_state(self._members[r]) for r in self._slot_of.values()]}

    def __setstate__(self, state):
        self.__init__(seed=state["seed"], threads=state["threads"],
                      capacity=max(len(state["keys"]), 1), **state["settings"])
        self._n_joined = state["n_joined"]
        for key, member_state in zip(state["keys"], state["members"]):
            member = _FleetForecaster.__new__(_FleetForecaster)
            member.__setstate__(_copy(member_state))
            self._put(key, member)

    def __repr__(self):
        s = self.settings
        return (f"ForecasterFleet({len(self)} members of RNNForecaster(max_horizon="
                f"{self.max_horizon}, n_hidden={s.get('n_hidden', 100)}), seed={self.seed})")


def _state(member):
    """A member's state as a stand-alone forecaster's (without its place in the fleet)."""
    return {k: v for k, v in RNNForecaster.__getstate__(member).items()
            if k not in ("_fleet", "_row")}


def _copy(state):
    """A deep copy of a forecaster's state (its arrays leave the fleet's rows)."""
    return pickle.loads(pickle.dumps(state))


def _standalone(member):
    out = RNNForecaster.__new__(RNNForecaster)
    out.__setstate__(_copy(_state(member)))
    return out
