"""Adam's update of R stored transposed (kernels/optim.py ``_adam_transposed``)
against tests/naive.py's Adam, one kernel call at a time."""

import numpy as np
import pytest
from numba import njit

from naive import Adam
from streamlearn.kernels.layout import ADAM, H_BETA1, H_BETA2, H_EPS
from streamlearn.kernels.optim import _pending_general, _update_dense_t


@njit
def _lowrank(RT, j0, j1, G, P, k, lr, M, V, hyper, t, w):
    _pending_general(RT, j0, j1, G, P, k, lr, ADAM, M, V, hyper, t, w)


@njit
def _dense(RT, Xi, scale, lr, M, V, hyper, t, w):
    _update_dense_t(RT, Xi, scale, lr, ADAM, M, V, hyper, t, w)


def _setup(N, dtype, t=5):
    rng = np.random.default_rng(N)
    R = rng.standard_normal((N, N)).astype(dtype)
    M = (0.01 * rng.standard_normal((N, N))).astype(dtype)
    V = (0.01 * rng.random((N, N))).astype(dtype)
    hyper = np.zeros(8)
    hyper[H_BETA1], hyper[H_BETA2], hyper[H_EPS] = 0.9, 0.999, 1e-8
    ref = Adam(0.9, 0.999, 1e-8)
    ref.t = t
    ref.m["R"], ref.v["R"] = M.astype(np.float64), V.astype(np.float64)
    return rng, R, M, V, hyper, ref


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [1, 2])
def test_lowrank_step_is_naive_adam(k, dtype):
    N, t, lr = 37, 5, 1e-3
    rng, R, M, V, hyper, ref = _setup(N, dtype, t)
    G, P = rng.standard_normal((k, N)).astype(dtype), rng.standard_normal((k, N)).astype(dtype)
    RT = np.ascontiguousarray(R.T)
    _lowrank(RT, 0, N, G, P, k, lr, M, V, hyper, t, np.empty(N, dtype))
    grad = sum(np.outer(G[q].astype(np.float64), P[q].astype(np.float64)) for q in range(k))
    R_ref = ref.step("R", R.astype(np.float64), grad, lr)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(RT.T, R_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(M, ref.m["R"], rtol=tol, atol=tol)
    np.testing.assert_allclose(V, ref.v["R"], rtol=tol, atol=tol)


def test_a_column_band_touches_only_its_columns():
    N, t, lr = 29, 3, 1e-2
    rng, R, M, V, hyper, ref = _setup(N, np.float64, t)
    G, P = rng.standard_normal((1, N)), rng.standard_normal((1, N))
    RT, M0, V0 = np.ascontiguousarray(R.T), M.copy(), V.copy()
    _lowrank(RT, 5, 17, G, P, 1, lr, M, V, hyper, t, np.empty(N))
    R_ref = ref.step("R", R, np.outer(G[0], P[0]), lr)
    cols = slice(5, 17)
    np.testing.assert_allclose(RT.T[:, cols], R_ref[:, cols], rtol=1e-12)
    np.testing.assert_array_equal(np.delete(RT.T, np.s_[5:17], axis=1), np.delete(R, np.s_[5:17], axis=1))
    np.testing.assert_array_equal(np.delete(M, np.s_[5:17], axis=1), np.delete(M0, np.s_[5:17], axis=1))
    np.testing.assert_array_equal(np.delete(V, np.s_[5:17], axis=1), np.delete(V0, np.s_[5:17], axis=1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_step_is_naive_adam(dtype):
    N, t, lr, scale = 23, 4, 1e-3, -0.7
    rng, R, M, V, hyper, ref = _setup(N, dtype, t)
    Xi = rng.standard_normal((N, N)).astype(dtype)
    RT = np.ascontiguousarray(R.T)
    _dense(RT, Xi, scale, lr, M, V, hyper, t, np.empty(N, dtype))
    R_ref = ref.step("R", R.astype(np.float64), scale * Xi.astype(np.float64), lr)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(RT.T, R_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(M, ref.m["R"], rtol=tol, atol=tol)
