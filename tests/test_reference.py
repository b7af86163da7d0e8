"""The jitted step equals the plain NumPy step of tests/naive.py."""

import numpy as np
import pytest

from streamlearn import OnlineRNN

from naive import NaiveRNN

CASES = [
    dict(method=m, decorrelation=d, optimizer=o)
    for m in ("anp", "np", "wp", "bp")
    for d in (False, True)
    for o in ("sgd", "adam")
]


def stream(T, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(T, n_in))
    Y = np.tanh(np.cumsum(rng.normal(size=(T, n_out)), axis=0) / 5)
    return U, Y


def run_both(T=200, n_in=3, n_hidden=12, n_out=2, activation="tanh", seed=1, **kw):
    kw.setdefault("lr", 1e-3)
    kw.setdefault("lr_decorrelation", 1e-3)
    kw.setdefault("sigma", 1e-2)
    model = OnlineRNN(n_in, n_hidden, n_out, activation=activation, seed=seed, **kw)
    naive = NaiveRNN(model)
    U, Y = stream(T, n_in, n_out, seed)
    got = np.array([model.learn_one(u, y) for u, y in zip(U, Y)])
    want = np.array([naive.step(u, y) for u, y in zip(U, Y)])
    return model, naive, got, want


def assert_close(model, naive, got, want, rtol=1e-10):
    scale = lambda a: max(1.0, np.abs(a).max())
    assert np.abs(got - want).max() <= rtol * scale(want)
    for name in "ARBD":
        w, n = getattr(model, name), naive.W[name]
        assert np.abs(w - n).max() <= rtol * scale(n), name
    assert np.abs(model.state - naive.xs).max() <= rtol * scale(naive.xs)
    assert np.abs(model.noisy_state - naive.xsn).max() <= rtol * scale(naive.xsn)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_kernel_matches_naive_over_200_steps(case):
    model, naive, got, want = run_both(**case)
    # the weights must have moved, or the comparison says nothing
    assert np.abs(model.A - NaiveRNN(OnlineRNN(3, 12, 2, seed=1)).W["A"]).max() > 1e-6
    assert_close(model, naive, got, want)


@pytest.mark.parametrize("activation", ["relu", "identity", "sign"])
@pytest.mark.parametrize("method", ["anp", "np", "wp"])
def test_activations_match_naive(method, activation):
    # short and small steps: a linear (identity) network with spectral radius
    # above 1 has no tanh to bound its state
    model, naive, got, want = run_both(method=method, activation=activation,
                                       decorrelation=True, T=20, lr=1e-5)
    assert np.all(np.isfinite(got))
    assert_close(model, naive, got, want)


@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_bp_activations_match_naive(activation):
    model, naive, got, want = run_both(method="bp", activation=activation, T=20, lr=1e-5)
    assert np.all(np.isfinite(got))
    assert_close(model, naive, got, want)


@pytest.mark.parametrize("window", [2, 5])
@pytest.mark.parametrize("decorrelation", [False, True])
def test_bptt_window_matches_naive(window, decorrelation):
    model, naive, got, want = run_both(method="bp", bptt_window=window,
                                       decorrelation=decorrelation, optimizer="adam")
    assert_close(model, naive, got, want)


def test_noisy_reference_matches_naive():
    model, naive, got, want = run_both(method="anp", noisy_reference=True, decorrelation=True)
    assert_close(model, naive, got, want)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("decorrelation", [False, True])
@pytest.mark.parametrize("method", ["anp", "np", "wp"])
def test_rademacher_noise_matches_naive(method, decorrelation, optimizer):
    model, naive, got, want = run_both(method=method, decorrelation=decorrelation,
                                       optimizer=optimizer, noise="rademacher")
    assert naive.noise == "rademacher"
    assert_close(model, naive, got, want)
    # the kernel really drew signs: a Gaussian replay of the same stream is far off
    gauss = NaiveRNN(OnlineRNN(3, 12, 2, method=method, decorrelation=decorrelation,
                               optimizer=optimizer, seed=1, lr=1e-3, lr_decorrelation=1e-3,
                               sigma=1e-2))
    U, Y = stream(200, 3, 2, 1)
    other = np.array([gauss.step(u, y) for u, y in zip(U, Y)])
    assert np.abs(other - got).max() > 1e-8


def test_rademacher_noisy_reference_matches_naive():
    model, naive, got, want = run_both(method="anp", noisy_reference=True, decorrelation=True,
                                       noise="rademacher")
    assert_close(model, naive, got, want)


def test_rademacher_wp_with_skip_and_bias_matches_naive():
    model, naive, got, want = run_both(method="wp", skip=True, bias=True, noise="rademacher")
    assert_readout_close(model, naive, got, want)  # defined below, with the read-out cases


def test_advance_matches_naive_and_learns_nothing():
    model, naive, _, _ = run_both(method="anp", T=20)
    before = {k: getattr(model, k).copy() for k in "ARBD"}
    U, _ = stream(30, 3, 2, 7)
    got = model.advance_many(U)
    want = np.array([naive.step(u, None, learn=False) for u in U])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    for k in "ARBD":
        np.testing.assert_array_equal(getattr(model, k), before[k])
    np.testing.assert_array_equal(model.state, model.noisy_state)


def test_float32_tracks_float64():
    """float32 kernels compute the same step to single precision."""
    kw = dict(method="anp", decorrelation=True, sigma=1e-2, lr=1e-3, seed=3)
    m64 = OnlineRNN(3, 12, 2, **kw)
    m32 = OnlineRNN(3, 12, 2, dtype=np.float32, **kw)
    U, Y = stream(20, 3, 2, 3)
    p64 = m64.learn_many(U, Y)
    p32 = m32.learn_many(U, Y)
    assert p32.dtype == np.float32
    np.testing.assert_allclose(p32, p64, atol=1e-4)


# -- the read-out extensions: skip connection and bias (eq. 1b), least squares (eq. 11-12)

READOUT_CASES = (
    [dict(method=m, readout="rls", decorrelation=d, optimizer=o)
     for m in ("anp", "np", "wp", "bp") for d in (False, True) for o in ("sgd", "adam")]
    + [dict(method=m, skip=True, bias=True, optimizer=o)
       for m in ("anp", "np", "wp", "bp") for o in ("sgd", "adam")]
    + [dict(method="anp", skip=True, decorrelation=True), dict(method="wp", bias=True),
       dict(method="anp", readout="rls", skip=False), dict(method="bp", readout="rls", bias=False,
                                                           bptt_window=3),
       dict(method="anp", readout="rls", noisy_reference=True)]
)


def assert_readout_close(model, naive, got, want, rtol=1e-10):
    assert_close(model, naive, got, want, rtol)
    scale = lambda a: max(1.0, np.abs(a).max())
    for name, arr in (("C", model.C), ("c", model.c)):
        if name in naive.W:
            assert np.abs(arr - naive.W[name]).max() <= rtol * scale(naive.W[name]), name
        else:
            assert not np.any(arr), name  # unused: stays zero
    if model.readout == "rls":
        np.testing.assert_allclose(model.W, naive.readout(), rtol=0, atol=rtol * scale(model.W))
        assert np.abs(model.P - naive.P).max() <= rtol * scale(naive.P)
        assert np.array_equal(model.P, model.P.T)


@pytest.mark.parametrize("case", READOUT_CASES,
                         ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_readout_extensions_match_naive_over_200_steps(case):
    model, naive, got, want = run_both(**case)
    if model.readout == "rls":
        assert np.abs(model.B).max() > 1e-3  # least squares has moved the read-out
    if model.skip:
        assert np.abs(model.C).max() > 1e-6
    if model.bias:
        assert np.abs(model.c).max() > 1e-6
    assert_readout_close(model, naive, got, want)


def test_readout_extensions_advance_and_predict():
    model, naive, _, _ = run_both(method="anp", readout="rls")
    U, _ = stream(30, 3, 2, 7)
    p = model.predict_one(U[0])
    got = model.advance_many(U)
    want = np.array([naive.step(u, None, learn=False) for u in U])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(p, got[0])
