"""Online multi-horizon forecasting, streamlearn against its peers, side by side.

    python -m benchmarks forecast                       # every data set, into ./benchmark-results/forecast
    python -m benchmarks forecast --data wth            # one data set (wth, waterflow, mackey-glass)
    python -m benchmarks forecast --only ours           # rerun our models, reuse the cached peers
    python -m benchmarks forecast --out benchmarks/forecast-results --only ours --force --write-docs
                                                        # ours again, against the committed full run
    python -m benchmarks forecast --render --write-docs # docs/forecasting.md from the cached results
    python -m benchmarks forecast --quick               # a fraction of every series (iteration, tests)

Protocol (one pass, prequential, the same for every model): at step t the model
learns from what arrived at t (a multi-horizon model gets its delayed targets:
the forecast of y_t made at t-h is scored and learned from now), then forecasts
t+1 .. t+H. The MAE of each horizon h is taken over the forecast origins t of
the second half of the series (t + h inside the series) and divided by the MAE
of persistence (y_{t+h} ~ y_t) on the same pairs: below 1 beats persistence.

Tuning: every model with free parameters gets the same budget, at most
``BUDGET`` configurations, run on the first 20 % of the series only and scored
(the mean over horizons of MAE / persistence) on the second half of that
prefix. The best configuration is then run once over the whole series.

Results are cached per model as JSON in ``--out/<data>/`` (default
``./benchmark-results/forecast``; a rerun skips a model whose file exists,
unless ``--force``); ``--out/forecasting.md`` and ``--out/figures/`` are always
written from the cache, ``docs/forecasting.md`` and its figures only with
``--write-docs``.

Our models are the ``OURS`` table: (label, constructor, kwargs). An entry whose
keyword the installed ``RNNForecaster`` does not accept is skipped with a note.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from collections import deque
from pathlib import Path

import numpy as np

from streamlearn.cliargs import ArgumentParser, add_debug, nonnegative_int, output_dir, run_main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FIGURES = DOCS / "figures"
WTH_DEFAULT = ROOT.parent / "shared" / "data" / "WTH.csv"

BUDGET = 6          # configurations per model in the tuning run
TUNE_FRACTION = 0.2  # tuning prefix
QUICK_FRACTION = 0.1

WTH_TARGET = "DryBulbFarenheit"
WTH_DROPPED = ("DryBulbCelsius", "DewPointCelsius", "WetBulbCelsius")


# -- data ----------------------------------------------------------------------------

class Task:
    """One series: y (T,), optional features X (T, F), horizons 1..H."""

    def __init__(self, name, title, y, H, show, period, X=None, names=(), note=""):
        self.name, self.title = name, title
        self.y = np.asarray(y, dtype=float)
        self.X = None if X is None else np.asarray(X, dtype=float)
        self.names = tuple(names)
        self.H, self.show, self.period, self.note = H, tuple(show), period, note

    def truncated(self, n):
        n = min(int(n), len(self.y))
        return Task(self.name, self.title, self.y[:n], self.H, self.show, self.period,
                    None if self.X is None else self.X[:n], self.names, self.note)

    @property
    def digest(self):
        """Fingerprint of the series (and features): a cache of another series is stale."""
        import hashlib
        h = hashlib.sha1(self.y.tobytes())
        if self.X is not None:
            h.update(self.X.tobytes())
        return h.hexdigest()[:16]

    def rows(self):
        """The feature dicts, built once (not timed)."""
        if self.X is None:
            return [None] * len(self.y)
        return [dict(zip(self.names, map(float, r))) for r in self.X]


def load_wth(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"WTH.csv not found at {path}; pass --wth PATH")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header = [c.strip() for c in rows[0]]
    data = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    cols = header[1:]
    y = data[:, cols.index(WTH_TARGET)]
    names = [c for c in cols if c not in WTH_DROPPED and c != WTH_TARGET]
    X = data[:, [cols.index(c) for c in names]]
    return Task("wth", f"WTH.csv, {WTH_TARGET}", y, 24, (1, 6, 24), 24, X, names,
                note=f"{len(y):,} hourly rows; exogenous features: {', '.join(names)}")


def load_waterflow():
    from river import datasets
    y = [float(v) for _, v in datasets.WaterFlow()]
    return Task("waterflow", "River WaterFlow", y, 6, (1, 6), 24,
                note=f"{len(y):,} hourly values, the series alone")


def load_mackey_glass(n=20_000, seed=0):
    from streamlearn.datasets import mackey_glass_series
    y = mackey_glass_series(n, seed=seed)
    return Task("mackey-glass", f"Mackey-Glass (mackey_glass_series({n}, seed={seed}))",
                y, 15, (1, 15), 50, note=f"{n:,} samples, tau 17")


LOADERS = {"wth": lambda a: load_wth(a.wth), "waterflow": lambda a: load_waterflow(),
           "mackey-glass": lambda a: load_mackey_glass()}


# -- online scaling ------------------------------------------------------------------

class Welford:
    """Running mean / std of a vector (std 1 until two values, or if constant)."""

    def __init__(self, d):
        self.n, self.mean, self.m2 = 0, np.zeros(d), np.zeros(d)

    def learn(self, v):
        self.n += 1
        delta = v - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (v - self.mean)

    @property
    def std(self):
        if self.n < 2:
            return np.ones_like(self.mean)
        s = np.sqrt(self.m2 / (self.n - 1))
        return np.where(s > 0, s, 1.0)

    def transform(self, v):
        return (v - self.mean) / self.std


# -- the peers -----------------------------------------------------------------------

class Persistence:
    def __init__(self, H, **_):
        self.last = 0.0

    def learn(self, y, x):
        self.last = y

    def forecast(self, H):
        return np.full(H, self.last)


class SeasonalNaive:
    """y_{t+h} ~ y_{t+h-m k}, the latest value of the same phase."""

    def __init__(self, H, m=24, **_):
        self.m = int(m)
        self.hist = deque(maxlen=self.m)

    def learn(self, y, x):
        self.hist.append(y)

    def forecast(self, H):
        h = self.hist
        if len(h) < self.m:
            return np.full(H, h[-1] if h else 0.0)
        # hist[-1] is y_t; y_{t+k-m} is hist[-1 + k - m] for k <= m
        return np.array([h[(k - 1) % self.m] for k in range(1, H + 1)])


class RiverForecaster:
    """SNARIMAX or HoltWinters; persistence until the model can forecast."""

    def __init__(self, H, kind="snarimax", lr=0.01, clip=1e12, tss=False, use_x=False,
                 n_features=0, **params):
        from river import linear_model, optim, preprocessing, time_series
        if kind == "snarimax":
            # River's default regressor is StandardScaler | LinearRegression (SGD,
            # lr 0.01) on the raw target: on WTH every configuration explodes
            # within 7,000 steps (the recursive 24-step forecast amplifies it).
            # clip: River's clip_gradient; tss: learn the target in running
            # standard units (TargetStandardScaler).
            reg = preprocessing.StandardScaler() | linear_model.LinearRegression(
                optimizer=optim.SGD(lr), intercept_lr=lr, clip_gradient=clip)
            if tss:
                reg = preprocessing.TargetStandardScaler(reg)
            self.model = time_series.SNARIMAX(regressor=reg, **params)
        else:
            self.model = time_series.HoltWinters(**params)
        self.last = 0.0

    def learn(self, y, x):
        self.model.learn_one(y)
        self.last = y

    def forecast(self, H):
        try:
            f = np.asarray(self.model.forecast(horizon=H), dtype=float)
            if f.shape == (H,) and np.isfinite(f).all():
                return f
        except Exception:  # not initialised yet (HoltWinters needs a season)
            pass
        return np.full(H, self.last)


class LagRegression:
    """One River LinearRegression per horizon on lag features, learning y_{t+h} - y_t.

    Features at time t: y_t and the differences y_t - y_{t-i} (i = 1 .. lags-1),
    plus the exogenous features, all through one River StandardScaler. The
    regressor of horizon h learns, when y_t arrives, from the features of t-h.
    """

    def __init__(self, H, lags=24, lr=0.01, l2=0.0, clip=1e12, use_x=False, **_):
        from river import linear_model, optim, preprocessing
        self.H, self.lags, self.use_x = H, int(lags), use_x
        self.scaler = preprocessing.StandardScaler()
        # the target y_{t+h} - y_t in running standard units (TargetStandardScaler)
        self.models = [preprocessing.TargetStandardScaler(linear_model.LinearRegression(
            optimizer=optim.SGD(lr), l2=l2, intercept_lr=lr, clip_gradient=clip))
            for _ in range(H)]
        self.hist = deque(maxlen=self.lags)
        self.pending = deque(maxlen=H)   # (scaled features, y) of the last H steps
        self.fc = None

    def learn(self, y, x):
        for h, (feat, y0) in enumerate(reversed(self.pending), start=1):
            self.models[h - 1].learn_one(feat, y - y0)
        self.hist.append(y)
        f = {"y": y}
        for i in range(1, len(self.hist)):
            f[f"d{i}"] = y - self.hist[-1 - i]
        if self.use_x and x:
            f.update(x)
        self.scaler.learn_one(f)
        z = self.scaler.transform_one(f)
        self.pending.append((z, y))
        self.fc = np.array([y + m.predict_one(z) for m in self.models])

    def forecast(self, H):
        return self.fc[:H]


class SharedGainRLS:
    """H exponentially weighted least-squares read-outs with delayed targets.

    The read-out of horizon h is updated at time t from the regressor z_{t-h}
    and the target that arrived. All of them see the same regressors in the
    same order, h steps apart, so read-out h at time t needs exactly the gain
    the horizon-1 read-out had at time t-h+1: one P (M x M) update per step,
    the gains kept in a ring of H vectors. Identical to H separate RLS nodes
    (reservoirpy's RLS with ``fit_bias=False`` and the constant in z; checked in
    tests/test_forecast_benchmark.py). P starts at I / alpha; the 1 / lambda
    inflation is skipped while the largest diagonal entry exceeds 1 / alpha
    (wind-up guard).
    """

    def __init__(self, M, H, alpha=1e-6, forgetting=0.9995):
        self.P = np.eye(M) / alpha
        self.pmax = 1.0 / alpha
        self.lam = float(forgetting)
        self.W = np.zeros((H, M))
        self.z = np.zeros((H, M))
        self.g = np.zeros((H, M))
        self.n = 0
        self.H = H

    def learn(self, targets_of):
        """targets_of(h) -> target of horizon h for the regressor of t-h."""
        for h in range(1, min(self.H, self.n) + 1):
            s = (self.n - h) % self.H
            z = self.z[s]
            e = targets_of(h) - self.W[h - 1] @ z
            self.W[h - 1] += self.g[s] * e

    def push(self, z):
        P = self.P
        q = P @ z
        d = self.lam + z @ q
        g = q / d
        P -= np.outer(g, q)
        if P.diagonal().max() * (1.0 / self.lam) <= self.pmax:
            P /= self.lam
        s = self.n % self.H
        self.z[s] = z
        self.g[s] = g
        self.n += 1
        return self.W @ z


class ESN:
    """reservoirpy's Reservoir + one exact RLS read-out per horizon on [1, state, input].

    Input: the latest value and (optionally) the exogenous features, each in
    running standard units. Targets: (y_{t+h} - y_t) in the target's running
    standard deviation, so the forecast is y_t + std * w_h . z_t.
    """

    def __init__(self, H, units=300, sr=0.95, lr=0.6, input_scaling=1.0,
                 forgetting=0.9995, alpha=1e-6, seed=0, use_x=False, n_features=0, **_):
        from reservoirpy.nodes import Reservoir
        self.use_x = use_x and n_features > 0
        d = 1 + (n_features if self.use_x else 0)
        self.res = Reservoir(int(units), lr=lr, sr=sr, input_scaling=input_scaling, seed=seed)
        self.res.initialize(np.zeros(d))
        self.scale = Welford(d)
        self.rls = SharedGainRLS(1 + int(units) + d, H, alpha=alpha, forgetting=forgetting)
        self.ys = deque(maxlen=H + 1)
        self.fc = None
        self.names = None

    def learn(self, y, x):
        v = np.array([y] + ([x[k] for k in sorted(x)] if self.use_x and x else []))
        if self.use_x and v.size == 1:
            v = np.concatenate([v, np.zeros(self.scale.mean.size - 1)])
        self.scale.learn(v)
        sd = self.scale.std[0]
        self.ys.append(y)
        ys = self.ys
        self.rls.learn(lambda h: (y - ys[-1 - h]) / sd)
        u = self.scale.transform(v)
        s = self.res.step(u)
        z = np.concatenate(([1.0], s, u))
        self.fc = y + sd * self.rls.push(z)

    def forecast(self, H):
        return self.fc[:H]


# -- ours ----------------------------------------------------------------------------

class Ours:
    """An RNNForecaster (or any River forecaster) fed raw y and raw x when it
    standardises its inputs itself (``scale_inputs``), else StandardScaler'd x."""

    def __init__(self, H, ctor=None, kwargs=None, use_x=False, **_):
        from river import preprocessing
        self.model = ctor(max_horizon=H, **(kwargs or {}))
        self.use_x = use_x
        own = getattr(self.model, "scale_inputs", False)
        self.scaler = preprocessing.StandardScaler() if use_x and not own else None

    def learn(self, y, x):
        if self.use_x and x and self.scaler is None:
            pass  # the model standardises its features online itself
        elif self.use_x and x:
            self.scaler.learn_one(x)
            x = self.scaler.transform_one(x)
        else:
            x = None
        self.model.learn_one(y, x)

    def forecast(self, H):
        return np.asarray(self.model.forecast(H), dtype=float)


def _rnn_forecaster():
    from streamlearn.forecaster import RNNForecaster
    return RNNForecaster


class IfAccepted:
    """A keyword value passed only if the constructor takes that keyword (else dropped).

    For options that exist in some versions of the library only, e.g. the
    read-out: ``{"readout": IfAccepted("perturbation")}`` asks for the
    perturbation read-out where there is a choice, and is the only read-out
    where there is none.
    """

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"IfAccepted({self.value!r})"


#: Our models: (label, constructor, kwargs). ``max_horizon`` is added per data
#: set; an entry whose label ends in "+ features" gets the exogenous features
#: (on data sets that have them; it is skipped elsewhere). An entry with a
#: keyword the constructor does not accept is skipped with a note, unless the
#: value is wrapped in ``IfAccepted`` (then only that keyword is dropped).
#: Edit freely.
OURS = [
    ("RNNForecaster defaults", _rnn_forecaster, {"seed": 0}),
    ("RNNForecaster defaults + features", _rnn_forecaster, {"seed": 0}),
    ("RNNForecaster forgetting 0.9995", _rnn_forecaster,
     {"rls_forgetting": 0.9995, "seed": 0}),
    ("RNNForecaster forgetting 0.9995 + features", _rnn_forecaster,
     {"rls_forgetting": 0.9995, "seed": 0}),
    ("RNNForecaster 48 lags", _rnn_forecaster, {"lags": 48, "seed": 0}),
    ("RNNForecaster 48 lags + features", _rnn_forecaster, {"lags": 48, "seed": 0}),
    ("RNNForecaster 50 units", _rnn_forecaster, {"n_hidden": 50, "seed": 0}),
    ("RNNForecaster DANP 200 units + features", _rnn_forecaster,
     {"n_hidden": 200, "decorrelation": True, "seed": 0}),
    ("RNNForecaster ANP, perturbation read-out (the earlier defaults)", _rnn_forecaster,
     {"readout": "perturbation", "lags": 0, "seed": 0}),
    ("RNNForecaster DANP 200 units, perturbation read-out", _rnn_forecaster,
     {"n_hidden": 200, "decorrelation": True, "readout": "perturbation", "lags": 0,
      "seed": 0}),
]

#: The entry the Done-when verdict is about (and its with-features twin), and
#: the data sets the criterion covers.
VERDICT_OURS = ("RNNForecaster defaults", "RNNForecaster defaults + features")
VERDICT_DATA = ("wth", "waterflow")


def accepts(cls, kwargs):
    """None if ``cls(**kwargs)`` takes every keyword, else the missing ones."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return None
    missing = [k for k in kwargs if k not in params]
    return missing or None


# -- the model table -----------------------------------------------------------------

def esn_grid():
    base = dict(units=300, sr=0.95, lr=0.6, forgetting=0.9995, alpha=1e-6)
    tweaks = [{}, {"lr": 0.3}, {"sr": 1.25, "lr": 0.3}, {"forgetting": 0.9999},
              {"alpha": 1e-2}, {"alpha": 1.0}]
    return [dict(base, **t) for t in tweaks]


def peer_specs(task):
    """(label, group, factory, grid, uses_x) for every peer on this task."""
    m = task.period
    seasonal = task.name != "mackey-glass"
    if seasonal:
        naive_grid = [{"m": m}]
        base = dict(p=2, d=0, q=1, m=m, sp=1, sd=1, sq=1)
        snarimax_grid = [dict(base, lr=0.01, clip=1.0, tss=True),
                         dict(base, lr=0.003, clip=1.0, tss=True),
                         dict(base, d=1, lr=0.01, clip=1.0, tss=True),
                         dict(base, sd=0, lr=0.01, clip=1.0, tss=True),
                         dict(base, lr=0.003, clip=10.0), dict(base, lr=0.01, clip=10.0)]
        hw_grid = [dict(alpha=a, beta=b, gamma=g, seasonality=m)
                   for a, b, g in [(0.8, 0.001, 0.05), (0.5, 0.001, 0.05), (0.8, 0.01, 0.05),
                                   (0.8, 0.001, 0.2), (0.95, 0.001, 0.05), (0.5, 0.01, 0.2)]]
    else:
        naive_grid = [{"m": k} for k in (40, 44, 48, 50, 52, 56)]
        snarimax_grid = [dict(p=p, d=d, q=1, lr=0.01, clip=10.0) for p in (2, 6, 12)
                         for d in (0, 1)]
        hw_grid = [dict(alpha=a, beta=b) for a in (0.3, 0.6, 0.9) for b in (0.01, 0.1)]
    # SGD on lag features blows up on outliers (WaterFlow's spikes) unless the
    # loss gradient is clipped (clip: River's clip_gradient, in target std units)
    lag_grid = [dict(lags=24, lr=lr, clip=c) for lr, c in [
        (0.0003, 1.0), (0.001, 1.0), (0.003, 1.0), (0.01, 1.0), (0.003, 1e12), (0.01, 1e12)]]
    specs = [
        ("persistence", "baseline", Persistence, [{}], False),
        ("seasonal naive", "baseline", SeasonalNaive, naive_grid, False),
        ("River SNARIMAX", "peer", lambda H, **p: RiverForecaster(H, "snarimax", **p),
         snarimax_grid, False),
        ("River HoltWinters" if seasonal else "River Holt (no season)", "peer",
         lambda H, **p: RiverForecaster(H, "hw", **p), hw_grid, False),
        ("River LinearRegression per horizon, 24 lags", "peer", LagRegression, lag_grid, False),
        ("reservoirpy ESN 300 + RLS per horizon", "peer", ESN, esn_grid(), False),
    ]
    if task.X is not None:
        specs += [
            ("River LinearRegression per horizon, 24 lags + features", "peer", LagRegression,
             lag_grid, True),
            ("reservoirpy ESN 300 + RLS per horizon + features", "peer", ESN, esn_grid(), True),
        ]
    return specs


def our_specs(task):
    out, notes = [], []
    for label, ctor_fn, kwargs in OURS:
        uses_x = label.endswith("+ features")
        if uses_x and task.X is None:
            continue
        ctor = ctor_fn()
        optional = [k for k, v in kwargs.items() if isinstance(v, IfAccepted)]
        dropped = accepts(ctor, {k: None for k in optional}) or []
        kwargs = {k: (v.value if isinstance(v, IfAccepted) else v)
                  for k, v in kwargs.items() if k not in dropped}
        missing = accepts(ctor, kwargs)
        if missing:
            notes.append(f"skipped {label!r}: {ctor.__name__} does not accept {missing}")
            continue
        factory = (lambda c, k: (lambda H, use_x=False, n_features=0, **p: Ours(
            H, ctor=c, kwargs=dict(k, **p), use_x=use_x)))(ctor, kwargs)
        out.append((label, "ours", factory, [{}], uses_x))
    return out, notes


# -- running and scoring -------------------------------------------------------------

def run_stream(adapter, y, rows, H):
    T = len(y)
    P = np.empty((T, H))
    t0 = time.perf_counter()
    for t in range(T):
        adapter.learn(float(y[t]), rows[t])
        P[t] = adapter.forecast(H)
    return P, time.perf_counter() - t0


def score(P, y, H, lo):
    """MAE and persistence MAE per horizon over origins t >= lo with t + h < T."""
    T = len(y)
    mae, pers = np.empty(H), np.empty(H)
    for h in range(1, H + 1):
        t = np.arange(lo, T - h)
        mae[h - 1] = np.mean(np.abs(P[t, h - 1] - y[t + h]))
        pers[h - 1] = np.mean(np.abs(y[t] - y[t + h]))
    return mae, pers


def evaluate(factory, params, task, rows, uses_x):
    nf = 0 if task.X is None else task.X.shape[1]
    adapter = factory(task.H, use_x=uses_x, n_features=nf, **params)
    P, wall = run_stream(adapter, task.y, rows, task.H)
    if not np.isfinite(P).all():
        raise FloatingPointError("non-finite forecasts")
    mae, pers = score(P, task.y, task.H, len(task.y) // 2)
    return mae, pers, wall


def slug(label):
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def git_rev():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def run_model(spec, task, rows, outdir, force, log):
    label, group, factory, grid, uses_x = spec
    path = outdir / f"{slug(label)}.json"
    if path.exists() and not force:
        cached = json.loads(path.read_text())
        if cached.get("n") == len(task.y) and cached.get("series", task.digest) == task.digest:
            log(f"  {label}: cached ({path.name})")
            return cached
        log(f"  {label}: cached for another series ({cached.get('n')} steps): rerun")
    T = len(task.y)
    tuning = []
    best = grid[0]
    if len(grid) > 1:
        assert len(grid) <= BUDGET, f"{label}: {len(grid)} configurations > budget {BUDGET}"
        prefix = task.truncated(int(TUNE_FRACTION * T))
        prows = rows[:len(prefix.y)]
        best_score = math.inf
        for params in grid:
            try:
                mae, pers, wall = evaluate(factory, params, prefix, prows, uses_x)
                s = float(np.mean(mae / pers))
            except Exception as exc:  # a diverging configuration loses
                s, wall = math.inf, float("nan")
                log(f"    {params}: failed ({type(exc).__name__}: {exc})")
            tuning.append({"params": params, "score": s, "wall_s": wall})
            log(f"    tune {params}: mean MAE/persistence {s:.4f} ({wall:.1f} s)")
            if s < best_score:
                best, best_score = params, s
    # warm-up (Numba compilation, imports), not timed
    try:
        warm = task.truncated(min(200, T))
        evaluate(factory, best, warm, rows[:len(warm.y)], uses_x)
    except Exception:
        pass
    load0 = os.getloadavg()
    try:
        mae, pers, wall = evaluate(factory, best, task, rows, uses_x)
        error = None
    except Exception as exc:
        traceback.print_exc()
        mae = pers = np.full(task.H, np.nan)
        wall, error = float("nan"), f"{type(exc).__name__}: {exc}"
    res = {
        "label": label, "group": group, "uses_x": uses_x, "data": task.name, "n": T,
        "series": task.digest,
        "H": task.H, "params": best, "tuning": tuning,
        "mae": mae.tolist(), "persistence_mae": pers.tolist(),
        "ratio": (mae / pers).tolist(), "wall_s": wall, "us_per_step": 1e6 * wall / T,
        "load_before": load0, "load_after": os.getloadavg(), "error": error,
        "git": git_rev(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    path.write_text(json.dumps(res, indent=1, default=float))
    r = res["ratio"]
    log(f"  {label}: " + " ".join(f"+{h} {r[h - 1]:.3f}" for h in task.show)
        + f"  {res['us_per_step']:.0f} us/step" + (f"  ERROR {error}" if error else ""))
    return res


# -- Mackey-Glass 15 ahead, NMSE over the last 5,000 -------------------------------------

#: Our side of the NMSE table: (label, OnlineRNN(1, 500, 1, **kwargs)); an entry
#: whose keyword OnlineRNN does not accept is skipped with a note.
NMSE_OURS = [
    ("OnlineRNN(readout='rls'), 500 units", {"readout": "rls", "seed": 0}),
    ("OnlineRNN(readout='rls', input_scaling=1: the paper's input gain), 500 units",
     {"readout": "rls", "input_scaling": 1.0, "seed": 0}),
    ("OnlineRNN(readout='rls'), fixed hidden layer (lr 1e-300), 500 units",
     {"readout": "rls", "lr": 1e-300, "seed": 0}),
    ("OnlineRNN DANP defaults, 500 units", {"method": "anp", "decorrelation": True, "seed": 0}),
]


def mg_nmse(outdir, force, log, n=20_000, last=5_000, wanted=lambda label, group: True):
    """ESN 500 (reservoirpy nodes as they come) against OnlineRNN(readout='rls') 500."""
    from streamlearn.datasets import mackey_glass
    U, Y = mackey_glass(n, horizon=15, seed=0)
    last = min(last, n // 4)
    results = []

    def nmse(pred):
        e = pred[-last:, 0] - Y[-last:, 0]
        return float(np.mean(e ** 2) / np.var(Y[-last:, 0]))

    def esn():
        from reservoirpy.nodes import RLS, Reservoir
        res = Reservoir(500, lr=0.3, sr=1.25, seed=0)
        rls = RLS(alpha=1e-6)
        res.initialize(U[0])
        rls.initialize(np.zeros(500), Y[0])
        pred = np.empty_like(Y)
        for t in range(n):  # predict y_t from the state, then learn it (prequential)
            s = res.step(U[t])
            pred[t] = s @ rls.Wout + rls.bias
            rls._learning_step(s, Y[t])
        return pred

    def ours(kw):
        from streamlearn import OnlineRNN
        net = OnlineRNN(1, 500, 1, **kw)
        return net.learn_many(U, Y)

    entries = [("reservoirpy Reservoir(500, lr 0.3, sr 1.25, seed 0) + RLS(alpha 1e-6)", "peer",
                esn)]
    from streamlearn import OnlineRNN
    for label, kw in NMSE_OURS:
        missing = accepts(OnlineRNN, kw)
        if missing:
            log(f"  skipped {label!r}: OnlineRNN does not accept {missing}")
            r = {"label": label, "skipped": f"OnlineRNN does not accept {missing}"}
            (outdir / f"nmse-{slug(label)}.json").write_text(json.dumps(r, indent=1))
            results.append(r)
            continue
        entries.append((label, "ours", (lambda k: lambda: ours(k))(kw)))
    for label, group, fn in entries:
        path = outdir / f"nmse-{slug(label)}.json"
        if path.exists() and not (force and wanted(label, group)) \
                and "skipped" not in json.loads(path.read_text()):
            results.append(json.loads(path.read_text()))
            log(f"  {label}: cached")
            continue
        if not wanted(label, group):
            continue
        t0 = time.perf_counter()
        try:
            pred = fn()
            value, error = nmse(pred), None
        except Exception as exc:
            value, error = float("nan"), f"{type(exc).__name__}: {exc}"
        wall = time.perf_counter() - t0
        r = {"label": label, "nmse": value, "us_per_step": 1e6 * wall / n, "n": n,
             "last": last, "error": error, "git": git_rev()}
        path.write_text(json.dumps(r, indent=1))
        log(f"  {label}: NMSE {value:.3g}  {r['us_per_step']:.0f} us/step"
            + (f"  ERROR {error}" if error else ""))
        results.append(r)
    return results


# -- the report ----------------------------------------------------------------------

def load_results(outdir):
    out = {}
    for d in sorted(p for p in outdir.iterdir() if p.is_dir()):
        out[d.name] = [json.loads(f.read_text()) for f in sorted(d.glob("*.json"))]
    return out


ORDER = {"baseline": 0, "peer": 1, "ours": 2}


def _rows_sorted(rs):
    return sorted([r for r in rs if "ratio" in r],
                  key=lambda r: (ORDER.get(r["group"], 3), r["uses_x"], r["label"]))


def fmt_params(p):
    return ", ".join(f"{k} {v}" for k, v in p.items()) if p else ""


def verdict(task_name, show, H, rs, tol=0.02):
    """The Done-when check for RNNForecaster defaults on one data set; rows of text."""
    lines = []
    if task_name not in VERDICT_DATA:
        return lines
    by = {r["label"]: r for r in rs if "ratio" in r}
    variants = [(VERDICT_OURS[0], False)]
    if any(r["uses_x"] for r in by.values()):
        variants.append((VERDICT_OURS[1], True))
    for label, with_x in variants:
        if label not in by:
            lines.append((label, "not run", "", "", False))
            continue
        ours = np.array(by[label]["ratio"])
        # peers with the same information: without features, or any when ours has them
        peers = [r for r in by.values() if r["group"] != "ours" and (with_x or not r["uses_x"])]
        beats_all = bool(np.all(ours < 1.0))
        worst = int(np.argmax(ours)) + 1
        if task_name == "wth":  # the criterion asks this of WTH only
            lines.append((label, f"beats persistence at every horizon 1..{H}",
                          f"worst +{worst}: {ours[worst - 1]:.3f}", "persistence", beats_all))
        for h in show:
            best = min(peers, key=lambda r: r["ratio"][h - 1])
            b = best["ratio"][h - 1]
            ok = bool(ours[h - 1] <= b * (1 + tol))
            lines.append((label, f"+{h}: best or within {tol:.0%} of the best peer",
                          f"{ours[h - 1]:.3f} vs {b:.3f}", best["label"], ok))
    return lines


def render(outdir, tasks_meta, nmse, figures_dir, fig_prefix, log, machine=""):
    res = load_results(outdir)
    md = []
    checks = []
    for name in ("wth", "waterflow", "mackey-glass"):
        rs = res.get(name)
        if not rs:
            continue
        meta = tasks_meta.get(name, {})
        show, H = tuple(meta.get("show", ())), meta.get("H")
        rows = _rows_sorted(rs)
        if not rows:
            continue
        H = H or rows[0]["H"]
        show = show or ((1, H) if H else ())
        pers = rows[0]["persistence_mae"]
        md.append(f"### {meta.get('title', name)}\n")
        loads = [r[k][0] for r in rows for k in ("load_before", "load_after") if k in r]
        md.append(f"{meta.get('note', '')}; {rows[0]['n']:,} steps, scored on the second half "
                  f"(1-minute load average during the runs {min(loads):.1f} - {max(loads):.1f} "
                  f"on {os.cpu_count()} cores). "
                  "Persistence MAE " + " / ".join(f"{pers[h - 1]:.3g}" for h in show)
                  + " at " + " / ".join(f"+{h}" for h in show) + ".\n")
        md.append("| model | " + " | ".join(f"+{h}" for h in show)
                  + " | us/step | chosen configuration |")
        md.append("|---|" + "---|" * (len(show) + 2))
        for r in rows:
            best = {h: min(x["ratio"][h - 1] for x in rows) for h in show}
            cells = []
            for h in show:
                v = r["ratio"][h - 1]
                txt = f"{v:.3f}" if abs(v) < 100 else f"{v:.2g}"
                cells.append("-" if not np.isfinite(v) else
                             (f"**{txt}**" if v == best[h] else txt))
            tuned = f" (best of {len(r['tuning'])})" if r["tuning"] else ""
            md.append(f"| {r['label']} | " + " | ".join(cells)
                      + f" | {r['us_per_step']:,.0f} | {fmt_params(r['params'])}{tuned} |")
        md.append("")
        v = verdict(name, show, H, rows)
        checks += [(name,) + c for c in v]
        if v:
            md.append("Done-when check (RNNForecaster defaults):\n")
            md.append("| model | criterion | value | best peer | met |")
            md.append("|---|---|---|---|---|")
            for label, crit, val, peer, ok in v:
                md.append(f"| {label} | {crit} | {val} | {peer} | {'yes' if ok else '**no**'} |")
            md.append("")
        if figures_dir is not None:
            fig = figures_dir / f"{fig_prefix}-{name}.png"
            plot(rows, H, meta.get("title", name), fig)
            rel = os.path.relpath(fig, figures_dir.parent)
            md.append(f"![MAE / persistence by horizon, {name}]({rel})\n")
    if nmse:
        done = [r for r in nmse if "n" in r]
        n, last = (done[0]["n"], done[0]["last"]) if done else (20_000, 5_000)
        md.append(f"### Mackey-Glass 15 ahead: NMSE over the last {last:,} of {n:,}\n")
        md.append(f"`mackey_glass({n}, horizon=15, seed=0)`; the model predicts y_t = s_{{t+15}} "
                  "from s_0..s_t, then learns it (the core's prequential protocol).\n")
        md.append("| model | NMSE | us/step |")
        md.append("|---|---|---|")
        for r in nmse:
            if "skipped" in r:
                md.append(f"| {r['label']} | skipped: {r['skipped']} | |")
            else:
                md.append(f"| {r['label']} | {r['nmse']:.3g} | {r['us_per_step']:,.0f} |")
        md.append("")
    if checks:
        ok = sum(c[-1] for c in checks)
        missing = [d for d in VERDICT_DATA if d not in res]
        state = "met" if ok == len(checks) and not missing else "not met"
        summary = (f"**Done-when criterion: {state}** ({ok} of {len(checks)} checks pass"
                   + (f"; not run: {', '.join(missing)}" if missing else "") + "). Failing: "
                   + ("; ".join(f"{c[0]} {c[1]}: {c[2]} ({c[3]})" for c in checks if not c[-1])
                      or "none") + ".\n")
        log(summary.replace("**", ""))
        md.insert(0, summary)
    return "\n".join(md)


def plot(rows, H, title, path):
    """MAE / persistence against the horizon; with features: a second panel."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with_x = [r for r in rows if r["uses_x"]]
    panels = [("the series alone", [r for r in rows if not r["uses_x"]])]
    if with_x:
        panels.append(("with the exogenous features (and the baselines)",
                       [r for r in rows if r["uses_x"] or r["group"] == "baseline"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(7.5 * len(panels), 5), squeeze=False)
    hs = np.arange(1, H + 1)
    styles = {"baseline": ":", "peer": "--", "ours": "-"}
    finite = [v for r in rows for v in r["ratio"] if np.isfinite(v)]
    lo = min(finite) if finite else 0.0
    for ax, (sub, rs) in zip(axes[0], panels):
        for r in rs:
            ax.plot(hs, r["ratio"], styles.get(r["group"], "-"), marker="o", ms=3,
                    lw=2.2 if r["group"] == "ours" else 1.2, label=r["label"])
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xlabel("horizon (steps ahead)")
        ax.set_ylabel("MAE / persistence MAE (second half)")
        ax.set_title(f"{title}: {sub}", fontsize=9)
        ax.set_xticks(hs if H <= 15 else np.r_[1, np.arange(2, H + 1, 2)])
        ax.set_ylim(max(0.0, lo - 0.05), 1.4)
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def machine_line():
    import numpy
    import river
    try:
        import reservoirpy
        rpy = reservoirpy.__version__
    except ImportError:
        rpy = "not installed"
    cpu = platform.processor() or platform.machine()
    return (f"{os.cpu_count()} logical cores ({cpu}), Python {platform.python_version()}, "
            f"NumPy {numpy.__version__}, River {river.__version__}, reservoirpy {rpy}; "
            f"load average (1, 5, 15 min) when this was rendered "
            f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")


DOC_HEAD = """# Forecasting: streamlearn against its peers, online

Produced by `python -m benchmarks forecast --write-docs` (benchmarks/forecast.py; the
protocol is in its docstring and below). Every model runs online, one pass, on the
same stream: at step t it learns from what arrived at t (a multi-horizon model gets
its delayed targets: the forecast of y_t made at t-h is scored and learned from when
y_t arrives), then forecasts t+1..t+H. Each cell is the MAE at that horizon over the
forecast origins of the second half of the series, divided by persistence's MAE on
the same pairs (below 1 beats persistence; bold: the best of the column).

Tuning: each model with free parameters gets the same budget, at most {budget}
configurations (listed in benchmarks/forecast.py), run on the first 20 % of the series
and scored by the mean over horizons of MAE / persistence on the second half of that
prefix; the best one is then run once over the whole series. Our models
(`OURS` in benchmarks/forecast.py) run with the keywords listed there and are not tuned.

Feature inputs are given raw to our models, which standardise them online themselves
(`scale_inputs`), and go through an online standard scaler for the peers (River's
`StandardScaler` for the lag regressions, a running mean/std for the ESN); the target is given
raw to every model. us/step is the wall time of the whole run (learn + forecast) per
step, single-threaded, on a shared machine (see Machine): noisy, compare within a run.
"""


def write_outputs(args, tasks_meta, nmse, log):
    outdir = Path(args.out)
    meta_path = outdir / "tasks.json"
    if meta_path.exists():
        stored = json.loads(meta_path.read_text())
        stored.update(tasks_meta)
        tasks_meta = stored
    meta_path.write_text(json.dumps(tasks_meta, indent=1))
    if nmse is None:
        nmse = [json.loads(p.read_text()) for p in sorted((outdir / "nmse").glob("*.json"))] \
            if (outdir / "nmse").is_dir() else []
    # nmse/ is not a task directory
    body_out = render_tasks(outdir, tasks_meta, nmse, outdir / "figures", log)
    (outdir / "forecasting.md").write_text(DOC_HEAD.format(budget=BUDGET) + "\n" + body_out)
    log(f"wrote {outdir / 'forecasting.md'}")
    if args.write_docs:
        body = render_tasks(outdir, tasks_meta, nmse, FIGURES, log)
        block = f"{BEGIN}\n\n{body}\n{DOC_TAIL.format(machine=machine_line())}\n{END}"
        doc = DOCS / "forecasting.md"
        old = doc.read_text() if doc.exists() else ""
        if BEGIN in old and END in old:  # keep the hand-written text around the results
            text = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END):]
        else:
            text = DOC_HEAD.format(budget=BUDGET) + "\n" + block + "\n"
        doc.write_text(text)
        log(f"wrote {DOCS / 'forecasting.md'}")
    return body_out


BEGIN = "<!-- forecast results: begin (written by python -m benchmarks forecast --write-docs) -->"
END = "<!-- forecast results: end -->"

DOC_TAIL = """
#### Machine

{machine}. Two cores shared with other jobs while this ran: the us/step figures are
noisy (the relative order of fast and slow models is reliable, ratios of 1.5x or less
are not).
"""


def render_tasks(outdir, tasks_meta, nmse, figures_dir, log):
    tmp = {k: v for k, v in load_results(outdir).items() if k in tasks_meta}
    # render() reads the directory itself; keep only the task directories
    return render(outdir, tasks_meta, nmse, figures_dir, "forecasting", log) if tmp else ""


# -- main ----------------------------------------------------------------------------

OUT_DEFAULT = os.path.join("benchmark-results", "forecast")


def main(argv=None):
    ap = ArgumentParser(prog="python -m benchmarks forecast", description=__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="wth,waterflow,mackey-glass",
                    help="comma-separated: wth, waterflow, mackey-glass (default: all)")
    ap.add_argument("--only", default="",
                    help="'ours', 'peers', or comma-separated substrings of model labels")
    ap.add_argument("--out", default=OUT_DEFAULT, type=output_dir, metavar="DIR",
                    help=f"results directory (JSON per model; default ./{OUT_DEFAULT})")
    ap.add_argument("--wth", default=str(WTH_DEFAULT), help="path of WTH.csv")
    ap.add_argument("--quick", action="store_true",
                    help=f"the first {round(100 * QUICK_FRACTION)} %% of every series "
                         f"(default --out {OUT_DEFAULT}-quick)")
    ap.add_argument("--n", type=nonnegative_int, default=0,
                    help="use the first N steps of every series (0: all)")
    ap.add_argument("--force", action="store_true", help="rerun models that are cached")
    ap.add_argument("--render", action="store_true", help="only render from the cache")
    ap.add_argument("--no-nmse", action="store_true", help="skip the Mackey-Glass NMSE table")
    ap.add_argument("--write-docs", action="store_true",
                    help="write docs/forecasting.md and docs/figures/forecasting-*.png")
    add_debug(ap)
    args = ap.parse_args(argv)
    if args.quick and args.out == OUT_DEFAULT:
        args.out = OUT_DEFAULT + "-quick"
    names = [d.strip() for d in args.data.split(",") if d.strip()]
    for d in names:
        if d not in LOADERS:
            ap.error(f"argument --data: unknown data set {d!r}; choose from {', '.join(LOADERS)}")
    args.names = names
    return run_main(_run, args, ap.prog)


def _run(args):
    names = args.names
    outdir = Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)

    def log(msg):
        print(msg, flush=True)
    only = [s.strip().lower() for s in args.only.split(",") if s.strip()]

    def wanted(label, group):
        if not only:
            return True
        if "ours" in only and group == "ours":
            return True
        if "peers" in only and group != "ours":
            return True
        return any(s in label.lower() for s in only if s not in ("ours", "peers"))

    tasks_meta = {}
    nmse = None
    t_all = time.perf_counter()
    for d in names:
        task = LOADERS[d](args)
        n = args.n or (int(QUICK_FRACTION * len(task.y)) if args.quick else 0)
        if n:
            task = task.truncated(n)
        tasks_meta[d] = {"title": task.title, "note": task.note, "H": task.H,
                         "show": list(task.show), "n": len(task.y)}
        if args.render:
            continue
        log(f"== {task.title}: {len(task.y):,} steps, H {task.H}  ({time.strftime('%H:%M:%S')}, "
            f"load {os.getloadavg()[0]:.1f})")
        sub = outdir / d
        sub.mkdir(exist_ok=True)
        rows = task.rows()
        specs = peer_specs(task)
        ours, notes = our_specs(task)
        for note in notes:
            log("  " + note)
        t0 = time.perf_counter()
        done = []
        for spec in specs + ours:
            if wanted(spec[0], spec[1]):
                done.append(run_model(spec, task, rows, sub, args.force, log))
        log(f"  {d}: {time.perf_counter() - t0:.0f} s")
        # results of models no longer in the table (renamed, removed, or skipped by
        # this version of the library) are not rendered: moved aside
        current = {slug(spec[0]) for spec in specs + ours}
        for p in sub.glob("*.json"):
            if p.stem not in current:
                (sub / "stale").mkdir(exist_ok=True)
                p.replace(sub / "stale" / p.name)
                log(f"  moved {p.name} to {d}/stale/ (not in the model table now)")
        rs = _rows_sorted([json.loads(p.read_text()) for p in sub.glob("*.json")])
        for label, crit, val, peer, ok in verdict(d, task.show, task.H, rs):
            log(f"  [{'met' if ok else 'NOT met'}] {label}: {crit}: {val} {peer}")
        if d == "mackey-glass" and not args.no_nmse:
            (outdir / "nmse").mkdir(exist_ok=True)
            t0 = time.perf_counter()
            log("== Mackey-Glass 15 ahead, NMSE over the last 5,000")
            nmse = mg_nmse(outdir / "nmse", args.force, log, n=len(task.y), wanted=wanted)
            log(f"  nmse: {time.perf_counter() - t0:.0f} s")
    write_outputs(args, tasks_meta, nmse, log)
    log(f"total {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
