"""Tests for streamlearn.datasets."""

from pathlib import Path

import numpy as np
import pytest

from streamlearn import datasets
from streamlearn.datasets import mackey_glass, mackey_glass_series


# --------------------------------------------------------------------- Mackey-Glass
def test_mackey_glass_series_shape_dtype_and_mean():
    s = mackey_glass_series(1000, seed=3)
    assert s.shape == (1000,)
    assert s.dtype == np.float64
    assert abs(s.mean()) < 1e-12
    assert np.all(np.isfinite(s))


def test_mackey_glass_series_statistics_are_those_of_the_chaotic_attractor():
    # tau=17 oscillates roughly between 0.4 and 1.3, so tanh(x - 1) spans about
    # [-0.55, 0.3] before de-meaning: a std near 0.2, never near 0 (a fixed point)
    # and never above 1 (tanh bound).
    s = mackey_glass_series(5000, seed=0)
    assert 0.1 < s.std() < 0.35
    assert s.max() - s.min() > 0.5
    assert s.max() - s.min() < 1.2
    # chaotic, not periodic with a short period: many distinct local maxima
    peaks = s[1:-1][(s[1:-1] > s[:-2]) & (s[1:-1] > s[2:])]
    assert len(np.unique(np.round(peaks, 3))) > 20


def test_mackey_glass_integrator_satisfies_the_euler_recursion():
    # substeps=1: every sample is one Euler step of the delay equation.
    tau = 17
    history = np.linspace(1.1, 1.3, tau + 1)
    x = np.concatenate([history, datasets._integrate_mackey_glass(history, 300, 1)])
    k = np.arange(tau, len(x) - 1)
    d = x[k - tau]
    expected = x[k] + 0.2 * d / (1 + d**10) - 0.1 * x[k]
    np.testing.assert_allclose(x[k + 1], expected, rtol=0, atol=1e-14)


def test_mackey_glass_integrator_substeps_converge():
    # Finer Euler grids agree with each other better than with a coarse one.
    hist = lambda n: np.full(17 * n + 1, 1.2)  # noqa: E731
    x10 = datasets._integrate_mackey_glass(hist(10), 60, 10)
    x20 = datasets._integrate_mackey_glass(hist(20), 60, 20)
    x1 = datasets._integrate_mackey_glass(hist(1), 60, 1)
    assert np.abs(x10 - x20).max() < np.abs(x1 - x20).max()


def test_mackey_glass_series_is_squashed_and_demeaned_integration():
    rng = np.random.default_rng(9)
    history = 1.2 + 0.2 * (rng.random(17 * 10 + 1) - 0.5)
    raw = datasets._integrate_mackey_glass(history, 350, 10)
    s = np.tanh(raw[100:] - 1.0)
    np.testing.assert_allclose(mackey_glass_series(250, seed=9), s - s.mean(), atol=1e-15)


def test_mackey_glass_series_seeding():
    a = mackey_glass_series(300, seed=7)
    b = mackey_glass_series(300, seed=7)
    c = mackey_glass_series(300, seed=8)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_mackey_glass_series_does_not_touch_global_rng():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    mackey_glass_series(50, seed=None)
    assert np.random.random() == expected


def test_mackey_glass_washout_drops_leading_samples():
    # Same seed and integration: the washout only shifts the window (before de-meaning).
    a = mackey_glass_series(300, washout=0, seed=2)
    b = mackey_glass_series(200, washout=100, seed=2)
    a_raw = a[100:] - a[100:].mean()
    assert np.allclose(a_raw, b)


def test_mackey_glass_targets_are_shifted_inputs():
    U, Y = mackey_glass(500, horizon=15, seed=4)
    assert U.shape == (500, 1) and Y.shape == (500, 1)
    assert U.dtype == np.float64 and Y.dtype == np.float64
    assert np.array_equal(U[15:, 0], Y[:-15, 0])
    assert not np.allclose(U, Y)
    s = mackey_glass_series(515, seed=4)
    assert np.array_equal(U[:, 0], s[:500])
    assert np.array_equal(Y[:, 0], s[15:])


def test_mackey_glass_defaults_match_paper():
    U, Y = mackey_glass(seed=0)
    assert U.shape == (5000, 1)
    assert np.array_equal(U[15:], Y[:-15])


def test_mackey_glass_different_seeds_give_different_sequences():
    U1, _ = mackey_glass(100, seed=0)
    U2, _ = mackey_glass(100, seed=1)
    assert not np.allclose(U1, U2)


@pytest.mark.parametrize("kwargs", [dict(n_steps=0), dict(horizon=-1)])
def test_mackey_glass_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        mackey_glass(**{"n_steps": 10, **kwargs})
