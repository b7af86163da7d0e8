"""The one-sample entries (kernels.arena): the same numbers as the general path.

``OnlineRNN`` moves its buffers into three arenas at its first one-sample call
and then calls entries that take 4-8 arguments instead of ~30; the River
regressor also standardises its features inside that call. Every test here
compares against a path that does not use them: ``learn_many`` (the
many-argument kernel call), or a regressor fed samples the fast path does not
take (a mapping that is not a dict goes through ``parse`` and ``encode``).
"""

import math
import pickle
from types import MappingProxyType

import numpy as np
import pytest

from streamlearn import DivergenceError, OnlineRNN
from streamlearn.kernels import arena as KA
from streamlearn.regressor import RNNRegressor

CONFIGS = [
    dict(method="anp", decorrelation=True),
    dict(method="np", optimizer="adam"),
    dict(method="anp", optimizer="adam", skip=True, bias=True),
    dict(method="anp", readout="rls"),
    dict(method="np", decorrelation=True, optimizer="adam", readout="rls"),
    dict(method="anp", decorrelation=True, dtype=np.float32),
]


def _stream(T, I=3, O=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(T, I)), rng.normal(size=(T, O))


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: "-".join(f"{v}" for v in kw.values()))
def test_learn_one_through_the_arena_equals_learn_many(kw):
    a = OnlineRNN(3, 12, 2, seed=3, **kw)
    b = pickle.loads(pickle.dumps(a))
    U, Y = _stream(150)
    U, Y = U.astype(a.dtype), Y.astype(a.dtype)
    got = np.array([a.learn_one(u, y) for u, y in zip(U, Y)])
    # Adam with "rls" has no entry: the general call, checked the same way
    assert a._packed[2] is KA.LEARN_ONE[a.optimizer == "adam", a.readout == "rls"]
    want = b.learn_many(U, Y)
    np.testing.assert_array_equal(got, want)
    for name in ("A", "R", "B", "C", "c", "D", "P", "state"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(a._moments, b._moments)
    np.testing.assert_array_equal(a._rng, b._rng)
    assert [a.predict_one(u).tolist() for u in U[:5]] == [b.predict_one(u).tolist() for u in U[:5]]


def test_the_buffers_are_views_of_the_arenas_and_keep_their_layouts():
    model = OnlineRNN(3, 12, 2, seed=1, decorrelation=True, optimizer="adam")
    U, Y = _stream(5)
    before = {k: getattr(model, k).copy() for k in ("A", "R", "B", "D")}
    model.learn_one(U[0] * 0, Y[0] * 0)  # packs, then one step
    f, d, i = model._packed[3:6]
    for name in ("_A", "_R", "_B", "_D", "_C", "_c", "_state", "_moments", "_work_n"):
        assert np.shares_memory(getattr(model, name), f), name
    for name in ("_hyper", "_watch"):
        assert np.shares_memory(getattr(model, name), d), name
    for name in ("_counters", "_config", "_pend_k", "_rng"):
        assert np.shares_memory(getattr(model, name), i), name
    assert model._rng.dtype == np.uint64
    assert model.R.flags.f_contiguous and model.D.flags.f_contiguous
    assert model.A.shape == before["A"].shape and model.R.shape == before["R"].shape


def test_a_packed_model_pickles_and_continues_bit_for_bit(tmp_path):
    a = OnlineRNN(3, 10, 2, seed=5, decorrelation=True)
    U, Y = _stream(120)
    for u, y in zip(U[:60], Y[:60]):
        a.learn_one(u, y)
    b = pickle.loads(pickle.dumps(a))
    a.save(tmp_path / "m.ckpt")
    c = OnlineRNN.load(tmp_path / "m.ckpt")
    assert b._packed is None and c._packed is None  # repacked on use
    outs = [[m.learn_one(u, y) for u, y in zip(U[60:], Y[60:])] for m in (a, b, c)]
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


def test_new_inputs_repack_and_continue_as_the_general_path():
    a = OnlineRNN(3, 10, 1, seed=2, decorrelation=True)
    b = pickle.loads(pickle.dumps(a))
    U, Y = _stream(40, I=5, O=1)
    for u, y in zip(U[:20, :3], Y[:20]):
        a.learn_one(u, y)
    b.learn_many(U[:20, :3], Y[:20])
    first = a._packed[3]
    a.add_inputs(2)
    b.add_inputs(2)
    got = [a.learn_one(u, y) for u, y in zip(U[20:], Y[20:])]
    assert a._packed[3] is not first
    np.testing.assert_array_equal(got, b.learn_many(U[20:], Y[20:]))


@pytest.mark.parametrize("policy", ["raise", "skip"])
def test_invalid_values_on_the_fast_path_follow_on_invalid(policy):
    model = OnlineRNN(2, 8, 1, seed=0, on_invalid=policy)
    model.learn_one(np.ones(2), np.ones(1))
    snapshot = pickle.dumps(model)
    for u, y in [(np.array([1.0, np.nan]), np.ones(1)), (np.ones(2), np.array([np.inf]))]:
        if policy == "raise":
            with pytest.raises(ValueError, match="finite"):
                model.learn_one(u, y)
        else:
            assert model.learn_one(u, y) is None
        assert pickle.dumps(model) == snapshot or policy == "skip"
    if policy == "skip":
        assert model.n_skipped == 2


def test_a_refused_step_on_the_fast_path_is_the_general_path_refusal():
    kw = dict(method="anp", lr=1e3, sigma=1e-1, max_weight=2.0, seed=0, activation="identity")
    U, Y = _stream(60, I=2, O=1)
    Y = Y * 50
    a = OnlineRNN(2, 8, 1, on_divergence="raise", **kw)
    b = pickle.loads(pickle.dumps(a))
    with pytest.raises(DivergenceError) as fast:
        for u, y in zip(U, Y):
            before = pickle.dumps(a)
            a.learn_one(u, y)
    assert pickle.dumps(a) == before
    with pytest.raises(DivergenceError) as general:
        b.learn_many(U, Y)
    assert fast.value.reason == general.value.reason
    for policy in ("rollback", "reset"):
        a = OnlineRNN(2, 8, 1, on_divergence=policy, **kw)
        b = pickle.loads(pickle.dumps(a))
        got = [a.learn_one(u, y) for u, y in zip(U, Y)]
        want = b.learn_many(U, Y)
        kept = [g for g in got if g is not None]
        np.testing.assert_array_equal(np.array(kept).reshape(-1, 1), want)
        np.testing.assert_array_equal(a.R, b.R)
        assert (a.n_rollbacks, a.n_resets) == (b.n_rollbacks, b.n_resets) != (0, 0)


def _samples(T, seed=0):
    """Dicts as sensors send them: ints and floats, a missing value now and then
    (absent, None or NaN), a feature that appears late, a boolean."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(T):
        x = {"temp": float(rng.normal(20, 5)), "count": int(rng.integers(0, 100)),
             "hum": float(rng.normal(60, 10))}
        if t % 9 == 0:
            del x["hum"]
        if t % 13 == 0:
            x["temp"] = float("nan")
        if t % 17 == 0:
            x["count"] = None
        if t >= 50:
            x["late"] = float(rng.normal())
        if t % 23 == 0:
            x["flag"] = bool(t % 2)
        out.append((x, float(40 + rng.normal() * 3)))
    return out


@pytest.mark.parametrize("kw", [dict(), dict(optimizer="adam", method="np"),
                                dict(readout="rls"), dict(dtype=np.float32)],
                         ids=["danp", "np-adam", "rls", "float32"])
def test_the_regressor_fast_path_equals_the_general_path(kw):
    fast = RNNRegressor(n_hidden=12, seed=4, decorrelation=True, **kw)
    general = RNNRegressor(n_hidden=12, seed=4, decorrelation=True, **kw)
    for x, y in _samples(200):
        p, q = fast.predict_one(x), general.predict_one(MappingProxyType(x))
        assert p == q or (math.isnan(p) and math.isnan(q))
        fast.learn_one(x, y)
        general.learn_one(MappingProxyType(x), y)
    assert fast.network._packed[9] is not None
    np.testing.assert_array_equal(fast._features.stats(), general._features.stats())
    assert (fast._target.n, fast._target.mean, fast._target.m2) == \
        (general._target.n, general._target.mean, general._target.m2)
    for name in ("A", "R", "B", "C", "D", "state"):
        np.testing.assert_array_equal(getattr(fast.network, name),
                                      getattr(general.network, name), err_msg=name)


def test_the_regressor_fast_path_refuses_what_the_general_path_refuses():
    model = RNNRegressor(n_hidden=8, seed=0)
    for x, y in _samples(30):
        model.learn_one(x, y)
    snapshot = pickle.dumps(model)
    with pytest.raises(ValueError, match="'temp' is inf"):
        model.learn_one({"temp": float("inf"), "count": 3, "hum": 50.0}, 1.0)
    with pytest.raises(ValueError, match="'temp' is -inf"):
        model.predict_one({"temp": -float("inf"), "count": 3, "hum": 50.0})
    with pytest.raises(TypeError, match="'count'"):
        model.learn_one({"temp": 1.0, "count": "3", "hum": 50.0}, 1.0)
    assert pickle.dumps(model) == snapshot


def test_a_refused_regressor_step_on_the_fast_path_undoes_the_statistics():
    model = RNNRegressor(n_hidden=8, seed=0, lr=1e4, sigma=0.5, max_weight=1.5,
                         activation="identity")
    model.advance_one({"temp": 1.0, "count": 1, "hum": 1.0})  # the columns, without learning
    rng = np.random.default_rng(1)
    with pytest.raises(DivergenceError):
        for t in range(200):
            x = {"temp": float(rng.normal()), "count": int(rng.integers(9)), "hum": 2.0}
            assert model._features.raw(x) is not None  # the fast path's sample
            before = pickle.dumps(model)
            model.learn_one(x, float(rng.normal()))
    assert pickle.dumps(model) == before
