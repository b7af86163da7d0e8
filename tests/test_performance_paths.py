"""Every fast path computes the numbers of the reference path.

The reference path is ``tests/reference_kernels.py: _step`` (via ``_run``): one plain loop per
operation over row-major R and D, the code ``tests/naive.py`` checks to 1e-10.
``OnlineRNN`` runs the fast path: R and D stored transposed, each N x N matrix
read and written once per step (pending updates fused into the next pass), and
optionally two threads. In float64 both must agree bit for bit; no timing is
asserted here (that is ``benchmarks/``).
"""

import numpy as np
import pytest

from streamlearn import OnlineRNN
import reference_kernels as REF

CASES = [(m, d, o) for m in ("anp", "np", "wp", "bp") for d in (False, True)
         for o in ("sgd", "adam")]


def stream(T, n_in, n_out, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(T, n_in))
    Y = np.tanh(np.cumsum(rng.normal(size=(T, n_out)), axis=0) / 5)
    return U, Y


def reference_run(model, U, Y, learn=True):
    """Run the reference kernel on row-major copies of the model's buffers."""
    m = model
    A, R, B, D = (np.ascontiguousarray(x).copy() for x in (m.A, m.R, m.B, m.D))
    bufs = [x.copy() for x in (m._moments, m._wp_noise, m._history, m._state, m._work_n,
                               m._work_o, m._work_k, m._rng, m._counters)]
    Y = np.zeros((len(U), m.n_outputs)) if Y is None else Y
    out = np.empty((len(U), m.n_outputs), dtype=m.dtype)
    xs = np.empty((len(U), m.n_hidden), dtype=m.dtype)
    REF._run(A, R, B, D, *bufs, m._hyper, m._config, U.astype(m.dtype), Y.astype(m.dtype),
           out, xs, learn)
    return dict(out=out, xs=xs, A=A, R=R, B=B, D=D, rng=bufs[7], moments=bufs[0])


def fast_run(model, U, Y):
    out, xs = model.learn_many(U, Y, return_states=True)
    return dict(out=out, xs=xs, A=model.A, R=model.R, B=model.B, D=model.D,
                rng=model._rng, moments=model._moments)


def make(method, decorrelation, optimizer, n_hidden=13, **kw):
    kw.setdefault("sigma", 1e-2)
    kw.setdefault("lr", 1e-3)
    return OnlineRNN(3, n_hidden, 2, method=method, decorrelation=decorrelation,
                     optimizer=optimizer, lr_decorrelation=1e-3, seed=4, **kw)


@pytest.mark.parametrize("method,decorrelation,optimizer", CASES)
def test_fast_path_equals_reference_bit_for_bit(method, decorrelation, optimizer):
    U, Y = stream(60, 3, 2)
    # n_hidden = 13: the 4-row blocks and their remainder rows both run
    model = make(method, decorrelation, optimizer,
                 bptt_window=3 if method == "bp" else 1)
    want = reference_run(model, U, Y)
    got = fast_run(model, U, Y)
    assert np.abs(model.R - make(method, decorrelation, optimizer).R).max() > 0
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_noisy_reference_and_advance_equal_reference():
    U, Y = stream(40, 3, 2)
    model = make("anp", True, "sgd", noisy_reference=True)
    want = reference_run(model, U, Y)
    got = fast_run(model, U, Y)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    want = reference_run(model, U, None, learn=False)
    out, xs = model.advance_many(U, return_states=True)
    np.testing.assert_array_equal(out, want["out"])
    np.testing.assert_array_equal(xs, want["xs"])
    p = model.predict_one(U[0])
    ref = np.empty(2)
    REF._predict(np.ascontiguousarray(model.A), np.ascontiguousarray(model.R), model.B,
               np.ascontiguousarray(model.D), model._state, model._work_n.copy(),
               model._config, U[0], ref)
    np.testing.assert_array_equal(p, ref)


# BP and WP with threads are kernels of their own (each compiles once, ~20 s):
# opt-in with -m slow; the thread code they run is the one the others check
@pytest.mark.parametrize("method,decorrelation,optimizer",
                         [("anp", True, "sgd"), ("np", True, "sgd"), ("anp", False, "adam"),
                          pytest.param("bp", True, "sgd", marks=pytest.mark.slow),
                          pytest.param("wp", True, "sgd", marks=pytest.mark.slow)])
def test_two_threads_equal_one_thread_bit_for_bit(method, decorrelation, optimizer):
    # 70 hidden units: the column blocks are 40 and 30 wide (64-byte aligned)
    U, Y = stream(50, 3, 2)
    one = make(method, decorrelation, optimizer, n_hidden=70)
    two = make(method, decorrelation, optimizer, n_hidden=70, threads=2)
    np.testing.assert_array_equal(one.learn_many(U, Y), two.learn_many(U, Y))
    for k in "ARBD":
        np.testing.assert_array_equal(getattr(one, k), getattr(two, k))
    np.testing.assert_array_equal(one.advance_many(U[:5]), two.advance_many(U[:5]))


def test_float32_fast_path_tracks_float64():
    """float32 runs the same fast kernels in single precision throughout."""
    U, Y = stream(200, 3, 2)
    m64 = make("anp", True, "sgd", n_hidden=40)
    m32 = make("anp", True, "sgd", n_hidden=40, dtype=np.float32)
    p64 = m64.learn_many(U, Y)
    p32 = m32.learn_many(U, Y)
    assert p32.dtype == np.float32 and m32.R.dtype == np.float32
    np.testing.assert_allclose(p32, p64, atol=1e-4)
    np.testing.assert_allclose(m32.R, m64.R, atol=1e-5)


def test_weights_are_current_between_calls_and_layout_is_restored():
    """Pending updates never leak out of a call; a row-major R is accepted."""
    U, Y = stream(30, 3, 2)
    a, b = make("anp", True, "sgd"), make("anp", True, "sgd")
    a.learn_many(U, Y)
    for u, y in zip(U, Y):
        b.learn_one(u, y)
        assert not b._pend_k.any()
    b._R = np.ascontiguousarray(b._R)
    np.testing.assert_array_equal(a.learn_many(U, Y), b.learn_many(U, Y))
    assert b.R.flags.f_contiguous


def test_ziggurat_generator_is_standard_normal_and_deterministic():
    """The faster generator (not used by the models yet) draws N(0, s^2)."""
    from scipy import stats
    from streamlearn._random import _fill_normal_ziggurat, seed_state

    a, b = np.zeros(200_001), np.zeros(200_001)
    s1, s2 = seed_state(3), seed_state(3)
    _fill_normal_ziggurat(s1, a, 2.0)
    _fill_normal_ziggurat(s2, b, 2.0)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(s1, s2)
    z = a / 2.0
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # the tail beyond the base strip (|z| > 3.44) is drawn too
    assert 40 < np.count_nonzero(np.abs(z) > 3.4426) < 200
