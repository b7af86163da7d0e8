"""Slow, obvious NumPy implementations to check the kernels against.

Each function takes the weights, states and noise explicitly and returns new
copies; nothing here is optimised. The equations are those of
docs/algorithms.md. ``NaiveRNN`` is the core's step, ``NaiveShared`` the
shared model's; ``NumpyForecaster`` and ``NumpyRLSForecaster`` are
``RNNForecaster``'s delayed-target rules (both read-outs) with whole matrices
and a full history (tests/test_forecaster.py, tests/test_forecaster_rls.py).
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


def _apply_in_place(W, g, optimizer, lr, moments, t):
    """W -= lr * step(g) in place, SGD or Adam (default betas, eps) at step t:
    the forecasters' optimiser."""
    if optimizer == "sgd":
        W -= lr * g
        return
    b1, b2, eps = 0.9, 0.999, 1e-8
    m, v = moments
    m[:] = b1 * m + (1 - b1) * g
    v[:] = b2 * v + (1 - b2) * g * g
    W -= lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)


class NumpyForecaster:
    """The forecaster's rule written out with whole matrices and a full history.

    Every step keeps everything (the noise matrices of WP included); when the
    value for time t arrives, each stored step s = t - k gets the loss
    difference of its output k, and the summed update is applied with SGD or
    Adam (one step per time step).
    """

    def __init__(self, net, H, method, decorrelation, sigma, lr, lr_dec, residual, rng,
                 optimizer="sgd", noise="gaussian"):
        self.optimizer = optimizer
        self.draw = {"gaussian": _normal, "rademacher": rademacher}[noise]  # the twins' noise
        self.moments = {name: [np.zeros_like(getattr(net, name)), np.zeros_like(getattr(net, name))]
                        for name in "ARB"}
        self.t = 0
        self.A, self.R, self.B, self.D = (m.copy() for m in (net.A, net.R, net.B, net.D))
        self.N = net.n_hidden
        self.H, self.method, self.decor = H, method, decorrelation
        self.sigma, self.lr, self.lr_dec, self.residual = sigma, lr, lr_dec, residual
        self.rng = rng  # a copy of the network's random stream after initialisation
        self.xs = np.zeros(self.N)
        self.xsn = np.zeros(self.N)
        self.history = []
        self.columns = []

    def add_input(self):
        N, I = self.A.shape
        new = _normal(self.rng, (N, 1), np.sqrt(2.0 / (N + I + 1)))
        self.A = np.hstack([self.A, new])
        self.moments["A"] = [np.hstack([m, np.zeros((N, 1))]) for m in self.moments["A"]]

    def apply(self, name, g):
        _apply_in_place(getattr(self, name), g, self.optimizer, self.lr, self.moments[name],
                        self.t)

    def step(self, z, u):
        N, H, s2 = self.N, self.H, self.sigma**2
        I = self.A.shape[1]
        t = len(self.history)
        gA, gR, gB = np.zeros_like(self.A), np.zeros_like(self.R), np.zeros_like(self.B)
        for k in range(1, min(t, H) + 1):
            h = self.history[t - k]
            o = k - 1
            u_s = np.concatenate([h["u"], np.zeros(I - h["u"].size)])  # new inputs read 0
            if self.method == "bp":
                gb = 2.0 * (h["y"][o] - z) / H
                delta = h["fprime"] * (self.D.T @ (self.B[o] * gb))
                gA += np.outer(delta, u_s)
                gR += np.outer(delta, h["xs_prev"])
                gB[o] = gb * h["xs"]
                continue
            dl = ((h["yn"][o] - z) ** 2 - (h["y"][o] - z) ** 2) / H
            if self.method == "anp":
                da, db = h["alphan"] - h["alpha"], h["yn"] - h["y"]
                ga = N * dl * da / (da @ da)
                gA += np.outer(ga, u_s)
                gR += np.outer(ga, h["xs_prev"])
                gB[o] = H * dl * db[o] / (db @ db) * h["xs"]
            elif self.method == "np":
                gA += dl / s2 * np.outer(h["xi"], u_s)
                gR += dl / s2 * np.outer(h["xi"], h["xs_prev"])
                gB[o] = dl / s2 * h["nu"][o] * h["xs"]
            else:  # wp
                gA[:, :h["u"].size] += dl / s2 * h["xiA"]
                gR += dl / s2 * h["xiR"]
                gB[o] = dl / s2 * h["xiB"][o]
        if t > 0:
            self.t += 1
            self.apply("A", gA)
            self.apply("R", gR)
            self.apply("B", gB)
        if self.decor and t > 0:
            xs = self.xs
            self.D -= self.lr_dec * (np.outer(xs, xs) - np.diag(xs**2)) @ self.D

        rec = {"u": u.copy(), "xs_prev": self.xs.copy()}
        A, R, B, D = self.A, self.R, self.B, self.D
        if self.method == "wp":
            noise = self.draw(self.rng, N * I + N * N + H * N, self.sigma)
            xiA = noise[:N * I].reshape(N, I)
            xiR = noise[N * I:N * I + N * N].reshape(N, N)
            xiB = noise[N * I + N * N:].reshape(H, N)
            rec.update(xiA=xiA, xiR=xiR, xiB=xiB)
            alpha = A @ u + R @ self.xs
            alphan = (A + xiA) @ u + (R + xiR) @ self.xsn
        elif self.method in ("anp", "np"):
            xi = self.draw(self.rng, N, self.sigma)
            nu = self.draw(self.rng, H, self.sigma)
            rec.update(xi=xi, nu=nu)
            alpha = A @ u + R @ self.xs
            alphan = A @ u + R @ self.xsn + xi
        else:
            alpha = A @ u + R @ self.xs
            alphan = alpha
        x, xn = np.tanh(alpha), np.tanh(alphan)
        xs, xsn = (D @ x, D @ xn) if self.decor else (x, xn)
        y = B @ xs
        if self.method == "wp":
            yn = (B + xiB) @ xsn
        elif self.method in ("anp", "np"):
            yn = B @ xsn + nu
        else:
            yn = y
        base = z if self.residual else 0.0
        rec.update(alpha=alpha, alphan=alphan, fprime=1.0 - x**2, xs=xs, y=base + y, yn=base + yn)
        self.history.append(rec)
        self.xs, self.xsn = xs, (xsn if self.method != "bp" else xs)
        return rec["y"]


class NumpyRLSForecaster:
    """readout="rls" written out plainly: one RLS (own P) per horizon, whole matrices.

    Horizon k fits (z_s, y_{s+k} - base_s) by exponentially weighted least
    squares, processing z_s when y_{s+k} arrives, with its own P_k; the kernel
    shares one P between horizons, which this checks is exact. The hidden layer
    takes one update per time step, from the step whose H targets have all
    arrived, driven by dl summed over its horizons (docs/forecasting.md).
    """

    def __init__(self, net, H, method, decorrelation, sigma, lr, lr_dec, lam, alpha, p_max,
                 rng, optimizer, clip=None, noise="gaussian"):
        self.clip = clip
        self.draw = {"gaussian": _normal, "rademacher": rademacher}[noise]  # the twins' noise
        self.scale = np.zeros(H)
        self.A, self.R, self.D = (m.copy() for m in (net.A, net.R, net.D))
        self.N = net.n_hidden
        I = self.A.shape[1]
        M = self.N + I
        self.W = np.zeros((H, M))
        self.P = [np.eye(M) / alpha for _ in range(H)]
        self.H, self.method, self.decor = H, method, decorrelation
        self.sigma, self.lr, self.lr_dec = sigma, lr, lr_dec
        self.lam, self.p_max = lam, p_max
        self.rng = rng
        self.optimizer = optimizer
        self.moments = {n: [np.zeros_like(getattr(self, n)), np.zeros_like(getattr(self, n))]
                        for n in "AR"}
        self.t_adam = 0
        self.xs = np.zeros(self.N)
        self.xsn = np.zeros(self.N)
        self.history = []

    def rls(self, k, z, target, n):
        e = target - self.W[k] @ z
        if self.clip:  # Huber-type: clip to c times the running mean |error|
            bound = self.clip * self.scale[k]
            if n > 10 and abs(e) > bound > 0.0:
                e = np.sign(e) * bound
            self.scale[k] += max(1.0 / n, 0.01) * (abs(e) - self.scale[k])
        P = self.P[k]
        q = P @ z
        d = self.lam + z @ q
        g = q / d
        inv = 1.0 / self.lam
        if np.max(np.diag(P) - g * q) * inv > self.p_max:
            inv = 1.0
        self.P[k] = (P - np.outer(g, q)) * inv
        self.W[k] += g * e

    def apply(self, name, g):
        _apply_in_place(getattr(self, name), g, self.optimizer, self.lr, self.moments[name],
                        self.t_adam)

    def step(self, z, u, base):
        N, H, s2 = self.N, self.H, self.sigma**2
        t = len(self.history)
        for k in range(1, min(t, H) + 1):
            h = self.history[t - k]
            o = k - 1
            if self.method == "bp":
                h["gx"] += 2.0 * (h["y"][o] - z) / H * self.W[o, :N]
            else:
                h["dl"] += ((h["yn"][o] - z) ** 2 - (h["y"][o] - z) ** 2) / H
            self.rls(o, h["z"], z - h["base"], t - k + 1)
        if t >= H:
            h = self.history[t - H]
            self.t_adam += 1
            if self.method == "wp":
                self.apply("A", h["dl"] / s2 * h["xiA"])
                self.apply("R", h["dl"] / s2 * h["xiR"])
            else:
                if self.method == "anp":
                    da = h["alphan"] - h["alpha"]
                    ga = N * h["dl"] * da / (da @ da)
                elif self.method == "np":
                    ga = h["dl"] / s2 * h["xi"]
                else:
                    ga = h["fprime"] * (self.D.T @ h["gx"])
                self.apply("A", np.outer(ga, h["u"]))
                self.apply("R", np.outer(ga, h["xs_prev"]))
        if self.decor and t > 0:
            xs = self.xs
            self.D -= self.lr_dec * (np.outer(xs, xs) - np.diag(xs**2)) @ self.D

        A, R, D = self.A, self.R, self.D
        I = A.shape[1]
        rec = {"u": u.copy(), "xs_prev": self.xs.copy(), "dl": 0.0, "gx": np.zeros(N),
               "base": base}
        alpha = A @ u + R @ self.xs
        if self.method == "wp":
            noise = self.draw(self.rng, N * I + N * N, self.sigma)
            rec["xiA"] = noise[:N * I].reshape(N, I)
            rec["xiR"] = noise[N * I:].reshape(N, N)
            alphan = (A + rec["xiA"]) @ u + (R + rec["xiR"]) @ self.xsn
        elif self.method in ("anp", "np"):
            rec["xi"] = self.draw(self.rng, N, self.sigma)
            alphan = A @ u + R @ self.xsn + rec["xi"]
        else:
            alphan = alpha
        x, xn = np.tanh(alpha), np.tanh(alphan)
        xs, xsn = (D @ x, D @ xn) if self.decor else (x, xn)
        z_s = np.concatenate([xs, u])
        rec.update(alpha=alpha, alphan=alphan, fprime=1.0 - x**2, z=z_s,
                   y=base + self.W @ z_s, yn=base + self.W @ np.concatenate([xsn, u]))
        self.history.append(rec)
        self.xs, self.xsn = xs, xsn
        return rec["y"]
