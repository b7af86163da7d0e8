"""The divergence guard: nothing non-finite or beyond max_weight is committed;
raise leaves the model as it was, rollback and reset recover and count."""

import pickle

import numpy as np
import pytest

from streamlearn import DivergenceError, OnlineRNN
from streamlearn.kernels import layout as K
from streamlearn.kernels.optim import _adam_step_bound
from streamlearn.datasets import mackey_glass

U, Y = mackey_glass(3000, seed=11)


def unstable(method="np", **kw):
    """NP and WP at 400 units with 30 and 10 times their default learning
    rates: on this stream both diverge within a few hundred steps."""
    kw.setdefault("lr", {"np": 3e-3, "wp": 1e-4}[method])
    return OnlineRNN(1, 400, 1, method=method, seed=0, **kw)


@pytest.mark.parametrize("method", ["np", "wp"])
def test_large_np_and_wp_end_in_a_clear_error_never_nan(method):
    model = unstable(method)
    with pytest.raises(DivergenceError, match="refused") as info:
        model.learn_many(U, Y)
    e = info.value
    assert 0 < e.step < len(U)
    assert e.predictions.shape == (e.step, 1) and np.all(np.isfinite(e.predictions))
    # the model is exactly the one that learned the rows before the refused step
    again = unstable(method)
    again.learn_many(U[:e.step], Y[:e.step])
    assert pickle.dumps(model) == pickle.dumps(again)
    for k in "ARBD":
        assert np.abs(getattr(model, k)).max() <= model.max_weight


@pytest.mark.parametrize("method", ["np", "wp"])
def test_rollback_recovers_and_counts(method):
    model = unstable(method, on_divergence="rollback")
    P = model.learn_many(U, Y)
    assert model.n_rollbacks > 0
    assert P.shape == (len(U), 1) and np.all(np.isfinite(P))  # updates dropped, no sample
    for k in "ARBD":
        assert np.abs(getattr(model, k)).max() <= model.max_weight
    assert np.all(np.isfinite(model.state))


def test_reset_redraws_the_weights_and_counts():
    model = unstable("np", on_divergence="reset")
    P = model.learn_many(U, Y)
    assert model.n_resets > 0
    assert len(P) == len(U) - model.n_resets  # each reset drops its sample
    assert np.all(np.isfinite(P))


def test_a_small_max_weight_is_respected_exactly():
    model = OnlineRNN(1, 30, 1, method="anp", lr=3e-2, seed=0, max_weight=0.8,
                      on_divergence="rollback")
    model.learn_many(U, Y)
    assert model.n_rollbacks > 0
    assert max(np.abs(getattr(model, k)).max() for k in "ARB") <= 0.8


def test_non_finite_forward_pass_is_refused():
    """A linear network with a growing state overflows in the forward pass."""
    kw = dict(activation="identity", seed=0, lr=1e-12)
    grow = np.full((2000, 1), 1e300)
    with pytest.raises(DivergenceError, match="forward pass"):
        OnlineRNN(1, 5, 1, **kw).advance_many(grow)
    model = OnlineRNN(1, 5, 1, on_divergence="rollback", **kw)
    out = model.learn_many(grow, np.zeros((2000, 1)))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(model.state))
    assert len(out) + model.n_rollbacks == 2000


@pytest.mark.parametrize("policy", ["rollback", "reset"])
def test_one_sample_dropped_by_the_policy_returns_none(policy):
    """learn_one / advance_one of a sample whose forward pass overflows: None, as a
    skipped sample, and the model stays finite (this was an IndexError)."""
    model = OnlineRNN(1, 5, 1, activation="identity", seed=0, on_divergence=policy)
    model._A[:] = 1e300
    assert model.learn_one([1e308], [0.0]) is None
    assert model.n_rollbacks + model.n_resets == 1
    model._A[:] = 1e300
    model.refresh_bounds()
    assert model.advance_one([1e308]) is None
    assert np.all(np.isfinite(model.state))


def test_refused_learn_one_changes_nothing():
    model = OnlineRNN(2, 8, 1, method="bp", optimizer="adam", bptt_window=3, seed=0,
                      decorrelation=True)
    model.learn_many(np.ones((10, 2)), np.zeros((10, 1)))
    before = pickle.dumps(model)
    with pytest.raises(DivergenceError):
        model.learn_one([1.0, 1.0], [1e300])
    assert pickle.dumps(model) == before


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.0, 0.5), (0.99, 0.9), (0.5, 0.99)])
def test_adam_step_bound_holds_for_any_gradients(betas):
    """The guard's bound on |Adam step| / lr is an upper bound, spikes included."""
    rng = np.random.default_rng(0)
    b1, b2 = betas
    hyper = np.zeros(K.N_HYPER)
    hyper[K.H_BETA1], hyper[K.H_BETA2] = b1, b2
    worst = 0.0
    for trial in range(200):
        g = rng.standard_cauchy(300) * rng.choice([1e-6, 1.0, 1e6], 300)
        g[rng.integers(300)] = 1e9  # a spike
        m = v = 0.0
        for t, gt in enumerate(g, start=1):
            m = b1 * m + (1 - b1) * gt
            v = b2 * v + (1 - b2) * gt * gt
            step = abs(m / (1 - b1**t)) / np.sqrt(v / (1 - b2**t))
            bound = _adam_step_bound(hyper, t)
            worst = max(worst, step / bound)
    assert worst <= 1.0 + 1e-9
    assert worst > 0.5  # and it is not loose by orders of magnitude


def test_guard_does_not_change_a_healthy_run():
    """The guard only decides; a run it never refuses is the reference run."""
    a = OnlineRNN(1, 40, 1, method="anp", decorrelation=True, seed=3)
    b = OnlineRNN(1, 40, 1, method="anp", decorrelation=True, seed=3, max_weight=1e300)
    np.testing.assert_array_equal(a.learn_many(U, Y), b.learn_many(U, Y))
    assert a.n_rollbacks == a.n_resets == 0


# -- the forecaster (its own kernels, guarded around each step) ---------------

def _series(n=600):
    t = np.arange(n)
    return np.sin(t / 5.0) + 0.3 * np.sin(t / 1.7)


@pytest.mark.parametrize("policy", ["raise", "rollback", "reset"])
def test_forecaster_guard(policy):
    from streamlearn import RNNForecaster

    f = RNNForecaster(max_horizon=4, n_hidden=30, method="np", lr=1.0, optimizer="sgd",
                      seed=0, on_divergence=policy, max_weight=50.0)
    ys = _series()
    if policy == "raise":
        with pytest.raises(DivergenceError, match="refused"):
            for y in ys:
                before = pickle.dumps(f)
                f.learn_one(y)
        assert pickle.dumps(f) == before
        return
    for y in ys:
        f.learn_one(y)
        if f.n_steps:
            assert all(np.isfinite(f.forecast(4)))
    net = f.network
    assert (net.n_rollbacks if policy == "rollback" else net.n_resets) > 0
    assert max(np.abs(getattr(net, k)).max() for k in "ARBD") <= 50.0


def test_forecaster_skip_policy():
    from streamlearn import RNNForecaster

    f = RNNForecaster(max_horizon=3, n_hidden=8, seed=0, on_invalid="skip")
    for y in _series(20):
        f.learn_one(y)
    before = pickle.dumps(f)
    f.learn_one(float("nan"))
    f.learn_one("broken")
    assert f.n_skipped == 2
    f.n_skipped = 0
    assert pickle.dumps(f) == before


# -- the output watch and the escalation of rollback ---------------------------

def _mg_nmse_last(model, U, Y, last):
    P = model.learn_many(U, Y)
    assert len(P) == len(U) and np.all(np.isfinite(P))
    return float(np.mean((P[-last:] - Y[-last:]) ** 2) / np.var(Y))


def test_rollback_does_not_keep_a_useless_model_small():
    """ANP at a learning rate that diverges again and again (200 units, 6,000 samples):
    without the output watch its predictions reached ~1e4 with every weight under
    max_weight; now each useless prediction resets the model."""
    U, Y = mackey_glass(6000, horizon=15, seed=0)
    model = OnlineRNN(1, 200, 1, method="anp", lr=1e-2, on_divergence="rollback", seed=0)
    assert _mg_nmse_last(model, U, Y, 2000) <= 10.0
    assert model.n_resets > 0


def test_rollback_does_not_keep_a_useless_model_mackey_glass_500():
    """The case that was reported: NMSE 2.9e9 over the last 5,000 samples with
    18,871 rollbacks and predictions ~1e4 (now about 0.6, 28 resets; ~7 s)."""
    U, Y = mackey_glass(20000, horizon=15, seed=0)
    model = OnlineRNN(1, 500, 1, method="anp", lr=3e-3, on_divergence="rollback", seed=0)
    assert _mg_nmse_last(model, U, Y, 5000) <= 10.0


def test_useless_prediction_is_refused_with_a_reason():
    rng = np.random.default_rng(0)
    U1, Y1 = rng.normal(size=(200, 1)), rng.uniform(-1, 1, size=(200, 1))
    model = OnlineRNN(1, 10, 1, seed=0)
    model.learn_many(U1, Y1)
    model.B[:] = 100.0  # a model whose outputs are far beyond the targets' range
    model.refresh_bounds()
    before = pickle.dumps(model)
    with pytest.raises(DivergenceError, match="range of the targets") as info:
        model.learn_one([3.0], [0.0])
    assert pickle.dumps(model) == before
    # a prediction that follows its target out of the range is not refused
    model.B[:] = 0.0
    model.learn_one([0.0], [0.0])
    ok = OnlineRNN(1, 10, 1, seed=0, output_bound=float("inf"))
    ok.learn_many(U1, Y1)
    ok.B[:] = 100.0
    ok.learn_one([3.0], [0.0])  # the watch is off


def test_rollback_escalates_to_reset_after_max_refusals():
    model = OnlineRNN(1, 30, 1, method="anp", lr=3e-2, seed=0, max_weight=0.8,
                      on_divergence="rollback", max_refusals=3, output_bound=np.inf)
    P = model.learn_many(U, Y)
    assert len(P) == len(U)
    assert model.n_resets > 0 and model.n_rollbacks > 0
    # learn_one over the same stream takes the same decisions
    again = OnlineRNN(1, 30, 1, method="anp", lr=3e-2, seed=0, max_weight=0.8,
                      on_divergence="rollback", max_refusals=3, output_bound=np.inf)
    Q = np.array([again.learn_one(u, y) for u, y in zip(U, Y)])
    np.testing.assert_array_equal(P, Q)
    assert (again.n_resets, again.n_rollbacks) == (model.n_resets, model.n_rollbacks)
