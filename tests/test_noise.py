"""noise="rademacher": the draw order, the contract of the core, old states, validation.

The kernels against plain NumPy with Rademacher noise: tests/test_reference.py;
the unbiasedness of the rules: tests/test_gradients.py; the forecaster against
the core: tests/test_forecaster.py and tests/test_forecaster_rls.py.
"""

import copy
import pathlib
import pickle

import numpy as np
import pytest

from streamlearn import OnlineRNN, RNNForecaster, RNNRegressor
from streamlearn._random import _next_u64, normal, rademacher, seed_state
from streamlearn.datasets import mackey_glass

LEARNING = {"anp": 3e-3, "np": 1e-4, "wp": 1e-4}  # as in tests/test_online_rnn.py

DATA = pathlib.Path(__file__).parent / "data"
METHODS = [("anp", False), ("anp", True), ("np", False), ("np", True), ("wp", False),
           ("wp", True)]


def xy(T=300, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(T, 2))
    return U, np.sin(np.cumsum(U[:, :1], axis=0) / 3)


def small(method="anp", decorrelation=False, **kw):
    kw.setdefault("seed", 0)
    kw.setdefault("sigma", 1e-2)
    return OnlineRNN(2, 10, 1, method=method, decorrelation=decorrelation,
                     noise="rademacher", **kw)


# -- the draw ----------------------------------------------------------------------


def test_rademacher_draw_order_is_64_signs_per_word_low_bit_first():
    s = seed_state(9)
    got = rademacher(s, (150,), 0.5)
    ref = seed_state(9)
    words = [int(_next_u64(ref)) for _ in range(3)]  # 150 values: three words, the last partial
    want = np.array([0.5 if (words[i // 64] >> (i % 64)) & 1 else -0.5 for i in range(150)])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(s, ref)  # the unused bits of the last word are discarded


def test_rademacher_signs_are_balanced_and_have_the_normals_variance():
    r = rademacher(seed_state(1), (200_000,), 3.0)
    assert set(np.unique(r)) == {-3.0, 3.0}
    assert abs(r.mean()) < 0.03
    assert r.var() == pytest.approx(normal(seed_state(1), (200_000,), 3.0).var(), rel=0.02)


# -- the core's contract with Rademacher noise ----------------------------------------


@pytest.mark.parametrize("method,decorrelation", METHODS)
def test_learn_many_equals_loop_of_learn_one_exactly(method, decorrelation):
    U, Y = xy()
    a, b = small(method, decorrelation), small(method, decorrelation)
    got = a.learn_many(U, Y)
    want = np.array([b.learn_one(u, y) for u, y in zip(U, Y)])
    np.testing.assert_array_equal(got, want)
    for k in "ARBD":
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    np.testing.assert_array_equal(a._rng, b._rng)


def test_learn_many_equals_loop_with_a_noisy_reference():
    U, Y = xy()
    kw = dict(noisy_reference=True, optimizer="adam")
    a, b = small("anp", True, **kw), small("anp", True, **kw)
    np.testing.assert_array_equal(a.learn_many(U, Y),
                                  np.array([b.learn_one(u, y) for u, y in zip(U, Y)]))


@pytest.mark.parametrize("method,decorrelation", METHODS)
def test_pickle_mid_stream_continues_bit_identically(method, decorrelation):
    U, Y = xy()
    model = small(method, decorrelation, optimizer="adam")
    model.learn_many(U[:100], Y[:100])
    restored = pickle.loads(pickle.dumps(model))
    assert restored.noise == "rademacher"
    np.testing.assert_array_equal(model.learn_many(U[100:], Y[100:]),
                                  restored.learn_many(U[100:], Y[100:]))
    assert pickle.dumps(model) == pickle.dumps(restored)


def test_checkpoint_mid_stream_continues_bit_identically(tmp_path):
    U, Y = xy()
    model = small("wp", True)
    model.learn_many(U[:100], Y[:100])
    model.save(tmp_path / "m.ckpt")
    restored = OnlineRNN.load(tmp_path / "m.ckpt")
    assert restored.noise == "rademacher"
    np.testing.assert_array_equal(model.learn_many(U[100:], Y[100:]),
                                  restored.learn_many(U[100:], Y[100:]))


@pytest.mark.parametrize("method", ["anp", "np", "wp"])
def test_rademacher_is_another_stream_but_the_same_initial_weights(method):
    U, Y = xy(50)
    g = OnlineRNN(2, 10, 1, method=method, seed=0, sigma=1e-2)
    r = small(method)
    for k in "ARB":
        np.testing.assert_array_equal(getattr(g, k), getattr(r, k))
    assert not np.array_equal(g.learn_many(U, Y), r.learn_many(U, Y))


def test_bp_ignores_the_option():
    U, Y = xy(100)
    g = OnlineRNN(2, 10, 1, method="bp", seed=0)
    r = OnlineRNN(2, 10, 1, method="bp", seed=0, noise="rademacher")
    np.testing.assert_array_equal(g.learn_many(U, Y), r.learn_many(U, Y))
    np.testing.assert_array_equal(g.R, r.R)


@pytest.mark.parametrize("method", ["anp", "np"])
def test_node_perturbation_lowers_the_prequential_error_with_rademacher_noise(method):
    """As tests/test_online_rnn.py does for Gaussian noise: second half against first
    half of a 1,000-step Mackey-Glass stream, summed over 3 seeds. WP is left out:
    over this short stream at lr=1e-4 one of its three seeds got worse with Rademacher
    noise (and one of six with Gaussian); its learning is measured in docs/noise.md."""
    U, Y = mackey_glass(1000, seed=3)
    first = second = 0.0
    for seed in range(3):
        model = OnlineRNN(1, 32, 1, method=method, decorrelation=True, noise="rademacher",
                          lr=LEARNING[method], seed=seed)
        P = model.learn_many(U, Y)
        first += np.mean((P[:500] - Y[:500]) ** 2)
        second += np.mean((P[500:] - Y[500:]) ** 2)
    assert second < 0.85 * first, (first, second)


# -- old states: saved before the option existed, they load as Gaussian ----------------


@pytest.mark.parametrize("method", ["anp", "wp"])
def test_a_checkpoint_written_before_the_option_loads_and_continues_identically(method):
    """The files were written by streamlearn at db2f143 (config of 9 slots), mid-stream;
    the .npz holds that version's own continuation of the stream."""
    old = np.load(DATA / "online_rnn_db2f143_continued.npz")
    model = OnlineRNN.load(DATA / f"online_rnn_{method}_db2f143.ckpt")
    assert model.noise == "gaussian"
    assert model._config.size == 10
    np.testing.assert_array_equal(model.learn_many(old["U"][100:], old["Y"][100:]), old[method])


def test_an_old_pickled_state_is_padded_with_gaussian():
    U, Y = xy()
    model = OnlineRNN(2, 10, 1, method="np", seed=0, sigma=1e-2)
    model.learn_many(U[:100], Y[:100])
    state = copy.deepcopy(model.__getstate__())  # no arrays shared with model
    del state["noise"]
    state["_config"] = state["_config"][:9].copy()  # the old layout
    old = OnlineRNN.__new__(OnlineRNN)
    old.__setstate__(state)
    assert old.noise == "gaussian" and old._config.size == model._config.size
    np.testing.assert_array_equal(old.learn_many(U[100:], Y[100:]),
                                  model.learn_many(U[100:], Y[100:]))


def test_an_old_learner_state_gets_the_default():
    reg = RNNRegressor(n_hidden=6, seed=0)
    state = copy.deepcopy(reg.__dict__)
    del state["noise"]
    old = RNNRegressor.__new__(RNNRegressor)
    old.__setstate__(state)
    assert old.noise == "gaussian"
    assert old.clone().noise == "gaussian"


# -- the learners and validation ------------------------------------------------------


def test_the_learners_pass_the_option_to_their_network():
    reg = RNNRegressor(n_hidden=6, method="wp", noise="rademacher", seed=0)
    fc = RNNForecaster(max_horizon=2, n_hidden=6, method="np", noise="rademacher", seed=0)
    assert reg.network.noise == fc.network.noise == "rademacher"
    assert reg.clone().noise == "rademacher"
    assert RNNRegressor(n_hidden=6).network.noise == "gaussian"


@pytest.mark.parametrize("make", [
    lambda v: OnlineRNN(2, 4, 1, noise=v),
    lambda v: RNNRegressor(n_hidden=4, noise=v),
    lambda v: RNNForecaster(max_horizon=2, n_hidden=4, noise=v),
])
@pytest.mark.parametrize("value", ["uniform", "", None, 1])
def test_a_bad_noise_is_refused_naming_the_choices(make, value):
    with pytest.raises(ValueError, match=r"noise.*\['gaussian', 'rademacher'\]"):
        make(value)
