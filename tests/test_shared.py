"""SharedRNN: one set of weights over many streams (docs/shared.md).

With one stream it is OnlineRNN bit for bit; with several it matches the plain
NumPy reference (tests/naive.py: NaiveShared) to 1e-10, and its mean ANP
update aligns with the exact gradient of the streams' mean loss.
"""

import pickle

import numpy as np
import pytest

from streamlearn import DivergenceError, OnlineRNN, SharedRNN
from streamlearn.datasets import mackey_glass

from naive import NaiveShared, bp_backward, dact, forward


def snapshot(model):
    """Every array and number of the model's state, copied (for "nothing changed")."""
    out = {}
    for k, v in model.__getstate__().items():
        if isinstance(v, np.ndarray):
            out[k] = v.copy()
        elif isinstance(v, tuple) and v and isinstance(v[0], np.ndarray):
            out[k] = tuple(a.copy() for a in v)
        else:
            out[k] = pickle.loads(pickle.dumps(v))
    return out


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        va, vb = a[k], b[k]
        if isinstance(va, np.ndarray):
            assert np.array_equal(va, vb), k
        elif isinstance(va, tuple) and va and isinstance(va[0], np.ndarray):
            assert all(np.array_equal(x, y) for x, y in zip(va, vb)), k
        else:
            assert va == vb, k


def streams(k, T, seed=0):
    """k Mackey-Glass streams as (T, k, 1) inputs and targets."""
    pairs = [mackey_glass(T, seed=seed + s) for s in range(k)]
    return np.stack([p[0] for p in pairs], 1), np.stack([p[1] for p in pairs], 1)


# -- one stream is OnlineRNN -----------------------------------------------------

@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("decorrelation", [False, True])
@pytest.mark.parametrize("method", ["anp", "np"])
def test_one_stream_is_online_rnn_bit_for_bit(method, decorrelation, optimizer):
    U, Y = mackey_glass(500, seed=0)
    kw = dict(method=method, decorrelation=decorrelation, optimizer=optimizer, seed=3,
              lr_decorrelation=1e-3)
    single = OnlineRNN(1, 30, 1, output_bound=float("inf"), **kw)
    shared = SharedRNN(1, 30, 1, **kw)
    expected = single.learn_many(U, Y)
    got = np.concatenate([shared.learn_many(["s"], U[t:t + 1], Y[t:t + 1])
                          for t in range(len(U))])
    assert np.array_equal(got, expected)
    for name in "ARBD":
        assert np.array_equal(getattr(shared, name), getattr(single, name)), name
    assert np.array_equal(shared.state("s"), single.state)
    assert np.array_equal(shared.noisy_state("s"), single.noisy_state)
    assert np.array_equal(shared._rng, single._rng)
    assert shared.n_updates == single.n_updates == 500


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_one_stream_is_online_rnn_in_float32(optimizer):
    U, Y = mackey_glass(300, seed=0)
    kw = dict(method="anp", decorrelation=True, optimizer=optimizer, seed=3,
              lr_decorrelation=1e-3, dtype=np.float32)
    single = OnlineRNN(1, 30, 1, output_bound=float("inf"), **kw)
    shared = SharedRNN(1, 30, 1, **kw)
    expected = single.learn_many(U, Y)
    got = np.concatenate([shared.learn_many([("s", 1)], U[t:t + 1], Y[t:t + 1])
                          for t in range(len(U))])
    assert got.dtype == np.float32 and np.array_equal(got, expected)
    for name in "ARBD":
        assert np.array_equal(getattr(shared, name), getattr(single, name)), name


def test_one_stream_is_online_rnn_with_rademacher_noise_and_relu():
    U, Y = mackey_glass(200, seed=1)
    kw = dict(method="anp", decorrelation=True, noise="rademacher", activation="relu", seed=5)
    single = OnlineRNN(1, 17, 1, output_bound=float("inf"), **kw)
    shared = SharedRNN(1, 17, 1, **kw)
    expected = single.learn_many(U, Y)
    got = np.array([shared.learn_one(0, U[t], Y[t]) for t in range(len(U))])
    assert np.array_equal(got, expected)
    assert np.array_equal(shared.R, single.R) and np.array_equal(shared.D, single.D)


# -- several streams against the NumPy reference ---------------------------------

SCHEDULE = [["a", "b", "c"]] * 8 + [["c", "a"]] * 5 + [["b", 7, "c", "a"]] * 6 + \
    [[7, ("t", 1), "a"]] * 8 + [["a", "c", 7, ("t", 1)]] * 9


@pytest.mark.parametrize("method, decorrelation, optimizer",
                         [("anp", False, "sgd"), ("anp", True, "sgd"), ("np", True, "sgd"),
                          ("anp", True, "adam"), ("np", False, "adam")])
def test_streams_match_the_naive_reference(method, decorrelation, optimizer):
    """Streams join, leave (b after tick 19) and come back; weights and
    predictions follow NaiveShared to 1e-10."""
    rng = np.random.default_rng(0)
    model = SharedRNN(2, 9, 2, method=method, decorrelation=decorrelation,
                      optimizer=optimizer, seed=1, lr=1e-2, lr_decorrelation=1e-2, sigma=1e-2)
    naive = NaiveShared(model)
    for t, keys in enumerate(SCHEDULE):
        if t == 19:
            model.remove("b")
            naive.remove("b")
        U = rng.normal(size=(len(keys), 2))
        Y = rng.normal(size=(len(keys), 2)) * 0.5
        got = model.learn_many(keys, U, Y)
        expected = naive.tick(keys, U, Y)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    for name in "ARBD":
        np.testing.assert_allclose(getattr(model, name), naive.W[name], rtol=1e-10, atol=1e-12)
    for key in model.keys:
        np.testing.assert_allclose(model.state(key), naive.states[key][0], rtol=1e-10,
                                   atol=1e-12)
    assert "b" not in model and len(model) == 4


# -- the mean update estimates the gradient of the mean loss -------------------------

N_IN, N_HIDDEN, N_OUT, N_STREAMS = 3, 8, 2, 4


def test_mean_anp_update_aligns_with_the_exact_gradient_of_the_mean_loss():
    """As tests/test_gradients.py does for one stream (10,000 draws, cosine >= 0.9,
    norm within 30 %): here 2,500 ticks of 4 streams, the same 10,000 per-stream
    estimates, so the same thresholds. Each stream sits at its own state (the
    twins agree), so the exact target is the mean of four different gradients."""
    rng = np.random.default_rng(0)
    model = SharedRNN(N_IN, N_HIDDEN, N_OUT, method="anp", decorrelation=True, lr=1.0,
                      sigma=1e-3, seed=0, lr_decorrelation=1e-12)
    model.D[:] = np.eye(N_HIDDEN) + 0.2 * rng.normal(size=(N_HIDDEN, N_HIDDEN))
    model.refresh_bounds()
    keys = list(range(N_STREAMS))
    model._hyper[0] = 0.0  # lr 0: the streams move to four different states, the weights stay
    for _ in range(5):
        model.learn_many(keys, rng.normal(size=(N_STREAMS, N_IN)), np.zeros((N_STREAMS, N_OUT)))
    model._hyper[0] = 1.0
    for k in keys:  # the twins agree: the estimate is of the one-step gradient
        slot = model._slots[k]
        model._state[slot, 1] = model._state[slot, 0]
    U = rng.normal(size=(N_STREAMS, N_IN))
    Y = rng.normal(size=(N_STREAMS, N_OUT))
    W = {k: getattr(model, k).copy() for k in "ABRD"}
    exact = [np.zeros_like(W[k]) for k in "ARB"]
    for k, u, y in zip(keys, U, Y):
        xs = model.state(k)
        alpha, _, xs_new, out = forward(W["A"], W["R"], W["B"], W["D"], u, xs, "tanh")
        for acc, g in zip(exact, bp_backward(W, [(u, xs, dact(alpha, "tanh"))], out, xs_new, y)):
            acc += g / N_STREAMS
    state = model._state.copy()
    draws = 2_500
    total = [np.zeros_like(g) for g in exact]
    for _ in range(draws):
        model.learn_many(keys, U, Y)
        for acc, name in zip(total, "ARB"):
            acc += W[name] - getattr(model, name)  # lr = 1
            getattr(model, name)[:] = W[name]
        model.D[:] = W["D"]
        model._state[:] = state
    mean = [t / draws for t in total]
    for name, m, g in zip("ARB", mean, exact):
        cos = float(m.ravel() @ g.ravel() / (np.linalg.norm(m) * np.linalg.norm(g)))
        assert cos >= 0.9, (name, cos)
        assert 0.7 < np.linalg.norm(m) / np.linalg.norm(g) < 1.3, name


# -- streams: absent, joining, leaving, predicting ----------------------------------

def test_an_absent_stream_does_not_move_and_predict_changes_nothing():
    U, Y = streams(3, 40)
    model = SharedRNN(1, 12, 1, seed=0)
    for t in range(20):
        model.learn_many(["a", "b", "c"], U[t], Y[t])
    b = (model.state("b"), model.noisy_state("b"))
    R = model.R.copy()
    before = snapshot(model)
    p = model.predict_many(["b", "new"], U[20, :2])
    assert_same(before, snapshot(model))
    fresh = SharedRNN(1, 12, 1, seed=0)
    fresh._A[:], fresh._R[:], fresh._B[:] = model.A, model.R, model.B
    assert np.array_equal(p[1], fresh.predict_one("x", U[20, 1]))
    for t in range(20, 30):
        model.learn_many(["c", "a"], U[t, [2, 0]], Y[t, [2, 0]])
    assert np.array_equal(model.state("b"), b[0]) and np.array_equal(model.noisy_state("b"), b[1])
    assert not np.array_equal(model.R, R)
    # the prediction for b is the one it would have made before the others moved on,
    # except for the weights that learned meanwhile
    assert model.predict_many(["b"], U[20, 1:2]).shape == (1, 1)
    assert np.isfinite(p).all()


def test_join_leave_and_rejoin():
    model = SharedRNN(1, 6, 1, seed=0)
    model.learn_many([1, "two", (3, "x")], np.ones((3, 1)), np.zeros((3, 1)))
    assert model.keys == [1, "two", (3, "x")]
    assert not np.array_equal(model.state("two"), np.zeros(6))
    model.remove("two")
    with pytest.raises(KeyError):
        model.state("two")
    with pytest.raises(KeyError):
        model.remove("two")
    model.learn_many(["two", np.int64(9)], np.ones((2, 1)), np.zeros((2, 1)))  # rejoins at zero
    assert model.keys == [1, (3, "x"), "two", 9]
    assert 9 in model and np.int64(9) in model
    # many streams join at once: the capacity doubles, the old states stay
    old = model.state(1)
    keys = list(range(100, 140))
    model.learn_many(keys, np.ones((40, 1)), np.zeros((40, 1)))
    assert len(model) == 44 and model._capacity == 64
    assert np.array_equal(model.state(1), old)


def test_seeded_models_are_reproducible_and_key_order_is_the_draw_order():
    U, Y = streams(2, 30)
    a, b, c = (SharedRNN(1, 10, 1, seed=4) for _ in range(3))
    for t in range(30):
        pa = a.learn_many(["x", "y"], U[t], Y[t])
        pb = b.learn_many(["x", "y"], U[t], Y[t])
        c.learn_many(["y", "x"], U[t, ::-1], Y[t, ::-1])
        assert np.array_equal(pa, pb)
    assert np.array_equal(a.R, b.R)
    assert not np.array_equal(a.R, c.R)  # the noise is drawn in the order of the keys


# -- checkpoints ----------------------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_checkpoint_mid_stream_continues_bit_for_bit(tmp_path, optimizer):
    U, Y = streams(3, 60)
    keys = ["a", 2, ("c", 3)]
    model = SharedRNN(1, 11, 1, decorrelation=True, optimizer=optimizer, seed=2)
    for t in range(30):
        model.learn_many(keys, U[t], Y[t])
    model.remove(2)
    path = tmp_path / "shared.ckpt"
    model.save(path)
    loaded = SharedRNN.load(path)
    copy = pickle.loads(pickle.dumps(model))
    assert loaded.keys == copy.keys == ["a", ("c", 3)]
    for t in range(30, 60):
        k = keys if t % 2 else keys[::2]
        rows = [0, 1, 2] if t % 2 else [0, 2]
        p = model.learn_many(k, U[t, rows], Y[t, rows])
        assert np.array_equal(loaded.learn_many(k, U[t, rows], Y[t, rows]), p)
        assert np.array_equal(copy.learn_many(k, U[t, rows], Y[t, rows]), p)
    assert_same(snapshot(model), snapshot(loaded))
    assert_same(snapshot(model), snapshot(copy))


# -- invalid input and divergence ---------------------------------------------------

@pytest.mark.parametrize("U, Y, error", [
    ([[np.nan], [0.0]], [[0.0], [0.0]], ValueError),
    ([[0.0], [0.0]], [[np.inf], [0.0]], ValueError),
    ([["a"], [0.0]], [[0.0], [0.0]], TypeError),
    ([[0.0, 1.0], [0.0, 1.0]], [[0.0], [0.0]], ValueError),  # wrong width
    ([[0.0]], [[0.0], [0.0]], ValueError),  # rows do not match
])
def test_invalid_input_raises_and_changes_nothing(U, Y, error):
    model = SharedRNN(1, 5, 1, seed=0)
    model.learn_many(["a", "b"], [[0.3], [0.1]], [[0.0], [0.0]])
    before = snapshot(model)
    with pytest.raises(error):
        model.learn_many(["a", "c"], U, Y)
    assert_same(before, snapshot(model))


def test_bad_keys_raise_and_change_nothing():
    model = SharedRNN(1, 5, 1, seed=0)
    model.learn_many(["a"], [[0.3]], [[0.0]])
    before = snapshot(model)
    with pytest.raises(ValueError, match="once per tick"):
        model.learn_many(["a", "a"], [[0.0], [0.0]], [[0.0], [0.0]])
    with pytest.raises(TypeError, match="hashable"):
        model.learn_many([["a"]], [[0.0]], [[0.0]])
    with pytest.raises(TypeError, match="sequence"):
        model.learn_many("a", [[0.0]], [[0.0]])
    with pytest.raises(ValueError, match="keys for"):
        model.learn_many(["a", "b"], [[0.0]], [[0.0]])
    assert_same(before, snapshot(model))


def test_skip_policy_treats_an_invalid_row_as_an_absent_stream():
    a = SharedRNN(1, 5, 1, seed=0, on_invalid="skip")
    b = SharedRNN(1, 5, 1, seed=0)
    a.learn_many(["x", "y"], [[0.3], [0.1]], [[0.0], [0.0]])
    b.learn_many(["x", "y"], [[0.3], [0.1]], [[0.0], [0.0]])
    U = np.array([[0.2], [np.nan], ["bad"]], dtype=object)
    p = a.learn_many(["x", "y", "z"], U, [[0.1], [0.0], [0.0]])
    q = b.learn_many(["x"], [[0.2]], [[0.1]])
    assert np.array_equal(p[0], q[0]) and np.isnan(p[1:]).all()
    assert a.n_skipped == 2 and "z" not in a
    assert_same({k: v for k, v in snapshot(a).items() if k not in ("n_skipped", "on_invalid")},
                {k: v for k, v in snapshot(b).items() if k not in ("n_skipped", "on_invalid")})


def test_a_divergent_tick_under_raise_leaves_the_model_as_it_was():
    U, Y = streams(2, 20)
    model = SharedRNN(1, 8, 1, seed=0)
    for t in range(10):
        model.learn_many(["a", "b"], U[t], Y[t])
    model._hyper[0] = 1e9  # a huge step: the guard must refuse it
    before = snapshot(model)
    with pytest.raises(DivergenceError, match="refused"):
        model.learn_many(["a", "b", "new"], U[10, [0, 1, 0]], Y[10, [0, 1, 0]])
    assert_same(before, snapshot(model))
    assert "new" not in model


def test_a_divergent_tick_under_rollback_goes_on_without_learning():
    U, Y = streams(2, 20)
    model = SharedRNN(1, 8, 1, seed=0, on_divergence="rollback")
    for t in range(10):
        model.learn_many(["a", "b"], U[t], Y[t])
    model._hyper[0] = 1e9
    weights = [model.A.copy(), model.R.copy(), model.B.copy()]
    p = model.learn_many(["a", "b", "new"], U[10, [0, 1, 0]], Y[10, [0, 1, 0]])
    assert model.n_rollbacks == 1 and model.n_updates == 10 and "new" in model
    assert all(np.array_equal(w, getattr(model, n)) for w, n in zip(weights, "ARB"))
    assert np.isfinite(p).all()
    assert np.array_equal(model.state("a"), model.noisy_state("a"))  # advanced, twins synced
    model._hyper[0] = 1e-3
    model.learn_many(["a", "b"], U[11], Y[11])
    assert model.n_updates == 11


def test_unsupported_settings_are_refused_clearly():
    for method in ("wp", "bp"):
        with pytest.raises(ValueError, match="not supported by SharedRNN"):
            SharedRNN(1, 4, 1, method=method)
    with pytest.raises(ValueError, match="reset"):
        SharedRNN(1, 4, 1, on_divergence="reset")
    with pytest.raises(ValueError, match="unknown method"):
        SharedRNN(1, 4, 1, method="xyz")
