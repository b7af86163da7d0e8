"""Single kernels against the single equations of tests/naive.py.

The whole-step tests (test_reference.py, test_performance_paths.py) would
find an error too, but not where it is; these name the kernel. Kernels called
only from kernels have no Python wrapper (streamlearn/_jit.py), so each is
called through a small jitted trampoline.
"""

import numpy as np
import pytest
from numba import njit

from naive import Adam, decorrelate, loss
from streamlearn.kernels.decorrelation import _d_rows, _decor_factors, _decorrelate
from streamlearn.kernels.guard import _guard_commit
from streamlearn.kernels.layout import H_BETA1, H_BETA2, H_DMAX, H_EPS, H_LR_DEC, H_MAX_WEIGHT, H_WMAX, N_HYPER
from streamlearn.kernels.network import _r_rows
from streamlearn.kernels.optim import _update_lowrank
from streamlearn.kernels.rules import _scaled_direction, _sq_loss


@njit
def decorrelate_kernel(D, xs, eps):
    w = np.empty(D.shape[0])
    _decorrelate(D, xs, w, eps)


@njit
def d_rows_kernel(DT, xsp, eps, x, xn, xs_new, xsn_new):
    N = DT.shape[0]
    da, db, acc = np.empty(N), np.empty(N), np.empty(8)
    _decor_factors(xsp, eps, da, db)
    _d_rows(DT, 0, N, True, xsp, da, db, x, xn, xs_new, xsn_new, acc)


@njit
def r_rows_kernel(RT, gl, P0, xs, xsn, alpha, alphan):
    N = RT.shape[0]
    _r_rows(RT, 0, N, 0, N, gl, P0, True, xs, xsn, alpha, alphan)


@njit
def update_lowrank_kernel(W, G, P, k, lr, opt, M, V, hyper, t):
    _update_lowrank(W, G, P, k, lr, opt, M, V, hyper, t)


@njit
def scaled_direction_kernel(d, scale, out):
    _scaled_direction(d, scale, out)


@njit
def sq_loss_kernel(y, target):
    return _sq_loss(y, target)


@njit
def guard_kernel(A, RT, B, C, cb, DT, hyper, delta, decor, xs_new):
    return _guard_commit(A, RT, B, C, cb, DT, hyper, delta, decor, xs_new)


@pytest.fixture
def rng():
    return np.random.default_rng(3)


@pytest.mark.parametrize("N", [1, 5, 13, 24])  # the 8- and 4-row blocks and the rest
def test_decorrelation_update_is_eq_10(rng, N):
    D = np.eye(N) + 0.1 * rng.normal(size=(N, N))
    xs = rng.normal(size=N)
    want = decorrelate(D, xs, 1e-2)
    decorrelate_kernel(D, xs, 1e-2)
    np.testing.assert_allclose(D, want, rtol=0, atol=1e-13)


@pytest.mark.parametrize("N", [1, 5, 13, 24])
def test_fused_decorrelation_pass_updates_d_then_multiplies(rng, N):
    """One pass over D^T: eq. 10 with the previous xs, then xs_new = D_new x for both twins."""
    D = np.eye(N) + 0.1 * rng.normal(size=(N, N))
    xsp, x, xn = rng.normal(size=(3, N))
    D_new = decorrelate(D, xsp, 1e-2)
    DT = D.T.copy()
    xs_new, xsn_new = np.zeros(N), np.zeros(N)
    d_rows_kernel(DT, xsp, 1e-2, x, xn, xs_new, xsn_new)
    np.testing.assert_allclose(DT.T, D_new, rtol=0, atol=1e-13)
    np.testing.assert_allclose(xs_new, D_new @ x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(xsn_new, D_new @ xn, rtol=0, atol=1e-12)


@pytest.mark.parametrize("N", [1, 6, 13])
def test_fused_recurrent_pass_applies_pending_rank1_then_multiplies(rng, N):
    R = rng.normal(size=(N, N)) / N
    gl, P0, xs, xsn = rng.normal(size=(4, N))
    alpha0, alphan0 = rng.normal(size=(2, N))
    R_new = R - np.outer(gl, P0)
    RT = R.T.copy()
    alpha, alphan = alpha0.copy(), alphan0.copy()
    r_rows_kernel(RT, gl, P0, xs, xsn, alpha, alphan)
    np.testing.assert_allclose(RT.T, R_new, rtol=0, atol=1e-14)
    np.testing.assert_allclose(alpha, alpha0 + R_new @ xs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(alphan, alphan0 + R_new @ xsn, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("opt", [0, 1])  # SGD, Adam
def test_low_rank_update_is_eq_9(rng, k, opt):
    W = rng.normal(size=(4, 6))
    G, P = rng.normal(size=(k, 4)), rng.normal(size=(k, 6))
    grad = G.T @ P  # sum_q G[q] P[q]^T
    hyper = np.zeros(N_HYPER)
    hyper[H_BETA1], hyper[H_BETA2], hyper[H_EPS] = 0.9, 0.999, 1e-8
    M, V = np.zeros_like(W), np.zeros_like(W)
    adam = Adam()
    want = W.copy()
    for t in (1, 2, 3):
        if opt == 0:
            want = want - 1e-2 * grad
        else:
            adam.tick()
            want = adam.step("W", want, grad, 1e-2)
        update_lowrank_kernel(W, G, P, k, 1e-2, opt, M, V, hyper, t)
    np.testing.assert_allclose(W, want, rtol=0, atol=1e-12)


def test_anp_direction_is_eq_5(rng):
    d = rng.normal(size=7)
    out = np.empty(7)
    scaled_direction_kernel(d, 0.3, out)
    np.testing.assert_allclose(out, 0.3 * d / (d @ d), rtol=1e-14)
    scaled_direction_kernel(np.zeros(7), 0.3, out)  # no direction, no step
    assert not out.any()


def test_loss_is_eq_2(rng):
    y, target = rng.normal(size=(2, 5))
    assert sq_loss_kernel(y, target) == pytest.approx(loss(y, target), rel=1e-15)


def test_guard_refuses_a_step_that_could_cross_max_weight(rng):
    N, I, O = 4, 2, 1
    A, B = 0.5 * np.ones((N, I)), 0.5 * np.ones((O, N))
    RT, DT = 0.5 * np.ones((N, N)), np.eye(N)
    C, cb = np.zeros((O, I)), np.zeros(O)
    hyper = np.zeros(N_HYPER)
    hyper[H_MAX_WEIGHT], hyper[H_WMAX], hyper[H_DMAX], hyper[H_LR_DEC] = 1.0, 0.5, 1.0, 0.0
    xs = np.zeros(N)
    assert guard_kernel(A, RT, B, C, cb, DT, hyper, 0.4, False, xs)
    assert hyper[H_WMAX] == pytest.approx(0.9)  # the running bound grew by the step
    before = hyper.copy()
    assert not guard_kernel(A, RT, B, C, cb, DT, hyper, 0.6, False, xs)  # 0.5 + 0.6 > 1
    np.testing.assert_array_equal(hyper, before)  # a refused step changes nothing
    assert not guard_kernel(A, RT, B, C, cb, DT, hyper, np.nan, False, xs)
