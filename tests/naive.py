"""Slow, obvious NumPy implementations to check the kernels against.

Each function takes the weights, states and noise explicitly and returns new
copies; nothing here is optimised. The equations are those of
docs/algorithms.md.
"""

import numpy as np

from streamlearn._random import normal as _normal, rademacher


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


def forward(A, R, B, D, u, xs_prev, kind, xi=None, nu=None, C=None, c=None):
    """Eq. 1 (and 1b with C, c), with optional node noise: returns alpha, x, xs, y."""
    alpha = A @ u + R @ xs_prev
    if xi is not None:
        alpha = alpha + xi
    x = act(alpha, kind)
    xs = D @ x
    y = B @ xs
    if C is not None:
        y = y + C @ u
    if c is not None:
        y = y + c
    if nu is not None:
        y = y + nu
    return alpha, x, xs, y


def rls_step(P, W, z, targets, lam, p_max):
    """(R1)-(R3) of streamlearn/kernels/rls.py with whole-matrix algebra: new P and W.

    W is the read-out (O, M) and z the regressor [xs, u, 1]. P's update is
    computed on the upper triangle and mirrored, and its inflation 1 / lam is
    skipped when it would lift the largest diagonal entry above ``p_max``.
    """
    q = P @ z
    d = lam + z @ q
    g = q / d
    full = P - np.outer(g, q)
    inv = 1.0 / lam
    if np.max(np.diag(full)) * inv > p_max:
        inv = 1.0
    full = full * inv
    P = np.triu(full) + np.triu(full, 1).T
    e = targets - W @ z
    return P, W + np.outer(e, g)


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


def gradient_estimates(method, W, xs, xsn, u, target, kind, sigma, noise, rls=False):
    """The update directions (dA, dR, dB, dC, dc) of one step, and the clean output.

    ``noise`` holds what the kernel drew: for "np"/"anp" ``xi``, ``nu`` (and
    ``xi0``, ``nu0`` for a noisy reference), for "wp" ``xiA``, ``xiR``, ``xiB``
    (and ``xiC``, ``xic`` with a skip connection or bias). ``W`` may hold the
    read-out's skip weights "C" and bias "c" (eq. 1b). With ``rls`` there is no
    read-out noise and no read-out direction (None): least squares learns it.
    """
    A, R, B, D = W["A"], W["R"], W["B"], W["D"]
    C, c = W.get("C"), W.get("c")
    N, O = R.shape[0], B.shape[0]
    if method == "wp":
        alpha, x, xs_new, y = forward(A, R, B, D, u, xs, kind, C=C, c=c)
        nz = lambda k, ref: noise[k] if k in noise else (0.0 if ref is None else 0.0 * ref)
        Cn = None if C is None else C + nz("xiC", C)
        cn = None if c is None else c + nz("xic", c)
        _, _, xsn_new, yn = forward(A + noise["xiA"], R + noise["xiR"], B + nz("xiB", B),
                                    D, u, xsn, kind, C=Cn, c=cn)
        dl = loss(yn, target) - loss(y, target)
        s = dl / sigma**2
        if rls:
            return (s * noise["xiA"], s * noise["xiR"], None, None, None), y, xs_new, xsn_new
        return ((s * noise["xiA"], s * noise["xiR"], s * noise["xiB"],
                 None if C is None else s * noise["xiC"], None if c is None else s * noise["xic"]),
                y, xs_new, xsn_new)
    xi0 = noise.get("xi0", np.zeros(N))
    nu0 = noise.get("nu0", np.zeros(O))
    alpha, x, xs_new, y = forward(A, R, B, D, u, xs, kind, xi0, nu0, C=C, c=c)
    alphan, _, xsn_new, yn = forward(A, R, B, D, u, xsn, kind, noise["xi"],
                                     noise.get("nu", np.zeros(O)), C=C, c=c)
    dl = loss(yn, target) - loss(y, target)
    if method == "np":
        ga = dl * noise["xi"] / sigma**2
        gb = None if rls else dl * noise["nu"] / sigma**2
    elif method == "anp":
        da = alphan - alpha
        db = yn - y
        ga = N * dl * da / np.dot(da, da)
        gb = None if rls else O * dl * db / np.dot(db, db)
    else:
        raise ValueError(method)
    if gb is None:
        return (np.outer(ga, u), np.outer(ga, xs), None, None, None), y, xs_new, xsn_new
    return ((np.outer(ga, u), np.outer(ga, xs), np.outer(gb, xs_new),
             None if C is None else np.outer(gb, u), None if c is None else gb.copy()),
            y, xs_new, xsn_new)


def bp_backward(W, history, y, xs, target, u_t=None):
    """Truncated BPTT as the kernel does it: back through the stored
    ``history`` = [(u_j, xs_{j-1}, f'(alpha_j)), ...] (oldest first) with the
    current weights; returns (dA, dR, dB), and with ``u_t`` (dA, dR, dB, dC, dc):
    the read-out's skip weights and bias get gy u^T and gy."""
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
    if u_t is not None:
        return dA, dR, dB, np.outer(gy, u_t), gy.copy()
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


def draw_noise(method, rng_state, N, I, O, sigma, noisy_reference=False, rls=False,
               skip=False, bias=False, noise="gaussian"):
    """Replay the kernel's draws from a copy of the model's random state.

    With ``rls`` no read-out noise is drawn (no nu, no xiB); WP with a skip
    connection or bias also perturbs C and c (after xiB, row-major).
    ``noise="rademacher"`` draws +-sigma signs instead of normals, in the same
    order (each array a call of its own, so each starts on a fresh 64-bit word).
    """
    normal = {"gaussian": _normal, "rademacher": rademacher}[noise]
    if method == "wp":
        nC = O * I if skip and not rls else 0
        nc = O if bias and not rls else 0
        nB = 0 if rls else O * N
        flat = normal(rng_state, (N * I + N * N + nB + nC + nc,), sigma)
        noise = {"xiA": flat[:N * I].reshape(N, I),
                 "xiR": flat[N * I:N * I + N * N].reshape(N, N)}
        if not rls:
            off = N * I + N * N
            noise["xiB"] = flat[off:off + nB].reshape(O, N)
            if skip:
                noise["xiC"] = flat[off + nB:off + nB + nC].reshape(O, I)
            if bias:
                noise["xic"] = flat[off + nB + nC:]
        return noise
    if method == "bp":
        return {}
    noise = {"xi": normal(rng_state, (N,), sigma)}
    if not rls:
        noise["nu"] = normal(rng_state, (O,), sigma)
    if noisy_reference:
        noise["xi0"] = normal(rng_state, (N,), sigma)
        if not rls:
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
        self.noise = getattr(model, "noise", "gaussian")
        self.window = model.bptt_window
        self.W = {k: getattr(model, k).astype(np.float64).copy() for k in "ABRD"}
        self.rls = getattr(model, "readout", "perturbation") == "rls"
        self.skip = getattr(model, "skip", False)
        self.bias = getattr(model, "bias", False)
        if self.skip:
            self.W["C"] = model.C.astype(np.float64).copy()
        if self.bias:
            self.W["c"] = model.c.astype(np.float64).copy()
        if self.rls:
            self.P = model.P.copy()
            self.lam, self.p_max = model.rls_forgetting, 1e4 / model.rls_alpha
        self.xs = model.state.astype(np.float64)
        self.xsn = model.noisy_state.astype(np.float64)
        self.rng = model._rng.copy()
        self.adam = Adam(*model.adam_betas, model.adam_eps) if model.optimizer == "adam" else None
        self.history = []  # (u_j, xs_{j-1}, f'(alpha_j)) for BP

    def readout(self):
        """The read-out as one matrix [B, C, c] (eq. 11)."""
        W = self.W
        parts = [W["B"]] + ([W["C"]] if self.skip else []) + (
            [W["c"][:, None]] if self.bias else [])
        return np.hstack(parts)

    def step(self, u, target, learn=True):
        W = self.W
        N, I = W["A"].shape
        O = W["B"].shape[0]
        if self.method == "bp" or not learn:
            alpha, _, xs_new, y = forward(W["A"], W["R"], W["B"], W["D"], u, self.xs, self.kind,
                                          C=W.get("C"), c=W.get("c"))
            if self.method == "bp":
                d = dact(alpha, self.kind)
                self.history = (self.history + [(u, self.xs, d)])[-self.window:]
            if not learn:
                self.xs = self.xsn = xs_new
                return y
            grads = bp_backward(W, self.history, y, xs_new, target, u_t=u)
            if self.rls:
                grads = grads[:2] + (None, None, None)
            xsn_new = xs_new
        else:
            noise = draw_noise(self.method, self.rng, N, I, O, self.sigma, self.noisy_reference,
                               rls=self.rls, skip=self.skip, bias=self.bias,
                               noise=self.noise)
            grads, y, xs_new, xsn_new = gradient_estimates(
                self.method, W, self.xs, self.xsn, u, target, self.kind, self.sigma, noise,
                rls=self.rls)
        if self.adam is not None:
            self.adam.tick()
        for name, g in zip(("A", "R", "B", "C", "c"), grads):
            if g is None or (name in "Cc" and name not in W):
                continue
            if self.adam is None:
                W[name] = W[name] - self.lr * g
            else:
                W[name] = self.adam.step(name, W[name], g, self.lr)
        if self.rls:
            z = np.concatenate([xs_new] + ([u] if self.skip else []) + (
                [np.ones(1)] if self.bias else []))
            self.P, new = rls_step(self.P, self.readout(), z, target, self.lam, self.p_max)
            W["B"] = new[:, :N]
            if self.skip:
                W["C"] = new[:, N:N + I]
            if self.bias:
                W["c"] = new[:, -1]
        if self.decor:
            W["D"] = decorrelate(W["D"], xs_new, self.eps)
        self.xs, self.xsn = xs_new, xsn_new
        return y


class NaiveShared:
    """A plain NumPy shared model mirroring ``SharedRNN`` tick by tick.

    One set of weights, a (clean, noisy) state per key; a tick draws every
    present stream's noise in the order of its keys, forms each stream's
    estimate with ``gradient_estimates``, and applies the mean of the
    estimates (and the mean decorrelation update) once.
    """

    def __init__(self, model):
        self.method, self.kind = model.method, model.activation
        self.decor, self.lr, self.eps = model.decorrelation, model.lr, model.lr_decorrelation
        self.sigma, self.noise = model.sigma, model.noise
        self.W = {k: getattr(model, k).astype(np.float64).copy() for k in "ABRD"}
        self.states = {k: (model.state(k).astype(np.float64), model.noisy_state(k).astype(np.float64))
                       for k in model.keys}
        self.rng = model._rng.copy()
        self.adam = Adam(*model.adam_betas, model.adam_eps) if model.optimizer == "adam" else None

    def tick(self, keys, U, Y):
        W = self.W
        N, I = W["A"].shape
        O = W["B"].shape[0]
        noises = [draw_noise(self.method, self.rng, N, I, O, self.sigma, noise=self.noise)
                  for _ in keys]
        zero = np.zeros(N)
        grads, ys, new = [], [], []
        for key, u, target, noise in zip(keys, U, Y, noises):
            xs, xsn = self.states.get(key, (zero, zero))
            g, y, xs_new, xsn_new = gradient_estimates(self.method, W, xs, xsn, u, target,
                                                       self.kind, self.sigma, noise)
            grads.append(g[:3])
            ys.append(y)
            new.append((xs_new, xsn_new))
        mean = [np.mean([g[i] for g in grads], axis=0) for i in range(3)]
        if self.adam is not None:
            self.adam.tick()
        for name, g in zip("ARB", mean):
            if self.adam is None:
                W[name] = W[name] - self.lr * g
            else:
                W[name] = self.adam.step(name, W[name], g, self.lr)
        if self.decor:
            C = np.mean([np.outer(xs, xs) - np.diag(xs**2) for xs, _ in new], axis=0)
            W["D"] = W["D"] - self.eps * C @ W["D"]
        for key, state in zip(keys, new):
            self.states[key] = state
        return np.array(ys)

    def remove(self, key):
        del self.states[key]
