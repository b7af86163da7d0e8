"""Fleet: many independent OnlineRNN models, stepped together in one jitted call."""

import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ._random import fresh_seed
from .checkpoint import Checkpointable
from .kernels.fleet import _fleet_predict, _fleet_run
from .online_rnn import DivergenceError, OnlineRNN

__all__ = ["Fleet", "FleetDivergenceError"]

# per-member arrays of the stacked storage, in the kernel's bundles' order
_NET = ("A", "RT", "B", "DT", "C", "c")
_MOM = ("mA", "vA", "mR", "vR", "mB", "vB")
_MOM_OUT = ("mC", "vC", "mc", "vc")
_MODEL = ("state", "rng", "counters", "hyper", "watch")
_SCRATCH = ("work_n", "work_o", "work_k", "pend_g", "pend_p", "pend_u", "pend_k")
# a member's own Python-side counters (everything else is the fleet's settings)
_MEMBER_FIELDS = ("seed", "n_skipped", "n_rollbacks", "n_resets", "_refusals")
_KEY_TYPES = (str, int, np.integer)
# weight updates of a call below which it runs on one thread (measured: waking the
# pool costs tens of microseconds, and much more when the cores are busy)
PARALLEL_WORK = 1_000_000
# the OnlineRNN settings a model added to a fleet must share with its members
_SETTINGS = ("n_inputs", "n_hidden", "n_outputs", "method", "decorrelation", "lr",
             "lr_decorrelation", "sigma", "noise", "optimizer", "activation", "dtype",
             "bptt_window", "noisy_reference", "adam_betas", "adam_eps", "on_invalid",
             "on_divergence", "max_weight", "readout", "skip", "bias", "rls_forgetting",
             "rls_alpha", "output_bound", "max_refusals", "input_scaling")


class FleetDivergenceError(DivergenceError):
    """Members' steps were refused under ``on_divergence="raise"``.

    ``errors`` maps each such member's key to its ``DivergenceError``. Each of
    those members is exactly as it was before its refused step, and none of
    its later ticks in the call were learned; every other member's steps of
    the call were committed.
    """

    def __init__(self, errors):
        first = next(iter(errors.values()))
        keys = ", ".join(repr(k) for k in list(errors)[:5])
        more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} member(s) refused a step ({keys}{more}); the "
                         f"first: {first}", first.step, first.reason, first.predictions)
        self.errors = errors


class _Member(OnlineRNN):
    """An OnlineRNN whose buffers are views into a fleet's stacked arrays.

    Its arithmetic and policies are OnlineRNN's; only where the buffers live
    differs (``Fleet._bind``), so it can run alone (``fleet[key].learn_one``)
    on the fleet's first chunk of scratch.
    """

    def _allocate_scratch(self):
        pass  # the fleet binds its scratch

    def _kernel_views(self):
        return self._fleet_views

    def _reinitialise(self):
        super()._reinitialise()
        for m in self._fleet_views[0] + self._fleet_views[3]:
            m[...] = 0.0  # Adam's moments live in the fleet's arrays, not _moments

    def add_inputs(self, k=1):
        raise TypeError("a fleet's members share their shapes: inputs cannot be added "
                        "to one member")

    def __reduce_ex__(self, protocol):
        raise TypeError("a fleet member is a view into its fleet; pickle the fleet, or "
                        "take a stand-alone copy with fleet.model(key)")


class _Members:
    """The mapping side of a fleet: ``_slot_of`` (key -> slot, in joining order) and
    ``_members`` (slot -> the live member); and its worker threads (``threads``)."""

    def __len__(self):
        return len(self._slot_of)

    def __contains__(self, key):
        return key in self._slot_of

    def __iter__(self):
        return iter(list(self._slot_of))

    def keys(self):
        """The members' keys, in the order they joined (a list)."""
        return list(self._slot_of)

    def __getitem__(self, key):
        """Member ``key`` as a live model on the fleet's arrays (its weights,
        counters and policies); stepping it alone steps it in the fleet."""
        return self._members[self._slot(key)]

    def _slot(self, key):
        try:
            return self._slot_of[key]
        except (KeyError, TypeError):
            raise KeyError(f"no stream {key!r} in this fleet") from None

    def seed_of(self, key):
        """The seed of member ``key``: the stand-alone model it equals is built
        with the fleet's settings and this seed."""
        return self[key].seed

    def _pool(self):
        """Worker threads for chunks 1.. (chunk 0 runs on the calling thread)."""
        pool = self.__dict__.get("_threads_pool")
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=self.threads - 1,
                                      thread_name_prefix="streamlearn-fleet")
            self._threads_pool = pool
        return pool


class Fleet(_Members, Checkpointable):
    """K independent ``OnlineRNN`` models with one set of settings, stepped together.

    Each member has its own weights, states, optimiser moments and random
    stream, held in stacked arrays (memory O(K N^2)); one call steps any
    subset of them on one sample each, or over a block of ticks, in one
    jitted call that runs the members in parallel over ``threads`` threads.
    Every member computes exactly what a stand-alone ``OnlineRNN`` with the
    same settings and ``fleet.seed_of(key)`` computes on the same samples,
    bit for bit (``fleet.model(key)`` is that model). Streams are keyed by
    strings, integers or tuples of them; a key joins the first time it
    sends a sample (or by ``add``) and leaves by ``remove``. A stream that
    sends nothing in a tick does not move. See docs/fleet.md.

    Parameters
    ----------
    n_inputs, n_hidden, n_outputs : int
        Layer sizes of every member.
    seed : int or None
        The fleet's seed: the member that joins ``j``-th (counting from 0)
        gets the seed ``Fleet.member_seed(seed, j)`` unless ``add`` is given
        one. ``None`` draws one from the operating system.
    threads : int or None
        Threads the members are split over (None: Numba's thread count). The
        results do not depend on it.
    capacity : int
        Members the arrays hold before they grow (they double when full).
    on_divergence : {"raise", "rollback", "reset"}
        Each member's policy for a refused step, as in ``OnlineRNN``; the
        default here is "rollback", so one member's blow-up never stops the
        fleet. Under "raise", ``FleetDivergenceError`` reports the members.
    **settings
        Any other ``OnlineRNN`` keyword (method, decorrelation, lr, sigma,
        optimizer, activation, noise, readout, on_invalid, ...), the same for
        every member. ``on_invalid="skip"`` treats a sample holding NaN, inf
        or a non-number as absent (its prediction row is NaN, the member's
        ``n_skipped`` grows); the default "raise" refuses the whole call
        before anything changes.

    Examples
    --------
    >>> import numpy as np
    >>> from streamlearn import Fleet
    >>> from streamlearn.datasets import mackey_glass
    >>> streams = {f"sensor-{i}": mackey_glass(3000, seed=i) for i in range(20)}
    >>> fleet = Fleet(1, 32, 1, method="anp", decorrelation=True, seed=0)
    >>> keys = list(streams)
    >>> U = np.stack([streams[k][0] for k in keys], axis=1)  # (ticks, streams, inputs)
    >>> Y = np.stack([streams[k][1] for k in keys], axis=1)
    >>> predictions = fleet.learn_many(keys, U, Y)           # 3,000 ticks of 20 streams
    >>> mse = ((predictions - Y) ** 2).mean(axis=(1, 2))
    >>> bool(mse[-500:].mean() < mse[:500].mean())
    True
    >>> len(fleet), fleet.metrics()["sensor-0"]["n"]
    (20, 3000)
    """

    def __init__(self, n_inputs, n_hidden=32, n_outputs=1, seed=None, threads=None,
                 capacity=16, on_divergence="rollback", **settings):
        for name in ("seed", "threads"):
            if name in settings:
                raise TypeError(f"{name!r} is set per fleet, not per member")
        if settings.get("update", "exact") != "exact":
            raise ValueError("a fleet's members use update='exact' (the fleet's kernels step "
                             "R and D as stored; docs/factored.md)")
        self.settings = dict(n_inputs=n_inputs, n_hidden=n_hidden, n_outputs=n_outputs,
                             on_divergence=on_divergence, **settings)
        template = OnlineRNN(**self.settings, seed=0)  # validates every setting
        self.n_inputs, self.n_hidden, self.n_outputs = (template.n_inputs, template.n_hidden,
                                                        template.n_outputs)
        self.dtype = template.dtype
        self.seed = fresh_seed() if seed is None else int(seed)
        if threads is None:
            threads = numba.config.NUMBA_NUM_THREADS
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        self.threads = int(threads)
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) \
                or capacity < 1:
            raise ValueError(f"capacity must be an integer >= 1, got {capacity!r}")
        self._n_joined = 0
        self._slot_of = {}       # key -> slot
        self._keys = []          # slot -> key (meaningful where _used)
        self._members = []       # slot -> _Member or None
        self._free = []          # free slots, reused first (lowest last)
        self._template = template
        self._allocate(int(capacity))

    # -- storage -------------------------------------------------------------------

    @staticmethod
    def member_seed(seed, index):
        """The seed of the member that joins ``index``-th a fleet seeded ``seed``."""
        entropy = [int(seed) & 0xFFFFFFFFFFFFFFFF, int(index)]
        return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> np.uint64(1))

    @staticmethod
    def _state_of(model):
        """A stand-alone model's arrays, by the fleet's stacked names, in the
        layouts the kernel takes (R and D transposed)."""
        mom, _, history, mom_out, rls, _ = model._kernel_views()
        arrays = {"A": model._A, "RT": model._R.T, "B": model._B, "DT": model._D.T,
                  "C": model._C, "c": model._c, "state": model._state, "rng": model._rng,
                  "counters": model._counters, "hyper": model._hyper, "watch": model._watch}
        arrays.update(zip(_MOM, mom))
        arrays.update(zip(_MOM_OUT, mom_out))
        if history is not None:
            arrays["history"] = history
        if rls is not None:
            arrays["P"] = rls[0]
        return arrays

    def _shapes(self):
        """Each stacked array's per-member shape and dtype, from the template."""
        return {k: (v.shape, v.dtype) for k, v in self._state_of(self._template).items()}

    def _allocate(self, capacity):
        self._capacity = capacity
        self._arrays = {k: np.zeros((capacity,) + shape, dtype)
                        for k, (shape, dtype) in self._shapes().items()}
        self._stats = np.zeros((capacity, 3))  # count, sum |e|, sum e^2 over outputs
        self._keys += [None] * (capacity - len(self._keys))
        self._members += [None] * (capacity - len(self._members))
        self._free = sorted(set(range(capacity)) - set(self._slot_of.values()),
                            reverse=True)
        self._allocate_scratch()

    def _allocate_scratch(self):
        m, c = self._template, self.threads
        self._scratch = tuple(np.zeros((c,) + getattr(m, "_" + k).shape, getattr(m, "_" + k).dtype)
                              for k in _SCRATCH)
        self._rls_scratch = None
        if m.readout == "rls":
            self._rls_scratch = (np.zeros((c,) + m._P_spare.shape), np.zeros((c,) + m._rls_work.shape))
        self._wp = None
        if m.method == "wp":
            flats = np.zeros((c, m._wp_noise.size), m.dtype)
            self._wp = tuple(m._wp_views(flats[i]) for i in range(c))
        self._history_dummy = np.zeros((1, m.n_inputs + 2 * m.n_hidden), m.dtype)
        for slot, member in enumerate(self._members):
            if member is not None:
                self._bind(slot)

    def _grow(self):
        old, old_stats, n = self._arrays, self._stats, self._capacity
        self._allocate(2 * n)
        for k, a in old.items():
            self._arrays[k][:n] = a
        self._stats[:n] = old_stats
        for slot in range(n):
            if self._members[slot] is not None:
                self._bind(slot)

    def _bind(self, slot):
        """Point member ``slot``'s buffers at its rows of the stacked arrays."""
        a, m = self._arrays, self._members[slot]
        m._A, m._R, m._B, m._D = a["A"][slot], a["RT"][slot].T, a["B"][slot], a["DT"][slot].T
        m._C, m._c = a["C"][slot], a["c"][slot]
        m._state, m._rng, m._counters = a["state"][slot], a["rng"][slot], a["counters"][slot]
        m._hyper, m._watch = a["hyper"][slot], a["watch"][slot]
        m._config = self._template._config
        m._history = a["history"][slot] if "history" in a else self._history_dummy
        m._P = a["P"][slot] if "P" in a else np.zeros((0, 0))
        m._moments = m._moments_out = np.zeros(0, self.dtype)
        for k, s in zip(_SCRATCH, self._scratch):
            setattr(m, "_" + k, s[0])
        m._no_states = np.zeros((0, self.n_hidden), self.dtype)
        wp = None if self._wp is None else self._wp[0]
        m._wp_noise = wp[0] if wp is not None else np.zeros(0, self.dtype)
        if self._rls_scratch is not None:
            m._P_spare, m._rls_work = self._rls_scratch[0][0], self._rls_scratch[1][0]
        else:
            m._P_spare, m._rls_work = np.zeros((0, 0)), np.zeros((4, 0))
        mom = tuple(a[k][slot] for k in _MOM)
        mom_out = tuple(a[k][slot] for k in _MOM_OUT)
        rls = (m._P, m._P_spare, m._rls_work) if "P" in a else None
        m._fleet_views = (mom, wp, a["history"][slot] if "history" in a else None, mom_out,
                          rls, None)

    def _bundles(self):
        kept = self.__dict__.get("_bundles_of")
        if kept is not None and kept[0] is self._arrays and kept[1] is self._scratch:
            return kept[2]
        a = self._arrays
        bundles = ((tuple(a[k] for k in _NET), tuple(a[k] for k in _MOM),
                    tuple(a[k] for k in _MOM_OUT), tuple(a[k] for k in _MODEL),
                    self._template._config, a.get("history"), a.get("P")),
                   (self._scratch, self._rls_scratch, self._wp))
        self._bundles_of = (self._arrays, self._scratch, bundles)
        return bundles

    # -- membership ----------------------------------------------------------------

    def add(self, key, model=None, seed=None):
        """Add stream ``key``: a fresh model (``seed``, or the fleet's next member
        seed), or a copy of ``model``, an ``OnlineRNN`` with the fleet's settings,
        which then continues in the fleet bit for bit."""
        _check_key(key)
        if key in self._slot_of:
            raise ValueError(f"stream {key!r} is already in the fleet")
        if model is None:
            if seed is None:
                seed = self.member_seed(self.seed, self._n_joined)
            model = OnlineRNN(**self.settings, seed=seed)
        elif not isinstance(model, OnlineRNN) or isinstance(model, _Member):
            raise TypeError(f"model must be a stand-alone OnlineRNN, got {type(model).__name__}")
        else:
            self._check_compatible(model)
        self._n_joined += 1
        if not self._free:
            self._grow()
        slot = self._free.pop()
        self._put(slot, key, model)
        return self

    def _check_compatible(self, model):
        t = self._template
        for name in _SETTINGS:
            if getattr(model, name) != getattr(t, name):
                raise ValueError(f"model has {name}={getattr(model, name)!r}, the fleet's "
                                 f"members {getattr(t, name)!r}")
        if getattr(model, "threads", 1) != 1:
            raise ValueError("model must have threads=1 (a fleet runs each member on one thread)")
        if model.update != "exact":
            raise ValueError("model must have update='exact' (a fleet steps R and D as stored)")

    def _put(self, slot, key, model):
        """Copy stand-alone ``model``'s state into ``slot`` and make it member ``key``."""
        for k, v in self._state_of(model).items():
            self._arrays[k][slot] = v
        member = _Member.__new__(_Member)
        member.__dict__.update({k: v for k, v in model.__dict__.items()
                                if not isinstance(v, np.ndarray) and k != "_views"})
        self._members[slot] = member
        self._keys[slot] = key
        self._slot_of[key] = slot
        self._stats[slot] = 0.0
        self._bind(slot)

    def model(self, key):
        """A stand-alone copy of member ``key``: an ``OnlineRNN`` that continues
        exactly as the member would."""
        m = self[key]
        mom, _, _, mom_out, _, _ = m._fleet_views
        out = OnlineRNN.__new__(OnlineRNN)
        out.__dict__.update({k: v for k, v in m.__dict__.items()
                             if not isinstance(v, np.ndarray) and k not in ("_fleet_views", "_views")})
        for k in ("_A", "_B", "_C", "_c", "_state", "_rng", "_counters", "_hyper", "_watch",
                  "_history", "_P", "_config"):
            setattr(out, k, getattr(m, k).copy())
        if m.method != "bp":
            out._history = np.zeros((1, m.n_inputs + 2 * m.n_hidden), m.dtype)
        out._R = m._R.copy(order="F")
        out._D = m._D.copy(order="F")
        out._moments = np.concatenate([v.ravel() for v in mom[0::2] + mom[1::2]]) \
            if mom[0].size else np.zeros(0, m.dtype)
        if mom_out[0].size or mom_out[2].size:
            mC, vC, mc, vc = mom_out
            out._moments_out = np.concatenate([mC.ravel(), mc, vC.ravel(), vc])
        else:
            out._moments_out = np.zeros(0, m.dtype)
        out._allocate_scratch()
        return out

    def remove(self, key):
        """Take stream ``key`` out of the fleet; returns it as a stand-alone model."""
        model = self.model(key)
        slot = self._slot_of.pop(key)
        self._members[slot] = None
        self._keys[slot] = None
        self._free.append(slot)
        self._free.sort(reverse=True)
        return model

    # -- learning ------------------------------------------------------------------

    def learn_many(self, keys, U, Y, present=None):
        """Learn one sample per stream: ``U[j]``, ``Y[j]`` for stream ``keys[j]``.

        ``U`` of shape (n, n_inputs) and ``Y`` (n, n_outputs) is one tick;
        (T, n, n_inputs) and (T, n, n_outputs) are T ticks, which equal T
        one-tick calls (``present``, a (T, n) boolean array, marks the ticks
        each stream has a sample for; a stream does not move in the others).
        New keys join first. Returns the prequential predictions, shaped like
        ``Y``; a row no sample was learned for (absent, skipped as invalid, or
        dropped by the divergence policy) is NaN.
        """
        keys = keys if type(keys) is list else list(keys)
        U = self._numbers("U", U)
        Y = self._numbers("Y", Y)
        one_tick = U.ndim == 2
        if one_tick:
            U, Y = U[None], Y[None]
        n = len(keys)
        for name, arr, width in (("U", U, self.n_inputs), ("Y", Y, self.n_outputs)):
            if arr.ndim != 3 or arr.shape[1:] != (n, width):
                shape = f"({n}, {width}) or (T, {n}, {width})"
                raise ValueError(f"{name} must have shape {shape} for {n} keys, got "
                                 f"{arr.shape[1:] if one_tick else arr.shape}")
        T = U.shape[0]
        if Y.shape[0] != T:
            raise ValueError(f"U and Y must have the same number of ticks, got {T} and "
                             f"{Y.shape[0]}")
        if present is not None:
            present = np.asarray(present)
            if present.dtype != bool or present.shape != ((n,) if one_tick else (T, n)):
                raise ValueError(f"present must be a boolean array of shape "
                                 f"{(n,) if one_tick else (T, n)}, got {present.dtype} "
                                 f"{present.shape}")
            present = present.reshape(T, n)
        slot_of = self._slot_of
        new = [k for k in keys if k not in slot_of]
        for key in new:
            _check_key(key)
        if len(set(keys)) != n:
            raise ValueError("each key may appear once per call (one sample per tick)")
        skipped = None
        if not (np.isfinite(U).all() and np.isfinite(Y).all()):
            finite = np.isfinite(U).all(axis=2) & np.isfinite(Y).all(axis=2)
            bad = ~finite if present is None else ~finite & present
            if bad.any():
                if self.settings.get("on_invalid", "raise") != "skip":
                    t, j = np.argwhere(bad)[0]
                    raise ValueError(f"stream {keys[j]!r}, tick {t}: the sample must be "
                                     f"finite, got u={U[t, j]!r}, y={Y[t, j]!r}")
                skipped = bad
                present = finite if present is None else present & finite
        for key in new:
            self.add(key)
        slots = np.fromiter(map(slot_of.__getitem__, keys), np.int64, n)
        if skipped is not None:
            for j in np.flatnonzero(skipped.any(axis=0)):
                self._members[slots[j]]._skip(int(skipped[:, j].sum()))
        if one_tick:
            Uj, Yj = U.reshape(n, 1, -1), Y.reshape(n, 1, -1)
            if not (Uj.flags.c_contiguous and Yj.flags.c_contiguous):
                Uj, Yj = np.ascontiguousarray(Uj), np.ascontiguousarray(Yj)
        else:
            Uj = np.ascontiguousarray(U.transpose(1, 0, 2))
            Yj = np.ascontiguousarray(Y.transpose(1, 0, 2))
        # one compiled variant: an all-True mask costs a load per tick
        pj = np.ones((n, T), bool) if present is None else np.ascontiguousarray(present.T)
        out = np.empty((n, T, self.n_outputs), self.dtype)
        result = np.empty((n, 2), np.int64)
        call = (slots, Uj, Yj, pj, out, result, self._stats)
        chunks = self._chunks(n, T)
        members, scratch = self._bundles()
        if chunks == 1:
            _fleet_run(members, scratch, call, True, 0, 1)
        else:
            pool = self._pool()
            done = [pool.submit(_fleet_run, members, scratch, call, True, c, chunks)
                    for c in range(1, chunks)]
            _fleet_run(members, scratch, call, True, 0, chunks)
            for f in done:
                f.result()
        errors = {}
        if result[:, 1].any():
            for j in np.flatnonzero(result[:, 1]):
                errors.update(self._finish(keys[j], slots[j], int(result[j, 0]), Uj[j],
                                           Yj[j], pj[j], out[j]))
            present = pj.T
        if present is not None:
            out[~pj] = np.nan
        if errors:
            raise FleetDivergenceError(errors)
        return out[:, 0] if one_tick else out.transpose(1, 0, 2)

    def learn_one(self, key, u, y):
        """One sample of one stream: ``learn_many([key], [u], [y])[0]``, the same
        numbers, through the member's own ``OnlineRNN.learn_one`` (about half the
        cost of a one-stream ``learn_many``). Returns the prediction, or None
        when the sample was skipped as invalid or dropped by the divergence policy.
        """
        if key not in self._slot_of:
            _check_key(key)
            t = self._template
            if t._vector("u", u, self.n_inputs) is None or t._vector("y", y, self.n_outputs) is None:
                return None  # an invalid first sample does not make a member
            self.add(key)
        slot = self._slot_of[key]
        member = self._members[slot]
        try:
            p = member.learn_one(u, y)
        except DivergenceError as exc:
            err = DivergenceError(f"stream {key!r}: {exc}", 0, exc.reason, exc.predictions)
            err.key = key
            raise FleetDivergenceError({key: err}) from None
        if p is not None:
            e = p - np.asarray(y, dtype=self.dtype).reshape(-1)
            self._stats[slot] += (1.0, np.abs(e).mean(), (e * e).mean())
        return p

    def _chunks(self, n, T):
        """Threads for a call of n members and T ticks: one unless the work pays for
        waking the others (about PARALLEL_WORK weight updates)."""
        work = n * T * self.n_hidden * (self.n_hidden + self.n_inputs + self.n_outputs)
        return max(1, min(self.threads, n)) if work >= PARALLEL_WORK else 1

    def _finish(self, key, slot, t, U, Y, present, out):
        """Member ``slot`` refused its tick t: apply its policy from there on,
        exactly as its stand-alone model would (``OnlineRNN._run_kept``)."""
        ticks = np.arange(t, U.shape[0])[present[t:]]
        present[t:] = False
        member = self._members[slot]
        try:
            rows, _, kept = member._run_kept(np.ascontiguousarray(U[ticks]),
                                             np.ascontiguousarray(Y[ticks]), True, False)
        except DivergenceError as exc:  # none of the ticks was learned
            out[ticks] = np.nan
            tick = int(ticks[exc.step])
            err = DivergenceError(
                f"stream {key!r}: tick {tick} of this call was refused: {exc.reason}; the "
                "member is as it was before that tick", tick, exc.reason, out[:tick].copy())
            err.key = key
            return {key: err}
        out[ticks] = rows
        if kept is not None:
            out[ticks[~kept]] = np.nan
        e = out[ticks] - Y[ticks]
        e = e[np.isfinite(e).all(axis=1)]
        self._stats[slot] += (len(e), np.abs(e).mean(axis=1).sum(), (e * e).mean(axis=1).sum())
        present[ticks[kept] if kept is not None else ticks] = True
        return {}

    def predict_many(self, keys, U):
        """Each stream's clean output if ``U[j]`` were its next input, shape
        (n, n_outputs); changes nothing. Every key must be a member."""
        keys = list(keys)
        U = self._numbers("U", U)
        if U.shape != (len(keys), self.n_inputs):
            raise ValueError(f"U must have shape ({len(keys)}, {self.n_inputs}), got {U.shape}")
        if not np.isfinite(U).all():
            j = int(np.argmin(np.isfinite(U).all(axis=1)))
            raise ValueError(f"stream {keys[j]!r}: the input must be finite, got {U[j]!r}")
        slots = np.fromiter((self._slot(k) for k in keys), np.int64, len(keys))
        out = np.empty((len(keys), self.n_outputs), self.dtype)
        a = self._arrays
        _fleet_predict(tuple(a[k] for k in _NET), a["state"], self._scratch[0],
                       self._template._config, slots, np.ascontiguousarray(U), out)
        return out

    def _numbers(self, name, value):
        try:
            arr = np.asarray(value)
        except ValueError:
            raise ValueError(f"{name} must be a rectangular array of numbers") from None
        if arr.dtype.kind not in "biuf":
            if self.settings.get("on_invalid", "raise") == "skip" and arr.dtype.kind == "O":
                flat = [float(v) if isinstance(v, (bool, int, float, np.number)) else math.nan
                        for v in arr.flat]
                return np.array(flat, dtype=self.dtype).reshape(arr.shape)
            raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
        return arr.astype(self.dtype, copy=False)

    # -- metrics -------------------------------------------------------------------

    def metrics(self):
        """Per stream: samples learned ``n``, and the MAE and RMSE of their
        prequential predictions (averaged over outputs), with the member's
        ``n_skipped``, ``n_rollbacks`` and ``n_resets``."""
        out = {}
        for key, slot in self._slot_of.items():
            n, sa, ss = self._stats[slot]
            m = self._members[slot]
            out[key] = {"n": int(n), "mae": sa / n if n else math.nan,
                        "rmse": math.sqrt(ss / n) if n else math.nan,
                        "n_skipped": m.n_skipped, "n_rollbacks": m.n_rollbacks,
                        "n_resets": m.n_resets}
        return out

    @property
    def memory_per_member(self):
        """Bytes of model state per member (weights, moments, states, P)."""
        return sum(a[0].nbytes for a in self._arrays.values())

    # -- checkpoints ---------------------------------------------------------------

    def __getstate__(self):
        used = sorted(self._slot_of.values())
        return {"settings": self.settings, "seed": self.seed, "threads": self.threads,
                "n_joined": self._n_joined, "keys": [self._keys[s] for s in used],
                "members": [{f: getattr(self._members[s], f) for f in _MEMBER_FIELDS}
                            for s in used],
                "arrays": {k: a[used] for k, a in self._arrays.items()},
                "stats": self._stats[used]}

    def __setstate__(self, state):
        self.settings = dict(state["settings"])
        template = OnlineRNN(**self.settings, seed=0)
        self.n_inputs, self.n_hidden, self.n_outputs = (template.n_inputs, template.n_hidden,
                                                        template.n_outputs)
        self.dtype = template.dtype
        self.seed, self.threads, self._n_joined = state["seed"], state["threads"], state["n_joined"]
        self._template = template
        self._slot_of, self._keys, self._members, self._free = {}, [], [], []
        n = len(state["keys"])
        self._allocate(max(n, 1))
        for k, a in state["arrays"].items():
            self._arrays[k][:n] = a
        self._stats[:n] = state["stats"]
        fields = {k: v for k, v in template.__dict__.items()
                  if not isinstance(v, np.ndarray) and k != "_views"}
        for slot, (key, meta) in enumerate(zip(state["keys"], state["members"])):
            member = _Member.__new__(_Member)
            member.__dict__.update(fields)
            member.__dict__.update(meta)
            self._members[slot] = member
            self._keys[slot] = key
            self._slot_of[key] = slot
            self._bind(slot)
        self._free = sorted(set(range(self._capacity)) - set(range(n)), reverse=True)

    def __repr__(self):
        s = self.settings
        return (f"Fleet({len(self)} members of OnlineRNN({s['n_inputs']}, {s['n_hidden']}, "
                f"{s['n_outputs']}), method={s.get('method', 'anp')!r}, seed={self.seed})")


def _check_key(key):
    """Keys go into checkpoints: strings, integers, or tuples of them."""
    if isinstance(key, tuple):
        for k in key:
            _check_key(k)
        return
    if isinstance(key, bool) or not isinstance(key, _KEY_TYPES):
        raise TypeError(f"a stream key must be a str, an int or a tuple of them, got {key!r}")
