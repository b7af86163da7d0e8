"""RNNForecaster: multi-horizon forecasting with delayed targets, as a River forecaster."""

from __future__ import annotations

import numpy as np
from river.time_series.base import Forecaster

from .defaults import FORECAST_LR, FORECAST_RLS_LR
from .kernels import forecast as FK
from .kernels import forecast_rls as FR
from .kernels.layout import H_LR, H_LR_DEC
from .kernels.rls import _rls_restart
from .methods import forecaster_defaults
from .online_rnn import DivergenceError, OnlineRNN
from .river_base import RNNLearner

__all__ = ["RNNForecaster", "DEFAULT_LR"]

#: Learning rate used when ``lr=None`` with ``readout="perturbation"``, by
#: (method, optimizer): ``streamlearn.defaults.FORECAST_LR`` (docs/river.md,
#: "Defaults").
DEFAULT_LR = FORECAST_LR

#: The hidden layer's rate when ``lr=None`` under ``readout="rls"``:
#: ``streamlearn.defaults.FORECAST_RLS_LR`` (docs/forecasting.md).
RLS_DEFAULT_LR = FORECAST_RLS_LR



class RNNForecaster(RNNLearner, Forecaster):
    """Recurrent network forecasting 1 to ``max_horizon`` steps ahead, learning online.

    One read-out per step ahead (a *direct* multi-horizon forecast): after
    ``learn_one(y_t)``, output ``k`` is the forecast of ``y_{t+k}``. The network
    (:class:`streamlearn.OnlineRNN`'s weights, learning rules and random
    stream) sees a constant, the latest value, the last ``lags`` values and
    the optional exogenous features at each step, all in running standard
    units; its hidden state carries the past.

    **Least-squares read-out** (``readout="rls"``, the default). Forecast ``k``
    is ``y_t + W_k . [xs_t, u_t]`` (with ``residual``): a linear read-out of
    the hidden state and, through a skip connection, of the inputs themselves
    (the constant input is the bias). Each ``W_k`` is fitted by recursive
    least squares with forgetting factor ``rls_forgetting`` on the pairs
    (state and input at ``s``, value at ``s + k``) as the values arrive. The
    gain of a pair depends only on the regressors, so all horizons share one
    inverse-correlation matrix exactly: a step costs one ``O((N + I)^2)`` RLS
    pass plus ``O(H (N + I))``, whatever the number of horizons, and equals
    ``max_horizon`` independent RLS fits (tested). The hidden layer (A, R and
    D) keeps learning by ``method`` from the twins' loss difference, whose
    forecasts both come from this read-out: once per time step, from the step
    whose ``max_horizon`` targets have all arrived, judged on all of them.
    See ``streamlearn/kernels/forecast_rls.py`` and ``docs/forecasting.md``.

    **Perturbation read-out** (``readout="perturbation"``, the paper's). The
    forecast ``k`` is ``y_t + B_k . xs_t``, with ``B`` learned by ``method``
    like the rest of the network. The forecast of ``y_{t+k}`` made at time ``t`` can
    only be scored when ``y_{t+k}`` arrives, ``k`` steps later. Each step
    therefore keeps the activity vectors its update will need (input, hidden
    states, the perturbation or measured activity change, both twins'
    outputs; WP keeps its random-stream position and redraws its weight noise)
    in a ring of ``max_horizon`` slots. When ``y`` arrives, every output that
    predicted it gets its loss difference and its share of the update, one
    optimiser step per time step. Nothing of size ``N x N`` is stored per
    step. With ``max_horizon=1`` this is exactly the core's online rule. See
    ``streamlearn/kernels/forecast.py`` and ``docs/river.md``.

    Exogenous features are standardised online (``scale_inputs``), as the
    target is (``scale_target``): raw values of any scale work.

    ``forecast`` is pure: it reads the outputs of the last step. The future
    exogenous features ``xs`` are accepted for River's interface but not
    used: a direct read-out from the state at ``t`` knows only the past.

    Parameters
    ----------
    max_horizon
        Number of steps ahead forecast (outputs); ``forecast(horizon)`` needs
        ``horizon <= max_horizon``.
    n_hidden
        Number of hidden units.
    method
        ``"anp"``, ``"np"``, ``"wp"`` or ``"bp"`` (the gradient through the
        current step, with the current read-out weights).
    decorrelation
        Learn a decorrelating matrix on the hidden state.
    lr
        Learning rate of the network's rule; ``None`` takes
        ``streamlearn.forecaster.RLS_DEFAULT_LR`` (least-squares read-out) or
        ``DEFAULT_LR`` (perturbation read-out).
    lr_decorrelation
        Learning rate of the decorrelating matrix; ``None`` takes the core's
        width-aware default (``streamlearn.defaults.default_lr_decorrelation``).
    sigma
        Standard deviation of the perturbations.
    optimizer
        ``"sgd"`` or ``"adam"``; ``None`` takes ``"sgd"`` with the
        least-squares read-out (one rank-1 step per time step, in place) and
        ``"adam"`` with the perturbation read-out (with its delayed,
        per-horizon pieces of the update, Adam's per-weight step sizes gave
        two to three times lower errors on Mackey-Glass and were stable
        across seeds).
    activation
        ``"tanh"``, ``"relu"``, ``"identity"`` or ``"sign"`` (not with ``"bp"``).
    seed
        Seed of the model's own random stream; ``None`` draws one.
    dtype
        ``numpy.float64`` or ``numpy.float32``.
    noise
        ``"gaussian"`` (default, the paper's) or ``"rademacher"``: the
        perturbations of "np", "anp" and "wp" are N(0, sigma^2) draws or
        +-sigma signs with equal odds, which are much cheaper to draw (see
        :class:`streamlearn.OnlineRNN`); ``"bp"`` ignores it.
    noisy_reference
        For ``"anp"``: make the reference twin noisy too (the forecasts are
        then that twin's outputs, noise included).
    adam_betas
        Adam's decay rates.
    adam_eps
        Adam's denominator constant.
    scale_target
        Learn the series in running standard units (mean and standard
        deviation of the values seen so far), so raw values of any scale work.
    scale_inputs
        Standardise each exogenous feature online the same way (a feature
        reads 0 until two different values of it have been learned).
    residual
        The outputs forecast the change from the latest value (``y_{t+k} -
        y_t``) rather than the value itself, and the read-out starts at zero:
        the untrained forecaster is the persistence forecast, and learning
        improves on it. This matters most at short horizons, where
        persistence is hard to beat. With ``False`` the read-out starts
        Xavier-random, as in the core.
    exogenous
        Use the numeric features ``x`` given to ``learn_one`` as extra inputs.
        With ``False`` they are ignored (e.g. the datetime features of River's
        time-series datasets); with ``True`` a non-numeric one is an error.
    readout
        ``"rls"`` (default) or ``"perturbation"``; see above.
    lags
        How many past values (``y_{t-1}, ..., y_{t-lags}``) the network reads
        besides the latest one, as inputs (and so, with ``"rls"``, as
        regressors of the read-out); they read 0 until they exist. The default,
        24, covers a daily cycle of hourly readings; 48 forecast weather a
        little better at about twice the cost per step (docs/forecasting.md).
    rls_forgetting
        The least-squares read-out's forgetting factor ``lambda`` in (0, 1]:
        a pair ``n`` steps old weighs ``lambda^n``, a memory of about
        ``1 / (1 - lambda)`` steps (10,000 by default, about 14 months of
        hourly readings: long enough to average over a year's seasons, short
        enough to follow a slow change of a sensor's behaviour). This value
        was chosen with the whole of WTH.csv in view; on its first 20 % alone,
        0.999 to 0.9995 score better. docs/forecasting.md gives both.
    rls_alpha
        The read-out's ridge penalty at the start (``P = I / alpha``), which
        forgetting fades.
    rls_clip
        Huber-type robustness of the read-out: each horizon's a priori error
        is clipped to ``rls_clip`` times its running mean absolute size before
        the least-squares step, so a glitch in the stream moves the fit by a
        bounded amount. ``None``: exact recursive least squares.
    gate
        With ``residual``: each horizon keeps the running mean absolute error
        (over about the last 100 targets) of its forecast and of persistence,
        and ``forecast`` returns persistence at the horizons where the model is
        currently the worse of the two. The model learns on regardless. A
        stream on which the network cannot beat the naive forecast (e.g.
        River's WaterFlow, docs/forecasting.md) then costs nothing.

    Examples
    --------

    >>> from river import datasets, evaluate, metrics
    >>> from streamlearn.forecaster import RNNForecaster

    River's time-series datasets carry a datetime feature; ``exogenous=False``
    leaves it out (the forecaster then reads the series alone).

    >>> model = RNNForecaster(max_horizon=12, n_hidden=32, exogenous=False, gate=False,
    ...                       seed=42)
    >>> evaluate.evaluate(datasets.AirlinePassengers(), model, metrics.MAE(), horizon=12)
    +1  MAE: 36.322221
    +2  MAE: 42.508021
    +3  MAE: 45.033965
    +4  MAE: 47.103736
    +5  MAE: 46.169909
    +6  MAE: 50.84602
    +7  MAE: 59.564115
    +8  MAE: 55.502677
    +9  MAE: 52.488273
    +10 MAE: 54.552535
    +11 MAE: 48.760014
    +12 MAE: 49.390255

    144 monthly values are few for a network that learns online: one month
    ahead this beats persistence (40.1 MAE), eleven months ahead it does not
    (persistence 33.9). The default ``gate=True`` returns persistence at the
    horizons where the model has been the worse of the two over the last
    hundred or so values. On longer streams the forecaster learns much more
    (docs/forecasting.md).

    >>> [round(v, 1) for v in model.forecast(horizon=3)]
    [401.8, 371.4, 441.0]

    """

    def __init__(
        self,
        max_horizon: int = 12,
        n_hidden: int = 100,
        method: str = "anp",
        decorrelation: bool = False,
        lr: float | None = None,
        lr_decorrelation: float | None = None,
        sigma: float = 1e-3,
        optimizer: str | None = None,
        activation: str = "tanh",
        seed: int | None = None,
        dtype: type = np.float64,
        noisy_reference: bool = False,
        adam_betas: tuple = (0.9, 0.999),
        adam_eps: float = 1e-8,
        scale_target: bool = True,
        scale_inputs: bool = True,
        residual: bool = True,
        exogenous: bool = True,
        readout: str = "rls",
        lags: int = 24,
        rls_forgetting: float = 0.9999,
        rls_alpha: float = 1e-2,
        rls_clip: float | None = 3.0,
        gate: bool = True,
        on_invalid: str = "raise",
        on_divergence: str = "raise",
        max_weight: float = 1e3,
        noise: str = "gaussian",
    ):
        super().__init__(
            n_hidden=n_hidden, method=method, decorrelation=decorrelation, lr=lr,
            lr_decorrelation=lr_decorrelation, sigma=sigma, optimizer=optimizer,
            activation=activation, seed=seed, dtype=dtype, noisy_reference=noisy_reference,
            adam_betas=adam_betas, adam_eps=adam_eps, scale_target=scale_target,
            scale_inputs=scale_inputs, on_invalid=on_invalid, on_divergence=on_divergence,
            max_weight=max_weight, noise=noise)
        self.max_horizon = max_horizon
        self.residual = residual
        self.exogenous = exogenous
        if readout not in ("rls", "perturbation"):
            raise ValueError(f"unknown readout {readout!r}; choose 'rls' or 'perturbation'")
        self.readout = readout
        if isinstance(lags, bool) or not isinstance(lags, (int, np.integer)) or lags < 0:
            raise ValueError(f"lags must be an integer >= 0, got {lags!r}")
        self.lags = int(lags)
        lam = float(rls_forgetting)
        if not 0.0 < lam <= 1.0:
            raise ValueError(f"rls_forgetting must be in (0, 1], got {rls_forgetting!r}")
        self.rls_forgetting = rls_forgetting
        if not (np.isfinite(float(rls_alpha)) and float(rls_alpha) > 0.0):
            raise ValueError(f"rls_alpha must be a finite number > 0, got {rls_alpha!r}")
        self.rls_alpha = rls_alpha
        if rls_clip is not None and not (np.isfinite(float(rls_clip)) and float(rls_clip) > 0.0):
            raise ValueError(f"rls_clip must be None or a finite number > 0, got {rls_clip!r}")
        self.rls_clip = rls_clip
        self.gate = bool(gate)
        if readout == "rls" and noisy_reference:
            raise ValueError("noisy_reference=True needs readout='perturbation': the "
                             "least-squares read-out adds no output noise of its own")

        optimizer, default = forecaster_defaults(method, optimizer, readout)
        # the core validates every parameter; inputs: constant, latest value, lags
        self.network = OnlineRNN(2 + self.lags, n_hidden, max_horizon, **self._network_kwargs(
            lr=default if lr is None else lr, optimizer=optimizer))
        if residual:
            # a zero read-out makes the untrained forecaster the persistence forecast
            self.network.B[:] = 0.0
        self._init_maps(n_fixed=2 + self.lags)
        self._recent = np.zeros(self.lags, dtype=np.float64)  # raw y_{t-1}, ..., y_{t-lags}
        self._allocate()

    @classmethod
    def _unit_test_params(cls):
        for method in ("anp", "np", "wp", "bp"):
            for decorrelation in (False, True):
                yield {"max_horizon": 3, "n_hidden": 12, "method": method,
                       "decorrelation": decorrelation}
        for method in ("anp", "wp"):
            yield {"max_horizon": 3, "n_hidden": 12, "method": method, "decorrelation": True,
                   "noise": "rademacher"}

    # -- buffers -------------------------------------------------------------------

    def _allocate(self):
        """The forecaster's state (rings, counters; with "rls" W and P) and scratch."""
        self.__dict__.pop("_args", None)
        if self.readout == "rls":
            self._allocate_rls()
            return
        net = self.network
        N, H, dt = net.n_hidden, net.n_outputs, net.dtype
        I = net.n_inputs
        self._ring_u = np.zeros((H, I), dt)
        self._ring_xp = np.zeros((H, N), dt)
        self._ring_xs = np.zeros((H, N), dt)
        self._ring_dir = np.zeros((H, N), dt)
        self._ring_y = np.zeros((H, H), dt)
        self._ring_yn = np.zeros((H, H), dt)
        self._ring_do = np.zeros((H, H), dt)
        self._ring_s = np.zeros((H, 2), dt)
        self._ring_rng = np.zeros((H, 4), np.uint64)
        self._ring_i = np.zeros(H, np.int64)
        self._counters = np.zeros(FK.N_FCOUNTERS, np.int64)
        self._allocate_scratch()

    def _allocate_rls(self):
        net = self.network
        N, H, dt, I = net.n_hidden, net.n_outputs, net.dtype, net.n_inputs
        M = N + I
        self._W = np.zeros((H, M))
        self._P = np.zeros((M, M))
        _rls_restart(self._P, float(self.rls_alpha))
        self._rls = np.zeros(FR.N_RLS)
        self._rls[FR.R_LAM] = float(self.rls_forgetting)
        self._rls[FR.R_ALPHA] = float(self.rls_alpha)
        # wind-up cap: P never grows past its start by more than this factor
        self._rls[FR.R_PMAX] = 1e6 / float(self.rls_alpha)
        self._rls[FR.R_CLIP] = float(self.rls_clip or 0.0)
        self._rls[FR.R_RATE] = 0.01
        self._rls[FR.R_GATE_RATE] = 0.01  # the gate's memory: about 100 targets
        self._err_scale = np.zeros(H)
        self._track = np.zeros((2, H))  # running MAE: each horizon's forecast, the base's
        self._ring_u = np.zeros((H, I), dt)
        self._ring_xp = np.zeros((H, N), dt)
        self._ring_z = np.zeros((H, M))
        self._ring_g = np.zeros((H, M))
        self._ring_dir = np.zeros((H, N), dt)
        self._ring_y = np.zeros((H, H))
        self._ring_yn = np.zeros((H, H))
        self._ring_s = np.zeros(H)
        self._ring_rng = np.zeros((H, 4), np.uint64)
        self._ring_i = np.zeros(H, np.int64)
        self._ring_base = np.zeros(H)
        self._ring_dl = np.zeros(H)
        self._ring_gx = np.zeros((H, N))
        self._counters = np.zeros(FR.N_FCOUNTERS, np.int64)
        self._allocate_scratch()

    #: Buffers a step writes before it reads them (and the guard's kept copies):
    #: not model state, not saved.
    _SCRATCH = ("_gain_q", "_rng_tmp", "_work_n", "_work_o", "_grad", "_slot_of", "_dense",
                "_wp_noise", "_wp", "_report", "_keep", "_args", "_shadow")

    def _allocate_scratch(self):
        net = self.network
        N, I, H, dt = net.n_hidden, net.n_inputs, net.n_outputs, net.dtype
        rls = self.readout == "rls"
        wp = net.method == "wp"
        self.__dict__.pop("_args", None)
        self._rng_tmp = np.zeros(4, np.uint64)
        self._work_n = np.zeros((FK.N_FWORK_N, N), dt)
        # with least squares the forecasts are float64 whatever the network's dtype
        self._work_o = np.zeros((FK.N_FWORK_O, H), np.float64 if rls else dt)
        self._grad = np.zeros((1 if rls else H, N), dt)
        self._slot_of = np.zeros(H, np.int64)
        self._dense = np.zeros(net._n_weights() if wp and net.optimizer == "adam" and not rls
                               else 0, dt)
        self._report = np.zeros(4)
        if rls:
            self._gain_q = np.zeros(N + I)
            # WP's noise on the hidden layer alone, and the kernels' views of it
            self._wp_noise = np.zeros(N * I + N * N if wp else 0, dt)
            e2, e1 = np.zeros((0, 0), dt), np.zeros(0, dt)
            f = self._wp_noise
            self._wp = ((f, f[:N * I].reshape(N, I), f[N * I:].reshape(N, N), e2, e2, e1)
                        if wp else None)
        # the guard's kept copies (kernels/guard.py: _keep): the network's weights and
        # moments, the least-squares read-out's small state, the counters, the stream
        net_state = self._net_buffers()[:5]
        readout_state = ((self._W, self._err_scale, self._track, self._ring_dl, self._ring_gx)
                         if rls else ())
        self._keep = (np.zeros(sum(a.size for a in net_state), dt),
                      np.zeros(sum(a.size for a in readout_state)),
                      np.zeros_like(self._counters), np.zeros(4, np.uint64))

    def _net_buffers(self):
        """The network's arrays for the kernels, from ``OnlineRNN.buffers()``."""
        b = self.network.buffers()
        # WP's noise: with least squares the forecaster's, on the hidden layer alone
        wp = self._wp if self.readout == "rls" else b.wp
        return (b.A, b.RT, b.B, b.DT, b.moments, wp, b.rng, b.state, b.hyper, b.config)

    def _kernel_args(self):
        """The kernel's bundles, kept until a buffer is replaced (``_allocate``,
        ``_add_inputs``, loading)."""
        args = self.__dict__.get("_args")
        if args is not None:
            return args
        net = self.network
        if self.readout == "rls":
            model = (self._W, self._P, self._rls, self._err_scale, self._track, self._counters,
                     float(net.max_weight))
            rings = (self._ring_u, self._ring_xp, self._ring_z, self._ring_g, self._ring_dir,
                     self._ring_y, self._ring_yn, self._ring_s, self._ring_rng, self._ring_i,
                     self._ring_base, self._ring_dl, self._ring_gx)
            work = (self._work_n, self._work_o, self._grad, self._gain_q, self._wp_noise,
                    self._rng_tmp, self._report)
        else:
            net_b = net.buffers()
            model = (self._counters, float(net.max_weight))
            rings = (self._ring_u, self._ring_xp, self._ring_xs, self._ring_dir, self._ring_y,
                     self._ring_yn, self._ring_do, self._ring_s, self._ring_rng, self._ring_i)
            work = (self._work_n, self._work_o, self._grad, self._slot_of, self._dense,
                    net_b.wp[0] if net_b.wp is not None else net_b.moments[0:0],
                    self._rng_tmp, self._report)
        args = self._args = (self._net_buffers(), model, rings, work, self._keep)
        return args

    def _add_inputs(self, k):
        """Grow the network and the stored inputs; old steps read the new inputs as 0."""
        net = self.network
        net.add_inputs(k)
        if self.readout == "rls":
            self._grow_rls(k)
            return
        old = self._ring_u
        self._ring_u = np.zeros((old.shape[0], net.n_inputs), net.dtype)
        self._ring_u[:, :old.shape[1]] = old
        self._allocate_scratch()

    def _grow_rls(self, k):
        """New inputs: their read-out weights start at 0 and their rows of P at I / alpha;
        pending steps read them as 0 (their stored gains are those of the old regressor)."""
        net = self.network
        H, N = self._W.shape[0], net.n_hidden
        M_old = self._W.shape[1]
        M = M_old + k
        I_old = M_old - N

        def widen(a):
            out = np.zeros(a.shape[:-1] + (M,), a.dtype)
            out[..., :M_old] = a
            return out
        self._W, self._ring_z, self._ring_g = (widen(a) for a in (self._W, self._ring_z, self._ring_g))
        P = np.zeros((M, M))
        P[:M_old, :M_old] = self._P
        P[np.arange(M_old, M), np.arange(M_old, M)] = 1.0 / float(self.rls_alpha)
        self._P = P
        u = np.zeros((H, I_old + k), net.dtype)
        u[:, :I_old] = self._ring_u
        self._ring_u = u
        self._allocate_scratch()

    # -- River's interface ---------------------------------------------------------

    @property
    def n_steps(self):
        """How many values have been learned from."""
        return int(self._counters[FK.FK_STEPS])

    @property
    def feature_columns(self):
        """Exogenous feature name -> input column (0: constant, 1: latest value, 2 to
        ``1 + lags``: the lags)."""
        return super().feature_columns

    def learn_one(self, y, x=None):
        """Learn from the value ``y`` that just arrived (and features ``x``), then step.

        Every earlier forecast that targeted this time step is scored and
        learned from; then the network steps on ``y`` and makes the forecasts
        that ``forecast`` returns. An invalid ``y`` or ``x`` raises, or under
        ``on_invalid="skip"`` is ignored and counted; a step the divergence
        guard refuses follows ``on_divergence`` (docs/reliability.md).
        """
        owner = type(self).__name__
        parsed = self._parse(x if self.exogenous else None, y, labelled=True)
        if parsed is None:  # invalid, and on_invalid="skip"
            return
        (values, new), target = parsed
        if new:
            self._features.add(new)
            self._add_inputs(len(new))
        t = self._target
        saved = (t.n, t.mean, t.m2), (self._features.stats() if values else None)
        kernel = FR.learn_step if self.readout == "rls" else FK.learn_step
        args = self.__dict__.get("_args") or self._kernel_args()
        code = kernel(*args, self._sample(t.learn(target), values))
        if code == 0:
            return
        # refused: the kernel left every array as it was; the scalers go back too
        reason = self._reason(code)
        self._restore(saved)
        policy = getattr(self, "on_divergence", "raise")
        net = self.network
        if policy == "raise":
            raise DivergenceError(
                f"{owner}: the step was refused: {reason} (method={net.method!r}, "
                f"lr={net.lr:g}, max_weight={net.max_weight:g}). The forecaster is as it was "
                "before it. Lower lr, or choose on_divergence='rollback' or 'reset'.",
                0, reason, np.zeros((0, net.n_outputs)))
        if policy == "reset":
            net.n_resets += 1
            net._reinitialise()
            if self.residual:
                net.B[:] = 0.0
            self._allocate()  # the pending forecasts go with the old weights
            self._recent[:] = 0.0
            return
        # rollback: the same step with learning switched off, so time moves on
        net.n_rollbacks += 1
        sample = self._sample(t.learn(target), values)
        buffers = net.buffers()
        hyper = buffers.hyper
        lrs = hyper[H_LR], hyper[H_LR_DEC]
        moments = buffers.moments.copy()
        hyper[H_LR] = hyper[H_LR_DEC] = 0.0
        try:
            code = kernel(*self._kernel_args(), sample)
        finally:
            hyper[H_LR], hyper[H_LR_DEC] = lrs
            buffers.moments[:] = moments
        if code != 0:  # the forward pass itself failed: drop the sample
            self._restore(saved)

    def _sample(self, z, values):
        """The kernel's ``sample`` bundle for the value ``z`` (standard units) and the
        features: the input vector (constant, latest value, features; the kernel fills
        the lag columns from the raw window ``_recent`` in the current standard units,
        and moves the window on when the step is committed), the base of the forecasts
        and the target's scaling."""
        u = self._features.encode(values, self.network.dtype, learn=True)
        u[1] = z
        t = self._target
        n = min(self.lags, (t.n if t.enabled else self.n_steps + 1) - 1)  # lags seen so far
        return (z, u, z if self.residual else 0.0, self._recent, n, float(t.mean),
                float(t.std), t.enabled)

    def _restore(self, saved):
        """The target's (and the features') running statistics as before the step."""
        (n, mean, m2), features = saved
        self._target.n, self._target.mean, self._target.m2 = n, mean, m2
        if features is not None:
            self._features.restore(features)

    def __getstate__(self):
        state = dict(self.__dict__)
        for name in self._SCRATCH:  # written before it is read: not model state
            state.pop(name, None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)  # scale_inputs of old checkpoints: False
        if "readout" not in state:  # written before the least-squares read-out existed
            self.readout = "perturbation"
            self.lags = 0
            self._recent = np.zeros(0)
        for name in self._SCRATCH:  # checkpoints written before scratch was left out
            self.__dict__.pop(name, None)
        self._allocate_scratch()

    def _reason(self, code):
        """Why the kernel refused the step (``guard._forecast_health``'s code)."""
        if code == 2:
            biggest = max(*self._report)
            return f"a weight would reach {biggest:.3g}, beyond max_weight"
        return {1: "the forecasts or the state are not finite",
                3: "the least-squares read-out is not finite",
                4: "the optimizer's moments are not finite"}[code]

    def forecast(self, horizon, xs=None):
        """Forecasts of the next ``horizon`` values (``horizon <= max_horizon``).

        Pure. ``xs`` (future exogenous features) is accepted and ignored.
        """
        H = self.max_horizon
        if type(horizon) is not int and (
                isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer))):
            raise TypeError(f"horizon must be an integer, got {horizon!r}")
        if not 1 <= horizon <= H:
            raise ValueError(
                f"horizon must be between 1 and max_horizon={H}, got {horizon}; "
                "build the forecaster with a larger max_horizon")
        n = int(self._counters[FK.FK_STEPS])
        if n == 0:
            return [float(self._target.invert(0.0))] * int(horizon)
        slot = (n - 1) % H
        last = self._ring_y[slot, :horizon]
        t = self._target
        if last.dtype != np.float64:  # float32: NumPy's arithmetic, in float32
            if not t.enabled:
                return last.tolist()
            return (t.mean + t.std * last).tolist()
        # float64: the same IEEE operations on Python floats, without NumPy's overhead
        values = last.tolist()
        if self.readout == "rls" and self.gate and self.residual:
            # persistence where the model has recently been the worse of the two
            base = float(self._ring_base[slot])
            track = self._track
            values = [base if a > b else v for v, a, b in
                      zip(values, track[0, :horizon].tolist(), track[1, :horizon].tolist())]
        if not t.enabled:
            return values
        mean, std = t.mean, t.std
        return [mean + std * v for v in values]
