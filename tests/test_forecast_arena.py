"""The forecaster's step on arenas (kernels/forecast_arena.py): views, not copies;
the target's scaling and the forecasts inside the step equal the Python they
replace bit for bit; repacking, pickling and old states continue exactly.

(That every forecast, weight and random-stream position is unchanged is
tests/test_forecaster_pinned.py's job.)"""

import inspect
import math
import pickle

import numpy as np
import pytest

from streamlearn import OnlineRNN, RNNForecaster
from streamlearn.forecaster import _SeriesTarget
from streamlearn.kernels import forecast_arena as FA
from streamlearn.river_base import _TargetScaler


def _series(n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return [float(v) for v in 20.0 + 3.0 * np.sin(t / 5.0) + rng.normal(0, 0.3, n)]


CONFIGS = {
    "rls": dict(max_horizon=3, n_hidden=8, lags=3, seed=1),
    "rls-no-gate": dict(max_horizon=2, n_hidden=6, lags=2, seed=2, gate=False),
    "perturbation": dict(max_horizon=3, n_hidden=6, lags=1, seed=3, readout="perturbation"),
    "unscaled": dict(max_horizon=2, n_hidden=6, lags=2, seed=4, scale_target=False,
                     residual=False),
}


def test_the_entries_take_eight_arguments():
    for entry in (FA.perturbation_step, FA.rls_step):
        assert len(inspect.signature(entry.py_func).parameters) == 8


@pytest.mark.parametrize("readout", ["rls", "perturbation"])
def test_the_buffers_are_views_of_the_arenas(readout):
    f = RNNForecaster(max_horizon=2, n_hidden=5, lags=2, readout=readout, seed=0)
    f.learn_one(1.0)
    nf, entry, _, nd, ni, ff, fd, fi = f._fpack
    assert entry is (FA.rls_step if readout == "rls" else FA.perturbation_step)
    for name in ("_ring_u", "_ring_xp", "_ring_dir", "_work_n", "_grad"):
        assert np.shares_memory(getattr(f, name), ff), name
    for name in ("_recent", "_fc", "_report") + (("_W", "_P", "_track") if readout == "rls"
                                                  else ()):
        assert np.shares_memory(getattr(f, name), fd), name
    for name in ("_counters", "_ring_i", "_ring_rng"):
        assert np.shares_memory(getattr(f, name), fi), name
    assert np.shares_memory(f._target._v, fd)
    net = f.network
    for a in (net.A, net.R, net.B, net.D):
        assert np.shares_memory(a, nf)
    # a write through the attribute is what the next step reads
    before = pickle.loads(pickle.dumps(f))
    f._recent[0] += 1.0
    before._recent[0] += 1.0
    f.learn_one(2.0)
    before.learn_one(2.0)
    assert f.forecast(2) == before.forecast(2)


def _python_forecast(f, horizon):
    """RNNForecaster.forecast as it was computed in Python, from the rings."""
    H = f.max_horizon
    n = f.n_steps
    t = f._target
    if n == 0:
        return [float(t.invert(0.0))] * horizon
    slot = (n - 1) % H
    values = f._ring_y[slot, :horizon].tolist()
    if f.readout == "rls" and f.gate and f.residual:
        base = float(f._ring_base[slot])
        values = [base if a > b else v for v, a, b in
                  zip(values, f._track[0, :horizon].tolist(), f._track[1, :horizon].tolist())]
    if not t.enabled:
        return values
    return [t.mean + t.std * v for v in values]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_step_scales_and_forecasts_as_python_did(name):
    kw = CONFIGS[name]
    f = RNNForecaster(**kw)
    ref = _TargetScaler(kw.get("scale_target", True))
    H = kw["max_horizon"]
    for i, y in enumerate(_series(300)):
        x = {"temp": math.cos(i / 4.0)} if i >= 100 else None
        f.learn_one(y, x)
        ref.learn(y)
        t = f._target
        assert (t.n, t.mean, t.m2, t.std) == (ref.n, ref.mean, ref.m2, ref.std)
        for h in (1, H):
            assert f.forecast(h) == _python_forecast(f, h)
    # the gate is read when forecast is called, not when the step ran
    if f.readout == "rls":
        f.gate = not f.gate
        assert f.forecast(H) == _python_forecast(f, H)


def test_a_repacked_network_continues_exactly():
    a = RNNForecaster(max_horizon=2, n_hidden=6, lags=2, seed=5)
    b = RNNForecaster(max_horizon=2, n_hidden=6, lags=2, seed=5)
    ys = _series(120, seed=1)
    for y in ys[:60]:
        a.learn_one(y)
        b.learn_one(y)
    b.network.arenas(into=tuple(np.zeros_like(a) for a in b.network.arenas()))
    assert b._fpack[0] is not b.network.arenas()[0]  # moved: the forecaster follows
    for y in ys[60:]:
        a.learn_one(y)
        b.learn_one(y)
        assert a.forecast(2) == b.forecast(2)
    np.testing.assert_array_equal(a.network.R, b.network.R)
    np.testing.assert_array_equal(a._P, b._P)


def test_a_state_saved_before_the_arenas_loads_and_continues():
    """States written before the step learned the target and wrote the forecasts
    (a ``_TargetScaler``, no ``_fc``) load, forecast and continue bit for bit."""
    ys = _series(150, seed=2)
    a = RNNForecaster(max_horizon=3, n_hidden=6, lags=2, seed=6)
    for y in ys[:80]:
        a.learn_one(y)
    state = a.__getstate__()
    t = state["_target"]
    state["_target"] = old = _TargetScaler(t.enabled)
    old.n, old.mean, old.m2 = t.n, t.mean, t.m2
    del state["_fc"]
    b = RNNForecaster.__new__(RNNForecaster)
    b.__setstate__(pickle.loads(pickle.dumps(state)))
    assert type(b._target) is _SeriesTarget
    assert b.forecast(3) == a.forecast(3)
    for y in ys[80:]:
        a.learn_one(y)
        b.learn_one(y)
        assert a.forecast(3) == b.forecast(3)


def test_the_series_target_pickles_as_the_scaler_did():
    t = _SeriesTarget(True)
    ref = _TargetScaler(True)
    for y in (3.0, 5.5, -1.25):
        ref.learn(y)
    t.n, t.mean, t.m2 = ref.n, ref.mean, ref.m2
    assert t.__getstate__() == vars(ref)
    u = pickle.loads(pickle.dumps(t))
    assert (u.n, u.mean, u.m2, u.std, u.invert(0.5)) == (ref.n, ref.mean, ref.m2, ref.std,
                                                         ref.invert(0.5))


def test_the_network_alone_keeps_its_own_entries():
    """Packing for a driver does not give a WP network entries it has not got."""
    net = OnlineRNN(2, 5, 1, method="wp", seed=0)
    f, d, i = net.arenas()
    assert net._packed[2] is None and np.shares_memory(net.A, f)
    u, y = np.array([1.0, 0.5]), np.array([0.2])
    twin = OnlineRNN(2, 5, 1, method="wp", seed=0)
    for _ in range(5):
        np.testing.assert_array_equal(net.learn_one(u, y), twin.learn_one(u, y))
    np.testing.assert_array_equal(net.A, twin.A)
