"""OnlineRNN's contract: sequences, determinism, persistence, learning, errors."""

import copy
import pickle

import numpy as np
import pytest

from streamlearn import OnlineRNN, decorrelation_loss
from streamlearn.datasets import mackey_glass

ALL = [(m, d) for m in ("anp", "np", "wp", "bp") for d in (False, True)]


def small(method="anp", decorrelation=False, **kw):
    kw.setdefault("seed", 0)
    kw.setdefault("sigma", 1e-2)
    return OnlineRNN(2, 10, 1, method=method, decorrelation=decorrelation, **kw)


def xy(T=300, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(T, 2))
    Y = np.sin(np.cumsum(U[:, :1], axis=0) / 3)
    return U, Y


def snapshot(model):
    return pickle.dumps(model)


@pytest.mark.parametrize("method,decorrelation", ALL)
def test_learn_many_equals_loop_of_learn_one_exactly(method, decorrelation):
    U, Y = xy()
    a, b = small(method, decorrelation), small(method, decorrelation)
    got = a.learn_many(U, Y)
    want = np.array([b.learn_one(u, y) for u, y in zip(U, Y)])
    np.testing.assert_array_equal(got, want)
    for k in "ARBD":
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    np.testing.assert_array_equal(a._rng, b._rng)


def test_learn_many_split_anywhere_equals_one_call():
    U, Y = xy()
    a, b = small("anp", True, optimizer="adam"), small("anp", True, optimizer="adam")
    whole = a.learn_many(U, Y)
    parts = np.vstack([b.learn_many(U[:7], Y[:7]), b.learn_many(U[7:150], Y[7:150]),
                       b.learn_many(U[150:], Y[150:])])
    np.testing.assert_array_equal(whole, parts)


@pytest.mark.parametrize("method,decorrelation", ALL)
def test_pickle_mid_stream_continues_bit_identically(method, decorrelation):
    U, Y = xy()
    model = small(method, decorrelation, optimizer="adam", bptt_window=3 if method == "bp" else 1)
    model.learn_many(U[:100], Y[:100])
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(model.learn_many(U[100:], Y[100:]),
                                  restored.learn_many(U[100:], Y[100:]))
    assert snapshot(model) == snapshot(restored)


def test_same_seed_same_run_different_seed_different_run():
    U, Y = xy()
    p1 = small(seed=5).learn_many(U, Y)
    p2 = small(seed=5).learn_many(U, Y)
    p3 = small(seed=6).learn_many(U, Y)
    np.testing.assert_array_equal(p1, p2)
    assert np.abs(p1 - p3).max() > 1e-3


def test_models_do_not_share_a_random_stream():
    """Interleaving two models' steps changes neither: no global RNG."""
    U, Y = xy(100)
    alone = small(seed=1).learn_many(U, Y)
    a, b = small(seed=1), small(seed=2)
    together = []
    for u, y in zip(U, Y):
        together.append(a.learn_one(u, y))
        b.learn_one(u, y)
        np.random.seed(0)  # touching the global RNG must not matter either
        np.random.normal(size=3)
    np.testing.assert_array_equal(alone, np.array(together))


def test_unseeded_models_record_their_seed_and_differ():
    a, b = OnlineRNN(1, 5, 1), OnlineRNN(1, 5, 1)
    assert a.seed != b.seed
    np.testing.assert_array_equal(OnlineRNN(1, 5, 1, seed=a.seed).A, a.A)


def test_predict_one_is_pure_and_equals_the_next_prediction():
    U, Y = xy(50)
    model = small("anp", True)
    model.learn_many(U[:40], Y[:40])
    before = snapshot(model)
    p = model.predict_one(U[40])
    assert snapshot(model) == before
    np.testing.assert_allclose(model.learn_one(U[40], Y[40]), p, rtol=1e-12)


def test_advance_moves_the_state_without_learning():
    U, Y = xy(60)
    model = small("np", True)
    model.learn_many(U[:30], Y[:30])
    weights = {k: getattr(model, k).copy() for k in "ARBD"}
    state = model.state
    out = model.advance_many(U[30:])
    assert out.shape == (30, 1)
    assert np.abs(model.state - state).max() > 1e-3
    for k in "ARBD":
        np.testing.assert_array_equal(getattr(model, k), weights[k])
    one = copy.deepcopy(model)
    np.testing.assert_array_equal(one.advance_one(U[0]), model.advance_many(U[:1])[0])


def test_reset_state_zeroes_both_twins_and_keeps_weights():
    U, Y = xy(50)
    model = small("anp")
    model.learn_many(U, Y)
    A = model.A.copy()
    model.reset_state()
    assert not model.state.any() and not model.noisy_state.any()
    np.testing.assert_array_equal(model.A, A)


def test_return_states_gives_the_clean_hidden_trajectory():
    U, Y = xy(20)
    a, b = small("anp", True), small("anp", True)
    _, XS = a.learn_many(U, Y, return_states=True)
    last = None
    for u, y in zip(U, Y):
        b.learn_one(u, y)
        last = b.state
    assert XS.shape == (20, 10)
    np.testing.assert_array_equal(XS[-1], last)


def test_add_inputs_keeps_the_update_count_so_adam_goes_on_unchanged():
    """A new input that reads 0 changes nothing: BP with Adam (no noise) then
    follows the model that never grew, bit for bit, because the update count
    that drives Adam's bias correction is kept."""
    U, Y = xy(80)
    grown, plain = small("bp", optimizer="adam"), small("bp", optimizer="adam")
    grown.learn_many(U[:40], Y[:40])
    plain.learn_many(U[:40], Y[:40])
    grown.add_inputs(1)
    assert grown.n_updates == plain.n_updates == 40
    np.testing.assert_array_equal(grown.learn_many(np.hstack([U[40:], np.zeros((40, 1))]), Y[40:]),
                                  plain.learn_many(U[40:], Y[40:]))
    for k in "RBD":
        np.testing.assert_array_equal(getattr(grown, k), getattr(plain, k))


def test_add_inputs_keeps_what_was_learned():
    U, Y = xy(50)
    model = small("anp", optimizer="adam")
    model.learn_many(U, Y)
    A, R = model.A.copy(), model.R.copy()
    model.add_inputs(2)
    assert model.A.shape == (10, 4)
    np.testing.assert_array_equal(model.A[:, :2], A)
    np.testing.assert_array_equal(model.R, R)
    assert np.abs(model.A[:, 2:]).max() > 0
    out = model.learn_many(np.hstack([U, U]), Y)
    assert np.all(np.isfinite(out))


# -- learning ------------------------------------------------------------------

LEARNING = {"anp": 3e-3, "np": 1e-4, "wp": 1e-4, "bp": 1e-2}  # lr per method


@pytest.mark.parametrize("method,decorrelation", ALL)
def test_every_method_lowers_the_prequential_error(method, decorrelation):
    """Second half against first half of a 1,000-step stream, summed over 3
    seeds (NP and WP are noisy learners: one seed alone says little)."""
    U, Y = mackey_glass(1000, seed=3)
    first = second = 0.0
    for seed in range(3):
        model = OnlineRNN(1, 32, 1, method=method, decorrelation=decorrelation,
                          lr=LEARNING[method], seed=seed)
        P = model.learn_many(U, Y)
        first += np.mean((P[:500] - Y[:500]) ** 2)
        second += np.mean((P[500:] - Y[500:]) ** 2)
    assert second < 0.85 * first, (first, second)


def test_decorrelation_lowers_the_decorrelation_loss():
    U, Y = mackey_glass(4000, seed=4)
    losses = {}
    for decorrelation in (False, True):
        model = OnlineRNN(1, 40, 1, method="anp", decorrelation=decorrelation,
                          lr_decorrelation=1e-3, seed=0)
        _, XS = model.learn_many(U, Y, return_states=True)
        losses[decorrelation] = decorrelation_loss(XS[2000:])
    assert losses[True] < 0.5 * losses[False], losses


def test_hard_threshold_network_learns_without_a_gradient():
    """sign units have no derivative: BP refuses them, perturbation learns.

    ANP learns them well. NP and WP learn little: a flipped unit in the noisy
    twin changes the output by O(1), so dl / sigma^2 is mostly noise
    (docs/algorithms.md). Errors are summed over 3 seeds.
    """
    with pytest.raises(ValueError, match="needs a derivative"):
        OnlineRNN(1, 32, 1, method="bp", activation="sign")
    U, Y = mackey_glass(3000, seed=3)
    for method, lr, bound in (("anp", 1e-3, 0.5), ("np", 1e-5, 0.95), ("wp", 1e-5, 0.95)):
        first = second = 0.0
        for seed in range(3):
            model = OnlineRNN(1, 32, 1, method=method, activation="sign", lr=lr,
                              sigma=0.05, seed=seed)
            P = model.learn_many(U, Y)
            first += np.mean((P[:1500] - Y[:1500]) ** 2)
            second += np.mean((P[1500:] - Y[1500:]) ** 2)
            assert len(np.unique(model.state)) <= 3  # the hidden units are binary
        assert second < bound * first, (method, first, second)


def test_noisy_reference_anp_learns():
    U, Y = mackey_glass(1000, seed=3)
    model = OnlineRNN(1, 32, 1, method="anp", noisy_reference=True, seed=0)
    P = model.learn_many(U, Y)
    assert np.mean((P[500:] - Y[500:]) ** 2) < 0.85 * np.mean((P[:500] - Y[:500]) ** 2)
    # its prequential prediction carries the reference twin's noise
    clean = OnlineRNN(1, 32, 1, method="anp", seed=0)
    q = clean.learn_one(U[0], Y[0])
    noisy = OnlineRNN(1, 32, 1, method="anp", noisy_reference=True, seed=0)
    assert noisy.learn_one(U[0], Y[0]) != q


# -- errors ------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,error,match", [
    (dict(method="foo"), ValueError, "unknown method 'foo'"),
    (dict(activation="gelu"), ValueError, "unknown activation 'gelu'"),
    (dict(optimizer="rmsprop"), ValueError, "unknown optimizer"),
    (dict(lr=0), ValueError, "lr must be"),
    (dict(lr=-1e-3), ValueError, "lr must be"),
    (dict(sigma=float("nan")), ValueError, "sigma must be"),
    (dict(lr="fast"), TypeError, "lr must be a number"),
    (dict(n_hidden=0), ValueError, "n_hidden must be >= 1"),
    (dict(n_hidden=2.5), TypeError, "n_hidden must be an integer"),
    (dict(bptt_window=3), ValueError, "bptt_window > 1 applies"),
    (dict(method="np", noisy_reference=True), ValueError, "noisy_reference"),
    (dict(dtype=np.int32), ValueError, "dtype"),
])
def test_bad_parameters_are_refused_by_name(kwargs, error, match):
    kw = dict(n_inputs=2, n_hidden=4)
    kw.update(kwargs)
    with pytest.raises(error, match=match):
        OnlineRNN(**kw)


@pytest.mark.parametrize("u,y,match", [
    ([1.0], [0.0], r"u must have shape \(2,\)"),
    ([1.0, 2.0], [0.0, 1.0], r"y must have shape \(1,\)"),
    ([1.0, np.nan], [0.0], "u must be finite"),
    ([1.0, 2.0], [np.inf], "y must be finite"),
])
def test_bad_samples_are_refused_and_leave_the_model_unchanged(u, y, match):
    model = small("anp", True)
    model.learn_many(*xy(20))
    before = snapshot(model)
    with pytest.raises(ValueError, match=match):
        model.learn_one(u, y)
    assert snapshot(model) == before


def test_bad_sequences_are_refused_and_leave_the_model_unchanged():
    model = small("bp", optimizer="adam")
    U, Y = xy(20)
    before = snapshot(model)
    U_bad = U.copy()
    U_bad[13, 1] = np.nan
    with pytest.raises(ValueError, match="row 13"):
        model.learn_many(U_bad, Y)
    with pytest.raises(ValueError, match="same length"):
        model.learn_many(U, Y[:-1])
    with pytest.raises(ValueError, match=r"shape \(T, 2\)"):
        model.learn_many(U[:, :1], Y)
    assert snapshot(model) == before
