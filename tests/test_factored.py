"""The factored update mode (``OnlineRNN(update="factored")``, docs/factored.md).

It is not bit-identical to the exact mode (its corrections, folds and dot
products round differently), so against the exact mode and the NumPy
reference it is checked to a tolerance; against itself (sequence calls,
checkpoints, pickles, predictions, reads of R and D) it is checked bit for bit.

Tolerance: the two modes start from the same weights and draw the same noise,
and differ by rounding (~1e-16 relative per operation). ANP divides by
||da||^2 with da = alpha~ - alpha of order sigma = 1e-3, which magnifies the
relative rounding of da about 1e3-fold, and the recurrent dynamics carry it
on; over 2,000 steps the measured gap is 1e-14 to 3e-9. TOL = 1e-7 leaves a
margin over that, and is far below what a wrong factor, sign or fold time
would give: a change of lr by one part in 10^4 already moves the predictions
by more than 100 * TOL (``test_the_tolerance_resolves_a_tiny_change``).
"""

import pickle

import numpy as np
import pytest

from naive import NaiveRNN, decorrelate
from streamlearn import Fleet, OnlineRNN
from streamlearn.datasets import mackey_glass

TOL = 1e-7
T = 2000


@pytest.fixture(scope="module")
def series():
    U, Y = mackey_glass(T + 200, seed=3)
    return U, Y


def pair(N, k, **kw):
    kw = dict(dict(method="anp", decorrelation=True, seed=5), **kw)
    return (OnlineRNN(1, N, 1, **kw),
            OnlineRNN(1, N, 1, update="factored", factor_rank=k, **kw))


def arrays(m):
    """Everything a factored model's future depends on."""
    return [m._A, m._R, m._B, m._D, m._C, m._c, m._state, m._rng, m._counters, m._hyper,
            m._watch, m._fac_g, m._fac_p, m._fac_c, m._fac_f, m._fac_vec, m._fac_k]


def assert_same(a, b):
    for x, y in zip(arrays(a), arrays(b)):
        assert x.dtype == y.dtype and np.array_equal(x, y)


@pytest.mark.parametrize("method", ["anp", "np"])
@pytest.mark.parametrize("decorrelation", [True, False])
@pytest.mark.parametrize("N,k", [(13, 3), (37, 8), (64, 5)])
def test_factored_equals_exact_to_rounding(series, method, decorrelation, N, k):
    U, Y = series
    exact, fac = pair(N, k, method=method, decorrelation=decorrelation)
    pe = exact.learn_many(U[:T], Y[:T])
    pf = fac.learn_many(U[:T], Y[:T])
    assert np.all(np.isfinite(pf))
    assert np.abs(pe - pf).max() <= TOL
    for name in "ARBD":
        assert np.abs(getattr(exact, name) - getattr(fac, name)).max() <= TOL, name
    assert np.abs(exact.state - fac.state).max() <= TOL
    assert fac.n_updates == exact.n_updates == T
    if decorrelation:  # D learned: the comparison is not against the identity
        assert np.abs(exact.D - np.eye(N)).max() > 1e3 * TOL


def test_float32_equals_exact_to_float32_rounding(series):
    U, Y = series
    exact, fac = pair(37, 8, dtype=np.float32)
    pe = exact.learn_many(U[:T], Y[:T])
    pf = fac.learn_many(U[:T], Y[:T])
    assert pf.dtype == np.float32 and fac.R.dtype == np.float32
    assert np.abs(pe - pf).max() <= 1e-3
    assert np.abs(exact.R - fac.R).max() <= 1e-3


def test_the_tolerance_resolves_a_tiny_change(series):
    """TOL is not loose: a relative change of 1e-4 in lr is > 100 TOL away."""
    U, Y = series
    a = OnlineRNN(1, 37, 1, method="anp", decorrelation=True, seed=5)
    b = OnlineRNN(1, 37, 1, method="anp", decorrelation=True, seed=5, lr=a.lr * (1 + 1e-4))
    assert np.abs(a.learn_many(U[:T], Y[:T]) - b.learn_many(U[:T], Y[:T])).max() > 100 * TOL


@pytest.mark.parametrize("decorrelation", [True, False])
def test_against_the_numpy_reference(series, decorrelation):
    """Started mid-fold-period (pending factors and a pending decorrelation
    update), the reference, built from the model's R and D properties, and the
    model stay together: the properties are the current matrices."""
    U, Y = series
    model = OnlineRNN(1, 19, 1, method="anp", decorrelation=decorrelation, seed=2,
                      update="factored", factor_rank=4)
    model.learn_many(U[:102], Y[:102])
    assert model._fac_k[0] not in (0, 4)  # factors of R pending
    if decorrelation:
        assert model._fac_k[2] == 1 and model._fac_k[1] > 0
    naive = NaiveRNN(model)
    for t in range(102, 402):
        y = model.learn_one(U[t], Y[t])
        assert np.abs(y - naive.step(U[t], Y[t])).max() <= TOL
    for name in "ARBD":
        assert np.abs(getattr(model, name) - naive.W[name]).max() <= TOL, name


def test_each_read_of_d_is_eq_10_applied_to_the_last(series):
    """Step by step through folds, D (the property) follows eq. 10 with the
    clean state of each step (tests/naive.py's ``decorrelate``)."""
    U, Y = series
    model = OnlineRNN(1, 23, 1, method="anp", decorrelation=True, seed=4,
                      update="factored", factor_rank=3, lr_decorrelation=1e-2)
    model.learn_many(U[:50], Y[:50])
    D = model.D.copy()
    for t in range(50, 80):
        model.learn_one(U[t], Y[t])
        D = decorrelate(D, model.state, model.lr_decorrelation)
        assert np.abs(model.D - D).max() <= 1e-12
    assert np.abs(D - np.eye(23)).max() > 1e-3


@pytest.mark.parametrize("decorrelation", [True, False])
def test_sequence_call_equals_single_calls_bit_for_bit(series, decorrelation):
    U, Y = series
    kw = dict(method="anp", decorrelation=decorrelation, seed=7, update="factored",
              factor_rank=5, skip=True, bias=True)
    one = OnlineRNN(2, 23, 2, **kw)
    many = OnlineRNN(2, 23, 2, **kw)
    chunks = OnlineRNN(2, 23, 2, **kw)
    U2 = np.hstack([U, U[::-1]])[:300]
    Y2 = np.hstack([Y, -Y])[:300]
    p_one = np.array([one.learn_one(u, y) for u, y in zip(U2, Y2)])
    p_many = many.learn_many(U2, Y2)
    cuts = np.cumsum([1, 3, 7, 2, 11, 4, 6, 9, 1, 13])
    p_chunks = np.concatenate([chunks.learn_many(U2[a:b], Y2[a:b])
                               for a, b in zip(np.r_[0, cuts], np.r_[cuts, 300])])
    assert np.array_equal(p_one, p_many) and np.array_equal(p_one, p_chunks)
    assert_same(one, many)
    assert_same(one, chunks)


def test_predict_and_reads_change_nothing_and_predict_is_the_next_prediction(series):
    U, Y = series
    a, b = (OnlineRNN(1, 21, 1, method="anp", decorrelation=True, seed=1, update="factored",
                      factor_rank=3) for _ in range(2))
    for t in range(40):  # across several folds of R and of D
        p = a.predict_one(U[t])
        a.R, a.D  # noqa: B018 (reads)
        y = a.learn_one(U[t], Y[t])
        assert np.array_equal(p, y)  # the clean prediction, before the update
        b.learn_one(U[t], Y[t])
        assert_same(a, b)
    a.advance_many(U[40:50])
    b.advance_many(U[40:50])
    assert_same(a, b)


def test_r_and_d_are_read_only_copies():
    m = OnlineRNN(1, 9, 1, decorrelation=True, update="factored", seed=0)
    with pytest.raises(ValueError):
        m.R[0, 0] = 1.0
    with pytest.raises(ValueError):
        m.D[0, 0] = 1.0
    assert m.R is not m._R


def test_pickle_and_checkpoint_mid_fold_continue_bit_for_bit(series, tmp_path):
    U, Y = series
    m = OnlineRNN(1, 22, 1, method="anp", decorrelation=True, seed=9, update="factored",
                  factor_rank=5)
    m.learn_many(U[:17], Y[:17])
    assert 0 < m._fac_k[0] < 5 and m._fac_k[2] == 1
    m.save(tmp_path / "m.ckpt")
    loaded = OnlineRNN.load(tmp_path / "m.ckpt")
    unpickled = pickle.loads(pickle.dumps(m))
    assert loaded.update == unpickled.update == "factored" and loaded.factor_rank == 5
    ref = m.learn_many(U[17:90], Y[17:90])
    assert np.array_equal(ref, loaded.learn_many(U[17:90], Y[17:90]))
    assert np.array_equal(ref, unpickled.learn_many(U[17:90], Y[17:90]))
    assert_same(m, loaded)
    assert_same(m, unpickled)


def test_reset_state_keeps_the_pending_decorrelation_update(series):
    """The pending update of D keeps its own copy of the state it uses."""
    U, Y = series
    exact, fac = pair(17, 4)
    for m in (exact, fac):
        m.learn_many(U[:30], Y[:30])
        m.reset_state()
        m.learn_many(U[30:60], Y[30:60])
    assert np.abs(exact.D - fac.D).max() <= TOL
    assert np.abs(exact.R - fac.R).max() <= TOL


def test_add_inputs_and_reinitialise_keep_the_factors_right(series):
    U, Y = series
    exact, fac = pair(17, 4)
    for m in (exact, fac):
        m.learn_many(U[:30], Y[:30])
        m.add_inputs(1)
        m.learn_many(np.hstack([U[30:60], U[:30]]), Y[30:60])
    assert np.abs(exact.R - fac.R).max() <= TOL and np.abs(exact.D - fac.D).max() <= TOL
    fac._reinitialise()
    assert not fac._fac_k.any()
    assert np.array_equal(fac.D, np.eye(17))
    assert np.array_equal(fac.R, fac._R)


def test_divergence_guard_refuses_and_rolls_back():
    rng = np.random.default_rng(0)
    U = rng.normal(size=(400, 1)) * 5
    Y = rng.normal(size=(400, 1)) * 50
    kw = dict(method="np", decorrelation=True, seed=0, lr=1e3, max_weight=5.0,
              update="factored", factor_rank=3)
    m = OnlineRNN(1, 16, 1, on_divergence="rollback", **kw)
    p = m.learn_many(U, Y)
    assert m.n_rollbacks > 0 and np.all(np.isfinite(p))
    assert np.abs(m.R).max() <= 5.0 and np.abs(m.D).max() <= 5.0
    # "raise": the refused step leaves states, stream, counters and the
    # effective weights as they were (a fold in its pass only changes their form)
    m = OnlineRNN(1, 16, 1, **kw)
    from streamlearn import DivergenceError
    for t in range(400):
        before = (m.R, m.D, m.A.copy(), m.B.copy(), m._state.copy(), m._rng.copy(),
                  m._counters.copy())
        try:
            m.learn_one(U[t], Y[t])
        except DivergenceError:
            R, D, A, B, state, rng_, counters = before
            assert np.allclose(m.R, R, rtol=1e-12, atol=1e-15)
            assert np.allclose(m.D, D, rtol=1e-12, atol=1e-15)
            assert np.array_equal(m.A, A) and np.array_equal(m.B, B)
            assert np.array_equal(m._state, state) and np.array_equal(m._rng, rng_)
            assert np.array_equal(m._counters, counters)
            break
    else:
        pytest.fail("no step was refused")


@pytest.mark.parametrize("kw,word", [
    (dict(method="wp"), "method='wp'"),
    (dict(method="bp"), "method='bp'"),
    (dict(optimizer="adam"), "adam"),
    (dict(readout="rls"), "rls"),
    (dict(threads=2), "threads"),
])
def test_unsupported_combinations_raise(kw, word):
    with pytest.raises(ValueError, match="update='factored'") as e:
        OnlineRNN(1, 8, 1, update="factored", **kw)
    assert word in str(e.value)


def test_option_checks():
    with pytest.raises(ValueError, match="factor_rank applies"):
        OnlineRNN(1, 8, 1, factor_rank=4)
    with pytest.raises(ValueError, match="factor_rank"):
        OnlineRNN(1, 8, 1, update="factored", factor_rank=0)
    with pytest.raises(ValueError, match="unknown update"):
        OnlineRNN(1, 8, 1, update="lazy")
    m = OnlineRNN(1, 8, 1, update="factored")
    assert m.factor_rank == 8 and "factored" in repr(m)
    with pytest.raises(ValueError, match="buffers"):
        m.buffers()
    with pytest.raises(ValueError, match="update='exact'"):
        Fleet(1, 8, 1, update="factored")
    with pytest.raises(ValueError, match="update='exact'"):
        Fleet(1, 8, 1, seed=0).add("a", OnlineRNN(1, 8, 1, update="factored",
                                                   on_divergence="rollback"))
    assert OnlineRNN(1, 8, 1).update == "exact"


def test_exact_mode_state_from_before_the_option_loads():
    """A pickled exact model without the new attributes still works (class defaults)."""
    m = OnlineRNN(1, 8, 1, seed=0)
    state = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in m.__getstate__().items()}
    for name in ("update", "factor_rank", "_fac_g", "_fac_p", "_fac_c", "_fac_f", "_fac_vec",
                 "_fac_k"):
        state.pop(name)
    old = OnlineRNN.__new__(OnlineRNN)
    old.__setstate__(state)
    U = np.ones((5, 1))
    assert np.array_equal(old.learn_many(U, U), m.learn_many(U, U))


def test_shared_rnn_still_reads_its_matrices():
    """SharedRNN borrows OnlineRNN's R and D properties without the update option."""
    from streamlearn import SharedRNN
    m = SharedRNN(1, 6, 1, seed=0)
    assert m.R.shape == (6, 6) and np.array_equal(m.D, np.eye(6))
