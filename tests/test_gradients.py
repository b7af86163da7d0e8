"""The perturbation rules estimate the gradient they claim; BP is exact.

Each update is read back from the model as (W_before - W_after) / lr after one
SGD step of the jitted kernel, from a fixed state and input where both twins
agree, so the estimate is that of the exact one-step gradient of l_t.
"""

import numpy as np
import pytest

from streamlearn import OnlineRNN

from naive import NaiveRNN, bp_backward, dact, forward, window_loss

N_IN, N_HIDDEN, N_OUT = 3, 8, 2


def fixed_point(method, decorrelation, seed=0, **kw):
    """A model at a non-trivial state, with a non-identity D when decorrelating."""
    model = OnlineRNN(N_IN, N_HIDDEN, N_OUT, method=method, decorrelation=decorrelation,
                      lr=1.0, sigma=1e-3, seed=seed, lr_decorrelation=1e-12, **kw)
    rng = np.random.default_rng(seed)
    if decorrelation:
        model.D[:] = np.eye(N_HIDDEN) + 0.2 * rng.normal(size=(N_HIDDEN, N_HIDDEN))
    model.advance_many(rng.normal(size=(5, N_IN)))
    u = rng.normal(size=N_IN)
    target = rng.normal(size=N_OUT)
    return model, u, target


def exact_gradient(model, u, target):
    naive = NaiveRNN(model)
    alpha, _, xs, y = forward(naive.W["A"], naive.W["R"], naive.W["B"], naive.W["D"], u,
                              naive.xs, model.activation)
    history = [(u, naive.xs, dact(alpha, model.activation))]
    return bp_backward(naive.W, history, y, xs, target)


def one_update(model, u, target):
    """The step direction (dA, dR, dB) of one learn_one, leaving the model as it was."""
    before = [model.A.copy(), model.R.copy(), model.B.copy(), model.D.copy()]
    state = model._state.copy()
    model.learn_one(u, target)
    update = [(b - getattr(model, k)) / model.lr for b, k in zip(before, "ARB")]
    for k, b in zip("ARBD", before):
        getattr(model, k)[:] = b
    model._state[:] = state
    return update


def cosine(a, b):
    a, b = a.ravel(), b.ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
@pytest.mark.parametrize("decorrelation", [False, True])
@pytest.mark.parametrize("method", ["np", "anp", "wp"])
def test_mean_update_aligns_with_exact_gradient(method, decorrelation, noise):
    model, u, target = fixed_point(method, decorrelation, noise=noise)
    exact = exact_gradient(model, u, target)
    draws = 10_000
    total = [np.zeros_like(g) for g in exact]
    for _ in range(draws):
        for acc, g in zip(total, one_update(model, u, target)):
            acc += g
    mean = [t / draws for t in total]
    for name, m, g in zip("ARB", mean, exact):
        assert cosine(m, g) >= 0.9, (name, cosine(m, g))
    # NP and WP are unbiased, and ANP with the layer-width scale too: the
    # mean update has the gradient's size, not only its direction
    for m, g in zip(mean, exact):
        assert 0.7 < np.linalg.norm(m) / np.linalg.norm(g) < 1.3


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_single_draws_are_noisy(noise):
    """The alignment above comes from averaging: one draw alone is far off."""
    model, u, target = fixed_point("np", False, noise=noise)
    exact = exact_gradient(model, u, target)
    cos = [cosine(one_update(model, u, target)[1], exact[1]) for _ in range(50)]
    assert np.median(np.abs(cos)) < 0.7


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("decorrelation", [False, True])
@pytest.mark.parametrize("window", [1, 3])
def test_bp_gradient_matches_finite_differences(window, decorrelation, activation):
    model, u, target = fixed_point("bp", decorrelation, bptt_window=window,
                                   activation=activation)
    rng = np.random.default_rng(1)
    xs_start = model.state
    us = [rng.normal(size=N_IN) for _ in range(window - 1)] + [u]
    for v in us[:-1]:  # fill the window with fixed weights
        model.advance_one(v)
    W = {k: getattr(model, k).copy() for k in "ARBD"}
    got = one_update(model, u, target)
    h = 1e-6
    for name, g in zip("ARB", got):
        fd = np.zeros_like(g)
        for idx in np.ndindex(g.shape):
            plus = {k: v.copy() for k, v in W.items()}
            minus = {k: v.copy() for k, v in W.items()}
            plus[name][idx] += h
            minus[name][idx] -= h
            fd[idx] = (window_loss(plus, us, xs_start, target, activation)
                       - window_loss(minus, us, xs_start, target, activation)) / (2 * h)
        rel = np.linalg.norm(g - fd) / np.linalg.norm(fd)
        assert rel <= 1e-6, (name, rel)


def test_bptt_window_changes_the_gradient():
    """A longer window is a different (deeper) gradient, not the same one."""
    grads = []
    for window in (1, 4):
        model, u, target = fixed_point("bp", False, bptt_window=window)
        for v in np.random.default_rng(2).normal(size=(3, N_IN)):
            model.advance_one(v)
        grads.append(one_update(model, u, target)[1])
    assert np.linalg.norm(grads[0] - grads[1]) > 1e-3 * np.linalg.norm(grads[0])


@pytest.mark.parametrize("method", ["anp", "np", "bp"])
def test_hidden_update_aligns_with_exact_gradient_under_the_rls_read_out(method):
    """With readout="rls" the twins' outputs come from W [xs, u, 1]; the A and R
    updates still estimate the exact gradient of l_t, which flows through W's
    state block (for BP it is that gradient)."""
    model, u, target = fixed_point(method, False, readout="rls")
    rng = np.random.default_rng(5)
    model.B[:] = rng.normal(size=model.B.shape)
    model.C[:] = rng.normal(size=model.C.shape)
    model.c[:] = rng.normal(size=model.c.shape)
    model.refresh_bounds()
    naive = NaiveRNN(model)
    W = naive.W
    alpha, _, xs, y = forward(W["A"], W["R"], W["B"], W["D"], u, naive.xs, model.activation,
                              C=W["C"], c=W["c"])
    exact = bp_backward(W, [(u, naive.xs, dact(alpha, model.activation))], y, xs, target)[:2]
    keep = [model.B.copy(), model.C.copy(), model.c.copy(), model.P.copy()]

    def update():
        got = one_update(model, u, target)[:2]
        for arr, b in zip((model.B, model.C, model.c, model.P), keep):
            arr[:] = b  # least squares moved the read-out: put it back
        return got

    draws = 1 if method == "bp" else 10_000
    total = [np.zeros_like(g) for g in exact]
    for _ in range(draws):
        for acc, g in zip(total, update()):
            acc += g
    for name, t, g in zip("AR", total, exact):
        m = t / draws
        if method == "bp":
            np.testing.assert_allclose(m, g, rtol=1e-10, atol=1e-14)
        else:
            assert cosine(m, g) >= 0.9, (name, cosine(m, g))
            assert 0.7 < np.linalg.norm(m) / np.linalg.norm(g) < 1.3
