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
from .kernels import arena as KA
from .kernels import forecast_arena as FA
from .river_base import RNNLearner, _TargetScaler

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
        self._target = _SeriesTarget(bool(self.scale_target))
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
        """The forecaster's state (rings, counters, the last forecasts; with "rls" W
        and P) and scratch."""
        self._fc = np.zeros((2, self.network.n_outputs))
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

    #: Buffers a step writes before it reads them (and the guard's kept copies, and
    #: the arenas' table): not model state, not saved.
    _SCRATCH = ("_gain_q", "_rng_tmp", "_work_n", "_work_o", "_grad", "_slot_of", "_dense",
                "_wp_flat", "_report", "_keep", "_fpack", "_u")
    #: Scratch of earlier versions, dropped from their states.
    _OLD_SCRATCH = ("_args", "_shadow", "_wp_noise", "_wp")

    def _allocate_scratch(self):
        net = self.network
        N, I, H, dt = net.n_hidden, net.n_inputs, net.n_outputs, net.dtype
        rls = self.readout == "rls"
        wp = net.method == "wp"
        self.__dict__.pop("_fpack", None)
        self._rng_tmp = np.zeros(4, np.uint64)
        self._work_n = np.zeros((FK.N_FWORK_N, N), dt)
        # with least squares the forecasts are float64 whatever the network's dtype
        self._work_o = np.zeros((FK.N_FWORK_O, H), np.float64 if rls else dt)
        self._grad = np.zeros((1 if rls else H, N), dt)
        self._slot_of = np.zeros(H, np.int64)
        self._dense = np.zeros(net._n_weights() if wp and net.optimizer == "adam" and not rls
                               else 0, dt)
        self._report = np.zeros(4)
        b = net.buffers()
        if rls:
            self._gain_q = np.zeros(N + I)
        # WP's weight noise of a step: with least squares of the hidden layer alone, else
        # as many draws as the network's own (the same random stream)
        self._wp_flat = np.zeros((N * I + N * N if rls else b.wp[0].size) if wp else 0, dt)
        # the guard's kept copies (kernels/guard.py: _keep): the network's weights and
        # moments, the least-squares read-out's small state, the counters, the stream
        net_state = (b.A, b.RT, b.B, b.DT, b.moments)
        readout_state = ((self._W, self._err_scale, self._track, self._ring_dl, self._ring_gx)
                         if rls else ())
        self._keep = (np.zeros(sum(a.size for a in net_state), dt),
                      np.zeros(sum(a.size for a in readout_state)),
                      np.zeros_like(self._counters), np.zeros(4, np.uint64))

    # the forecaster's buffers by arena slot (kernels/forecast_arena.py): in every
    # read-out, then only with the perturbation read-out, only with least squares
    _SLOTS = {FA.S_RING_U: "_ring_u", FA.S_RING_XP: "_ring_xp", FA.S_RING_DIR: "_ring_dir",
              FA.S_WORK_N: "_work_n", FA.S_GRAD: "_grad", FA.S_WP: "_wp_flat",
              FA.S_RING_I: "_ring_i", FA.S_RING_RNG: "_ring_rng", FA.S_RNG_TMP: "_rng_tmp",
              FA.S_COUNTERS: "_counters", FA.S_REPORT: "_report", FA.S_RECENT: "_recent",
              FA.S_FC: "_fc", FA.S_RING_Y: "_ring_y", FA.S_RING_YN: "_ring_yn",
              FA.S_RING_S: "_ring_s", FA.S_WORK_O: "_work_o"}
    _SLOTS_PERTURBATION = {FA.S_RING_XS: "_ring_xs", FA.S_RING_DO: "_ring_do",
                           FA.S_DENSE: "_dense", FA.S_SLOT_OF: "_slot_of"}
    _SLOTS_RLS = {FA.S_W: "_W", FA.S_P: "_P", FA.S_RLS: "_rls", FA.S_ERR: "_err_scale",
                  FA.S_TRACK: "_track", FA.S_RING_Z: "_ring_z", FA.S_RING_G: "_ring_g",
                  FA.S_RING_BASE: "_ring_base", FA.S_RING_DL: "_ring_dl",
                  FA.S_RING_GX: "_ring_gx", FA.S_GAIN_Q: "_gain_q"}

    def _arenas(self):
        """``_fpack``: (the network's float arena, the step's entry, the network's
        three arenas, the forecaster's three), packed again if a buffer has been
        replaced since (``_allocate``, ``_add_inputs``, loading, the network's own)."""
        p = self.__dict__.get("_fpack")
        if p is None or p[0] is not self.network.arenas()[0]:
            p = self._pack()
        return p

    def _pack(self, rows=None):
        """Move the network's buffers into its arenas (``OnlineRNN._pack``) and the
        forecaster's into three of its own (``kernels/forecast_arena.py``); the
        attributes become views of them, with the same values. ``rows``: six
        arrays of the arenas' sizes to pack into (a fleet's), instead of new ones."""
        net = self.network
        rows = rows or (None,) * 6
        nf, nd, ni = net.arenas(into=rows[:3] if rows[0] is not None else None)
        names = dict(self._SLOTS)
        names.update(self._SLOTS_RLS if self.readout == "rls" else self._SLOTS_PERTURBATION)
        buffers = {k: getattr(self, name) for k, name in names.items()}
        keep = self._keep
        buffers.update({FA.S_KEEP0: keep[0], FA.S_KEEP1: keep[1], FA.S_KEEP2: keep[2],
                        FA.S_KEEP3: keep[3], FA.S_TARGET: self._target._v})
        flags = np.zeros(FA.N_FLAGS, np.int64)
        flags[[FA.G_SCALED, FA.G_RESIDUAL, FA.G_LAGS]] = (
            self._target.enabled, self.residual, self.lags)
        misc = np.zeros(FA.N_MISC)
        misc[FA.M_MAX_WEIGHT] = float(net.max_weight)
        buffers.update({FA.S_FLAGS: flags, FA.S_MISC: misc})
        head = np.zeros(FA.N_HEAD, np.int64)
        dtypes = {"f": net.dtype, "d": np.dtype(np.float64), "i": np.dtype(np.int64)}
        by_kind = {"f": {}, "d": {}, "i": {}}
        for k, kind in FA.ARENA_OF[self.readout].items():
            a = buffers[k]
            assert (a.dtype.kind in "iu") if kind == "i" else a.dtype == dtypes[kind], k
            by_kind[kind][k] = a
        arenas = {}
        for kind, group in by_kind.items():
            off = FA.N_HEAD if kind == "i" else 0
            size = off + sum(a.size for a in group.values())
            arena = rows[3 + "fdi".index(kind)]
            if arena is None:
                arena = np.zeros(size, dtypes[kind])
            else:
                assert arena.shape == (size,) and arena.dtype == dtypes[kind]
                arena[:] = 0
            for k in sorted(group):
                a = np.ascontiguousarray(group[k])
                r, c = a.shape if a.ndim == 2 else (a.size, 1)
                head[3 * k:3 * k + 3] = off, r, c
                arena[off:off + a.size] = a.ravel().view(np.int64) if kind == "i" else a.ravel()
                off += a.size
            arenas[kind] = arena
        ff, fd, fi = arenas["f"], arenas["d"], arenas["i"]
        fi[:FA.N_HEAD] = head
        views = {}
        for kind, group in by_kind.items():
            for k, a in group.items():
                o = head[3 * k]
                v = arenas[kind][o:o + a.size]
                views[k] = (v.view(a.dtype) if kind == "i" else v).reshape(a.shape)
        for k, name in names.items():
            setattr(self, name, views[k])
        self._keep = tuple(views[k] for k in (FA.S_KEEP0, FA.S_KEEP1, FA.S_KEEP2, FA.S_KEEP3))
        self._target._v = views[FA.S_TARGET]
        self._u = nf[ni[KA.F_U]:ni[KA.F_U] + net.n_inputs]
        entry = FA.rls_step if self.readout == "rls" else FA.perturbation_step
        self._fpack = p = (nf, entry, nf, nd, ni, ff, fd, fi)
        return p

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
        if type(y) is float and y - y == 0.0 and not (x and self.exogenous):
            # the common case (a finite value, no features): one jitted call
            p = self._arenas()
            code = p[1](p[2], p[3], p[4], p[5], p[6], p[7], y, False)
            if code == 0:
                return
            return self._refused(code, y, None)
        parsed = self._parse(x if self.exogenous else None, y, labelled=True)
        if parsed is None:  # invalid, and on_invalid="skip"
            return
        (values, new), target = parsed
        if new:
            self._features.add(new)
            self._add_inputs(len(new))
        p = self._arenas()
        exo = self._encode(values)
        code = p[1](p[2], p[3], p[4], p[5], p[6], p[7], target, exo)
        if code != 0:
            self._refused(code, target, values)

    def _encode(self, values):
        """The exogenous features into the network's input slot (standardised and
        learned); False (none: the kernel writes the input) when there are none."""
        if not values:
            return False
        features = self._features
        if features.scale:
            features.encode(values, self.network.dtype, learn=True, out=self._u)
        else:
            self._u[:] = features.encode(values, self.network.dtype)
        return True

    def _refused(self, code, target, values):
        """A step the kernel refused (every array, the target's statistics included,
        is as before it): the features' statistics go back too, then the
        ``on_divergence`` policy."""
        owner = type(self).__name__
        if values and self._features.scale:
            self._features.undo()
        reason = self._reason(code)
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
        p = self._arenas()
        buffers = net.buffers()
        hyper = buffers.hyper
        lrs = hyper[H_LR], hyper[H_LR_DEC]
        moments = buffers.moments.copy()
        hyper[H_LR] = hyper[H_LR_DEC] = 0.0
        try:
            exo = self._encode(values)
            code = p[1](p[2], p[3], p[4], p[5], p[6], p[7], target, exo)
        finally:
            hyper[H_LR], hyper[H_LR_DEC] = lrs
            buffers.moments[:] = moments
        if code != 0 and values and self._features.scale:  # the forward pass failed: drop it
            self._features.undo()

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
        for name in self._SCRATCH + self._OLD_SCRATCH:  # states that saved scratch
            self.__dict__.pop(name, None)
        t = self._target
        if type(t) is _TargetScaler:  # saved before the step learned the target itself
            self._target = _SeriesTarget(t.enabled, t.n, t.mean, t.m2)
        self._allocate_scratch()
        if "_fc" not in state:  # saved before the step wrote its forecasts
            self._fc = self._forecasts()

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
        if self._ring_y.dtype != np.float64:  # float32: NumPy's arithmetic, in float32
            last = self._ring_y[(n - 1) % H, :horizon]
            t = self._target
            return last.tolist() if not t.enabled else (t.mean + t.std * last).tolist()
        # float64: the step wrote them (kernels/forecast_arena.py: _forecasts)
        gated = self.readout == "rls" and self.gate and self.residual
        return self._fc[FA.FC_GATED if gated else FA.FC_MODEL, :horizon].tolist()

    def _forecasts(self):
        """``_fc`` as the step writes it, from the rings and the target's statistics
        (for states saved before the step wrote it)."""
        H = self.network.n_outputs
        n = int(self._counters[FK.FK_STEPS])
        fc = np.zeros((2, H))
        if n == 0 or self._ring_y.dtype != np.float64:
            return fc
        slot = (n - 1) % H
        values = self._ring_y[slot].tolist()
        gated = values
        if self.readout == "rls":
            base = float(self._ring_base[slot])
            track = self._track
            gated = [base if a > b else v for v, a, b in
                     zip(values, track[0].tolist(), track[1].tolist())]
        t = self._target
        for row, vs in ((FA.FC_MODEL, values), (FA.FC_GATED, gated)):
            fc[row] = [t.mean + t.std * v for v in vs] if t.enabled else vs
        return fc


class _SeriesTarget(_TargetScaler):
    """The forecaster's target scaler: count, mean and m2 in a float64 array, which
    its step's kernel reads and learns (``kernels/forecast_arena.py``:
    ``_target_learn``, the same operations as ``_TargetScaler.learn``), followed by
    the three before the last value."""

    def __init__(self, enabled, n=0, mean=0.0, m2=0.0):
        self.enabled = enabled
        self._v = np.zeros(FA.N_TARGET)
        self._v[:3] = n, mean, m2

    n = property(lambda self: int(self._v[FA.T_N]),
                 lambda self, v: self._v.__setitem__(FA.T_N, v))
    mean = property(lambda self: float(self._v[FA.T_MEAN]),
                    lambda self, v: self._v.__setitem__(FA.T_MEAN, v))
    m2 = property(lambda self: float(self._v[FA.T_M2]),
                  lambda self, v: self._v.__setitem__(FA.T_M2, v))

    def __getstate__(self):
        return {"enabled": self.enabled, "n": self.n, "mean": self.mean, "m2": self.m2}

    def __setstate__(self, state):
        self.__init__(state["enabled"], state["n"], state["mean"], state["m2"])
