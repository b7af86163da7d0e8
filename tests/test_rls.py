"""The RLS read-out kernels against closed-form weighted least squares."""

import numpy as np
import pytest

from streamlearn.kernels.rls import _rls_apply, _rls_gain, _rls_restart


def _run(Z, y, lam, alpha, p_max=1e12):
    M = Z.shape[1]
    P = np.empty((M, M))
    _rls_restart(P, alpha)
    w, gain, q = np.zeros(M), np.zeros(M), np.zeros(M)
    for z, t in zip(Z, y):
        assert _rls_gain(P, z, lam, p_max, gain, q)
        _rls_apply(w, z, gain, t)
    return w, P


@pytest.mark.parametrize("lam", [1.0, 0.99])
def test_rls_equals_exponentially_weighted_ridge(lam):
    rng = np.random.default_rng(0)
    T, M, alpha = 300, 6, 1e-2
    Z = rng.normal(size=(T, M))
    y = Z @ rng.normal(size=M) + 0.1 * rng.normal(size=T)
    w, P = _run(Z, y, lam, alpha)
    weights = lam ** np.arange(T - 1, -1, -1)
    G = (Z * weights[:, None]).T @ Z + lam ** T * alpha * np.eye(M)
    np.testing.assert_allclose(w, np.linalg.solve(G, (Z * weights[:, None]).T @ y),
                               rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(P, np.linalg.inv(G), rtol=1e-7, atol=1e-10)
    assert np.array_equal(P, P.T)


def test_wind_up_is_capped_and_lost_definiteness_is_refused():
    M = 3
    P = np.empty((M, M))
    _rls_restart(P, 1.0)
    gain, q = np.zeros(M), np.zeros(M)
    z = np.array([1.0, 0.0, 0.0])  # excites one direction only
    for _ in range(2000):
        assert _rls_gain(P, z, 0.99, 1e3, gain, q)
    assert P.max() <= 1e3 and np.all(np.linalg.eigvalsh(P) > 0)
    bad = -np.eye(M)
    before = bad.copy()
    assert not _rls_gain(bad, np.ones(M), 0.99, 1e3, gain, q)
    assert np.array_equal(bad, before)
