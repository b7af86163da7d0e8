"""SharedRNN: one recurrent network learning online from many streams at once."""

import numpy as np

from . import online_rnn as _core
from ._random import fresh_seed, seed_state
from .checkpoint import Checkpointable
from .defaults import default_lr, default_lr_decorrelation
from .kernels import layout as K
from .kernels import shared as S
from .kernels.shared import _shared_learn, _shared_predict
from .online_rnn import ACTIVATIONS, NOISES, OPTIMIZERS, DivergenceError, OnlineRNN

#: The learning rules SharedRNN supports (each with or without decorrelation).
SHARED_METHODS = {"anp": K.ANP, "np": K.NP}

_NOT_SUPPORTED = {
    "wp": "weight perturbation draws N^2 noise per stream and sample, so one update "
          "per tick saves little; use OnlineRNN per stream",
    "bp": "the BP baseline is not implemented for shared streams; use OnlineRNN",
}

_REASONS = {1: "some stream's forward pass gave a non-finite state or output",
            2: "the mean update would make a weight non-finite or exceed max_weight"}


class SharedRNN(Checkpointable):
    """One set of weights learning online from many streams, one update per tick.

    Every stream, named by any hashable key, has its own clean and noisy
    hidden state; the weights A, R, B (and D) are shared. A tick
    (``learn_many(keys, U, Y)``) steps the twins of every stream named on
    its own sample, forms each stream's ANP or NP estimate exactly as
    ``OnlineRNN`` forms it, and applies the mean of the k estimates, a rank-k
    (matrix-matrix) update, once through the optimiser. The forward pass is
    one matrix-matrix product R [xs_1 ... xs_k], so R is read once per tick
    for all streams. With one stream it is ``OnlineRNN`` bit for bit. The
    combination rule, its relation to the paper's batch mode, and what is not
    supported are in ``docs/shared.md``.

    Parameters
    ----------
    n_inputs, n_hidden, n_outputs : int
        Layer sizes.
    method : {"anp", "np"}
        Activity-based node perturbation or node perturbation ("wp" and "bp"
        raise ValueError: not supported by the shared model).
    decorrelation : bool
        Learn the decorrelating matrix D (DANP, DNP), by the mean of the
        streams' decorrelation updates.
    lr : float or None
        Learning rate of the mean update; ``None`` takes
        ``streamlearn.defaults.default_lr`` as ``OnlineRNN`` does (the mean of
        k estimates of the same gradient has the scale of one).
    lr_decorrelation, sigma, noise, optimizer, activation, dtype, adam_betas, adam_eps,
    max_weight, input_scaling :
        As in ``OnlineRNN``.
    seed : int or None
        Seed of the model's one random stream (weights, then every stream's
        noise, stream by stream in the order of the keys of each call).
    on_invalid : {"raise", "skip"}
        A row of U or Y holding NaN, inf or a non-number: raise (the model is
        unchanged), or treat that stream as absent from the tick (its
        prediction is NaN, ``n_skipped`` counts it). Wrong shapes always raise.
    on_divergence : {"raise", "rollback"}
        When the divergence guard refuses a tick (a stream's forward pass is
        not finite, or the mean update could push a weight past
        ``max_weight``), nothing of the tick is committed. "raise" raises
        ``DivergenceError``. "rollback" (``n_rollbacks`` counts the ticks)
        keeps the weights and, for a refused update, advances every stream's
        state without learning; a tick whose forward pass was not finite is
        dropped whole (the predictions returned are NaN). "reset" is not
        supported.

    Examples
    --------
    Four Mackey-Glass streams from different starting histories, one network:

    >>> import numpy as np
    >>> from streamlearn import SharedRNN
    >>> from streamlearn.datasets import mackey_glass
    >>> streams = {name: mackey_glass(1500, seed=i) for i, name in enumerate("abcd")}
    >>> model = SharedRNN(1, 50, 1, method="anp", decorrelation=True, seed=0)
    >>> keys = list(streams)
    >>> errors = []
    >>> for t in range(1500):
    ...     U = np.stack([streams[k][0][t] for k in keys])
    ...     Y = np.stack([streams[k][1][t] for k in keys])
    ...     errors.append(np.mean((model.learn_many(keys, U, Y) - Y) ** 2))
    >>> first, last = np.mean(errors[:500]), np.mean(errors[-500:])
    >>> print(f"{len(model)} streams, MSE {first:.3f} -> {last:.3f}")
    4 streams, MSE 0.032 -> 0.014
    """

    def __init__(self, n_inputs, n_hidden=100, n_outputs=1, method="anp",
                 decorrelation=False, lr=None, lr_decorrelation=None, sigma=1e-3,
                 optimizer="sgd", activation="tanh", seed=None, dtype=np.float64,
                 noise="gaussian", adam_betas=(0.9, 0.999), adam_eps=1e-8,
                 on_invalid="raise", on_divergence="raise", max_weight=1e3,
                 input_scaling=1.0):
        self.n_inputs = _core._positive_int("n_inputs", n_inputs)
        self.n_hidden = _core._positive_int("n_hidden", n_hidden)
        self.n_outputs = _core._positive_int("n_outputs", n_outputs)
        if isinstance(method, str) and method.lower() in _NOT_SUPPORTED:
            raise ValueError(f"method={method!r} is not supported by SharedRNN: "
                             f"{_NOT_SUPPORTED[method.lower()]}")
        self.method = _core._choice("method", method, SHARED_METHODS)
        self.optimizer = _core._choice("optimizer", optimizer, OPTIMIZERS)
        self.activation = _core._choice("activation", activation, ACTIVATIONS)
        self.decorrelation = bool(decorrelation)
        self.lr = (default_lr(self.method, self.optimizer, self.n_hidden, self.decorrelation)
                   if lr is None else _core._positive("lr", lr))
        self.lr_decorrelation = (default_lr_decorrelation(self.n_hidden) if lr_decorrelation is None
                                 else _core._positive("lr_decorrelation", lr_decorrelation))
        self.sigma = _core._positive("sigma", sigma)
        self.noise = _core._choice("noise", noise, NOISES)
        beta1, beta2 = (float(b) for b in adam_betas)
        if not (0.0 <= beta1 < 1.0 and 0.0 < beta2 < 1.0):
            raise ValueError(f"adam_betas must be in [0, 1) x (0, 1), got {adam_betas!r}")
        self.adam_betas = (beta1, beta2)
        self.adam_eps = _core._positive("adam_eps", adam_eps)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float64, np.float32):
            raise ValueError(f"dtype must be float64 or float32, got {self.dtype}")
        self.on_invalid = _core._choice("on_invalid", on_invalid, {"raise": 0, "skip": 1})
        if isinstance(on_divergence, str) and on_divergence.lower() == "reset":
            raise ValueError("on_divergence='reset' is not supported by SharedRNN; "
                             "choose 'raise' or 'rollback'")
        self.on_divergence = _core._choice("on_divergence", on_divergence,
                                           {"raise": 0, "rollback": 1})
        self.max_weight = _core._positive("max_weight", max_weight)
        self.input_scaling = _core._positive("input_scaling", input_scaling)
        self.seed = fresh_seed() if seed is None else int(seed)
        self.n_skipped = 0
        self.n_rollbacks = 0

        # the weights, drawn in OnlineRNN's order from the model's stream
        self._rng = seed_state(self.seed)
        N, I, O = self.n_hidden, self.n_inputs, self.n_outputs
        self._A = self._xavier(N, I)
        if self.input_scaling != 1.0:
            self._A *= self.dtype.type(self.input_scaling)
        self._R = np.asfortranarray(self._xavier(N, N))  # the kernels walk R^T by rows
        self._B = self._xavier(O, N)
        self._D = np.eye(N, dtype=self.dtype, order="F")
        adam = self.optimizer == "adam"
        shapes = ((N, I), (N, N), (O, N)) if adam else ((0, 0),) * 3
        # Adam's moments (m, v) of A, R (in R^T's layout) and B; empty for SGD
        self._moments = tuple(np.zeros(s, dtype=self.dtype) for s in shapes for _ in "mv")
        self._counters = np.zeros(K.N_COUNTERS, dtype=np.int64)
        self._hyper = np.zeros(K.N_HYPER, dtype=np.float64)
        self._hyper[:K.H_EPS + 1] = [self.lr, self.lr_decorrelation, self.sigma, beta1, beta2,
                                     self.adam_eps]
        self._hyper[K.H_MAX_WEIGHT] = self.max_weight
        self._hyper[K.H_OUT_BOUND] = np.inf
        self._config = np.array([SHARED_METHODS[self.method], ACTIVATIONS[self.activation],
                                 int(self.decorrelation), OPTIMIZERS[self.optimizer], 0, 1, 0,
                                 0, K.PERTURBATION, NOISES[self.noise]], dtype=np.int64)
        self.refresh_bounds()
        # the streams: key -> slot of _state; free slots are reused lowest first
        self._slots = {}
        self._free = []
        self._capacity = 0
        self._state = np.zeros((0, 2, N), dtype=self.dtype)
        self._grow(1)

    _xavier = OnlineRNN._xavier
    _numeric = OnlineRNN._numeric
    _matrix = OnlineRNN._matrix

    # -- buffers ---------------------------------------------------------------

    _SCRATCH = ("_work", "_work_o", "_work_t", "_rows", "_scratch_for", "_last_keys")

    def _grow(self, n):
        """Room for n streams: the state and the scratch, doubling the capacity."""
        cap = max(self._capacity, 1)
        while cap < n:
            cap *= 2
        if cap != self._capacity:
            state = np.zeros((cap, 2, self.n_hidden), dtype=self.dtype)
            state[:self._capacity] = self._state
            self._state = state
            self._capacity = cap
        if self.__dict__.get("_scratch_for") != self._capacity:
            self._allocate_scratch()

    def _allocate_scratch(self):
        """Buffers written before they are read within a tick: not model state."""
        N, O, cap, dt = self.n_hidden, self.n_outputs, self._capacity, self.dtype
        self._work = np.zeros((S.S_NW, cap, N), dtype=dt)
        self._work_o = np.zeros((S.S_NWO, cap, O), dtype=dt)
        self._work_t = np.zeros((S.T_NW, N, cap), dtype=dt)
        self._rows = np.zeros((S.N_ROWS, N), dtype=np.float64)
        self._scratch_for = cap

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in self._SCRATCH}

    def __setstate__(self, d):
        self.__dict__.update(d)
        self._moments = tuple(self._moments)
        self._allocate_scratch()

    def refresh_bounds(self):
        """Recompute the divergence guard's bounds on max |weight| (after changing
        weights in place from outside)."""
        self._hyper[K.H_WMAX] = max(np.abs(self._A).max(), np.abs(self._R).max(),
                                    np.abs(self._B).max())
        self._hyper[K.H_DMAX] = np.abs(self._D).max()

    # -- public views ----------------------------------------------------------

    # the shared weights and the update count, as OnlineRNN shows them
    A, R, B, D, n_updates = OnlineRNN.A, OnlineRNN.R, OnlineRNN.B, OnlineRNN.D, OnlineRNN.n_updates

    @property
    def keys(self):
        """The streams' keys, in the order they joined."""
        return list(self._slots)

    def __len__(self):
        return len(self._slots)

    def __contains__(self, key):
        return _key(key) in self._slots

    def state(self, key):
        """Stream ``key``'s clean hidden state xs_t (a copy)."""
        return self._state[self._slot(key), 0].copy()

    def noisy_state(self, key):
        """Stream ``key``'s noisy hidden state (a copy)."""
        return self._state[self._slot(key), 1].copy()

    def _slot(self, key):
        try:
            return self._slots[_key(key)]
        except KeyError:
            raise KeyError(f"no stream {key!r} in this model") from None

    def remove(self, key):
        """Forget stream ``key`` (its state); the weights stay. Unknown key: KeyError."""
        slot = self._slot(key)
        del self._slots[_key(key)]
        self._last_keys = None
        self._state[slot] = 0.0
        self._free.append(slot)
        self._free.sort()

    # -- input checks ----------------------------------------------------------

    def _keys(self, keys, n):
        last = self.__dict__.get("_last_keys")
        if type(keys) is list and last is not None and keys == last[0] and n == len(keys):
            return last[0]  # the keys of the previous tick again: checked then
        if isinstance(keys, (str, bytes)) or not hasattr(keys, "__len__"):
            raise TypeError(f"keys must be a sequence of stream keys (one per row), got {keys!r}")
        out = [_key(k) for k in keys]
        for k in out:
            try:
                hash(k)
            except TypeError:
                raise TypeError(f"a stream key must be hashable, got {k!r}") from None
        if len(out) != n:
            raise ValueError(f"got {len(out)} keys for {n} rows")
        if len(set(out)) != len(out):
            raise ValueError(f"a key may appear once per tick, got {keys!r}")
        return out

    def _rows_of(self, name, value, cols):
        if (type(value) is np.ndarray and value.dtype == self.dtype and value.ndim == 2
                and value.shape[1] == cols and value.flags.c_contiguous
                and np.isfinite(value).all()):
            return value, np.ones(value.shape[0], dtype=bool)  # the common case, cheaply
        arr, ok = self._matrix(name, value, cols)
        if arr.ndim != 2:
            raise ValueError(f"{name} must have shape (k, {cols}), got {np.shape(value)}")
        return arr, ok

    # -- learning and prediction -----------------------------------------------

    def learn_many(self, keys, U, Y):
        """One tick: every stream in ``keys`` steps on its row of U (k, n_inputs)
        and learns from its row of Y (k, n_outputs); one mean update is applied.

        A key not seen before joins with a zero state; a stream not named does
        not move. The noise is drawn stream by stream in the order of ``keys``,
        and the mean sums the streams in that order. Returns the k clean
        prequential predictions, shape (k, n_outputs) (NaN for a row skipped
        under ``on_invalid="skip"`` or a tick dropped under "rollback").
        """
        U, ok_u = self._rows_of("U", U, self.n_inputs)
        Y, ok_y = self._rows_of("Y", Y, self.n_outputs)
        if U.shape[0] != Y.shape[0]:
            raise ValueError(f"U and Y must have the same number of rows, got {U.shape[0]} "
                             f"and {Y.shape[0]}")
        keys = self._keys(keys, U.shape[0])
        out = np.full((len(keys), self.n_outputs), np.nan, dtype=self.dtype)
        ok = ok_u & ok_y
        if not ok.all():
            self.n_skipped += int(np.count_nonzero(~ok))
            keys = [k for k, good in zip(keys, ok) if good]
            U, Y = np.ascontiguousarray(U[ok]), np.ascontiguousarray(Y[ok])
        if not keys:
            return out
        joined = [k for k in keys if k not in self._slots]
        kept = (self._state, self._capacity, list(self._free))  # a refused tick restores them
        self._grow(len(self._slots) + len(joined))
        for k in joined:  # provisional until the tick is committed
            self._slots[k] = self._free.pop(0) if self._free else len(self._slots)
        last = self.__dict__.get("_last_keys")
        if joined or last is None or last[0] is not keys:
            slots = np.array([self._slots[k] for k in keys], dtype=np.int64)
        else:
            slots = last[1]
        got = np.empty((len(keys), self.n_outputs), dtype=self.dtype)
        status = self._kernel(slots, U, Y, got, True)
        if status != 0:
            if self.on_divergence == "raise" or status == 1:
                for k in joined:
                    del self._slots[k]
                self._state, self._capacity, self._free = kept
            if self.on_divergence == "raise":
                raise DivergenceError(
                    f"this tick was refused: {_REASONS[status]} (method={self.method!r}, "
                    f"lr={self.lr:g}, sigma={self.sigma:g}, max_weight={self.max_weight:g}). "
                    "The model is as it was before it. Lower lr or sigma, or choose "
                    "on_divergence='rollback'.", 0, _REASONS[status],
                    np.zeros((0, self.n_outputs), dtype=self.dtype))
            self.n_rollbacks += 1
            if status == 1:
                return out
            self._kernel(slots, U, Y, got, False)  # keep the weights, move the states on
        self._last_keys = (list(keys), slots)  # checked, and every one has a slot
        if ok.all():
            return got
        out[ok] = got
        return out

    def learn_one(self, key, u, y):
        """``learn_many`` for one stream: returns its prediction, shape (n_outputs,)."""
        return self.learn_many([key], np.reshape(self._numeric("u", u), (1, -1)),
                               np.reshape(self._numeric("y", y), (1, -1)))[0]

    def predict_many(self, keys, U):
        """The clean outputs if U[s] were stream keys[s]'s next input, (k, n_outputs).

        Changes nothing; a key not in the model is predicted from a zero state.
        Under ``on_invalid="skip"`` a row holding NaN or inf gives NaN.
        """
        U, ok = self._rows_of("U", U, self.n_inputs)
        keys = self._keys(keys, U.shape[0])
        out = np.full((len(keys), self.n_outputs), np.nan, dtype=self.dtype)
        if not ok.all():
            keys = [k for k, good in zip(keys, ok) if good]
            U = np.ascontiguousarray(U[ok])
        if not keys:
            return out
        self._grow(len(keys))
        slots = np.array([self._slots.get(k, -1) for k in keys], dtype=np.int64)
        got = np.empty((len(keys), self.n_outputs), dtype=self.dtype)
        self._fortran()
        _shared_predict(self._A, self._R.T, self._B, self._D.T, self._state, slots, U, got,
                        self._work, self._work_o, self._work_t, self._rng, self._hyper,
                        self._config)
        out[ok] = got
        return out

    def predict_one(self, key, u):
        """``predict_many`` for one stream: shape (n_outputs,)."""
        return self.predict_many([key], np.reshape(self._numeric("u", u), (1, -1)))[0]

    def _fortran(self):
        if not (self._R.flags.f_contiguous and self._D.flags.f_contiguous):
            self._R = np.asfortranarray(self._R)  # e.g. set from outside
            self._D = np.asfortranarray(self._D)

    def _kernel(self, slots, U, Y, out, learn):
        self._fortran()
        return _shared_learn(self._A, self._R.T, self._B, self._D.T, self._moments,
                             self._state, slots, U, Y, out, self._work, self._work_o,
                             self._work_t, self._rows, self._rng, self._counters, self._hyper,
                             self._config, learn)

    def __repr__(self):
        tag = ("d" if self.decorrelation else "") + self.method
        return (f"SharedRNN({self.n_inputs}, {self.n_hidden}, {self.n_outputs}, "
                f"method={tag!r}, lr={self.lr:g}, sigma={self.sigma:g}, "
                f"optimizer={self.optimizer!r}, streams={len(self)})")


def _key(key):
    """A numpy scalar key as the Python value it equals (so checkpoints stay plain)."""
    return key.item() if isinstance(key, np.generic) else key
