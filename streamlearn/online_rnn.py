"""OnlineRNN: a recurrent network trained online by twin-network perturbation."""

import math

import numpy as np

from . import _kernels as K
from .checkpoint import Checkpointable
from ._random import fresh_seed, seed_state, normal
from .defaults import LR_REF, default_lr

METHODS = {"anp": K.ANP, "np": K.NP, "wp": K.WP, "bp": K.BP}
ACTIVATIONS = {"tanh": K.TANH, "relu": K.RELU, "identity": K.IDENTITY, "sign": K.SIGN}
NON_DIFFERENTIABLE = {"sign"}
OPTIMIZERS = {"sgd": K.SGD, "adam": K.ADAM}

#: Learning rate used when ``lr=None`` at the reference width of 100 hidden
#: units, by (method, optimizer); kept for backward compatibility. At other
#: widths ``lr=None`` takes ``streamlearn.defaults.default_lr``, which scales
#: these values down above 100 units (docs/width.md).
DEFAULT_LR = dict(LR_REF)


class DivergenceError(FloatingPointError):
    """A step was refused by the divergence guard (``on_divergence="raise"``).

    The model is exactly as it was before that step. ``step`` is the step's
    index within the call, ``reason`` says what failed, and ``predictions``
    holds the prequential predictions of the steps before it in the same call,
    which were committed.
    """

    def __init__(self, message, step, reason, predictions):
        super().__init__(message)
        self.step = step
        self.reason = reason
        self.predictions = predictions


_REASONS = {1: "the forward pass gave a non-finite state or output",
            2: "the update would make a weight non-finite or exceed max_weight"}


class OnlineRNN(Checkpointable):
    """A one-hidden-layer RNN that learns from every sample as it arrives.

    A clean twin and a noisy twin share the weights A (input), R (recurrent),
    B (read-out) and, with decorrelation, D; each keeps its own hidden state.
    Both step on every sample, the per-step loss difference dl_t drives the
    update, and the update is applied at once, so the next sample already
    sees it. The equations are in ``docs/algorithms.md``.

    Parameters
    ----------
    n_inputs, n_hidden, n_outputs : int
        Layer sizes.
    method : {"anp", "np", "wp", "bp"}
        Activity-based node perturbation, node perturbation, weight
        perturbation, or the exact gradient (truncated backprop) baseline.
    decorrelation : bool
        Learn a decorrelating matrix D on the hidden state (DANP, DNP, DWP, DBP).
    lr : float or None
        Learning rate; ``None`` takes ``streamlearn.defaults.default_lr(method,
        optimizer, n_hidden, decorrelation)``: ``DEFAULT_LR[(method, optimizer)]``
        up to 100 hidden units, scaled down with width above (docs/width.md).
        Every method's update is scaled as an estimate of the same gradient of
        the per-step loss, so one value means about the same step size for all.
    lr_decorrelation : float
        Learning rate of D.
    sigma : float
        Standard deviation of the perturbations (node or weight noise).
    optimizer : {"sgd", "adam"}
        How the (estimated) gradient becomes a step; for every method.
    activation : {"tanh", "relu", "identity", "sign"}
        Hidden non-linearity. ``"sign"`` is a hard threshold with no useful
        derivative: the perturbation methods learn with it, ``"bp"`` refuses it.
    seed : int or None
        Seed of the model's own random stream (weights and noise). ``None``
        draws one from the operating system; it is kept in ``seed``.
    dtype : numpy.float64 or numpy.float32
        Floating type of weights, states and arithmetic.
    bptt_window : int
        For ``"bp"``: the number of steps the gradient of l_t goes back through
        (1 = the current step only, the paper's baseline).
    noisy_reference : bool
        For ``"anp"``: the reference twin is noisy too, with its own noise, so
        no clean pass exists and the noise is never read. The prediction is
        then the reference twin's output, noise included; ``predict_one`` and
        ``advance_*`` stay noise-free.
    adam_betas : (float, float)
        Adam's decay rates.
    adam_eps : float
        Adam's denominator constant.
    on_invalid : {"raise", "skip"}
        What a sample holding an invalid value (NaN, inf, None, a string) does:
        raise (``ValueError`` for non-finite numbers, ``TypeError`` for
        non-numbers; the default), or be ignored and counted in ``n_skipped``.
        Either way the model is left exactly as it was. Wrong shapes are a
        programming error and always raise ``ValueError``.
    on_divergence : {"raise", "rollback", "reset"}
        What a step does when the divergence guard refuses it: a forward pass
        with a non-finite state or output, or an update that would make a
        weight non-finite or larger than ``max_weight`` in magnitude. Nothing
        of a refused step is committed. "raise" (default) raises
        ``DivergenceError`` with the model as it was before the step.
        "rollback" keeps the last good weights and goes on: the state advances
        without learning (as ``advance_one``), or, if the forward pass itself
        was not finite, the sample is dropped like a skipped one
        (``n_rollbacks`` counts both). "reset" draws fresh weights from the
        model's stream, zeroes D's learning, the optimizer and the states,
        drops the sample and goes on (``n_resets``). See docs/reliability.md.
    max_weight : float
        The guard's bound on the magnitude of any weight (A, R, B, D).
    threads : int
        Threads for the N x N passes of a step (1 = single-threaded); the
        results are bit-identical to ``threads=1``. On the 2-core machine of
        docs/benchmarks.md two threads were slower than one at every size (the
        step is memory-bound and the cores share the bus); measure on yours.

    Examples
    --------
    >>> import numpy as np
    >>> from streamlearn import OnlineRNN
    >>> from streamlearn.datasets import mackey_glass
    >>> U, Y = mackey_glass(2000, seed=0)
    >>> model = OnlineRNN(1, 50, 1, method="anp", decorrelation=True, seed=0)
    >>> predictions = model.learn_many(U, Y)
    >>> first, last = (np.mean((predictions[s] - Y[s]) ** 2)
    ...                for s in (slice(0, 1000), slice(1000, 2000)))
    >>> bool(last < first)
    True
    """

    def __init__(self, n_inputs, n_hidden=100, n_outputs=1, method="anp",
                 decorrelation=False, lr=None, lr_decorrelation=1e-4, sigma=1e-3,
                 optimizer="sgd", activation="tanh", seed=None, dtype=np.float64,
                 bptt_window=1, noisy_reference=False, adam_betas=(0.9, 0.999),
                 adam_eps=1e-8, on_invalid="raise", threads=1, on_divergence="raise",
                 max_weight=1e3):
        self.n_inputs = _positive_int("n_inputs", n_inputs)
        self.n_hidden = _positive_int("n_hidden", n_hidden)
        self.n_outputs = _positive_int("n_outputs", n_outputs)
        self.method = _choice("method", method, METHODS)
        self.optimizer = _choice("optimizer", optimizer, OPTIMIZERS)
        self.activation = _choice("activation", activation, ACTIVATIONS)
        self.decorrelation = bool(decorrelation)
        self.lr = (default_lr(self.method, self.optimizer, self.n_hidden, self.decorrelation)
                   if lr is None else _positive("lr", lr))
        self.lr_decorrelation = _positive("lr_decorrelation", lr_decorrelation)
        self.sigma = _positive("sigma", sigma)
        self.bptt_window = _positive_int("bptt_window", bptt_window)
        self.noisy_reference = bool(noisy_reference)
        beta1, beta2 = (float(b) for b in adam_betas)
        if not (0.0 <= beta1 < 1.0 and 0.0 < beta2 < 1.0):
            raise ValueError(f"adam_betas must be in [0, 1) x (0, 1), got {adam_betas!r}")
        self.adam_betas = (beta1, beta2)
        self.adam_eps = _positive("adam_eps", adam_eps)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float64, np.float32):
            raise ValueError(f"dtype must be float64 or float32, got {self.dtype}")
        if self.method == "bp" and self.activation in NON_DIFFERENTIABLE:
            raise ValueError(
                f"method='bp' needs a derivative, and activation={self.activation!r} "
                "has none; use a perturbation method ('anp', 'np', 'wp') instead")
        if self.bptt_window > 1 and self.method != "bp":
            raise ValueError("bptt_window > 1 applies to method='bp' only")
        if self.noisy_reference and self.method != "anp":
            raise ValueError(
                "noisy_reference=True applies to method='anp' only: "
                f"{self.method!r} reads the noise it injected")
        self.on_invalid = _choice("on_invalid", on_invalid, {"raise": 0, "skip": 1})
        self.n_skipped = 0
        self.on_divergence = _choice("on_divergence", on_divergence,
                                     {"raise": 0, "rollback": 1, "reset": 2})
        self.max_weight = _positive("max_weight", max_weight)
        self.n_rollbacks = 0
        self.n_resets = 0
        self.threads = _positive_int("threads", threads)
        self.seed = fresh_seed() if seed is None else int(seed)

        self._rng = seed_state(self.seed)
        N, I, O = self.n_hidden, self.n_inputs, self.n_outputs
        self._A = self._xavier(N, I)
        # R and D are stored column-major: the kernels walk R^T and D^T by rows
        # (streamlearn/_kernels.py, "Fast path")
        self._R = np.asfortranarray(self._xavier(N, N))
        self._B = self._xavier(O, N)
        self._D = np.eye(N, dtype=self.dtype, order="F")
        self._allocate()
        self._hyper = np.zeros(K.N_HYPER, dtype=np.float64)
        self._hyper[:K.H_EPS + 1] = [self.lr, self.lr_decorrelation, self.sigma, beta1, beta2,
                                     self.adam_eps]
        self._hyper[K.H_MAX_WEIGHT] = self.max_weight
        self.refresh_bounds()
        self._config = np.array([METHODS[self.method], ACTIVATIONS[self.activation],
                                 int(self.decorrelation), OPTIMIZERS[self.optimizer],
                                 int(self.noisy_reference), self.bptt_window], dtype=np.int64)

    # -- buffers ---------------------------------------------------------------

    def _xavier(self, rows, cols):
        """Xavier-normal init, std sqrt(2 / (fan_in + fan_out)), from the model's stream."""
        std = np.sqrt(2.0 / (rows + cols))
        return normal(self._rng, (rows, cols), std).astype(self.dtype)

    def _n_weights(self):
        N, I, O = self.n_hidden, self.n_inputs, self.n_outputs
        return N * I + N * N + O * N

    def _allocate(self):
        """Every buffer a step touches, allocated once (and again on add_inputs)."""
        N, I, O, K_ = self.n_hidden, self.n_inputs, self.n_outputs, self.bptt_window
        dt = self.dtype
        n_moments = 2 * self._n_weights() if self.optimizer == "adam" else 0
        self._moments = np.zeros(n_moments, dtype=dt)
        # BP: K ring slots plus one to keep the slot a refused step overwrote
        self._history = np.zeros((K_ + 1 if self.method == "bp" else 1, I + 2 * N), dtype=dt)
        self._state = np.zeros((2, N), dtype=dt)
        self._counters = np.zeros(3, dtype=np.int64)
        self._allocate_scratch()

    _SCRATCH = ("_wp_noise", "_work_n", "_work_o", "_work_k", "_no_states",
                "_pend_g", "_pend_p", "_pend_u", "_pend_k")

    def _allocate_scratch(self):
        """Buffers written before they are read within a step: not model state."""
        N, I, O, K_ = self.n_hidden, self.n_inputs, self.n_outputs, self.bptt_window
        dt = self.dtype
        self._wp_noise = np.zeros(self._n_weights() if self.method == "wp" else 0, dtype=dt)
        self._work_n = np.zeros((K.N_WORK_N_FAST, N), dtype=dt)
        self._work_o = np.zeros((K.N_WORK_O, O), dtype=dt)
        self._work_k = np.zeros((K_, N), dtype=dt)
        self._no_states = np.zeros((0, N), dtype=dt)
        # the A and R update a step leaves pending for the next pass over R;
        # nothing is pending between calls (kernels flush before returning)
        self._pend_g = np.zeros((K_, N), dtype=dt)
        self._pend_p = np.zeros((K_, N), dtype=dt)
        self._pend_u = np.zeros((K_, I), dtype=dt)
        self._pend_k = np.zeros(2, dtype=np.int64)

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in self._SCRATCH}

    def __setstate__(self, d):
        self.__dict__.update(d)
        self._allocate_scratch()

    # -- public views ----------------------------------------------------------

    @property
    def A(self):
        """Input weights, shape (n_hidden, n_inputs)."""
        return self._A

    @property
    def R(self):
        """Recurrent weights, shape (n_hidden, n_hidden); they read xs_{t-1}."""
        return self._R

    @property
    def B(self):
        """Read-out weights, shape (n_outputs, n_hidden); they read xs_t."""
        return self._B

    @property
    def D(self):
        """Decorrelation matrix, shape (n_hidden, n_hidden); identity unless learned."""
        return self._D

    @property
    def state(self):
        """The clean twin's hidden state xs_t (a copy)."""
        return self._state[0].copy()

    @property
    def noisy_state(self):
        """The noisy twin's hidden state (a copy)."""
        return self._state[1].copy()

    @property
    def n_updates(self):
        """How many learning steps have been applied."""
        return int(self._counters[K.K_ADAM])

    # -- input checks ----------------------------------------------------------

    def _numeric(self, name, value):
        """``value`` as an array of self.dtype, judging non-numbers by name.

        Booleans count as numbers (0 and 1). None, strings and other
        non-numbers raise a TypeError naming them, or under
        ``on_invalid="skip"`` become NaN, which marks their sample invalid.
        NaN and inf pass here and are judged by the caller.
        """
        try:
            raw = np.asarray(value)
        except ValueError:  # ragged nesting
            raise ValueError(f"{name} must be a rectangular array of numbers, got {value!r}") from None
        if raw.dtype.kind in "biuf":
            return raw.astype(self.dtype, copy=False)
        skip = self.on_invalid == "skip"
        if raw.dtype.kind == "O":
            out = np.empty(raw.shape, dtype=self.dtype)
            flat = out.reshape(-1)
            for i, item in enumerate(raw.flat):
                if isinstance(item, (bool, int, float, np.bool_, np.integer, np.floating)):
                    flat[i] = item
                elif skip:
                    flat[i] = np.nan
                else:
                    raise TypeError(f"{name} must hold numbers, got {item!r} in {value!r}")
            return out
        if skip:
            return np.full(raw.shape, np.nan, dtype=self.dtype)
        raise TypeError(f"{name} must hold numbers, got {value!r} (dtype {raw.dtype})")

    def _vector(self, name, value, size):
        """A (size,) array, or None if it holds NaN/inf and the policy skips."""
        if (type(value) is np.ndarray and value.dtype == self.dtype
                and value.shape == (size,) and size <= 64 and value.flags.c_contiguous
                and all(map(math.isfinite, value.tolist()))):
            return value  # the common case of learn_one, checked cheaply
        arr = self._numeric(name, value)
        if arr.ndim == 0 and size == 1:
            arr = arr.reshape(1)
        if arr.shape != (size,):
            raise ValueError(f"{name} must have shape ({size},), got {np.shape(value)}")
        if not np.all(np.isfinite(arr)):
            if self.on_invalid == "skip":
                return None
            raise ValueError(f"{name} must be finite, got {value!r}")
        return np.ascontiguousarray(arr)

    def _matrix(self, name, value, cols):
        """A (T, cols) array and the mask of its finite rows (all True unless
        the policy skips; under "raise" a non-finite row is an error)."""
        arr = self._numeric(name, value)
        if arr.ndim == 1 and cols == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2 or arr.shape[1] != cols:
            raise ValueError(f"{name} must have shape (T, {cols}), got {np.shape(value)}")
        ok = np.isfinite(arr).all(axis=1)
        if not ok.all() and self.on_invalid == "raise":
            row = int(np.argmin(ok))
            raise ValueError(f"{name} must be finite; row {row} is {arr[row]!r}")
        return np.ascontiguousarray(arr), ok

    def _skip(self, count=1):
        self.n_skipped += int(count)

    # -- learning and prediction -----------------------------------------------

    def learn_one(self, u, y):
        """Step both twins on input ``u`` and learn from target ``y``.

        Returns the clean prediction for ``y`` made before the update (the
        prequential prediction), shape (n_outputs,). Under
        ``on_invalid="skip"`` a sample holding an invalid value is ignored:
        the model does not change, ``n_skipped`` grows and None is returned.
        """
        u = self._vector("u", u, self.n_inputs)
        y = self._vector("y", y, self.n_outputs)
        if u is None or y is None:
            self._skip()
            return None
        return self._run(u.reshape(1, -1), y.reshape(1, -1), True, False)[0][0]

    def learn_many(self, U, Y, return_states=False):
        """``learn_one`` over a (T, n_inputs) / (T, n_outputs) sequence in one call.

        Bit-identical to looping ``learn_one``. Returns the T prequential
        predictions, and with ``return_states`` also the clean hidden states
        xs_t, shape (T, n_hidden). Under ``on_invalid="skip"`` rows holding
        an invalid value are not samples: the call equals ``learn_many(U[ok], Y[ok])``
        for the finite rows ``ok``, and returns only their predictions.
        """
        U, ok_u = self._matrix("U", U, self.n_inputs)
        Y, ok_y = self._matrix("Y", Y, self.n_outputs)
        if U.shape[0] != Y.shape[0]:
            raise ValueError(f"U and Y must have the same length, got {U.shape[0]} and {Y.shape[0]}")
        ok = ok_u & ok_y
        if not ok.all():
            self._skip(np.count_nonzero(~ok))
            U, Y = np.ascontiguousarray(U[ok]), np.ascontiguousarray(Y[ok])
        out, xs = self._run(U, Y, True, return_states)
        return (out, xs) if return_states else out

    def advance_one(self, u):
        """Step the clean twin on ``u`` without learning; return its output.

        The noisy twin is re-synchronised to the clean state; no noise is drawn
        and no weight (nor D) changes. Invalid ``u``: as in ``learn_one``.
        """
        u = self._vector("u", u, self.n_inputs)
        if u is None:
            self._skip()
            return None
        return self._run(u.reshape(1, -1), None, False, False)[0][0]

    def advance_many(self, U, return_states=False):
        """``advance_one`` over a (T, n_inputs) sequence: evaluation that
        continues from (and moves) the current state, without learning.
        Invalid rows: as in ``learn_many``."""
        U, ok = self._matrix("U", U, self.n_inputs)
        if not ok.all():
            self._skip(np.count_nonzero(~ok))
            U = np.ascontiguousarray(U[ok])
        out, xs = self._run(U, None, False, return_states)
        return (out, xs) if return_states else out

    def predict_one(self, u):
        """The clean output if ``u`` were the next input; changes nothing.

        Under ``on_invalid="skip"`` an input holding NaN or inf gives None.
        """
        u = self._vector("u", u, self.n_inputs)
        if u is None:
            return None
        out = np.empty(self.n_outputs, dtype=self.dtype)
        K._predict_fast(self._A, self._R.T, self._B, self._D.T, self._state, self._work_n,
                        self._config, u, out)
        return out

    def _run(self, U, Y, learn, return_states):
        T = U.shape[0]
        if Y is None:
            Y = np.zeros((T, self.n_outputs), dtype=self.dtype)
        out = np.empty((T, self.n_outputs), dtype=self.dtype)
        xs = np.empty((T, self.n_hidden), dtype=self.dtype) if return_states else self._no_states
        if not (self._R.flags.f_contiguous and self._D.flags.f_contiguous):
            self._R = np.asfortranarray(self._R)  # e.g. set from outside
            self._D = np.asfortranarray(self._D)
        kept = None
        start = 0
        while True:
            xs_part = xs[start:] if return_states else xs
            stop, status = self._kernel(U[start:], Y[start:], out[start:], xs_part, learn)
            if status == 0:
                break
            t = start + stop
            if self.on_divergence == "raise":
                raise DivergenceError(
                    f"step {t} of this call was refused: {_REASONS[status]} "
                    f"(method={self.method!r}, lr={self.lr:g}, sigma={self.sigma:g}, "
                    f"max_weight={self.max_weight:g}). The model is as it was before that "
                    "step. Lower lr or sigma, or choose on_divergence='rollback' or 'reset'.",
                    t, _REASONS[status], out[:t].copy())
            if kept is None:
                kept = np.ones(T, dtype=bool)
            if self.on_divergence == "rollback":
                self.n_rollbacks += 1
                if status == 2:  # keep the weights, move the state on
                    xs_one = xs[t:t + 1] if return_states else xs
                    self._kernel(U[t:t + 1], Y[t:t + 1], out[t:t + 1], xs_one, False)
                else:
                    kept[t] = False
            else:
                self.n_resets += 1
                self._reinitialise()
                kept[t] = False
            start = t + 1
            if start == T:
                break
        if kept is not None:
            out = out[kept]
            xs = xs[kept] if return_states else xs
        return out, (xs if return_states else None)

    def _kernel(self, U, Y, out, xs, learn):
        return K._run_fast(self._A, self._R.T, self._B, self._D.T, self._moments,
                           self._wp_noise, self._history, self._state, self._work_n,
                           self._work_o, self._work_k, self._rng, self._counters, self._hyper,
                           self._config, self._pend_g, self._pend_p, self._pend_u, self._pend_k,
                           U, Y, out, xs, learn, getattr(self, "threads", 1))

    def refresh_bounds(self):
        """Recompute the divergence guard's bounds on max |weight| exactly.

        The guard tracks upper bounds step by step; call this after changing
        weights in place from outside (loading and ``add_inputs`` call it).
        """
        self._hyper[K.H_WMAX] = max(np.abs(self._A).max(), np.abs(self._R).max(),
                                    np.abs(self._B).max())
        self._hyper[K.H_DMAX] = np.abs(self._D).max()

    def _reinitialise(self):
        """Fresh weights from the model's stream, D = I, zero optimizer and states."""
        N, I, O = self.n_hidden, self.n_inputs, self.n_outputs
        self._A[:] = self._xavier(N, I)
        self._R[:] = self._xavier(N, N)
        self._B[:] = self._xavier(O, N)
        self._D[:] = np.eye(N, dtype=self.dtype)
        self._moments[:] = 0.0
        self._counters[K.K_ADAM] = 0
        self.reset_state()
        self.refresh_bounds()

    def reset_state(self):
        """Zero both twins' hidden states (and the BP history); weights stay."""
        self._state[:] = 0.0
        self._history[:] = 0.0
        self._counters[K.K_POS] = 0
        self._counters[K.K_FILL] = 0

    def add_inputs(self, k=1):
        """Grow the input layer by ``k`` units with fresh Xavier-scaled weights.

        Existing weights, states, optimizer moments and the update count are
        kept; the BP history restarts (its stored inputs had the old width).
        """
        k = _positive_int("k", k)
        N, I, O = self.n_hidden, self.n_inputs, self.n_outputs
        new = normal(self._rng, (N, k), np.sqrt(2.0 / (N + I + k))).astype(self.dtype)
        old_moments = self._moments
        old_state = self._state
        updates = self._counters[K.K_ADAM]
        self._A = np.ascontiguousarray(np.hstack([self._A, new]))
        self.n_inputs = I + k
        self._allocate()
        self._state[:] = old_state
        self._counters[K.K_ADAM] = updates  # Adam's bias correction goes on from here
        if old_moments.size:
            size = N * I + N * N + O * N
            for half in range(2):
                old = old_moments[half * size:(half + 1) * size]
                m_new = self._moments[half * self._n_weights():(half + 1) * self._n_weights()]
                m_new[:N * (I + k)].reshape(N, I + k)[:, :I] = old[:N * I].reshape(N, I)
                m_new[N * (I + k):] = old[N * I:]
        self.refresh_bounds()
        return self

    def __repr__(self):
        tag = ("d" if self.decorrelation else "") + self.method
        return (f"OnlineRNN({self.n_inputs}, {self.n_hidden}, {self.n_outputs}, "
                f"method={tag!r}, lr={self.lr:g}, sigma={self.sigma:g}, "
                f"optimizer={self.optimizer!r}, activation={self.activation!r})")


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return int(value)


def _positive(name, value):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def _choice(name, value, options):
    if not isinstance(value, str) or value.lower() not in options:
        raise ValueError(f"unknown {name} {value!r}; choose one of {sorted(options)}")
    return value.lower()
