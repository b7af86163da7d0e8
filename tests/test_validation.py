"""Bad input: specific errors naming the value, or the documented skip policy,
and never a change of state on a rejected call."""

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamlearn import DivergenceError, OnlineRNN

DOCUMENTED = (TypeError, ValueError, DivergenceError)


def model(**kw):
    kw.setdefault("seed", 0)
    m = OnlineRNN(2, 6, 1, method="anp", decorrelation=True, **kw)
    m.learn_many(np.ones((5, 2)), np.zeros((5, 1)))
    return m


@pytest.mark.parametrize("u,error,match", [
    ([None, 1.0], TypeError, r"u must hold numbers, got None"),
    (["a", 1.0], TypeError, r"u must hold numbers, got \['a', 1.0\]"),
    ("12", TypeError, r"u must hold numbers, got '12'"),
    ([1.0, float("nan")], ValueError, r"u must be finite, got \[1.0, nan\]"),
    ([1.0, float("inf")], ValueError, r"u must be finite"),
    ([[1.0, 2.0]], ValueError, r"u must have shape \(2,\), got \(1, 2\)"),
])
def test_bad_inputs_get_specific_errors(u, error, match):
    m = model()
    before = pickle.dumps(m)
    with pytest.raises(error, match=match):
        m.learn_one(u, [0.0])
    with pytest.raises(error, match=match):
        m.predict_one(u)
    with pytest.raises(error, match=match):
        m.advance_one(u)
    assert pickle.dumps(m) == before


def test_booleans_are_numbers():
    m, n = model(), model()
    np.testing.assert_array_equal(m.learn_one([True, False], [1]), n.learn_one([1.0, 0.0], [1.0]))


def test_skip_policy_ignores_and_counts_invalid_samples():
    m = model(on_invalid="skip")
    before = pickle.dumps(m)
    assert m.learn_one([np.nan, 1.0], [0.0]) is None
    assert m.learn_one([1.0, 1.0], [np.inf]) is None
    assert m.predict_one([np.inf, 0.0]) is None
    assert m.advance_one([np.nan, 0.0]) is None
    assert m.n_skipped == 3
    m.n_skipped = 0
    assert pickle.dumps(m) == before
    assert m.learn_one([None, 1.0], [0.0]) is None  # non-numbers too
    assert m.learn_one([1.0, 1.0], ["n/a"]) is None
    assert m.n_skipped == 2
    with pytest.raises(ValueError, match="shape"):  # a wrong shape is a bug, never skipped
        m.learn_one([1.0], [0.0])


def test_skip_policy_in_sequences_equals_filtering_the_rows():
    rng = np.random.default_rng(0)
    U, Y = rng.normal(size=(50, 2)), rng.normal(size=(50, 1))
    U[[3, 17], 1] = np.nan
    Y[30, 0] = -np.inf
    ok = np.isfinite(U).all(1) & np.isfinite(Y).all(1)
    a, b = model(on_invalid="skip"), model()
    got = a.learn_many(U, Y)
    np.testing.assert_array_equal(got, b.learn_many(U[ok], Y[ok]))
    assert got.shape == (47, 1) and a.n_skipped == 3
    assert pickle.dumps(a.A) == pickle.dumps(b.A)


def test_raise_policy_names_the_row():
    U = np.ones((10, 2))
    U[6, 0] = np.nan
    m = model()
    before = pickle.dumps(m)
    with pytest.raises(ValueError, match="row 6"):
        m.learn_many(U, np.zeros((10, 1)))
    with pytest.raises(ValueError, match="row 6"):
        m.advance_many(U)
    assert pickle.dumps(m) == before


def test_skip_policy_drops_rows_with_non_numbers():
    m = model(on_invalid="skip")
    U = [[1.0, 2.0], [None, 1.0], [0.5, "x"], [0.0, 0.0]]
    out = m.learn_many(U, [[0.0], [0.0], [0.0], [1.0]])
    assert out.shape == (2, 1) and m.n_skipped == 2


def test_ragged_input_is_refused_clearly():
    with pytest.raises(ValueError, match="rectangular"):
        model().learn_many([[1.0, 2.0], [3.0]], [[0.0], [0.0]])


def test_unknown_policy():
    with pytest.raises(ValueError, match="unknown on_invalid 'ignore'"):
        OnlineRNN(1, 2, 1, on_invalid="ignore")


# -- property tests ------------------------------------------------------------

# Any float: huge finite values are valid input, and a step they would blow up
# is refused by the divergence guard (DivergenceError, test_divergence.py).
scalars = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-10**6, 10**6), st.booleans(), st.none(), st.text(max_size=3))
vectors = st.lists(scalars, min_size=0, max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(u=vectors, y=vectors, policy=st.sampled_from(["raise", "skip"]))
def test_learn_one_on_arbitrary_input(u, y, policy):
    """Only the documented exceptions, never a NaN output, and a rejected call
    leaves the model exactly as it was."""
    m = model(on_invalid=policy)
    before = pickle.dumps(m)
    try:
        out = m.learn_one(u, y)
    except DOCUMENTED:
        m.n_skipped = 0
        assert pickle.dumps(m) == before
        return
    if out is None:
        assert policy == "skip" and m.n_skipped == 1
        m.n_skipped = 0
        assert pickle.dumps(m) == before
    else:
        assert np.all(np.isfinite(out))
        assert np.all(np.isfinite(m.state))


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(scalars, scalars, scalars), min_size=0, max_size=12),
       policy=st.sampled_from(["raise", "skip"]))
def test_learn_many_on_arbitrary_rows(rows, policy):
    m = model(on_invalid=policy)
    before = pickle.dumps(m)
    U = [r[:2] for r in rows] or np.zeros((0, 2))
    Y = [r[2:] for r in rows] or np.zeros((0, 1))
    try:
        out = m.learn_many(U, Y)
    except DivergenceError as e:  # the steps before the refused one were committed
        assert e.step < len(rows) and np.all(np.isfinite(e.predictions))
        assert np.all(np.isfinite(m.A)) and np.all(np.isfinite(m.state))
        return
    except (TypeError, ValueError):
        assert pickle.dumps(m) == before
        return
    assert np.all(np.isfinite(out))
    assert out.shape[0] + m.n_skipped == len(rows)


@settings(max_examples=100, deadline=None)
@given(lr=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none(), st.text(max_size=2)),
       n_hidden=st.one_of(st.integers(-3, 3), st.floats(0, 3), st.none()))
def test_constructor_on_arbitrary_parameters(lr, n_hidden):
    try:
        m = OnlineRNN(1, n_hidden, 1, lr=lr, seed=0)
    except (TypeError, ValueError):
        return
    assert m.n_hidden >= 1 and (lr is None or m.lr > 0)
