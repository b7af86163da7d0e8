"""Slow, obvious NumPy implementations to check the kernels against.

Each function takes the weights, states and noise explicitly and returns new
copies; nothing here is optimised. The equations are those of
docs/algorithms.md.
"""

import numpy as np

from streamlearn._random import normal


def act(a, kind):
    if kind == "tanh":
        return np.tanh(a)
    if kind == "relu":
        return np.maximum(a, 0.0)
    if kind == "identity":
        return a.copy()
    if kind == "sign":
        return np.sign(a)
    raise ValueError(kind)


def dact(a, kind):
    if kind == "tanh":
        return 1.0 - np.tanh(a) ** 2
    if kind == "relu":
        return (a > 0).astype(float)
    if kind == "identity":
        return np.ones_like(a)
    raise ValueError(kind)


def loss(y, target):
    return np.mean((y - target) ** 2)


def forward(A, R, B, D, u, xs_prev, kind, xi=None, nu=None):
    """Eq. 1, with optional node noise: returns alpha, x, xs, y."""
    alpha = A @ u + R @ xs_prev
    if xi is not None:
        alpha = alpha + xi
    x = act(alpha, kind)
    xs = D @ x
    y = B @ xs
    if nu is not None:
        y = y + nu
    return alpha, x, xs, y


class Adam:
    """Adam on a dict of named parameters."""

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8):
        self.b1, self.b2, self.eps = beta1, beta2, eps
        self.m, self.v, self.t = {}, {}, 0

    def tick(self):
        self.t += 1

    def step(self, name, W, grad, lr):
        m = self.m.get(name, np.zeros_like(W))
        v = self.v.get(name, np.zeros_like(W))
        m = self.b1 * m + (1 - self.b1) * grad
        v = self.b2 * v + (1 - self.b2) * grad**2
        self.m[name], self.v[name] = m, v
        mhat = m / (1 - self.b1**self.t)
        vhat = v / (1 - self.b2**self.t)
        return W - lr * mhat / (np.sqrt(vhat) + self.eps)


def gradient_estimates(method, W, xs, xsn, u, target, kind, sigma, noise):
    """The update directions (dA, dR, dB) of one step, and the clean output.

    ``noise`` holds what the kernel drew: for "np"/"anp" ``xi``, ``nu`` (and
    ``xi0``, ``nu0`` for a noisy reference), for "wp" ``xiA``, ``xiR``, ``xiB``.
    """
    A, R, B, D = W["A"], W["R"], W["B"], W["D"]
    N, O = R.shape[0], B.shape[0]
    if method == "wp":
        alpha, x, xs_new, y = forward(A, R, B, D, u, xs, kind)
        _, _, xsn_new, yn = forward(A + noise["xiA"], R + noise["xiR"], B + noise["xiB"],
                                    D, u, xsn, kind)
        dl = loss(yn, target) - loss(y, target)
        s = dl / sigma**2
        return (s * noise["xiA"], s * noise["xiR"], s * noise["xiB"]), y, xs_new, xsn_new
    xi0 = noise.get("xi0", np.zeros(N))
    nu0 = noise.get("nu0", np.zeros(O))
    alpha, x, xs_new, y = forward(A, R, B, D, u, xs, kind, xi0, nu0)
    alphan, _, xsn_new, yn = forward(A, R, B, D, u, xsn, kind, noise["xi"], noise["nu"])
    dl = loss(yn, target) - loss(y, target)
    if method == "np":
        ga = dl * noise["xi"] / sigma**2
        gb = dl * noise["nu"] / sigma**2
    elif method == "anp":
        da = alphan - alpha
        db = yn - y
        ga = N * dl * da / np.dot(da, da)
        gb = O * dl * db / np.dot(db, db)
    else:
        raise ValueError(method)
    return (np.outer(ga, u), np.outer(ga, xs), np.outer(gb, xs_new)), y, xs_new, xsn_new


def bp_backward(W, history, y, xs, target):
    """Truncated BPTT as the kernel does it: back through the stored
    ``history`` = [(u_j, xs_{j-1}, f'(alpha_j)), ...] (oldest first) with the
    current weights; returns (dA, dR, dB)."""
    R, B, D = W["R"], W["B"], W["D"]
    gy = 2.0 * (y - target) / len(y)
    dB = np.outer(gy, xs)
    g_xs = B.T @ gy
    dA = np.zeros_like(W["A"])
    dR = np.zeros_like(R)
    for u, xs_prev, d in reversed(history):
        g_alpha = d * (D.T @ g_xs)
        dA += np.outer(g_alpha, u)
        dR += np.outer(g_alpha, xs_prev)
        g_xs = R.T @ g_alpha
    return dA, dR, dB


def window_loss(W, us, xs_start, target, kind):
    """l_t after running ``us`` from ``xs_start`` with fixed weights W."""
    xs = xs_start
    for u in us:
        _, _, xs, y = forward(W["A"], W["R"], W["B"], W["D"], u, xs, kind)
    return loss(y, target)


def decorrelate(D, xs, eps):
    """Eq. 10: D <- D - eps (xs xs^T - diag(xs^2)) D."""
    return D - eps * (np.outer(xs, xs) - np.diag(xs**2)) @ D


def draw_noise(method, rng_state, N, I, O, sigma, noisy_reference=False):
    """Replay the kernel's draws from a copy of the model's random state."""
    if method == "wp":
        flat = normal(rng_state, (N * I + N * N + O * N,), sigma)
        return {"xiA": flat[:N * I].reshape(N, I),
                "xiR": flat[N * I:N * I + N * N].reshape(N, N),
                "xiB": flat[N * I + N * N:].reshape(O, N)}
    if method == "bp":
        return {}
    noise = {"xi": normal(rng_state, (N,), sigma), "nu": normal(rng_state, (O,), sigma)}
    if noisy_reference:
        noise["xi0"] = normal(rng_state, (N,), sigma)
        noise["nu0"] = normal(rng_state, (O,), sigma)
    return noise


class NaiveRNN:
    """A plain NumPy twin-network learner mirroring ``OnlineRNN`` step by step.

    It starts from a model's weights and random state, replays its noise with
    ``draw_noise``, and applies every rule with whole-matrix NumPy algebra.
    """

    def __init__(self, model):
        self.method = model.method
        self.kind = model.activation
        self.decor = model.decorrelation
        self.lr, self.eps = model.lr, model.lr_decorrelation
        self.sigma = model.sigma
        self.noisy_reference = model.noisy_reference
        self.window = model.bptt_window
        self.W = {k: getattr(model, k).astype(np.float64).copy() for k in "ABRD"}
        self.xs = model.state.astype(np.float64)
        self.xsn = model.noisy_state.astype(np.float64)
        self.rng = model._rng.copy()
        self.adam = Adam(*model.adam_betas, model.adam_eps) if model.optimizer == "adam" else None
        self.history = []  # (u_j, xs_{j-1}, f'(alpha_j)) for BP

    def step(self, u, target, learn=True):
        W = self.W
        N, I = W["A"].shape
        O = W["B"].shape[0]
        if self.method == "bp" or not learn:
            alpha, _, xs_new, y = forward(W["A"], W["R"], W["B"], W["D"], u, self.xs, self.kind)
            if self.method == "bp":
                d = dact(alpha, self.kind)
                self.history = (self.history + [(u, self.xs, d)])[-self.window:]
            if not learn:
                self.xs = self.xsn = xs_new
                return y
            grads = bp_backward(W, self.history, y, xs_new, target)
            xsn_new = xs_new
        else:
            noise = draw_noise(self.method, self.rng, N, I, O, self.sigma, self.noisy_reference)
            grads, y, xs_new, xsn_new = gradient_estimates(
                self.method, W, self.xs, self.xsn, u, target, self.kind, self.sigma, noise)
        if self.adam is not None:
            self.adam.tick()
        for name, g in zip("ARB", grads):
            if self.adam is None:
                W[name] = W[name] - self.lr * g
            else:
                W[name] = self.adam.step(name, W[name], g, self.lr)
        if self.decor:
            W["D"] = decorrelate(W["D"], xs_new, self.eps)
        self.xs, self.xsn = xs_new, xsn_new
        return y
