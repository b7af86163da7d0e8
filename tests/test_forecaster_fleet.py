"""ForecasterFleet: every member equals its stand-alone RNNForecaster bit for bit,
through absent values, growth, removal, the divergence policies and checkpoints."""

import numpy as np
import pytest

from streamlearn import FleetDivergenceError, ForecasterFleet, RNNForecaster
from streamlearn.kernels import forecast_arena as FA

SMALL = dict(max_horizon=3, n_hidden=8, lags=2)


def _streams(T, K, seed=0, absent=0.1):
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None]
    ys = 10.0 + np.sin(t / 4.0 + np.arange(K)) + rng.normal(0.0, 0.1, (T, K))
    ys[rng.random((T, K)) < absent] = np.nan
    return ys


def _alone(fleet, key, ys_j, seed=None):
    """The stand-alone forecaster a member must equal, fed the member's values."""
    f = RNNForecaster(**fleet.settings, seed=fleet.seed_of(key) if seed is None else seed)
    for y in ys_j:
        if y == y:
            f.learn_one(float(y))
    return f


def _same(a, b, H):
    assert a.forecast(H) == b.forecast(H)
    assert a.n_steps == b.n_steps
    for x, y in ((a.network.A, b.network.A), (a.network.R, b.network.R),
                 (a.network.B, b.network.B), (a.network._rng, b.network._rng)):
        np.testing.assert_array_equal(x, y)
    if a.readout == "rls":
        np.testing.assert_array_equal(a._W, b._W)
        np.testing.assert_array_equal(a._P, b._P)
    assert (a.network.n_rollbacks, a.network.n_resets) == (b.network.n_rollbacks,
                                                          b.network.n_resets)


@pytest.mark.parametrize("readout", ["rls", "perturbation"])
def test_members_equal_standalone_forecasters(readout):
    K, T = 5, 150
    ys = _streams(T, K)
    fleet = ForecasterFleet(**SMALL, readout=readout, seed=3, capacity=2)  # grows twice
    keys = [f"s{j}" for j in range(K)]
    for t in range(T):
        fleet.learn_many(keys, ys[t])
    for j, k in enumerate(keys):
        _same(fleet[k], _alone(fleet, k, ys[:, j]), 3)
        assert fleet.forecast(k, 2) == fleet.model(k).forecast(2)
    np.testing.assert_array_equal(fleet.forecast_many(keys, 3),
                                  [fleet.forecast(k, 3) for k in keys])


def test_a_block_of_ticks_equals_one_tick_calls():
    K, T = 4, 120
    ys = _streams(T, K, seed=1)
    keys = list(range(K))
    a = ForecasterFleet(**SMALL, seed=4)
    b = ForecasterFleet(**SMALL, seed=4)
    a.learn_many(keys, ys)
    for t in range(T):
        b.learn_many(keys, ys[t])
    for k in keys:
        _same(a[k], b[k], 3)


def test_streams_join_and_leave_at_any_time():
    T = 160
    ys = _streams(T, 4, seed=2, absent=0.0)
    fleet = ForecasterFleet(**SMALL, seed=5, capacity=2)
    column = {"a": 0, "b": 1, "c": 2, "d": 3}
    for t in range(T):
        if t == 100:
            gone = fleet.remove("d")  # "c" moves into its row
        keys = ["a", "b"] + (["c"] if t >= 40 else []) + (["d"] if 20 <= t < 100 else [])
        fleet.learn_many(keys, ys[t, [column[k] for k in keys]])
    assert sorted(fleet.keys()) == ["a", "b", "c"]
    for j, (key, start) in enumerate((("a", 0), ("b", 0), ("c", 40))):
        _same(fleet[key], _alone(fleet, key, ys[start:, j]), 3)
    _same(gone, _alone(fleet, "d", ys[20:100, 3], seed=gone.seed), 3)


@pytest.mark.parametrize("policy", ["rollback", "reset", "raise"])
def test_each_members_divergence_is_its_own(policy):
    """NP with a large rate diverges on these series; each member's refused steps
    are handled as its stand-alone forecaster's would be, whatever the others do."""
    T = 300
    t = np.arange(T)
    series = {"calm": 10.0 + 0.1 * np.sin(t / 5.0),
              "hot": 5.0 * np.sin(t / 1.7) + 3.0 * np.sin(t / 0.9)}
    kw = dict(max_horizon=4, n_hidden=30, method="np", lr=3.0, optimizer="sgd",
              max_weight=10.0, on_divergence=policy)
    fleet = ForecasterFleet(**kw, seed=0)
    keys = list(series)
    refused = dict.fromkeys(keys, 0)
    for i in range(T):
        try:
            fleet.learn_many(keys, [series[k][i] for k in keys])
        except FleetDivergenceError as error:
            assert policy == "raise"
            for k in error.errors:
                refused[k] += 1
    diverged = 0
    for k in keys:
        alone = RNNForecaster(**fleet.settings, seed=fleet.seed_of(k))
        alone_refused = 0
        for y in series[k]:
            try:
                alone.learn_one(float(y))
            except Exception:
                alone_refused += 1
        _same(fleet[k], alone, 4)
        assert refused[k] == alone_refused
        net = fleet[k].network
        diverged += refused[k] + net.n_rollbacks + net.n_resets
    assert diverged > 0, "the streams were meant to diverge"


def test_a_checkpoint_mid_stream_continues_bit_for_bit(tmp_path):
    K, T = 3, 200
    ys = _streams(T, K, seed=6)
    keys = ["x", "y", "z"]
    a = ForecasterFleet(**SMALL, seed=7)
    a.learn_many(keys, ys[:90])
    a.save(tmp_path / "fleet.ckpt")
    b = ForecasterFleet.load(tmp_path / "fleet.ckpt")
    assert b.keys() == keys
    a.learn_many(keys, ys[90:])
    b.learn_many(keys, ys[90:])
    for k in keys:
        _same(a[k], b[k], 3)
    b.add("w")  # the next member seed, as the original fleet would give it
    a.add("w")
    assert a.seed_of("w") == b.seed_of("w")


def test_bad_input_changes_nothing_or_is_skipped():
    fleet = ForecasterFleet(**SMALL, seed=8)
    fleet.learn_many(["a", "b"], [1.0, 2.0])
    before = fleet.forecast_many(["a", "b"], 3)
    with pytest.raises(ValueError, match="stream 'b', tick 0"):
        fleet.learn_many(["a", "b"], [1.5, np.inf])
    with pytest.raises(ValueError, match="once per call"):
        fleet.learn_many(["a", "a"], [1.5, 1.5])
    with pytest.raises(ValueError, match="shape"):
        fleet.learn_many(["a", "b"], [1.5])
    with pytest.raises(TypeError, match="numbers"):
        fleet.learn_many(["a", "b"], ["1", "2"])
    with pytest.raises(TypeError, match="key"):
        fleet.learn_many([1.5], [1.0])
    np.testing.assert_array_equal(fleet.forecast_many(["a", "b"], 3), before)
    assert fleet["a"].n_steps == 1
    skip = ForecasterFleet(**SMALL, seed=8, on_invalid="skip")
    skip.learn_many(["a", "b"], [1.0, 2.0])
    skip.learn_many(["a", "b"], [1.5, np.inf])
    assert (skip["a"].n_steps, skip["b"].n_steps, skip["b"].n_skipped) == (2, 1, 1)
    with pytest.raises(ValueError, match="exogenous"):
        ForecasterFleet(exogenous=True)
    with pytest.raises(TypeError, match="a fleet member is a view"):
        import pickle
        pickle.dumps(fleet["a"])


def test_members_are_rows_of_the_stacks():
    fleet = ForecasterFleet(**SMALL, seed=9)
    fleet.learn_many(["a", "b"], [1.0, 2.0])
    for row, key in enumerate(("a", "b")):
        m = fleet[key]
        nf, entry, _, nd, ni, ff, fd, fi = m._fpack
        for arena, stack in zip((nf, nd, ni, ff, fd, fi), fleet._stacks):
            assert np.shares_memory(arena, stack[row])
        assert entry is FA.rls_step
    # a member stepped alone is stepped in the fleet
    fleet["a"].learn_one(3.0)
    twin = fleet.model("b")
    fleet.learn_many(["a", "b"], [4.0, 5.0])
    twin.learn_one(5.0)
    assert fleet["a"].n_steps == 3 and fleet.forecast("b", 3) == twin.forecast(3)


def test_the_threads_do_not_change_the_results():
    K, T = 8, 40
    ys = _streams(T, K, seed=10)
    keys = list(range(K))
    one = ForecasterFleet(**SMALL, seed=11, threads=1)
    two = ForecasterFleet(**SMALL, seed=11, threads=2)
    one.learn_many(keys, ys)  # 320 member-steps: two threads in `two`
    two.learn_many(keys, ys)
    for k in keys:
        _same(one[k], two[k], 3)


def test_an_infinite_value_beside_an_absent_one_is_refused():
    fleet = ForecasterFleet(**SMALL, seed=12)
    with pytest.raises(ValueError, match="stream 'b', tick 0"):
        fleet.learn_many(["a", "b"], [np.nan, -np.inf])
    assert len(fleet) == 0  # nothing changed: not even the keys joined
