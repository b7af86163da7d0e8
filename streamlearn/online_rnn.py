"""OnlineRNN: a recurrent network trained online by twin-network perturbation."""

import math
from typing import NamedTuple

import numpy as np

from .kernels import layout as K
from .kernels import arena as KA
from .kernels.step import _predict_fast, _run_fast
from .kernels import factored as F
from .kernels.factored import _run_factored
from .checkpoint import Checkpointable
from ._random import fresh_seed, seed_state, normal
from .defaults import (LR_REF, RLS_LR_FACTOR, default_input_scaling, default_lr,
                       default_lr_decorrelation)
from .methods import RULES

# Each name the constructor accepts -> its code in the kernels' configuration.
# The rules themselves (and the d-prefixed method names) are in streamlearn.methods.
_RULE_CODES = {"anp": K.ANP, "np": K.NP, "wp": K.WP, "bp": K.BP}
METHODS = {rule: _RULE_CODES[rule] for rule in RULES}
ACTIVATIONS = {"tanh": K.TANH, "relu": K.RELU, "identity": K.IDENTITY, "sign": K.SIGN}
NON_DIFFERENTIABLE = {"sign"}
OPTIMIZERS = {"sgd": K.SGD, "adam": K.ADAM}
READOUTS = {"perturbation": K.PERTURBATION, "rls": K.RLS}
NOISES = {"gaussian": K.GAUSSIAN, "rademacher": K.RADEMACHER}
UPDATES = {"exact": 0, "factored": 1}
#: ``factor_rank`` when ``update="factored"`` and none is given (docs/factored.md).
DEFAULT_FACTOR_RANK = 8

#: Learning rate used when ``lr=None`` at the reference width of 100 hidden
#: units, by (method, optimizer); kept for backward compatibility (a copy of
#: ``streamlearn.defaults.LR_REF``). At other widths ``lr=None`` takes
#: ``streamlearn.defaults.default_lr``, which scales these values down above
#: 100 units (docs/width.md); ``streamlearn.methods.Method.lr`` gives it by name.
#: ``lr=None`` with ``readout="rls"`` takes ``default_lr(...) * RLS_LR_FACTOR``
#: (``streamlearn.defaults.RLS_LR_FACTOR``, 1e-4).
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
            2: "the update would make a weight non-finite or exceed max_weight",
            3: "the prediction is more than output_bound times the targets' range "
               "outside the range of the targets seen so far, and as far from its target"}


class NetworkBuffers(NamedTuple):
    """The arrays of an :class:`OnlineRNN` as its kernels take them (views, not copies).

    ``OnlineRNN.buffers()`` returns them, so that another driver (the
    forecaster's kernels, ``streamlearn/kernels/forecast*.py``) can step the
    same network: R and D stored column-major appear as ``RT = R^T`` and
    ``DT = D^T``, C-contiguous (``kernels/step.py``). Writing into them changes
    the model; a buffer is replaced by ``add_inputs`` and by loading, so take
    them again after either.
    """

    A: np.ndarray  #: input weights (N, I)
    RT: np.ndarray  #: R^T (N, N)
    B: np.ndarray  #: read-out (O, N)
    DT: np.ndarray  #: D^T (N, N)
    moments: np.ndarray  #: Adam's moments, flat (empty with SGD)
    mom: tuple  #: views (mA, vA, mR, vR, mB, vB) of ``moments``
    wp: object  #: WP's noise views (flat, xiA, xiR, xiB, xiC, xic, words, XT), or None
    rng: np.ndarray  #: the model's random stream, uint64[4]
    state: np.ndarray  #: both twins' states (2, N)
    hyper: np.ndarray  #: hyper-parameter slots (``kernels/layout.py``)
    config: np.ndarray  #: configuration codes (``kernels/layout.py``)


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
        up to 100 hidden units, scaled down with width above (docs/width.md);
        with ``readout="rls"``, that times ``RLS_LR_FACTOR`` (1e-4).
        Every method's update is scaled as an estimate of the same gradient of
        the per-step loss, so one value means about the same step size for all.
    lr_decorrelation : float
        Learning rate of D; ``None`` takes
        ``streamlearn.defaults.default_lr_decorrelation(n_hidden)``: the
        authors' 1e-4 up to 100 hidden units, 1e-4 * 100 / N above
        (docs/width.md).
    sigma : float
        Standard deviation of the perturbations (node or weight noise).
    noise : {"gaussian", "rademacher"}
        Distribution of the perturbations of "np", "anp" and "wp" (and of
        the reference twin's noise under ``noisy_reference``): N(0, sigma^2)
        draws (default, the paper's), or +-sigma with equal probability (as in
        simultaneous-perturbation methods), 64 signs per 64-bit word of the
        model's stream, which is much cheaper to draw. Both have mean zero and
        variance sigma^2, so the updates estimate the same gradient
        (docs/algorithms.md, "Noise"). ``"bp"`` draws no noise and ignores it.
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
        with a non-finite state or output, an update that would make a weight
        non-finite or larger than ``max_weight`` in magnitude, or a useless
        prediction (see ``output_bound``). Nothing of a refused step is
        committed. "raise" (default) raises ``DivergenceError`` with the model
        as it was before the step. "rollback" keeps the last good weights and
        goes on: the state advances without learning (as ``advance_one``),
        or, if the forward pass itself was not finite, the sample is dropped
        like a skipped one (``n_rollbacks`` counts every refused step). It
        resets the model instead (and then advances it on the sample;
        ``n_resets`` counts these too) when the prediction was useless, or at
        the ``max_refusals``-th consecutive refused update. "reset" draws fresh weights from the model's stream,
        zeroes D's learning, the optimizer and the states, drops the sample
        and goes on (``n_resets``). See docs/reliability.md.
    max_weight : float
        The guard's bound on the magnitude of any weight (A, R, B, C, c, D).
    readout : {"perturbation", "rls"}
        How the read-out learns. "perturbation" (default, the paper): by the
        method's rule, like A and R. "rls": recursive least squares with
        forgetting on z_t = [xs_t, u_t, 1] (eq. 11), O((N + I)^2) per step;
        A, R (and D) still learn by the method's rule from dl_t of the twins,
        whose outputs both come from the least-squares read-out, with no
        output noise (eq. 12). With "rls" the read-out starts at zero.
    skip, bias : bool or None
        Give the read-out a skip connection from the input (y += C u) and a
        bias (y += c), eq. 1b. ``None`` means True with ``readout="rls"`` and
        False with "perturbation" (the paper's y = B xs). With the
        perturbation read-out, C and c start at zero and learn by the same
        rule as B (eq. 5b); for "wp" they are perturbed like every weight.
    rls_forgetting : float in (0, 1]
        The forgetting factor lambda of "rls": a memory of about
        1 / (1 - lambda) samples. The default 0.9995 (2,000 samples) is
        several times the number of regressors of a 500-unit network, so the
        estimate is well conditioned, and short enough to follow a hidden
        representation that A, R and D keep changing.
    rls_alpha : float
        Ridge of the start of "rls": P_0 = I / rls_alpha. P's diagonal is
        capped at 1e4 / rls_alpha (no wind-up beyond 1e4 times the prior).
    output_bound : float or None
        The divergence guard's watch on the outputs: after 100 learning steps,
        a learning step whose prediction lies more than ``output_bound``
        times the range of the targets seen so far outside that range, and
        as far from its own target, is refused (reason 3); under "rollback"
        the model is then reset (there is nothing better to roll back to).
        ``None`` (default) means 10 with ``on_divergence="raise"``, where a
        refusal is an exception and only unmistakable divergence should make
        one (an untrained network of sign units predicts several target
        ranges wide), and 2 with "rollback" and "reset", where a refusal
        costs a reset and a diverging model should be caught early.
        ``float("inf")`` switches the watch off.
    max_refusals : int
        Under ``on_divergence="rollback"``, after this many consecutive
        refused steps the model is reset instead (``n_resets``): a model
        whose every update is refused is stuck, not recovering.
    input_scaling : float or None
        Multiplies the Xavier-normal initial A (the random stream is the same
        for any value). ``None`` takes
        ``streamlearn.defaults.default_input_scaling(readout, n_hidden,
        n_inputs)``: 1.0 (the paper's network) with the perturbation read-out;
        under ``readout="rls"`` a reservoir-strength drive, each unit's input
        A u with std 0.4 for unit-variance inputs (6.3 at 500 units, one input).
    threads : int
        Threads for the N x N passes of a step (1 = single-threaded); the
        results are bit-identical to ``threads=1``. On the 2-core machine of
        docs/benchmarks.md two threads were slower than one at every size (the
        step is memory-bound and the cores share the bus); measure on yours.
    update : {"exact", "factored"}
        "exact" (default): every step reads and writes R and D once, and the
        results are bit-identical to the reference kernels. "factored"
        (docs/factored.md): the last ``factor_rank`` updates of R and D are
        kept as factors (R = R0 - sum g p^T, D = diag(s) D0 + sum c f^T),
        each step reads R0 and D0 once and corrects its products with
        O(k N) terms, and the factors are folded into R0 and D0 every k
        updates. Less memory traffic for large networks (n_hidden >= 1000);
        the numbers equal the exact mode's only to rounding, but ``learn_many``
        still equals a loop of ``learn_one`` bit for bit, and saving or
        pickling keeps the factors. ``R`` and ``D`` are then read-only
        copies of the effective matrices, and ``buffers()`` is refused.
        Only for "anp" and "np" with SGD, the perturbation read-out and
        ``threads=1`` (ValueError otherwise).
    factor_rank : int or None
        k of ``update="factored"``: updates kept as factors before a fold
        (``None``: ``DEFAULT_FACTOR_RANK``, 8). Only with "factored".

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
                 decorrelation=False, lr=None, lr_decorrelation=None, sigma=1e-3,
                 optimizer="sgd", activation="tanh", seed=None, dtype=np.float64,
                 bptt_window=1, noisy_reference=False, adam_betas=(0.9, 0.999),
                 adam_eps=1e-8, on_invalid="raise", threads=1, on_divergence="raise",
                 max_weight=1e3, readout="perturbation", skip=None, bias=None,
                 rls_forgetting=0.9995, rls_alpha=1e-2, output_bound=None, max_refusals=20,
                 input_scaling=None, noise="gaussian", update="exact", factor_rank=None):
        self.n_inputs = _positive_int("n_inputs", n_inputs)
        self.n_hidden = _positive_int("n_hidden", n_hidden)
        self.n_outputs = _positive_int("n_outputs", n_outputs)
        self.method = _choice("method", method, METHODS)
        self.optimizer = _choice("optimizer", optimizer, OPTIMIZERS)
        self.activation = _choice("activation", activation, ACTIVATIONS)
        self.decorrelation = bool(decorrelation)
        self.lr = (default_lr(self.method, self.optimizer, self.n_hidden, self.decorrelation)
                   if lr is None else _positive("lr", lr))
        self.lr_decorrelation = (default_lr_decorrelation(self.n_hidden) if lr_decorrelation is None
                                 else _positive("lr_decorrelation", lr_decorrelation))
        self.sigma = _positive("sigma", sigma)
        self.noise = _choice("noise", noise, NOISES)
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
        self.readout = _choice("readout", readout, READOUTS)
        if lr is None and self.readout == "rls":
            # under least squares, learning A and R made Mackey-Glass worse at every
            # rate measured; the default keeps it slow (docs/algorithms.md)
            self.lr *= RLS_LR_FACTOR
        rls = self.readout == "rls"
        self.skip = rls if skip is None else _flag("skip", skip)
        self.bias = rls if bias is None else _flag("bias", bias)
        lam = _positive("rls_forgetting", rls_forgetting)
        if lam > 1.0:
            raise ValueError(f"rls_forgetting must be in (0, 1], got {rls_forgetting!r}")
        self.rls_forgetting = lam
        self.rls_alpha = _positive("rls_alpha", rls_alpha)
        if output_bound is None:  # see the docstring: a refusal costs more under "raise"
            output_bound = 10.0 if self.on_divergence == "raise" else 2.0
        elif not (isinstance(output_bound, (int, float, np.integer, np.floating))
                  and output_bound == np.inf):
            output_bound = _positive("output_bound", output_bound)
        self.output_bound = float(output_bound)
        self.max_refusals = _positive_int("max_refusals", max_refusals)
        self.input_scaling = (
            default_input_scaling(self.readout, self.n_hidden, self.n_inputs)
            if input_scaling is None else _positive("input_scaling", input_scaling))
        self._refusals = 0  # consecutive refused steps
        self.update = _choice("update", update, UPDATES)
        self._check_update(factor_rank)
        self.seed = fresh_seed() if seed is None else int(seed)

        self._rng = seed_state(self.seed)
        N, I, O = self.n_hidden, self.n_inputs, self.n_outputs
        self._A = self._xavier(N, I)
        if self.input_scaling != 1.0:
            self._A *= self.dtype.type(self.input_scaling)
        # R and D are stored column-major: the kernels walk R^T and D^T by rows
        # (streamlearn/kernels/step.py)
        self._R = np.asfortranarray(self._xavier(N, N))
        self._B = self._xavier(O, N)
        self._D = np.eye(N, dtype=self.dtype, order="F")
        # the read-out's skip weights C and bias c (zero and unused without skip / bias)
        self._C = np.zeros((O, I), dtype=self.dtype)
        self._c = np.zeros(O, dtype=self.dtype)
        if rls:
            self._B[:] = 0.0  # drawn all the same: the random stream stays the paper's
        self._allocate()
        self._allocate_factors()
        self._watch = np.zeros((2, O), dtype=np.float64)
        self._hyper = np.zeros(K.N_HYPER, dtype=np.float64)
        self._hyper[:K.H_EPS + 1] = [self.lr, self.lr_decorrelation, self.sigma, beta1, beta2,
                                     self.adam_eps]
        self._hyper[K.H_MAX_WEIGHT] = self.max_weight
        self._hyper[K.H_RLS_LAM] = self.rls_forgetting
        self._hyper[K.H_RLS_ALPHA] = self.rls_alpha
        self._hyper[K.H_RLS_PMAX] = 1e4 / self.rls_alpha
        self._hyper[K.H_OUT_BOUND] = self.output_bound
        self.refresh_bounds()
        self._config = np.array([METHODS[self.method], ACTIVATIONS[self.activation],
                                 int(self.decorrelation), OPTIMIZERS[self.optimizer],
                                 int(self.noisy_reference), self.bptt_window, int(self.skip),
                                 int(self.bias), READOUTS[self.readout], NOISES[self.noise]],
                                dtype=np.int64)

    # the update mode; class defaults for states saved before it existed
    update = "exact"
    factor_rank = 0

    def _check_update(self, factor_rank):
        if self.update == "exact":
            if factor_rank is not None:
                raise ValueError("factor_rank applies to update='factored' only")
            self.factor_rank = 0
            return
        self.factor_rank = (DEFAULT_FACTOR_RANK if factor_rank is None
                            else _positive_int("factor_rank", factor_rank))
        why = None
        if self.method not in ("anp", "np"):
            why = (f"method={self.method!r} (its update is not a rank-1 product of the "
                   "twins' activity)")
        elif self.optimizer != "sgd":
            why = "optimizer='adam' (Adam's step is not rank-1: it cannot be kept as factors)"
        elif self.readout != "perturbation":
            why = "readout='rls'"
        elif self.threads != 1:
            why = "threads > 1"
        if why is not None:
            raise ValueError(f"update='factored' supports method 'anp' or 'np' with "
                             f"optimizer='sgd', readout='perturbation' and threads=1, "
                             f"not {why}; use update='exact'")

    def _allocate_factors(self):
        """The factored mode's state (kernels/factored.py): R's and D's pending
        factors, D's row scaling s and the pending decorrelation update's state.
        Empty in the exact mode. Model state: saved, pickled, kept by add_inputs."""
        N, k, dt = self.n_hidden, self.factor_rank, self.dtype
        self._fac_g = np.zeros((k, N), dtype=dt)
        self._fac_p = np.zeros((k, N), dtype=dt)
        self._fac_c = np.zeros((k, N), dtype=dt)
        self._fac_f = np.zeros((k, N), dtype=dt)
        self._fac_vec = np.zeros((2, N) if k else (0, N), dtype=dt)
        if k:
            self._fac_vec[0] = 1.0  # s
        self._fac_k = np.zeros(3, dtype=np.int64)

    def _clear_factors(self):
        """Forget the factors (the matrices were replaced: fresh weights)."""
        self._fac_k[:] = 0
        if self.factor_rank:
            self._fac_vec[0] = 1.0

    def _effective(self):
        """R and D as the factored mode's state stands for them (new arrays):
        R0 - sum g p^T, and diag(s) D0 + sum c f^T after the pending decorrelation
        update; computed in NumPy, so to rounding what the next fold would store."""
        nR, nD, pend = (int(v) for v in self._fac_k)
        R = self._R - self._fac_g[:nR].T @ self._fac_p[:nR]
        if not self.decorrelation:
            return R, self._D.copy()
        s, xsp = self._fac_vec
        D = s[:, None] * self._D + self._fac_c[:nD].T @ self._fac_f[:nD]
        if pend:
            a = self.dtype.type(self.lr_decorrelation) * xsp
            w = D.T @ xsp
            D = (1.0 + a * xsp)[:, None] * D - a[:, None] * w[None, :]
        return R, D

    def _factored_args(self):
        return (self._fac_g, self._fac_p, self._fac_c, self._fac_f, self._fac_vec, self._fac_k,
                self._fac_w, self._fac_wk, self._fac_sm)

    # -- buffers ---------------------------------------------------------------

    def _xavier(self, rows, cols):
        """Xavier-normal init, std sqrt(2 / (fan_in + fan_out)), from the model's stream."""
        std = np.sqrt(2.0 / (rows + cols))
        return normal(self._rng, (rows, cols), std).astype(self.dtype)

    def _n_weights(self):
        N, I, O = self.n_hidden, self.n_inputs, self.n_outputs
        return N * I + N * N + O * N

    def _n_readout(self):
        """M, the length of the least-squares read-out's regressor [xs, u, 1]."""
        return self.n_hidden + self.n_inputs * self.skip + self.bias

    def _n_wp_noise(self):
        """WP's noise: A, R, and the read-out's B, C, c unless least squares learns it."""
        N, I, O = self.n_hidden, self.n_inputs, self.n_outputs
        if self.method != "wp":
            return 0
        if self.readout == "rls":
            return N * I + N * N
        return self._n_weights() + O * I * self.skip + O * self.bias

    def _allocate(self):
        """Every buffer a step touches, allocated once (and again on add_inputs)."""
        N, I, O, K_ = self.n_hidden, self.n_inputs, self.n_outputs, self.bptt_window
        dt = self.dtype
        n_moments = 2 * self._n_weights() if self.optimizer == "adam" else 0
        self._moments = np.zeros(n_moments, dtype=dt)
        # Adam's moments of C and c (the perturbation read-out's skip and bias)
        out = self.optimizer == "adam" and self.readout != "rls" and (self.skip or self.bias)
        self._moments_out = np.zeros(2 * (O * I + O) if out else 0, dtype=dt)
        # the least-squares read-out's P, in float64 whatever the model's dtype
        M = self._n_readout() if self.readout == "rls" else 0
        self._P = np.eye(M, dtype=np.float64) / self.rls_alpha
        # BP: K ring slots plus one to keep the slot a refused step overwrote
        self._history = np.zeros((K_ + 1 if self.method == "bp" else 1, I + 2 * N), dtype=dt)
        self._state = np.zeros((2, N), dtype=dt)
        self._counters = np.zeros(K.N_COUNTERS, dtype=np.int64)
        self._allocate_scratch()

    _SCRATCH = ("_wp_noise", "_work_n", "_work_o", "_work_k", "_no_states",
                "_pend_g", "_pend_p", "_pend_u", "_pend_k", "_P_spare", "_rls_work", "_views",
                "_y_one", "_out_one", "_packed", "_io", "_fac_w", "_fac_wk", "_fac_sm")

    def _allocate_scratch(self):
        """Buffers written before they are read within a step: not model state."""
        N, I, O, K_ = self.n_hidden, self.n_inputs, self.n_outputs, self.bptt_window
        dt = self.dtype
        self._wp_noise = np.zeros(self._n_wp_noise(), dtype=dt)
        M = self._n_readout() if self.readout == "rls" else 0
        self._P_spare = np.zeros((M, M), dtype=np.float64)
        self._rls_work = np.zeros((K.N_RLS_WORK, M), dtype=np.float64)
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
        self._packed = None  # new buffers: repack at the next one-sample call
        self._y_one = np.zeros(O, dtype=dt)
        self._out_one = np.zeros(O, dtype=dt)
        # the factored mode's scratch (kernels/factored.py)
        k = self.factor_rank
        self._fac_w = np.zeros((F.N_FW if k else 0, N), dtype=dt)
        self._fac_wk = np.zeros((2 * k, N), dtype=dt)
        self._fac_sm = np.zeros((F.N_FSM, k + 1), dtype=dt)

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in self._SCRATCH}

    def __setstate__(self, d):
        self.__dict__.update(d)
        if "_C" not in d:  # written before the read-out options existed
            self._upgrade()
        if "noise" not in d:  # written before the noise option: Gaussian, as it was
            self.noise = "gaussian"
            pad = K.N_CONFIG - self._config.size
            self._config = np.concatenate([self._config, np.full(pad, K.GAUSSIAN, np.int64)])
        self._allocate_scratch()

    def _upgrade(self):
        """Defaults for a state saved before the read-out options and the output watch."""
        O, I = self.n_outputs, self.n_inputs
        self.readout, self.skip, self.bias = "perturbation", False, False
        self.rls_forgetting, self.rls_alpha = 0.9995, 1e-2
        self.output_bound, self.max_refusals, self.input_scaling = np.inf, 20, 1.0
        self._refusals = 0
        self._C = np.zeros((O, I), dtype=self.dtype)
        self._c = np.zeros(O, dtype=self.dtype)
        self._moments_out = np.zeros(0, dtype=self.dtype)
        self._P = np.zeros((0, 0))
        self._watch = np.zeros((2, O))
        self._counters = np.concatenate([self._counters,
                                         np.zeros(K.N_COUNTERS - self._counters.size, np.int64)])
        self._counters[K.K_SEEN] = K.WATCH_WARMUP  # the model has been learning
        hyper = np.zeros(K.N_HYPER)
        hyper[:self._hyper.size] = self._hyper
        hyper[K.H_RLS_LAM], hyper[K.H_RLS_ALPHA], hyper[K.H_RLS_PMAX] = 0.9995, 1e-2, 1e6
        hyper[K.H_OUT_BOUND] = np.inf  # its targets' range is unknown: no watch
        self._hyper = hyper
        self._config = np.concatenate([self._config, np.zeros(3, np.int64)])

    # -- public views ----------------------------------------------------------

    @property
    def A(self):
        """Input weights, shape (n_hidden, n_inputs)."""
        return self._A

    @property
    def R(self):
        """Recurrent weights, shape (n_hidden, n_hidden); they read xs_{t-1}.

        With ``update="factored"`` a read-only copy of the effective matrix
        (docs/factored.md); reading it changes nothing."""
        if getattr(self, "update", "exact") == "factored":  # SharedRNN borrows this property
            return _read_only(self._effective()[0])
        return self._R

    @property
    def B(self):
        """Read-out weights, shape (n_outputs, n_hidden); they read xs_t."""
        return self._B

    @property
    def C(self):
        """Skip weights of the read-out, shape (n_outputs, n_inputs); zero unless ``skip``."""
        return self._C

    @property
    def c(self):
        """Bias of the read-out, shape (n_outputs,); zero unless ``bias``."""
        return self._c

    @property
    def W(self):
        """The whole read-out [B, C, c] as one (n_outputs, M) array (a copy), with
        M = n_hidden + n_inputs * skip + bias: y = W [xs, u, 1] (eq. 1b, 11)."""
        parts = [self._B] + ([self._C] if self.skip else []) + (
            [self._c[:, None]] if self.bias else [])
        return np.hstack(parts)

    @property
    def P(self):
        """The least-squares read-out's inverse correlation matrix, (M, M) float64
        (0 x 0 unless ``readout="rls"``)."""
        return self._P

    @property
    def n_rls_restarts(self):
        """How often P lost positive-definiteness and restarted at I / rls_alpha."""
        return int(self._counters[K.K_RLS_RESTART])

    @property
    def D(self):
        """Decorrelation matrix, shape (n_hidden, n_hidden); identity unless learned.

        With ``update="factored"`` a read-only copy of the effective matrix,
        the pending decorrelation update included (docs/factored.md)."""
        if getattr(self, "update", "exact") == "factored":  # SharedRNN borrows this property
            return _read_only(self._effective()[1])
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
        None is also returned when ``on_divergence`` ("rollback", "reset")
        drops the sample because its forward pass was not finite.
        """
        p = self._packed
        if (p is not None and p[2] is not None and p[0] is self._A and p[1] is self._R
                and type(u) is np.ndarray and type(y) is np.ndarray and u.dtype is p[6]
                and y.dtype is p[6] and u.shape == p[7] and y.shape == p[8]
                and u.flags.c_contiguous and y.flags.c_contiguous):
            # the common case: checked in a few attribute reads, finite in the entry
            out = np.empty(p[8], dtype=p[6])
            stop, status = p[2](p[3], p[4], p[5], u, y, out)
            if status == 0:
                self._refusals = 0
                return out
            if status != KA.INVALID:
                return self._refused(u, y, out, stop, status)
        u = self._vector("u", u, self.n_inputs)
        y = self._vector("y", y, self.n_outputs)
        if u is None or y is None:
            self._skip()
            return None
        return self._learn_vector(u, y, np.empty(self.n_outputs, dtype=self.dtype))

    def _learn_raw(self, stats, raw, cols, fixed, z):
        """``RNNRegressor.learn_one`` in one kernel call: standardise the raw
        feature values (``kernels.standardise``: ``stats``, learned; value p
        goes to input column ``fixed + cols[p]``) and learn from the
        standardised target ``z``. False, with nothing changed, when the arena
        entries do not apply or a value is infinite: the caller then takes the
        general path. A refused step is handled by the ``on_divergence``
        policy (which may raise), as in ``learn_one``."""
        p = self._arenas()
        if p[2] is None:
            return False
        stop, status = p[9](p[3], p[4], p[5], stats, raw, cols, fixed, z)
        if status == 0:
            self._refusals = 0
            return True
        if status == KA.INVALID:
            return False
        U, Y, out = self._io
        self._policy(U, Y, out, self._no_states, True, False, stop, status)
        return True

    def _predict_raw(self, stats, raw, cols, fixed):
        """``predict_one``'s first output on the raw feature values standardised
        (without learning) as in ``_learn_raw``; None where that does not apply."""
        p = self._arenas()
        if p[2] is None:
            return None
        out = KA._predict_raw(p[3], p[5], stats, raw, cols, fixed)
        return None if out != out else out

    def _predict_vector(self, u, out=None):
        """``predict_one`` on a checked vector, into ``out`` (default: the model's
        scratch)."""
        p = self._arenas()
        out = self._out_one if out is None else out
        if p[2] is not None:
            KA._predict_one(p[3], p[5], u, out)
        elif self.update == "factored":
            self._contiguous()
            U = u.reshape(1, -1)
            _run_factored(self._A, self._R.T, self._B, self._D.T, self._C, self._c,
                          self._state, self._work_n, self._work_o, self._rng, self._counters,
                          self._hyper, self._config, *self._factored_args(), U, U,
                          out.reshape(1, -1), self._no_states, F.PREDICT, self._watch)
        else:
            _predict_fast(self._A, self._R.T, self._B, self._D.T, self._state, self._work_n,
                          self._config, u, out, self._C, self._c)
        return out

    def _learn_scalar(self, u, z):
        """``_learn_vector(u, [z])`` for one output, with the model's scratch for
        the target and the prediction (the River learners' path)."""
        y, out = self._y_one, self._out_one
        y[0] = z
        return self._learn_vector(u, y, out)

    def _learn_vector(self, u, y, out):
        """``learn_one`` on checked vectors (contiguous, the model's dtype, finite):
        the prediction is written to ``out`` and returned, or None if dropped."""
        p = self._arenas()
        if p[2] is not None:  # the few-argument entry (kernels.arena)
            stop, status = p[2](p[3], p[4], p[5], u, y, out)
            if status == 0:  # the common case: committed
                self._refusals = 0
                return out
            if status == KA.INVALID:
                raise ValueError(f"u and y must be finite, got {u!r} and {y!r}")
        else:
            self._contiguous()
            stop, status = self._kernel(u.reshape(1, -1), y.reshape(1, -1),
                                        out.reshape(1, -1), self._no_states, True)
            if status == 0:
                self._refusals = 0
                return out
        return self._refused(u, y, out, stop, status)

    def _refused(self, u, y, out, stop, status):
        """The ``on_divergence`` policy after the one-sample call on ``u``, ``y``
        returned ``status``: ``out``, or None if the sample was dropped."""
        _, _, kept = self._policy(u.reshape(1, -1), y.reshape(1, -1), out.reshape(1, -1),
                                  self._no_states, True, False, stop, status)
        return out if kept is None or kept[0] else None

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
        and no weight (nor D) changes. Invalid ``u``, and a sample the
        divergence policy drops: as in ``learn_one``.
        """
        u = self._vector("u", u, self.n_inputs)
        if u is None:
            self._skip()
            return None
        out = self._run(u.reshape(1, -1), None, False, False)[0]
        return out[0] if len(out) else None

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
        return self._predict_vector(u, np.empty(self.n_outputs, dtype=self.dtype))

    # (A, R, entry, f, d, i, dtype, u's shape, y's shape, raw entry); see _pack
    _packed = None

    def _arenas(self):
        """``_packed``, packed again if A or R has been replaced since."""
        p = self._packed
        if p is None or p[0] is not self._A or p[1] is not self._R:
            p = self._pack()
        return p

    def arenas(self, into=None):
        """The network's buffers as three flat arrays, for another driver (the
        forecaster's kernels, ``kernels/forecast_arena.py``): ``(f, d, i)`` in the
        model's dtype, float64 and int64, their layout in the head of ``i``
        (``kernels/arena.py``). The model's arrays are views of them, so a step
        through them is a step of the model. They are packed again (into new
        arrays, or into ``into``: three arrays of their sizes) when a buffer has
        been replaced (``add_inputs``, loading), so take them again after either.
        Not with ``update="factored"`` or for a fleet's member (ValueError)."""
        p = self._packed
        if (into is not None or p is None or p[3] is None or p[0] is not self._A
                or p[1] is not self._R):
            p = self._pack(driver=True, rows=into)
            if p[3] is None:
                raise ValueError("arenas() needs update='exact' and a stand-alone model: "
                                 "a factored model keeps R and D as factors, and a fleet's "
                                 "member lives in the fleet's arrays")
        return p[3], p[4], p[5]

    def _pack(self, driver=False, rows=None):
        """Move the buffers into three arenas (``kernels.arena``) and return
        ``(A, R, entry, f, d, i, dtype, (n_inputs,), (n_outputs,), raw entry)``: the
        one-sample calls then pass 4-8 arguments instead of 30. The attributes
        become views of the arenas, with the same values; ``entry`` is None
        where the arena entries do not apply (WP, BP, two threads, Adam with
        "rls", a fleet's member, ``update="factored"``: their one-sample calls
        go through ``_kernel``), and nothing moves then. Repacked when A or R
        has been replaced (allocation, add_inputs, loading).

        ``driver=True`` (another driver steps this network through the arenas:
        the forecaster's kernels, ``kernels/forecast_arena.py``) packs every
        exact, unshared network, with ``entry`` None where this model's own
        entries do not apply. ``rows``: three arrays of the arenas' sizes to pack
        into (a ``ForecasterFleet``'s rows) instead of new ones."""
        member = type(self)._kernel_views is not OnlineRNN._kernel_views
        own = not (self.method in ("wp", "bp") or getattr(self, "threads", 1) > 1
                   or KA.LEARN_ONE[self.optimizer == "adam", self.readout == "rls"] is None)
        if self.update == "factored" or member or not (own or driver):
            self._packed = (self._A, self._R) + (None,) * 8
            return self._packed
        self._contiguous()
        N, I, O, Kw = self.n_hidden, self.n_inputs, self.n_outputs, self.bptt_window
        M = self._P.shape[0] if self.readout == "rls" else 0
        adam = self.optimizer == "adam"
        head = np.zeros(KA.N_HEADER, dtype=np.int64)
        head[[KA.I_N, KA.I_I, KA.I_O, KA.I_K, KA.I_M]] = N, I, O, Kw, M
        head[KA.I_ADAM_OUT] = int(adam and self._moments_out.size > 0)
        floats = {KA.F_A: self._A, KA.F_RT: self._R.T, KA.F_B: self._B, KA.F_DT: self._D.T,
                  KA.F_C: self._C, KA.F_CB: self._c, KA.F_STATE: self._state,
                  KA.F_WORK_N: self._work_n, KA.F_WORK_O: self._work_o,
                  KA.F_WORK_K: self._work_k, KA.F_PEND_G: self._pend_g,
                  KA.F_PEND_P: self._pend_p, KA.F_PEND_U: self._pend_u,
                  KA.F_MOM: self._moments, KA.F_MOM_OUT: self._moments_out,
                  KA.F_U: np.zeros(I, self.dtype), KA.F_Y: self._y_one,
                  KA.F_OUT: self._out_one}
        doubles = {KA.D_HYPER: self._hyper, KA.D_WATCH: self._watch, KA.D_P: self._P,
                   KA.D_P_SPARE: self._P_spare, KA.D_RLS_WORK: self._rls_work}
        ints = {KA.J_COUNTERS: self._counters, KA.J_CONFIG: self._config,
                KA.J_PEND_K: self._pend_k, KA.J_RNG: self._rng.view(np.int64)}
        rows = rows or (None, None, None)
        f = _arena(floats, self.dtype, head, 0, rows[0])
        d = _arena(doubles, np.float64, head, 0, rows[1])
        i = _arena(ints, np.int64, head, KA.N_HEADER, rows[2])
        i[:KA.N_HEADER] = head
        v = {slot: view for slot, view in _views(floats, f, head)}
        v.update(_views(doubles, d, head))
        v.update(_views(ints, i, head))
        self._A, self._R, self._B, self._D = v[KA.F_A], v[KA.F_RT].T, v[KA.F_B], v[KA.F_DT].T
        self._C, self._c, self._state = v[KA.F_C], v[KA.F_CB], v[KA.F_STATE]
        self._work_n, self._work_o, self._work_k = v[KA.F_WORK_N], v[KA.F_WORK_O], v[KA.F_WORK_K]
        self._pend_g, self._pend_p, self._pend_u = v[KA.F_PEND_G], v[KA.F_PEND_P], v[KA.F_PEND_U]
        self._moments, self._moments_out = v[KA.F_MOM], v[KA.F_MOM_OUT]
        self._hyper, self._watch, self._P = v[KA.D_HYPER], v[KA.D_WATCH], v[KA.D_P]
        self._P_spare, self._rls_work = v[KA.D_P_SPARE], v[KA.D_RLS_WORK]
        self._counters, self._config, self._pend_k = v[KA.J_COUNTERS], v[KA.J_CONFIG], v[KA.J_PEND_K]
        self._rng = v[KA.J_RNG].view(np.uint64)
        self._y_one, self._out_one = v[KA.F_Y], v[KA.F_OUT]
        self._io = (v[KA.F_U].reshape(1, I), v[KA.F_Y].reshape(1, O), v[KA.F_OUT].reshape(1, O))
        rls = self.readout == "rls"
        self._packed = (self._A, self._R, KA.LEARN_ONE[adam, rls] if own else None, f, d, i,
                        self._A.dtype, (I,), (O,), KA.LEARN_RAW[adam, rls] if own else None)
        return self._packed

    def _run(self, U, Y, learn, return_states):
        out, xs, kept = self._run_kept(U, Y, learn, return_states)
        if kept is not None:
            out = out[kept]
            xs = xs[kept] if return_states else xs
        return out, (xs if return_states else None)

    def _run_kept(self, U, Y, learn, return_states):
        """The kernel over U, Y with the ``on_divergence`` policy: every row's
        output, the states, and the mask of the samples kept (None: all)."""
        T = U.shape[0]
        if Y is None:
            Y = np.zeros((T, self.n_outputs), dtype=self.dtype)
        out = np.empty((T, self.n_outputs), dtype=self.dtype)
        xs = np.empty((T, self.n_hidden), dtype=self.dtype) if return_states else self._no_states
        self._contiguous()
        stop, status = self._kernel(U, Y, out, xs, learn)
        return self._policy(U, Y, out, xs, learn, return_states, stop, status)

    def _contiguous(self):
        if not (self._R.flags.f_contiguous and self._D.flags.f_contiguous):
            self._R = np.asfortranarray(self._R)  # e.g. set from outside
            self._D = np.asfortranarray(self._D)

    def _policy(self, U, Y, out, xs, learn, return_states, stop, status):
        """Carry on after the kernel's first (stop, status) over U, Y with the
        ``on_divergence`` policy: every row's output, the states, and the mask
        of the samples kept (None: all)."""
        T = U.shape[0]
        kept = None
        start = 0
        while True:
            if start > 0:
                xs_part = xs[start:] if return_states else xs
                stop, status = self._kernel(U[start:], Y[start:], out[start:], xs_part, learn)
            if status == 0:
                if T - start > 0:
                    self._refusals = 0
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
            if stop > 0:
                self._refusals = 0
            if status != 1:  # a refused update; a dropped sample neither adds nor breaks a run
                self._refusals += 1
            if self.on_divergence == "rollback" and (status == 3
                                                     or self._refusals >= self.max_refusals):
                # a useless prediction from the last good weights, or every update
                # refused: there is nothing to roll back to; start again, move on
                self.n_rollbacks += 1  # a step the rollback policy refused, as any other
                self.n_resets += 1
                self._refusals = 0
                self._reinitialise()
                if status != 1:
                    xs_one = xs[t:t + 1] if return_states else xs
                    self._kernel(U[t:t + 1], Y[t:t + 1], out[t:t + 1], xs_one, False)
                else:
                    kept[t] = False
            elif self.on_divergence == "rollback":
                self.n_rollbacks += 1
                if status != 1:  # keep the weights, move the state on
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
        return out, xs, kept

    def _kernel(self, U, Y, out, xs, learn):
        if self.update == "factored":
            return _run_factored(self._A, self._R.T, self._B, self._D.T, self._C, self._c,
                                 self._state, self._work_n, self._work_o, self._rng,
                                 self._counters, self._hyper, self._config,
                                 *self._factored_args(), U, Y, out, xs,
                                 F.LEARN if learn else F.ADVANCE, self._watch)
        mom, wp, history, mom_out, rls, nthreads = self._kernel_views()
        if self._config[K.C_OPT] == K.SGD:  # no moments: Adam's code is not compiled
            mom = mom_out = None
        return _run_fast(self._A, self._R.T, self._B, self._D.T, mom, wp, history,
                           self._state, self._work_n, self._work_o, self._work_k, self._rng,
                           self._counters, self._hyper, self._config, self._pend_g,
                           self._pend_p, self._pend_u, self._pend_k, U, Y, out, xs, learn,
                           nthreads, self._C, self._c, mom_out, rls, self._watch)

    def buffers(self):
        """The network's arrays in the kernels' layouts: a :class:`NetworkBuffers`.

        Not with ``update="factored"``, whose R and D are not stored whole
        (ValueError)."""
        if self.update == "factored":
            raise ValueError("buffers() needs update='exact': with update='factored' R and D "
                             "are kept as stored matrices plus pending factors, which other "
                             "drivers (the forecaster's kernels) do not read")
        if not (self._R.flags.f_contiguous and self._D.flags.f_contiguous):
            self._R = np.asfortranarray(self._R)  # e.g. set from outside
            self._D = np.asfortranarray(self._D)
        mom, wp = self._kernel_views()[:2]
        return NetworkBuffers(self._A, self._R.T, self._B, self._D.T, self._moments, mom, wp,
                              self._rng, self._state, self._hyper, self._config)

    def _kernel_views(self):
        """The kernel's views of the optional buffers (see ``kernels.step._run_fast``);
        None for a feature that is off, so that its code is not compiled. Kept
        until one of the buffers is replaced (allocation, add_inputs, loading)."""
        base = (self._moments, self._moments_out, self._wp_noise, self._P, self._P_spare,
                self._rls_work, self._history, getattr(self, "threads", 1))
        kept = self.__dict__.get("_views")
        if kept is not None and all(a is b for a, b in zip(kept[0], base)):
            return kept[1]
        N, I, O = self.n_hidden, self.n_inputs, self.n_outputs
        dt = self.dtype
        e2, e1 = np.zeros((0, 0), dtype=dt), np.zeros(0, dtype=dt)
        m = self._moments
        if m.size:
            sizes = [(N, I), (N, N), (O, N)]
            total = self._n_weights()
            views, off = [], 0
            for rows, cols in sizes:
                views.append((m[off:off + rows * cols].reshape(rows, cols),
                              m[total + off:total + off + rows * cols].reshape(rows, cols)))
                off += rows * cols
            mom = tuple(v for pair in views for v in pair)
        else:
            mom = (e2,) * 6
        mo = self._moments_out
        if mo.size:
            nC, half = O * I, O * I + O
            mom_out = (mo[:nC].reshape(O, I), mo[half:half + nC].reshape(O, I),
                       mo[nC:half], mo[half + nC:2 * half])
        else:
            mom_out = (e2, e2, e1, e1)
        wp = self._wp_views(self._wp_noise) if self.method == "wp" else None
        history = self._history if self.method == "bp" else None
        rls = (self._P, self._P_spare, self._rls_work) if self.readout == "rls" else None
        nthreads = base[-1] if base[-1] > 1 else None
        views = (mom, wp, history, mom_out, rls, nthreads)
        self._views = (base, views)
        return views

    def _wp_views(self, f):
        """WP's noise views (flat, xiA, xiR, xiB, xiC, xic) of a flat buffer ``f``,
        then (words, XT): with Rademacher noise new buffers for the signs as bits
        (``kernels.network._draw_wp_bits``: the stream's words for ``f``'s fill plus
        one, and R's signs transposed, 64 * ceil(N / 64) x ceil(N / 64)), empty
        otherwise. Scratch, like ``f``: rebuilt with the views."""
        N, I, O = self.n_hidden, self.n_inputs, self.n_outputs
        dt = self.dtype
        nA, nR, nB = N * I, N * N, O * N
        if f.size > nA + nR:
            off = nA + nR + nB
            nC = O * I if self.skip else 0
            xiB = f[nA + nR:off].reshape(O, N)
            xiC = f[off:off + nC].reshape(O, I if self.skip else 0)
            xic = f[off + nC:off + nC + (O if self.bias else 0)]
        else:
            xiB, xiC, xic = np.zeros((0, 0), dtype=dt), np.zeros((0, 0), dtype=dt), np.zeros(0, dtype=dt)
        if self.noise == "rademacher":
            W = (N + 63) // 64
            words = np.zeros((f.size + 63) // 64 + 1, dtype=np.uint64)
            XT = np.zeros((64 * W, W), dtype=np.uint64)
        else:
            words, XT = np.zeros(0, dtype=np.uint64), np.zeros((0, 0), dtype=np.uint64)
        return (f, f[:nA].reshape(N, I), f[nA:nA + nR].reshape(N, N), xiB, xiC, xic, words, XT)

    def refresh_bounds(self):
        """Recompute the divergence guard's bounds on max |weight| exactly.

        The guard tracks upper bounds step by step; call this after changing
        weights in place from outside (loading and ``add_inputs`` call it).
        """
        R, D = self._effective() if self.update == "factored" else (self._R, self._D)
        self._hyper[K.H_WMAX] = max(np.abs(self._A).max(), np.abs(R).max(),
                                    np.abs(self._B).max(), np.abs(self._C).max(initial=0.0),
                                    np.abs(self._c).max(initial=0.0))
        self._hyper[K.H_DMAX] = np.abs(D).max()

    def _reinitialise(self):
        """Fresh weights from the model's stream, D = I, zero optimizer and states.

        C, c (and with "rls" the read-out W) restart at zero and P at
        I / rls_alpha; the targets' range the output watch keeps stays. The
        fresh weights are clipped to +-max_weight (which only a tiny
        max_weight can reach).
        """
        N, I, O = self.n_hidden, self.n_inputs, self.n_outputs
        self._A[:] = self._xavier(N, I) * self.dtype.type(getattr(self, "input_scaling", 1.0))
        self._R[:] = self._xavier(N, N)
        self._B[:] = self._xavier(O, N)
        self._D[:] = np.eye(N, dtype=self.dtype)
        self._moments[:] = 0.0
        self._C[:] = 0.0
        self._c[:] = 0.0
        self._moments_out[:] = 0.0
        if self.readout == "rls":
            self._B[:] = 0.0
            self._P[:] = np.eye(self._P.shape[0]) / self.rls_alpha
        for W in (self._A, self._R, self._B):  # the guard's bound holds for fresh weights too
            np.clip(W, -self.max_weight, self.max_weight, out=W)
        self._counters[K.K_ADAM] = 0
        if self.update == "factored":
            self._clear_factors()
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
        The new skip weights (columns of C) start at zero; with "rls" P gains
        the new inputs' rows and columns at I / rls_alpha.
        """
        k = _positive_int("k", k)
        N, I, O = self.n_hidden, self.n_inputs, self.n_outputs
        new = normal(self._rng, (N, k), np.sqrt(2.0 / (N + I + k))).astype(self.dtype)
        new *= self.dtype.type(self.input_scaling)
        old_moments = self._moments
        old_moments_out = self._moments_out
        old_P = self._P
        old_state = self._state
        old_counters = self._counters.copy()
        self._A = np.ascontiguousarray(np.hstack([self._A, new]))
        self._C = np.ascontiguousarray(np.hstack([self._C, np.zeros((O, k), self.dtype)]))
        self.n_inputs = I + k
        self._allocate()
        self._state[:] = old_state
        self._counters[:] = old_counters  # Adam's bias correction goes on from here
        self._counters[K.K_POS] = self._counters[K.K_FILL] = 0
        if old_P.size:
            # z = [xs, u, 1]: the new inputs go between the old ones and the bias
            keep = np.r_[0:N + I * self.skip, N + (I + k) * self.skip:self._P.shape[0]]
            self._P[np.ix_(keep, keep)] = old_P
        if old_moments_out.size:
            for half in range(2):
                size, new_size = O * I + O, O * (I + k) + O
                old = old_moments_out[half * size:(half + 1) * size]
                m_new = self._moments_out[half * new_size:(half + 1) * new_size]
                m_new[:O * (I + k)].reshape(O, I + k)[:, :I] = old[:O * I].reshape(O, I)
                m_new[O * (I + k):] = old[O * I:]
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
        extra = (f", update='factored', factor_rank={self.factor_rank}"
                 if self.update == "factored" else "")
        return (f"OnlineRNN({self.n_inputs}, {self.n_hidden}, {self.n_outputs}, "
                f"method={tag!r}, lr={self.lr:g}, sigma={self.sigma:g}, "
                f"optimizer={self.optimizer!r}, activation={self.activation!r}{extra})")


def _read_only(a):
    a.flags.writeable = False
    return a


def _arena(buffers, dtype, head, start, out=None):
    """One flat array (new, or ``out``) holding ``buffers`` (slot -> array) back to
    back, in slot order, from ``start``; writes each slot's offset to ``head``."""
    size = start + sum(b.size for b in buffers.values())
    if out is None:
        arena = np.zeros(size, dtype=dtype)
    else:
        assert out.shape == (size,) and out.dtype == dtype
        arena = out
        arena[:] = 0
    off = start
    for slot in sorted(buffers):
        b = buffers[slot]
        head[slot] = off
        arena[off:off + b.size] = b.ravel()  # b is C-contiguous (R and D as R.T, D.T)
        off += b.size
    return arena


def _views(buffers, arena, head):
    """(slot, view of ``arena`` shaped as the buffer) for each of ``buffers``."""
    for slot, b in buffers.items():
        yield slot, arena[head[slot]:head[slot] + b.size].reshape(b.shape)


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return int(value)


def _flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True, False or None, got {value!r}")
    return bool(value)


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
