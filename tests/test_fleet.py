"""Fleet: every member equals its stand-alone OnlineRNN, bit for bit."""

import pickle

import numpy as np
import pytest

from streamlearn import DivergenceError, Fleet, FleetDivergenceError, OnlineRNN
from streamlearn.datasets import mackey_glass

KEYS = ["a", 7, ("site", 2), "d"]


def _streams(T, n=len(KEYS), seed=0):
    rng = np.random.default_rng(seed)
    U = np.stack([mackey_glass(T, seed=i)[0] for i in range(n)], axis=1)
    Y = np.stack([mackey_glass(T, seed=i)[1] for i in range(n)], axis=1)
    return U + 0.01 * rng.standard_normal(U.shape), Y


def _reference(fleet, key, **extra):
    return OnlineRNN(**{**fleet.settings, **extra}, seed=fleet.seed_of(key))


def _same_model(a, b):
    for name in ("A", "R", "B", "D", "C", "c", "P"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a._state, b._state)
    assert np.array_equal(a._rng, b._rng)
    assert np.array_equal(a._counters, b._counters)
    assert np.array_equal(a._hyper, b._hyper)
    assert (a.n_rollbacks, a.n_resets, a.n_skipped) == (b.n_rollbacks, b.n_resets, b.n_skipped)


SETTINGS = [dict(method="anp", decorrelation=True), dict(method="np", optimizer="adam"),
            dict(method="anp", optimizer="adam", skip=True, bias=True)]


@pytest.mark.parametrize("settings", SETTINGS, ids=["danp-sgd", "np-adam", "anp-adam-skip"])
def test_members_equal_standalone_models(settings):
    """Blocks, single ticks, absent ticks and a late joiner: each member makes the
    predictions and ends with the weights, states and random stream of its own
    OnlineRNN fed the same samples."""
    T = 240
    U, Y = _streams(T)
    fleet = Fleet(1, 12, 1, seed=5, capacity=2, threads=2, **settings)
    present = np.ones((T, len(KEYS)), bool)
    present[30:60, 1] = False  # stream 7 sends nothing for a while
    present[:100, 3] = False   # stream "d" joins at tick 100
    out = np.full(Y.shape, np.nan)
    out[:100, :3] = fleet.learn_many(KEYS[:3], U[:100, :3], Y[:100, :3], present[:100, :3])
    for t in range(100, 150):
        out[t] = fleet.learn_many(KEYS, U[t], Y[t])
    out[150:] = fleet.learn_many(KEYS, U[150:], Y[150:], present[150:])
    assert len(fleet) == 4 and fleet.keys() == KEYS
    for j, key in enumerate(KEYS):
        ref = _reference(fleet, key)
        ok = present[:, j]
        expected = ref.learn_many(U[ok, j], Y[ok, j])
        assert np.array_equal(out[ok, j], expected), key
        assert np.isnan(out[~ok, j]).all()
        _same_model(fleet[key], ref)
    m = fleet.metrics()["a"]
    assert m["n"] == T
    assert m["mae"] == pytest.approx(np.abs(out[:, 0] - Y[:, 0]).mean(), rel=1e-12)


@pytest.mark.slow  # compiling the parallel loop takes 30-60 s from an empty cache
def test_learn_one_equals_one_tick_of_learn_many():
    U, Y = _streams(60)
    a = Fleet(1, 10, 1, seed=12, method="anp", decorrelation=True)
    b = Fleet(1, 10, 1, seed=12, method="anp", decorrelation=True)
    for t in range(60):
        pa = a.learn_many(KEYS, U[t], Y[t])
        for j, key in enumerate(KEYS):
            assert np.array_equal(b.learn_one(key, U[t, j], Y[t, j]), pa[j])
    for key in KEYS:
        _same_model(a[key], b[key])
        assert a.metrics()[key]["n"] == b.metrics()[key]["n"] == 60
        assert a.metrics()[key]["mae"] == pytest.approx(b.metrics()[key]["mae"], rel=1e-12)
    skip = Fleet(1, 10, 1, seed=12, on_invalid="skip")
    assert skip.learn_one("x", [np.nan], [1.0]) is None and "x" not in skip
    with pytest.raises(ValueError, match="finite"):
        b.learn_one("a", [np.nan], [1.0])


def test_threads_do_not_change_the_numbers(monkeypatch):
    import streamlearn.fleet

    monkeypatch.setattr(streamlearn.fleet, "PARALLEL_WORK", 0)  # parallel even when small
    U, Y = _streams(80)
    outs = []
    for threads in (1, 2, 3):
        fleet = Fleet(1, 10, 1, seed=1, threads=threads, method="anp", decorrelation=True)
        outs.append(fleet.learn_many(KEYS, U, Y))
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


def test_model_and_add_move_members_in_and_out_bit_for_bit():
    U, Y = _streams(160)
    fleet = Fleet(1, 10, 1, seed=2, method="anp", decorrelation=True)
    fleet.learn_many(KEYS, U[:80], Y[:80])
    alone = fleet.remove(7)  # a stand-alone model continuing from the member
    assert 7 not in fleet and len(fleet) == 3
    ref = _reference(fleet, "a")
    ref.learn_many(U[:80, 0], Y[:80, 0])
    moved = OnlineRNN(**fleet.settings, seed=123)
    moved.learn_many(U[:80, 1], Y[:80, 1])
    fleet.add("moved", model=moved)  # a model joins with its history
    out = fleet.learn_many(["a", "moved"], U[80:, :2], Y[80:, :2])
    assert np.array_equal(out[:, 0], ref.learn_many(U[80:, 0], Y[80:, 0]))
    assert np.array_equal(out[:, 1], moved.learn_many(U[80:, 1], Y[80:, 1]))
    expected_7 = OnlineRNN(**fleet.settings, seed=alone.seed)
    expected_7.learn_many(U[:80, 1], Y[:80, 1])
    assert np.array_equal(alone.learn_many(U[80:, 1], Y[80:, 1]),
                          expected_7.learn_many(U[80:, 1], Y[80:, 1]))
    with pytest.raises(ValueError, match="sigma"):
        fleet.add("other", model=OnlineRNN(1, 10, 1, sigma=0.5, decorrelation=True))
    with pytest.raises(ValueError, match="already"):
        fleet.add("a")


def test_checkpoint_and_pickle_continue_bit_for_bit(tmp_path):
    U, Y = _streams(120)
    fleet = Fleet(1, 10, 1, seed=3, method="np", optimizer="adam", capacity=3)
    fleet.learn_many(KEYS, U[:60], Y[:60])
    fleet.remove("d")
    path = tmp_path / "fleet.ckpt"
    fleet.save(path)
    restored = Fleet.load(path)
    copied = pickle.loads(pickle.dumps(fleet))
    keys = KEYS[:3] + ["new"]
    outs = [f.learn_many(keys, U[60:], Y[60:]) for f in (fleet, restored, copied)]
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])
    assert restored.keys() == fleet.keys() and restored.metrics() == fleet.metrics()
    for key in keys:
        _same_model(restored[key], fleet[key])
    assert restored.seed_of("new") == fleet.seed_of("new")


def test_a_diverging_member_does_not_touch_the_others():
    T = 150
    U, Y = _streams(T)
    Y = Y.copy()
    Y[100:, 2] = 1e9  # one sensor starts reporting garbage
    fleet = Fleet(1, 10, 1, seed=4, method="anp")  # on_divergence="rollback"
    out = fleet.learn_many(KEYS, U, Y)
    bad = fleet[KEYS[2]]
    assert bad.n_rollbacks > 0 or bad.n_resets > 0
    for j, key in enumerate(KEYS):
        ref = _reference(fleet, key)
        assert np.array_equal(out[:, j], ref.learn_many(U[:, j], Y[:, j]))
        _same_model(fleet[key], ref)
    assert np.isfinite(fleet.predict_many(KEYS, U[-1])).all()


def test_raise_policy_reports_members_and_keeps_the_rest():
    T = 80
    U, Y = _streams(T)
    Y = Y.copy()
    Y[50, 1] = 1e12
    fleet = Fleet(1, 10, 1, seed=6, method="anp", on_divergence="raise")
    with pytest.raises(FleetDivergenceError) as info:
        fleet.learn_many(KEYS, U, Y)
    errors = info.value.errors
    assert set(errors) == {7}
    for j, key in enumerate(KEYS):
        ref = _reference(fleet, key)
        if key in errors:
            with pytest.raises(DivergenceError) as own:
                ref.learn_many(U[:, j], Y[:, j])
            assert own.value.step == errors[key].step == 50
        else:
            ref.learn_many(U[:, j], Y[:, j])
        _same_model(fleet[key], ref)  # the refused member: as before its refused step


def test_predict_many_changes_nothing_and_matches_the_members():
    U, Y = _streams(40)
    fleet = Fleet(1, 10, 1, seed=7, method="anp", decorrelation=True)
    fleet.learn_many(KEYS, U[:30], Y[:30])
    before = pickle.dumps(fleet)
    p = fleet.predict_many(KEYS, U[30])
    assert pickle.dumps(fleet) == before
    for j, key in enumerate(KEYS):
        assert np.array_equal(p[j], fleet[key].predict_one(U[30, j]))
    with pytest.raises(KeyError, match="no stream 'zz'"):
        fleet.predict_many(["zz"], U[30, :1])


def test_invalid_input_is_refused_before_anything_changes():
    U, Y = _streams(20)
    fleet = Fleet(1, 8, 1, seed=8)
    fleet.learn_many(KEYS, U[:10], Y[:10])
    before = pickle.dumps(fleet)
    bad = U[10].copy()
    bad[2, 0] = np.nan
    with pytest.raises(ValueError, match=r"stream \('site', 2\), tick 0: the sample must be finite"):
        fleet.learn_many(KEYS, bad, Y[10])
    with pytest.raises(ValueError, match="shape"):
        fleet.learn_many(KEYS, U[10, :3], Y[10])
    with pytest.raises(ValueError, match="once per call"):
        fleet.learn_many(["a", "a"], U[10, :2], Y[10, :2])
    with pytest.raises(TypeError, match="stream key"):
        fleet.learn_many([1.5], U[10, :1], Y[10, :1])
    with pytest.raises(TypeError, match="numbers"):
        fleet.learn_many(["a"], [["x"]], [[1.0]])
    with pytest.raises(ValueError, match="present"):
        fleet.learn_many(KEYS, U[10], Y[10], present=np.ones(3, bool))
    assert pickle.dumps(fleet) == before


def test_skip_policy_treats_invalid_samples_as_absent():
    U, Y = _streams(30)
    fleet = Fleet(1, 8, 1, seed=9, on_invalid="skip")
    U = U.astype(object)
    U[5, 0, 0] = "n/a"
    U[6, 1, 0] = None
    Y = Y.copy()
    Y[7, 2, 0] = np.inf
    out = fleet.learn_many(KEYS, U, Y)
    assert np.isnan(out[5, 0]).all() and np.isnan(out[6, 1]).all() and np.isnan(out[7, 2]).all()
    assert [fleet[k].n_skipped for k in KEYS] == [1, 1, 1, 0]
    ref = _reference(fleet, KEYS[0])
    ok = np.arange(30) != 5
    assert np.array_equal(out[ok, 0], ref.learn_many(U[ok, 0].astype(float), Y[ok, 0]))
    assert fleet.metrics()["a"]["n"] == 29


def test_memory_is_the_members_state():
    small = Fleet(1, 16, 1, seed=0, method="anp", decorrelation=True)
    big = Fleet(1, 64, 1, seed=0, method="anp", decorrelation=True)
    # two N x N matrices (R, D) of float64 dominate
    assert 2 * 16 * 16 * 8 < small.memory_per_member < 3 * 16 * 16 * 8
    assert 2 * 64 * 64 * 8 < big.memory_per_member < 2.2 * 64 * 64 * 8


@pytest.mark.slow
@pytest.mark.parametrize("settings", [dict(method="wp", decorrelation=True),
                                      dict(method="bp", bptt_window=3, optimizer="adam"),
                                      dict(method="anp", readout="rls"),
                                      dict(method="anp", dtype=np.float32)],
                         ids=["dwp", "bp3-adam", "anp-rls", "anp-float32"])
def test_members_equal_standalone_models_other_buffers(settings):
    """WP's noise views, BP's window, the least-squares read-out, float32."""
    U, Y = _streams(120)
    fleet = Fleet(1, 10, 1, seed=11, capacity=1, **settings)
    out = fleet.learn_many(KEYS, U[:70], Y[:70])
    out = np.concatenate([out] + [fleet.learn_many(KEYS, U[t], Y[t])[None]
                                  for t in range(70, 120)])
    for j, key in enumerate(KEYS):
        ref = _reference(fleet, key)
        assert np.array_equal(out[:, j], ref.learn_many(U[:, j], Y[:, j]))
        _same_model(fleet[key], ref)
