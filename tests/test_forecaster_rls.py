"""RNNForecaster with the least-squares read-out: against H independent RLS fits in NumPy."""

import pickle

import numpy as np
import pytest

from streamlearn._random import normal, rademacher
from streamlearn.forecaster import RNNForecaster


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
        self.draw = {"gaussian": normal, "rademacher": rademacher}[noise]  # the twins' noise
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
        W = getattr(self, name)
        if self.optimizer == "sgd":
            W -= self.lr * g
            return
        b1, b2, eps = 0.9, 0.999, 1e-8
        m, v = self.moments[name]
        m[:] = b1 * m + (1 - b1) * g
        v[:] = b2 * v + (1 - b2) * g * g
        t = self.t_adam
        W -= self.lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)

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


CASES = [(m, d, "sgd", None, "gaussian") for m in ("anp", "np", "wp", "bp")
         for d in (False, True)] + [
    (m, True, "adam", 3.0, "gaussian") for m in ("anp", "np", "wp", "bp")] + [
    ("anp", False, "sgd", 1.0, "gaussian")] + [
    ("anp", True, "sgd", None, "rademacher"), ("np", False, "sgd", None, "rademacher"),
    ("wp", False, "sgd", None, "rademacher"), ("wp", True, "adam", 3.0, "rademacher")]


@pytest.mark.parametrize("method,decorrelation,optimizer,clip,noise", CASES)
def test_rls_forecaster_equals_independent_least_squares_per_horizon(
        method, decorrelation, optimizer, clip, noise):
    H, N, T, L = 4, 7, 80, 2
    lr = {"anp": 1e-2, "np": 1e-4, "wp": 1e-6, "bp": 1e-2}[method]
    if optimizer == "adam":
        lr = 1e-3
    model = RNNForecaster(max_horizon=H, n_hidden=N, method=method, lr=lr, lags=L,
                          optimizer=optimizer, decorrelation=decorrelation,
                          lr_decorrelation=1e-2, seed=11, scale_target=False,
                          rls_forgetting=0.98, rls_alpha=0.1, exogenous=False,
                          rls_clip=clip, gate=False, noise=noise)
    net = model.network
    ref = NumpyRLSForecaster(net, H, method, decorrelation, model.sigma, lr, 1e-2, 0.98, 0.1,
                             model._rls[2], net._rng.copy(), optimizer, clip, noise)
    A0, R0 = net.A.copy(), net.R.copy()
    rng = np.random.default_rng(0)
    series = np.sin(np.arange(T) / 3.0) + 0.1 * rng.normal(size=T)
    for t in range(T):
        model.learn_one(float(series[t]))
        lags = [series[t - i] if t - i >= 0 else 0.0 for i in range(1, L + 1)]
        u = np.array([1.0, series[t]] + lags)
        y_ref = ref.step(series[t], u, series[t])
        np.testing.assert_allclose(model.forecast(H), y_ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model._W, ref.W, rtol=1e-8, atol=1e-10)
    for got, want in ((net.A, ref.A), (net.R, ref.R), (net.D, ref.D)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # both the read-out and the hidden layer learned
    assert np.abs(model._W).max() > 0.1
    assert not np.allclose(net.A, A0) and not np.allclose(net.R, R0)


def _stream(T, seed=0):
    rng = np.random.default_rng(seed)
    return 20.0 + 5.0 * np.sin(np.arange(T) * 2 * np.pi / 24) + rng.normal(size=T)


def test_rls_forecaster_beats_persistence_on_a_daily_cycle():
    y = _stream(3000)
    model = RNNForecaster(max_horizon=6, n_hidden=20, lags=24, seed=0)
    errs, pers = np.zeros(6), np.zeros(6)
    F = []
    for t, v in enumerate(y):
        model.learn_one(float(v))
        F.append(model.forecast(6))
    F = np.array(F)
    for h in range(1, 7):
        idx = np.arange(1500, 3000 - h)
        errs[h - 1] = np.abs(F[idx, h - 1] - y[idx + h]).mean()
        pers[h - 1] = np.abs(y[idx] - y[idx + h]).mean()
    assert np.all(errs < 0.8 * pers), errs / pers


def test_gate_returns_persistence_where_the_model_is_currently_worse():
    y = _stream(600, seed=1)
    y[300:320] -= 40.0  # an outage: the lags mislead the read-out for a while
    gated = RNNForecaster(max_horizon=6, n_hidden=10, lags=6, seed=0)
    plain = RNNForecaster(max_horizon=6, n_hidden=10, lags=6, seed=0, gate=False)
    switched = 0
    for v in y:
        gated.learn_one(float(v))
        plain.learn_one(float(v))
        worse = gated._track[0] > gated._track[1]
        want = np.where(worse, float(v), plain.forecast(6))
        np.testing.assert_allclose(gated.forecast(6), want, rtol=1e-12)
        switched += worse.any()
    assert 0 < switched < len(y)


def test_gate_keeps_waterflow_at_persistence():
    from river import datasets
    y = np.array([v for _, v in datasets.WaterFlow()])
    model = RNNForecaster(max_horizon=6, seed=0, lags=24, exogenous=False)
    F = []
    for v in y:
        model.learn_one(float(v))
        F.append(model.forecast(6))
    F = np.array(F)
    for h in (1, 6):
        idx = np.arange(len(y) // 2, len(y) - h)
        ratio = np.abs(F[idx, h - 1] - y[idx + h]).mean() / np.abs(y[idx] - y[idx + h]).mean()
        assert ratio <= 1.02, (h, ratio)


def test_rls_forecaster_pickle_and_checkpoint_continue_exactly(tmp_path):
    y = _stream(400, seed=3)
    a = RNNForecaster(max_horizon=5, n_hidden=10, lags=3, method="anp", decorrelation=True,
                      seed=4)
    for v in y[:200]:
        a.learn_one(float(v), {"f": float(v) * 0.1})
    b = pickle.loads(pickle.dumps(a))
    a.save(tmp_path / "f.ckpt")
    c = RNNForecaster.load(tmp_path / "f.ckpt")
    for v in y[200:]:
        for m in (a, b, c):
            m.learn_one(float(v), {"f": float(v) * 0.1})
        assert a.forecast(5) == b.forecast(5) == c.forecast(5)


def test_rls_parameters_are_checked():
    with pytest.raises(ValueError, match="readout"):
        RNNForecaster(readout="ridge")
    with pytest.raises(ValueError, match="rls_forgetting"):
        RNNForecaster(rls_forgetting=1.5)
    with pytest.raises(ValueError, match="rls_alpha"):
        RNNForecaster(rls_alpha=0.0)
    with pytest.raises(ValueError, match="rls_clip"):
        RNNForecaster(rls_clip=-1.0)
    with pytest.raises(ValueError, match="lags"):
        RNNForecaster(lags=-1)
    with pytest.raises(ValueError, match="noisy_reference"):
        RNNForecaster(noisy_reference=True)
