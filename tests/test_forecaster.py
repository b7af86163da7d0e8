"""RNNForecaster: delayed targets against plain NumPy, the core rule, River's evaluation."""

import math
import pickle

import numpy as np
import pytest
from river import datasets, evaluate, metrics

from streamlearn.datasets import mackey_glass
from streamlearn.forecaster import RNNForecaster
from streamlearn.online_rnn import OnlineRNN

from naive import NumpyForecaster

# River's checks over every _unit_test_params(): tests/test_estimators.py


# -- the delayed update, recomputed offline in plain NumPy (tests/naive.py) ----------


@pytest.mark.parametrize("method,decorrelation,optimizer,noise", [
    (m, d, "sgd", "gaussian") for m in ("anp", "np", "wp", "bp") for d in (False, True)
] + [(m, True, "adam", "gaussian") for m in ("anp", "np", "wp", "bp")] + [
    (m, d, o, "rademacher") for m, d, o in (("anp", False, "sgd"), ("np", True, "sgd"),
                                            ("wp", False, "sgd"), ("wp", True, "adam"))])
def test_delayed_update_equals_offline_numpy(method, decorrelation, optimizer, noise):
    H, N, T = 3, 6, 40
    lr = {"anp": 1e-2, "np": 1e-4, "wp": 1e-6, "bp": 1e-2}[method]
    if optimizer == "adam":
        lr = 1e-3
    model = RNNForecaster(max_horizon=H, n_hidden=N, method=method, lr=lr,
                          readout="perturbation", scale_inputs=False, lags=0,
                          optimizer=optimizer, decorrelation=decorrelation,
                          lr_decorrelation=1e-2, seed=11, scale_target=False, residual=True,
                          noise=noise)
    ref = NumpyForecaster(model.network, H, method, decorrelation, model.sigma, lr, 1e-2,
                          True, model.network._rng.copy(), optimizer, noise)
    rng = np.random.default_rng(0)
    series = np.sin(np.arange(T) / 3.0) + 0.1 * rng.normal(size=T)
    for t in range(T):
        x = {"temp": float(rng.normal())} if t >= 10 else None  # an input emerges
        model.learn_one(float(series[t]), x)
        if t == 10:
            ref.add_input()
        u = np.concatenate([[1.0, series[t]], [x["temp"]] if x else []])
        u = np.concatenate([u, np.zeros(ref.A.shape[1] - u.size)])
        y_ref = ref.step(series[t], u)
        np.testing.assert_allclose(model.forecast(H), y_ref, rtol=1e-9, atol=1e-12)
    net = model.network
    for got, want in ((net.A, ref.A), (net.R, ref.R), (net.B, ref.B), (net.D, ref.D)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert net.A.shape == (N, 3)
    # the updates are not trivially zero
    assert not np.allclose(net.B, OnlineRNN(2, N, H, seed=11).B)


# -- with one step ahead it is the core's online rule, bit for bit --------------------


@pytest.mark.parametrize("method,optimizer,decorrelation,noisy_reference,noise", [
    ("anp", "sgd", False, False, "gaussian"), ("anp", "adam", True, False, "gaussian"),
    ("anp", "sgd", False, True, "gaussian"), ("np", "sgd", True, False, "gaussian"),
    ("wp", "sgd", False, False, "gaussian"), ("wp", "adam", True, False, "gaussian"),
    ("bp", "sgd", True, False, "gaussian"), ("bp", "adam", False, False, "gaussian"),
    ("anp", "sgd", False, False, "rademacher"), ("anp", "adam", True, True, "rademacher"),
    ("np", "sgd", True, False, "rademacher"), ("wp", "sgd", False, False, "rademacher"),
    ("wp", "adam", True, False, "rademacher"),
])
def test_one_step_ahead_equals_core_online_rnn(method, optimizer, decorrelation, noisy_reference,
                                               noise):
    T, N = 60, 8
    kw = dict(method=method, optimizer=optimizer, decorrelation=decorrelation,
              noisy_reference=noisy_reference, lr=1e-3, seed=5, noise=noise)
    model = RNNForecaster(max_horizon=1, n_hidden=N, scale_target=False, residual=False,
                          exogenous=False, readout="perturbation", lags=0, **kw)
    core = OnlineRNN(2, N, 1, **kw)
    s = np.cos(np.arange(T + 1) / 4.0)
    U = np.stack([np.ones(T), s[:T]], axis=1)
    predictions = core.learn_many(U, s[1:T + 1].reshape(-1, 1))
    forecasts = []
    for t in range(T + 1):
        model.learn_one(float(s[t]))
        forecasts.append(model.forecast(1)[0])
    np.testing.assert_array_equal(np.array(forecasts[:T]), predictions[:, 0])
    for name in ("A", "R", "B", "D"):
        np.testing.assert_array_equal(getattr(model.network, name), getattr(core, name))


# -- it learns: Mackey-Glass, every horizon beats persistence -------------------------


def _mackey_glass_ratios(model, T, H, seed, last=2000):
    U, _ = mackey_glass(T, horizon=H, seed=seed)
    s = U[:, 0]
    F = np.empty((T, H))
    for t in range(T):
        model.learn_one(float(s[t]))
        F[t] = model.forecast(H)
    ratios = []
    for k in range(1, H + 1):
        idx = np.arange(T - last - k, T - k)
        mse = np.mean((F[idx, k - 1] - s[idx + k]) ** 2)
        persistence = np.mean((s[idx] - s[idx + k]) ** 2)
        ratios.append(mse / persistence)
    return np.array(ratios)


@pytest.mark.parametrize("kw", [{"method": "anp", "readout": "perturbation"},
                                {"method": "bp", "readout": "perturbation"},
                                {"method": "anp"}],
                         ids=["anp", "bp", "anp-rls"])
def test_mackey_glass_every_horizon_ends_below_persistence(kw):
    model = RNNForecaster(max_horizon=15, seed=0, **kw)
    ratios = _mackey_glass_ratios(model, T=15000, H=15, seed=3)
    assert np.all(ratios < 1.0), np.round(ratios, 3)


def test_residual_outputs_are_changes_from_the_latest_value():
    model = RNNForecaster(max_horizon=4, n_hidden=8, seed=0, readout="perturbation")
    plain = RNNForecaster(max_horizon=4, n_hidden=8, seed=0, residual=False,
                          readout="perturbation")
    for v in [3.0, 5.0, 4.0, 4.5]:
        model.learn_one(v)
        plain.learn_one(v)
    for m, base in ((model, 4.5), (plain, model._target.mean)):
        net = m.network
        out = net.B @ net.state  # the clean read-out of the last step
        expected = base + m._target.std * out if m is model else m._target.invert(out)
        np.testing.assert_allclose(m.forecast(4), expected, rtol=1e-12)


# -- River's forecasting evaluation ---------------------------------------------------


def test_evaluate_on_a_river_dataset():
    model = RNNForecaster(max_horizon=12, n_hidden=16, exogenous=False, seed=1)
    metric = evaluate.evaluate(datasets.AirlinePassengers(), model, metrics.MAE(), horizon=12)
    values = [m.get() for m in metric.metrics]
    assert len(values) == 12 and all(math.isfinite(v) and v > 0 for v in values)
    assert model.n_steps == 144 - 12


def test_iter_evaluate_uses_forecast_and_exogenous_features():
    rng = np.random.default_rng(2)
    data = [({"load": float(rng.normal())}, 10.0 + math.sin(t / 5.0)) for t in range(80)]
    model = RNNForecaster(max_horizon=3, n_hidden=8, seed=2)
    twin = model.clone()
    steps = list(evaluate.iter_evaluate(data, model, metrics.RMSE(), horizon=3))
    assert model.feature_columns == {"load": 2 + model.lags}
    # the same calls made by hand give the same forecasts
    for t in range(3):
        twin.learn_one(data[t][1], data[t][0])
    for t, (x, y, y_pred, _) in enumerate(steps):
        assert y_pred == twin.forecast(3)
        twin.learn_one(y, x)


def test_forecast_is_pure_and_checks_the_horizon():
    model = RNNForecaster(max_horizon=3, n_hidden=8, seed=3)
    assert model.forecast(2) == [0.0, 0.0]
    for v in [1.0, 2.0, 1.5, 2.5]:
        model.learn_one(v)
    snapshot = pickle.dumps(model)
    f = model.forecast(3, xs=[{"a": 1.0}] * 3)
    assert model.forecast(3) == f and len(f) == 3
    assert pickle.dumps(model) == snapshot
    with pytest.raises(ValueError, match="max_horizon"):
        model.forecast(4)
    with pytest.raises(TypeError):
        model.forecast(1.5)


def test_bad_values_are_refused_and_change_nothing():
    model = RNNForecaster(max_horizon=3, n_hidden=8, seed=4)
    model.learn_one(1.0, {"a": 1.0})
    snapshot = pickle.dumps(model)
    with pytest.raises(TypeError, match="'when'"):
        model.learn_one(2.0, {"a": 1.0, "when": "monday"})
    with pytest.raises(ValueError, match="'a'"):
        model.learn_one(2.0, {"a": float("-inf")})
    with pytest.raises(ValueError, match="target"):
        model.learn_one(float("nan"), {"a": 1.0})
    assert pickle.dumps(model) == snapshot
    ignoring = RNNForecaster(max_horizon=3, n_hidden=8, seed=4, exogenous=False)
    ignoring.learn_one(1.0, {"when": "monday"})
    assert ignoring.feature_columns == {}


def test_scale_and_offset_of_the_series_do_not_matter():
    a = RNNForecaster(max_horizon=5, n_hidden=10, seed=6)
    b = a.clone()
    s = np.sin(np.arange(200) / 6.0)
    for t, v in enumerate(s):
        a.learn_one(float(v))
        b.learn_one(float(500.0 + 20.0 * v))
        if t >= 1:
            np.testing.assert_allclose(b.forecast(5), 500.0 + 20.0 * np.array(a.forecast(5)),
                                       rtol=1e-9)


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_pickle_mid_stream_continues_identically(noise):
    model = RNNForecaster(max_horizon=4, n_hidden=8, method="wp", seed=7, noise=noise)
    s = np.sin(np.arange(60) / 5.0)
    for v in s[:30]:
        model.learn_one(float(v))
    twin = pickle.loads(pickle.dumps(model))
    for v in s[30:]:
        model.learn_one(float(v))
        twin.learn_one(float(v))
    assert model.forecast(4) == twin.forecast(4)
    np.testing.assert_array_equal(model.network.R, twin.network.R)
