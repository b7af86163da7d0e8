"""RNNForecaster with the least-squares read-out: against H independent RLS fits in NumPy."""

import pickle

import numpy as np
import pytest

from streamlearn.forecaster import RNNForecaster

from naive import NumpyRLSForecaster


CASES = [(m, d, "sgd", None, "gaussian") for m in ("anp", "np", "wp", "bp")
         for d in (False, True)] + [
    (m, True, "adam", 3.0, "gaussian") for m in ("anp", "np", "wp", "bp")] + [
    ("anp", False, "sgd", 1.0, "gaussian")] + [
    ("anp", True, "sgd", None, "rademacher"), ("np", False, "sgd", None, "rademacher"),
    ("wp", False, "sgd", None, "rademacher"), ("wp", True, "adam", 3.0, "rademacher")]


@pytest.mark.parametrize("method,decorrelation,optimizer,clip,noise", CASES)
def test_rls_forecaster_equals_independent_least_squares_per_horizon(
        method, decorrelation, optimizer, clip, noise):
    H, N, T, L = 4, 7, 80, 2
    lr = {"anp": 1e-2, "np": 1e-4, "wp": 1e-6, "bp": 1e-2}[method]
    if optimizer == "adam":
        lr = 1e-3
    model = RNNForecaster(max_horizon=H, n_hidden=N, method=method, lr=lr, lags=L,
                          optimizer=optimizer, decorrelation=decorrelation,
                          lr_decorrelation=1e-2, seed=11, scale_target=False,
                          rls_forgetting=0.98, rls_alpha=0.1, exogenous=False,
                          rls_clip=clip, gate=False, noise=noise)
    net = model.network
    ref = NumpyRLSForecaster(net, H, method, decorrelation, model.sigma, lr, 1e-2, 0.98, 0.1,
                             model._rls[2], net._rng.copy(), optimizer, clip, noise)
    A0, R0 = net.A.copy(), net.R.copy()
    rng = np.random.default_rng(0)
    series = np.sin(np.arange(T) / 3.0) + 0.1 * rng.normal(size=T)
    for t in range(T):
        model.learn_one(float(series[t]))
        lags = [series[t - i] if t - i >= 0 else 0.0 for i in range(1, L + 1)]
        u = np.array([1.0, series[t]] + lags)
        y_ref = ref.step(series[t], u, series[t])
        np.testing.assert_allclose(model.forecast(H), y_ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model._W, ref.W, rtol=1e-8, atol=1e-10)
    for got, want in ((net.A, ref.A), (net.R, ref.R), (net.D, ref.D)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # both the read-out and the hidden layer learned
    assert np.abs(model._W).max() > 0.1
    assert not np.allclose(net.A, A0) and not np.allclose(net.R, R0)


def _stream(T, seed=0):
    rng = np.random.default_rng(seed)
    return 20.0 + 5.0 * np.sin(np.arange(T) * 2 * np.pi / 24) + rng.normal(size=T)


def test_rls_forecaster_beats_persistence_on_a_daily_cycle():
    y = _stream(3000)
    model = RNNForecaster(max_horizon=6, n_hidden=20, lags=24, seed=0)
    errs, pers = np.zeros(6), np.zeros(6)
    F = []
    for t, v in enumerate(y):
        model.learn_one(float(v))
        F.append(model.forecast(6))
    F = np.array(F)
    for h in range(1, 7):
        idx = np.arange(1500, 3000 - h)
        errs[h - 1] = np.abs(F[idx, h - 1] - y[idx + h]).mean()
        pers[h - 1] = np.abs(y[idx] - y[idx + h]).mean()
    assert np.all(errs < 0.8 * pers), errs / pers


def test_gate_returns_persistence_where_the_model_is_currently_worse():
    y = _stream(600, seed=1)
    y[300:320] -= 40.0  # an outage: the lags mislead the read-out for a while
    gated = RNNForecaster(max_horizon=6, n_hidden=10, lags=6, seed=0)
    plain = RNNForecaster(max_horizon=6, n_hidden=10, lags=6, seed=0, gate=False)
    switched = 0
    for v in y:
        gated.learn_one(float(v))
        plain.learn_one(float(v))
        worse = gated._track[0] > gated._track[1]
        want = np.where(worse, float(v), plain.forecast(6))
        np.testing.assert_allclose(gated.forecast(6), want, rtol=1e-12)
        switched += worse.any()
    assert 0 < switched < len(y)


def test_gate_keeps_waterflow_at_persistence():
    from river import datasets
    y = np.array([v for _, v in datasets.WaterFlow()])
    model = RNNForecaster(max_horizon=6, seed=0, lags=24, exogenous=False)
    F = []
    for v in y:
        model.learn_one(float(v))
        F.append(model.forecast(6))
    F = np.array(F)
    for h in (1, 6):
        idx = np.arange(len(y) // 2, len(y) - h)
        ratio = np.abs(F[idx, h - 1] - y[idx + h]).mean() / np.abs(y[idx] - y[idx + h]).mean()
        assert ratio <= 1.02, (h, ratio)


def test_rls_forecaster_pickle_and_checkpoint_continue_exactly(tmp_path):
    y = _stream(400, seed=3)
    a = RNNForecaster(max_horizon=5, n_hidden=10, lags=3, method="anp", decorrelation=True,
                      seed=4)
    for v in y[:200]:
        a.learn_one(float(v), {"f": float(v) * 0.1})
    b = pickle.loads(pickle.dumps(a))
    a.save(tmp_path / "f.ckpt")
    c = RNNForecaster.load(tmp_path / "f.ckpt")
    for v in y[200:]:
        for m in (a, b, c):
            m.learn_one(float(v), {"f": float(v) * 0.1})
        assert a.forecast(5) == b.forecast(5) == c.forecast(5)


def test_rls_parameters_are_checked():
    with pytest.raises(ValueError, match="readout"):
        RNNForecaster(readout="ridge")
    with pytest.raises(ValueError, match="rls_forgetting"):
        RNNForecaster(rls_forgetting=1.5)
    with pytest.raises(ValueError, match="rls_alpha"):
        RNNForecaster(rls_alpha=0.0)
    with pytest.raises(ValueError, match="rls_clip"):
        RNNForecaster(rls_clip=-1.0)
    with pytest.raises(ValueError, match="lags"):
        RNNForecaster(lags=-1)
    with pytest.raises(ValueError, match="noisy_reference"):
        RNNForecaster(noisy_reference=True)
