"""RNNRegressor: River's contract, features, bad values, target scale."""

import copy
import math
import pickle

import numpy as np
import pandas as pd
import pytest
from river import datasets, evaluate, linear_model, metrics, preprocessing
from river.checks import check_estimator

from streamlearn.regressor import RNNRegressor

PARAMS = list(RNNRegressor._unit_test_params())


# River's checks over every _unit_test_params(): tests/test_estimators.py


def test_unit_test_params_cover_every_method_with_and_without_decorrelation():
    assert {(p["method"], p["decorrelation"]) for p in PARAMS} == {
        (m, d) for m in ("anp", "np", "wp", "bp") for d in (False, True)}


def _stream(n=120, seed=0):
    """Samples whose features come and go, some NaN or None."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(n):
        x = {"a": float(rng.normal()), "b": float(rng.normal())}
        if t >= 30:
            x["late"] = float(rng.normal())
        if t >= 60:
            x["later"] = bool(t % 2)
        if t % 7 == 0:
            del x["a"]
        if t % 11 == 0:
            x["b"] = float("nan")
        if t % 13 == 0:
            x["b"] = None
        out.append((x, 40.0 + 3.0 * float(rng.normal())))
    return out


def _weights(model):
    net = model.network
    return [net.A.copy(), net.R.copy(), net.B.copy(), net.D.copy(), net.state]


def _assert_same(a, b):
    """Same learned state: every array of the network, the features, the target scaler."""
    scratch = set(type(a.network)._SCRATCH)  # rebuilt on use, not state
    na = {k: v for k, v in vars(a.network).items() if k not in scratch}
    nb = {k: v for k, v in vars(b.network).items() if k not in scratch}
    assert na.keys() == nb.keys()
    for key in na:
        if isinstance(na[key], np.ndarray):
            np.testing.assert_array_equal(na[key], nb[key], err_msg=key)
        else:
            assert na[key] == nb[key], key
    fa, fb = a._features.__getstate__(), b._features.__getstate__()
    assert fa.keys() == fb.keys()
    for key in fa:
        if isinstance(fa[key], np.ndarray):
            np.testing.assert_array_equal(fa[key], fb[key], err_msg=key)
        else:
            assert fa[key] == fb[key], key
    assert vars(a._target) == vars(b._target)


@pytest.mark.parametrize("method", ["anp", "wp", "bp"])
def test_learn_many_is_bit_identical_to_learn_one(method):
    stream = _stream()
    one = RNNRegressor(n_hidden=10, method=method, decorrelation=True, seed=3)
    many = one.clone()
    for x, y in stream:
        one.learn_one(x, y)
    X = pd.DataFrame([x for x, _ in stream])
    y = pd.Series([y for _, y in stream])
    many.learn_many(X.iloc[:50], y.iloc[:50])
    many.learn_many(X.iloc[50:], y.iloc[50:])
    assert one.feature_columns == many.feature_columns == {
        "a": 1, "b": 2, "late": 3, "later": 4}
    for w1, w2 in zip(_weights(one), _weights(many)):
        np.testing.assert_array_equal(w1, w2)
    assert one.predict_one(stream[0][0]) == many.predict_one(stream[0][0])


def test_predict_many_equals_predict_one_and_is_pure():
    model = RNNRegressor(n_hidden=10, seed=1)
    stream = _stream(80)
    for x, y in stream[:60]:
        model.learn_one(x, y)
    before = pickle.dumps(model)
    X = pd.DataFrame([x for x, _ in stream[60:]], index=range(100, 120))
    many = model.predict_many(X)
    assert list(many.index) == list(X.index)
    one = [model.predict_one(x) for x, _ in stream[60:]]
    assert many.tolist() == one
    assert pickle.dumps(model) == before


def test_state_contract():
    model = RNNRegressor(n_hidden=10, seed=2)
    x = {"a": 0.3, "b": -1.0}
    model.learn_one(x, 1.0)
    snapshot = pickle.dumps(model)
    p = model.predict_one(x)
    assert model.predict_one(x) == p
    assert pickle.dumps(model) == snapshot  # predict_one is pure

    w = _weights(model)
    model.advance_one(x)  # unlabeled: the state moves, the weights do not
    assert not np.array_equal(model.network.state, w[4])
    for before, after in zip(w[:4], _weights(model)[:4]):
        np.testing.assert_array_equal(before, after)

    state = model.network.state
    model.learn_one(x, 2.0)  # learn_one moves the state and the weights
    assert not np.array_equal(model.network.state, state)
    assert not np.array_equal(model.network.B, w[2])

    model.reset_state()
    assert not model.network.state.any()


def test_advance_many_equals_advance_one():
    a = RNNRegressor(n_hidden=10, seed=4)
    b = a.clone()
    stream = _stream(40)
    for x, _ in stream:
        a.advance_one(x)
    b.advance_many(pd.DataFrame([x for x, _ in stream]))
    for w1, w2 in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(w1, w2)


def test_feature_order_does_not_matter():
    a = RNNRegressor(n_hidden=10, seed=5)
    b = a.clone()
    rng = np.random.default_rng(0)
    for x, y in _stream(50):
        keys = list(x)
        rng.shuffle(keys)
        a.learn_one(x, y)
        b.learn_one({k: x[k] for k in keys}, y)
    assert pickle.dumps(a) == pickle.dumps(b)


def test_missing_none_nan_and_booleans():
    a = RNNRegressor(n_hidden=10, seed=6)
    b = a.clone()
    c = a.clone()
    a.learn_one({"f": 1.0, "g": 0.0}, 3.0)
    b.learn_one({"f": True, "g": False}, 3.0)
    np.testing.assert_array_equal(a.network.A, b.network.A)
    a.learn_one({"f": 1.0}, 1.0)
    b.learn_one({"f": 1.0, "g": float("nan")}, 1.0)
    c.learn_one({"f": 1.0, "g": 0.0}, 3.0)
    c.learn_one({"f": 1.0, "g": None}, 1.0)
    assert pickle.dumps(a) == pickle.dumps(b) == pickle.dumps(c)
    # a feature that first arrives as NaN has no column yet
    a.learn_one({"f": 1.0, "h": float("nan")}, 1.0)
    assert "h" not in a.feature_columns


def test_bad_values_are_refused_naming_the_feature_and_change_nothing():
    model = RNNRegressor(n_hidden=10, seed=7)
    model.learn_one({"ok": 1.0}, 1.0)
    snapshot = pickle.dumps(model)
    with pytest.raises(TypeError, match="'colour'"):
        model.learn_one({"ok": 1.0, "colour": "red"}, 2.0)
    with pytest.raises(ValueError, match="'temp'"):
        model.learn_one({"ok": 1.0, "temp": float("inf")}, 2.0)
    with pytest.raises(TypeError, match="'colour'"):
        model.predict_one({"colour": "red"})
    with pytest.raises(ValueError, match="target"):
        model.learn_one({"ok": 1.0}, float("nan"))
    with pytest.raises(TypeError, match="target"):
        model.learn_one({"ok": 1.0}, "40")
    X = pd.DataFrame({"ok": [1.0, 2.0], "colour": ["red", "blue"]})
    with pytest.raises(TypeError, match="'colour'"):
        model.learn_many(X, pd.Series([1.0, 2.0]))
    X = pd.DataFrame({"ok": [1.0, -np.inf]})
    with pytest.raises(ValueError, match="'ok'"):
        model.learn_many(X, pd.Series([1.0, 2.0]))
    with pytest.raises(ValueError, match="rows"):
        model.learn_many(pd.DataFrame({"ok": [1.0]}), pd.Series([1.0, 2.0]))
    assert pickle.dumps(model) == snapshot


def test_bad_parameters_fail_at_construction():
    with pytest.raises(ValueError, match="method"):
        RNNRegressor(method="sgd")
    with pytest.raises(ValueError, match="sigma"):
        RNNRegressor(sigma=-1.0)


def test_divergence_is_refused_and_leaves_the_model_as_it_was():
    from streamlearn import DivergenceError

    model = RNNRegressor(n_hidden=10, method="bp", activation="identity", lr=1e3, seed=0)
    # a refused sample keeps the input columns its new features got: give them first
    model.advance_one(next(iter(datasets.TrumpApproval()))[0])
    with pytest.raises(DivergenceError, match="refused") as info:
        for x, y in datasets.TrumpApproval().take(200):
            before = pickle.dumps(model)
            model.learn_one(x, y)
    assert pickle.dumps(model) == before
    assert info.value.step == 0


def test_rollback_keeps_learning_finite_and_counts():
    # tanh keeps the state bounded: with the identity, a linear network whose weights
    # the guard allows (below max_weight) can still grow its state without bound
    model = RNNRegressor(n_hidden=10, method="bp", activation="tanh", lr=1e3, seed=0,
                         on_divergence="rollback")
    for x, y in datasets.TrumpApproval().take(200):
        model.learn_one(x, y)
        assert math.isfinite(model.predict_one(x))
    assert model.network.n_rollbacks > 0
    assert np.abs(model.network.A).max() <= model.max_weight


def test_skip_policy_counts_invalid_samples():
    model = RNNRegressor(n_hidden=6, seed=0, on_invalid="skip")
    model.learn_one({"a": 1.0}, 2.0)
    before = pickle.dumps(model)
    model.learn_one({"a": "broken"}, 2.0)
    model.learn_one({"a": 1.0}, float("nan"))
    model.learn_one({"a": float("inf")}, 1.0)
    assert model.n_skipped == 3
    model.n_skipped = 0
    assert pickle.dumps(model) == before


def test_learn_many_stops_where_learn_one_stops_on_divergence():
    from streamlearn import DivergenceError

    X = pd.DataFrame([x for x, _ in datasets.TrumpApproval().take(60)])
    y = pd.Series([y for _, y in datasets.TrumpApproval().take(60)])
    a = RNNRegressor(n_hidden=10, method="bp", activation="identity", lr=1e3, seed=0)
    b = RNNRegressor(n_hidden=10, method="bp", activation="identity", lr=1e3, seed=0)
    with pytest.raises(DivergenceError):
        a.learn_many(X, y)
    with pytest.raises(DivergenceError):
        for x, t in zip(X.to_dict("records"), y):
            b.learn_one(x, t)
    assert (a.target_mean, a.target_std) == (b.target_mean, b.target_std)
    np.testing.assert_array_equal(a.network.A, b.network.A)


def test_pickle_mid_stream_continues_identically():
    model = RNNRegressor(n_hidden=10, method="wp", seed=8)
    stream = _stream(60)
    for x, y in stream[:30]:
        model.learn_one(x, y)
    twin = pickle.loads(pickle.dumps(model))
    for x, y in stream[30:]:
        model.learn_one(x, y)
        twin.learn_one(x, y)
    _assert_same(model, twin)


def test_target_offset_and_scale_do_not_change_what_is_learned():
    a = RNNRegressor(n_hidden=10, seed=9)
    b = a.clone()
    for t, (x, y) in enumerate(_stream(100)):
        if t >= 2:  # from the second target on, both scales are known
            pa = a.predict_one(x)
            pb = b.predict_one(x)
            assert math.isclose(pb, 1000.0 + 50.0 * pa, rel_tol=1e-9)
        a.learn_one(x, y)
        b.learn_one(x, 1000.0 + 50.0 * y)
    np.testing.assert_allclose(a.network.B, b.network.B, rtol=1e-6)


def _mae(model, dataset):
    return evaluate.progressive_val_score(dataset, model, metrics.MAE()).get()


def test_defaults_learn_raw_targets_in_a_pipeline():
    """TrumpApproval's targets sit near 40: no target scaler is added."""
    rnn = _mae(preprocessing.StandardScaler() | RNNRegressor(seed=42), datasets.TrumpApproval())
    lin = _mae(preprocessing.StandardScaler() | linear_model.LinearRegression(intercept_lr=0.1),
               datasets.TrumpApproval())
    mean = _mae(preprocessing.StandardScaler() | RNNRegressor(seed=42, lr=1e-12),
                datasets.TrumpApproval())
    assert rnn < lin < mean


def test_pipeline_learn_many():
    model = preprocessing.StandardScaler() | RNNRegressor(n_hidden=10, seed=10)
    rows = list(datasets.TrumpApproval().take(100))
    X = pd.DataFrame([x for x, _ in rows])
    y = pd.Series([y for _, y in rows])
    model.learn_many(X, y)
    pred = model.predict_many(X)
    assert pred.shape == (100,) and np.isfinite(pred).all()
    assert abs(pred.mean() - y.mean()) < 5.0


# -- online input standardisation -------------------------------------------------


@pytest.mark.parametrize("method", ["anp", "np", "wp", "bp"])
@pytest.mark.parametrize("decorrelation", [False, True], ids=["", "decorrelation"])
def test_defaults_pass_check_estimator_as_constructed(method, decorrelation):
    """River's checks feed raw TrumpApproval (ordinal_date ~7e5): no override needed."""
    model = RNNRegressor(method=method, decorrelation=decorrelation)
    assert model.on_divergence == "raise" and model.scale_inputs
    check_estimator(model)


def test_unit_test_params_do_not_override_the_divergence_policy():
    assert all("on_divergence" not in p for p in PARAMS)


def test_default_learner_on_raw_trump_approval_needs_no_scaler():
    raw = _mae(RNNRegressor(seed=42), datasets.TrumpApproval())
    lin = _mae(preprocessing.StandardScaler() | linear_model.LinearRegression(intercept_lr=0.1),
               datasets.TrumpApproval())
    assert math.isfinite(raw) and raw < lin


def test_input_statistics_are_the_running_mean_and_std_of_the_learned_values():
    model = RNNRegressor(n_hidden=6, seed=0)
    stream = _stream(90)
    for x, y in stream[:80]:
        model.learn_one(x, y)
    for x, _ in stream[80:]:  # neither predicting nor advancing updates them
        model.predict_one(x)
        model.advance_one(x)
    for name in ("a", "b", "late", "later"):
        seen = [float(x[name]) for x, _ in stream[:80]
                if x.get(name) is not None and not math.isnan(x[name])]
        assert math.isclose(model.feature_means[name], np.mean(seen), rel_tol=1e-12)
        assert math.isclose(model.feature_stds[name], np.std(seen), rel_tol=1e-9)


def test_the_network_sees_standardised_inputs_and_missing_reads_the_mean():
    model = RNNRegressor(n_hidden=6, seed=0)
    features = model._features
    for t in range(50):
        model.learn_one({"big": 7e5 + t, "const": 3e8}, float(t))
    u = features.encode({"big": 7e5 + 49}, np.float64)  # the last sample, "const" missing
    mean, std = np.mean(7e5 + np.arange(50)), np.std(7e5 + np.arange(50))
    assert u[0] == 1.0
    assert math.isclose(u[features.columns["big"]], (7e5 + 49 - mean) / std, rel_tol=1e-9)
    assert u[features.columns["const"]] == 0.0  # missing: the running mean
    # a constant feature has no scale: it reads 0 whatever value is offered
    assert model.feature_stds["const"] == 0.0
    assert features.encode({"const": 4e8}, np.float64)[features.columns["const"]] == 0.0


def test_a_feature_appearing_late_starts_its_own_statistics():
    model = RNNRegressor(n_hidden=6, seed=0)
    for t in range(30):
        model.learn_one({"a": float(t % 3)}, 1.0)
    model.advance_one({"a": 1.0, "late": 5e6})  # a column, but no learned value yet
    col = model.feature_columns["late"]
    assert model.feature_means["late"] == 0.0
    assert model._features.encode({"late": 5e6}, np.float64)[col] == 0.0
    model.learn_one({"a": 1.0, "late": 5e6}, 1.0)  # first value: reads 0 (its own mean)
    assert model.feature_means["late"] == 5e6
    assert model.feature_stds["late"] == 0.0  # no scale yet: reads 0
    assert model._features.encode({"late": 6e6}, np.float64)[col] == 0.0
    model.learn_one({"a": 1.0, "late": 5e6 + 10.0}, 1.0)
    assert model.feature_stds["late"] == 5.0
    assert model.feature_means["a"] != 0.0 and model._features.count[0] == 32


def test_feature_offset_and_scale_do_not_change_what_is_learned():
    a = RNNRegressor(n_hidden=10, seed=9)
    b = a.clone()
    for x, y in _stream(100):
        bx = {k: (1e6 + 250.0 * v if isinstance(v, float) else v) for k, v in x.items()}
        assert math.isclose(a.predict_one(x), b.predict_one(bx), rel_tol=1e-6)
        a.learn_one(x, y)
        b.learn_one(bx, y)
    np.testing.assert_allclose(a.network.A, b.network.A, rtol=1e-6)


def test_scale_inputs_false_feeds_the_raw_values():
    model = RNNRegressor(n_hidden=6, seed=0, scale_inputs=False)
    model.learn_one({"a": 40.0}, 1.0)
    model.learn_one({"a": 42.0}, 2.0)
    assert model._features.encode({"a": 42.0}, np.float64).tolist() == [1.0, 42.0]


@pytest.mark.parametrize("scale_inputs", [True, False])
def test_learn_many_equals_learn_one_with_and_without_input_scaling(scale_inputs):
    stream = _stream()
    one = RNNRegressor(n_hidden=8, method="np", seed=3, scale_inputs=scale_inputs)
    many = one.clone()
    for x, y in stream:
        one.learn_one(x, y)
    X = pd.DataFrame([x for x, _ in stream])
    many.learn_many(X, pd.Series([y for _, y in stream]))
    _assert_same(one, many)
    Xq = X.iloc[:20]
    assert many.predict_many(Xq).tolist() == [one.predict_one(x) for x, _ in stream[:20]]
    one.advance_many(Xq)
    for x in Xq.to_dict("records"):
        many.advance_one(x)
    _assert_same(one, many)


def test_refused_learn_many_leaves_the_input_statistics_as_learn_one_would():
    from streamlearn import DivergenceError

    rows = list(datasets.TrumpApproval().take(60))
    X = pd.DataFrame([x for x, _ in rows])
    y = pd.Series([t for _, t in rows])
    a = RNNRegressor(n_hidden=10, method="bp", activation="identity", lr=1e3, seed=0)
    b = a.clone()
    with pytest.raises(DivergenceError):
        a.learn_many(X, y)
    with pytest.raises(DivergenceError):
        for x, t in rows:
            b.learn_one(x, t)
    _assert_same(a, b)


def test_checkpoint_keeps_the_input_statistics(tmp_path):
    model = RNNRegressor(n_hidden=8, seed=2)
    stream = _stream(60)
    for x, y in stream[:30]:
        model.learn_one(x, y)
    model.save(tmp_path / "r.ckpt")
    restored = RNNRegressor.load(tmp_path / "r.ckpt")
    for key in ("count", "mean", "m2"):
        np.testing.assert_array_equal(getattr(restored._features, key),
                                      getattr(model._features, key))
    for x, y in stream[30:]:
        assert restored.predict_one(x) == model.predict_one(x)
        model.learn_one(x, y)
        restored.learn_one(x, y)
    _assert_same(model, restored)


def test_old_checkpoint_without_input_statistics_loads_unscaled(tmp_path):
    """A learner saved before input scaling existed carries on exactly as it was."""
    stream = _stream(60)
    old = RNNRegressor(n_hidden=8, seed=2, scale_inputs=False)
    for x, y in stream[:30]:
        old.learn_one(x, y)
    twin = pickle.loads(pickle.dumps(old))
    # what an older streamlearn wrote: no scale_inputs, a feature map without statistics
    del old.scale_inputs
    for key in ("scale", "_stats"):
        delattr(old._features, key)
    old.save(tmp_path / "old.ckpt")
    restored = RNNRegressor.load(tmp_path / "old.ckpt")
    assert restored.scale_inputs is False and restored._features.scale is False
    for x, y in stream[30:]:
        assert restored.predict_one(x) == twin.predict_one(x)
        restored.learn_one(x, y)
        twin.learn_one(x, y)
    _assert_same(restored, twin)


def test_checkpoint_with_the_statistics_as_lists_continues_exactly(tmp_path):
    """Before the statistics were one array they were three Python lists
    (count, mean, m2): such a checkpoint loads and carries on bit for bit."""
    stream = _stream(80)
    old = RNNRegressor(n_hidden=8, seed=4)
    for x, y in stream[:40]:
        old.learn_one(x, y)
    twin = pickle.loads(pickle.dumps(old))
    f = old._features
    stats = f._stats[:3].copy()
    del f._stats
    f.__dict__.update(count=[int(n) for n in stats[0]], mean=stats[1].tolist(),
                      m2=stats[2].tolist())
    old.save(tmp_path / "lists.ckpt")
    restored = RNNRegressor.load(tmp_path / "lists.ckpt")
    np.testing.assert_array_equal(restored._features.stats(), stats)
    for x, y in stream[40:]:
        assert restored.predict_one(x) == twin.predict_one(x)
        restored.learn_one(x, y)
        twin.learn_one(x, y)
    _assert_same(restored, twin)


def test_input_scaling_is_what_a_standard_scaler_in_front_did():
    """River's StandardScaler also updates before transforming in learn_one: the same
    running statistics, so the default learner alone matches the old pipeline."""
    a = RNNRegressor(n_hidden=20, method="bp", seed=42)
    b = preprocessing.StandardScaler() | RNNRegressor(n_hidden=20, method="bp", seed=42,
                                                      scale_inputs=False)
    for x, y in datasets.TrumpApproval().take(300):
        assert math.isclose(a.predict_one(x), b.predict_one(x), rel_tol=1e-9)
        a.learn_one(x, y)
        b.learn_one(x, y)


@pytest.mark.parametrize("method", ["anp", "bp"])
def test_least_squares_readout_passes_the_checks_and_learns_raw_trump_approval(method):
    from river import datasets, evaluate, metrics
    from river.checks import check_estimator
    check_estimator(RNNRegressor(readout="rls", method=method, n_hidden=12))
    model = RNNRegressor(readout="rls", method=method, seed=42)
    mae = evaluate.progressive_val_score(datasets.TrumpApproval(), model, metrics.MAE())
    assert model.network.readout == "rls" and not model.network.bias
    assert mae.get() < 0.6  # a running mean of the target scores about 1.5


# -- the one-sample fast path: the same values and errors as the general one ------

def _reference_learn(features, i, v):
    """Welford's update of feature column ``i`` with ``v``, in scalar Python."""
    count, mean, m2 = features.count, features.mean, features.m2
    n = count[i] + 1
    mu = mean[i]
    delta = v - mu
    mu = mu + delta / n
    m2[i] += delta * (v - mu)
    mean[i] = mu
    count[i] = n


def _reference_z(features, i, v):
    """``v`` in the running standard units of column ``i`` (0 while unknown)."""
    n = features.count[i]
    if n < 2:
        return 0.0
    sd = math.sqrt(features.m2[i] / n)
    if not sd > 1e-9 * (1.0 + abs(features.mean[i])):
        return 0.0
    return (v - features.mean[i]) / sd


def _reference_encode(features, values, dtype, learn):
    """``_FeatureMap.encode`` written as scalar Python, as it was before the
    standardisation moved into a kernel."""
    u = np.zeros(features.n_inputs, dtype=dtype)
    u[0] = 1.0
    for name, v in values.items():
        j = features.columns.get(name)
        if j is not None:
            if learn:
                _reference_learn(features, j - features.n_fixed, v)
            u[j] = _reference_z(features, j - features.n_fixed, v)
    return u


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_inlined_standardisation_equals_the_scalar_helpers(dtype):
    import copy

    from streamlearn.river_base import _FeatureMap

    rng = np.random.default_rng(5)
    fast = _FeatureMap("test")
    slow = copy.deepcopy(fast)
    for t in range(300):
        x = {"a": float(rng.normal() * 1e3), "b": 7.0, "c": int(rng.integers(-5, 5))}
        if t % 7 == 0:
            x["late"] = float(rng.normal())  # appears now and then: missing otherwise
        if t % 11 == 0:
            del x["a"]
        values, new = fast.parse(x)
        values_slow, new_slow = slow.parse(x)
        assert values == values_slow and new == new_slow
        fast.add(new)
        slow.add(new_slow)
        learn = t % 3 != 0
        got = fast.encode(values, dtype, learn=learn)
        want = _reference_encode(slow, values_slow, dtype, learn)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(fast.stats(), slow.stats())


@pytest.mark.parametrize("value, error, match", [
    (float("inf"), ValueError, "'f' is inf"),
    (float("-inf"), ValueError, "'f' is -inf"),
    ("1.5", TypeError, "non-numeric value '1.5'"),
    (10**400, ValueError, "'f' is inf"),
    (-10**400, ValueError, "'f' is -inf"),
], ids=["inf", "-inf", "text", "huge int", "huge negative int"])
def test_fast_parse_refuses_what_the_general_path_refuses(value, error, match):
    from streamlearn.river_base import _FeatureMap

    with pytest.raises(error, match=match):
        _FeatureMap("test").parse({"ok": 1.0, "f": value})


def test_fast_parse_reads_numbers_of_every_kind():
    from streamlearn.river_base import _FeatureMap

    values, new = _FeatureMap("test").parse(
        {"f": 2.5, "i": 3, "big": 2**1000, "b": True, "n": np.float32(1.5), "none": None, "nan": float("nan")})
    assert values == {"f": 2.5, "i": 3.0, "big": float(2**1000), "b": 1.0, "n": 1.5}
    assert all(type(v) is float for v in values.values())
    assert new == ["b", "big", "f", "i", "n"]


def test_a_huge_int_target_is_refused_as_infinite():
    from streamlearn import RNNRegressor

    with pytest.raises(ValueError, match="the target is inf"):
        RNNRegressor(n_hidden=4, seed=0).learn_one({"a": 1.0}, 10**400)
