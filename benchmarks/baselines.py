"""The same arithmetic as one learning step, done as a sequence of BLAS calls.

These are the comparison points of target 1 and 2 (docs/benchmarks.md): each
function is one step of a method on 1 input and 1 output, with R and D in
Fortran order so that SciPy hands them to BLAS without copying, and every
rank-1 update done in place (``overwrite_a``). What BLAS cannot express (the
activation, the row scaling diag(1 + eps xs^2) D of eq. 10, the noise) is
done with NumPy.
"""

import numpy as np
from scipy.linalg import blas


class BlasStep:
    """State of a network stepped with BLAS calls."""

    def __init__(self, n_hidden, method="anp", decorrelation=True, seed=0,
                 lr=1e-3, eps=1e-4, sigma=1e-3):
        rng = np.random.default_rng(seed)
        N = n_hidden
        self.N, self.method, self.decor = N, method, decorrelation
        self.lr, self.eps, self.sigma = lr, eps, sigma
        self.rng = rng
        self.A = rng.normal(size=(N, 1)) * np.sqrt(2 / (N + 1))
        self.R = np.asfortranarray(rng.normal(size=(N, N)) * np.sqrt(1 / N))
        self.B = rng.normal(size=(1, N)) * np.sqrt(2 / (N + 1))
        self.D = np.asfortranarray(np.eye(N))
        self.X2 = np.zeros((N, 2), order="F")  # clean and noisy xs
        self.xiR = np.zeros((N, N), order="F")

    def step(self, u, y):
        m = self.method
        if m in ("anp", "np"):
            return self._node(u, y)
        if m == "wp":
            return self._weight(u, y)
        return self._bp(u, y)

    def _decorrelate(self, xs):
        # eq. 10: D <- D - eps (xs xs^T - diag(xs^2)) D = diag(1 + eps xs^2) D - eps xs w^T
        w = blas.dgemv(1.0, self.D, xs, trans=1)
        self.D *= (1.0 + self.eps * xs * xs)[:, None]
        blas.dger(-self.eps, xs, w, a=self.D, overwrite_a=1)

    def _node(self, u, y):
        N, lr = self.N, self.lr
        xs_prev = self.X2[:, 0].copy()
        alpha2 = blas.dgemm(1.0, self.R, self.X2)  # R [xs, xs~]
        alpha2 += (self.A @ u)[:, None]
        xi = self.rng.standard_normal(N) * self.sigma
        nu = self.rng.standard_normal(1) * self.sigma
        alpha2[:, 1] += xi
        x2 = np.tanh(alpha2)
        xs2 = blas.dgemm(1.0, self.D, x2) if self.decor else x2
        yy = self.B @ xs2
        yc, yn = yy[:, 0], yy[:, 1] + nu
        dl = np.mean((yn - y) ** 2) - np.mean((yc - y) ** 2)
        if self.method == "np":
            ga, gb = dl * xi / self.sigma**2, dl * nu / self.sigma**2
        else:
            da, db = alpha2[:, 1] - alpha2[:, 0], yn - yc
            ga, gb = N * dl * da / (da @ da), dl * db / (db @ db)
        blas.dger(-lr, ga, xs_prev, a=self.R, overwrite_a=1)
        self.A -= lr * np.outer(ga, u)
        xs = np.ascontiguousarray(xs2[:, 0])
        self.B -= lr * np.outer(gb, xs)
        if self.decor:
            self._decorrelate(xs)
        self.X2[:] = xs2
        return yc

    def _weight(self, u, y):
        N, lr, s = self.N, self.lr, self.sigma
        xs, xsn = self.X2[:, 0], self.X2[:, 1]
        xiA = self.rng.standard_normal((N, 1)) * s
        self.xiR[:] = self.rng.standard_normal((N, N)).T
        self.xiR *= s
        xiB = self.rng.standard_normal((1, N)) * s
        alpha = blas.dgemv(1.0, self.R, xs) + self.A @ u
        alphan = blas.dgemv(1.0, self.R, xsn) + (self.A + xiA) @ u
        alphan = blas.dgemv(1.0, self.xiR, xsn, beta=1.0, y=alphan, overwrite_y=1)
        x2 = np.tanh(np.stack([alpha, alphan], 1))
        x2 = np.asfortranarray(x2)
        xs2 = blas.dgemm(1.0, self.D, x2) if self.decor else x2
        yc = self.B @ xs2[:, 0]
        yn = (self.B + xiB) @ xs2[:, 1]
        dl = np.mean((yn - y) ** 2) - np.mean((yc - y) ** 2)
        f = lr * dl / s**2
        self.A -= f * xiA
        R1 = self.R.reshape(-1, order="F")
        blas.daxpy(self.xiR.reshape(-1, order="F"), R1, a=-f)
        self.B -= f * xiB
        xs_new = np.ascontiguousarray(xs2[:, 0])
        if self.decor:
            self._decorrelate(xs_new)
        self.X2[:] = xs2
        return yc

    def _bp(self, u, y):
        N, lr = self.N, self.lr
        xs_prev = self.X2[:, 0].copy()
        alpha = blas.dgemv(1.0, self.R, xs_prev) + self.A @ u
        x = np.tanh(alpha)
        xs = blas.dgemv(1.0, self.D, x) if self.decor else x
        yc = self.B @ xs
        gb = 2.0 * (yc - y)
        g_xs = self.B.T @ gb
        g_x = blas.dgemv(1.0, self.D, g_xs, trans=1) if self.decor else g_xs
        ga = (1.0 - x * x) * g_x
        blas.dger(-lr, ga, xs_prev, a=self.R, overwrite_a=1)
        self.A -= lr * np.outer(ga, u)
        self.B -= lr * np.outer(gb, xs)
        if self.decor:
            self._decorrelate(xs)
        self.X2[:, 0] = xs
        self.X2[:, 1] = xs
        return yc
