"""Smoke tests of the forecasting benchmark (benchmarks/forecast.py): short series, fast."""

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import forecast as F  # noqa: E402  (the repository root is on sys.path)


def test_scoring_and_persistence():
    y = np.arange(20.0)
    P = np.repeat(y[:, None], 3, axis=1) + np.arange(1, 4)  # exact forecasts
    mae, pers = F.score(P, y, 3, 10)
    assert np.allclose(mae, 0) and np.allclose(pers, [1, 2, 3])
    P, _ = F.run_stream(F.Persistence(3), y, [None] * 20, 3)
    assert np.allclose(F.score(P, y, 3, 10)[0], [1, 2, 3])


def test_seasonal_naive_is_the_same_phase():
    m, H = 5, 7
    y = np.tile(np.arange(m, dtype=float), 6)
    P, _ = F.run_stream(F.SeasonalNaive(H, m=m), y, [None] * len(y), H)
    mae, _ = F.score(P, y, H, 10)
    assert np.allclose(mae, 0)


def test_lag_regression_learns_with_delayed_targets():
    # y_{t+h} - y_t is learnable from the lags of a sine; no future values are used
    t = np.arange(800)
    y = np.sin(2 * np.pi * t / 24)
    P, _ = F.run_stream(F.LagRegression(2, lags=6, lr=0.03), y, [None] * len(y), 2)
    mae, pers = F.score(P, y, 2, 400)
    assert np.all(mae < 0.5 * pers)


def test_shared_gain_rls_equals_separate_reservoirpy_nodes():
    from reservoirpy.nodes import RLS  # in the test extra
    rng = np.random.default_rng(0)
    M, H, T, lam = 4, 3, 60, 0.99
    Z = np.c_[np.ones(T), rng.normal(size=(T, M - 1))]
    y = rng.normal(size=T)
    shared = F.SharedGainRLS(M, H, alpha=1e-2, forgetting=lam)
    shared.pmax = np.inf  # reservoirpy has no wind-up guard
    nodes = [RLS(alpha=1e-2, forgetting=lam, fit_bias=False) for _ in range(H)]
    for nd in nodes:
        nd.initialize(np.zeros(M), np.zeros(1))
    for t in range(T):
        shared.learn(lambda h: y[t] - y[t - h])
        for h, nd in enumerate(nodes, start=1):
            if t - h >= 0:
                nd._learning_step(Z[t - h], np.array([y[t] - y[t - h]]))
        shared.push(Z[t])
    W = np.array([nd.Wout[:, 0] for nd in nodes])
    assert np.allclose(shared.W, W, rtol=1e-8, atol=1e-10)


def test_harness_end_to_end(tmp_path, monkeypatch):
    """A few hundred steps of Mackey-Glass, a few models (a small ESN), cache and docs."""
    monkeypatch.setattr(F, "esn_grid", lambda: [
        dict(units=20, sr=0.95, lr=0.6, forgetting=0.9995, alpha=1e-2),
        dict(units=20, sr=0.95, lr=0.3, forgetting=0.9995, alpha=1e-2)])
    out = tmp_path / "res"
    args = ["--data", "mackey-glass", "--n", "300", "--out", str(out),
            "--only", "persistence,seasonal,holt,esn,rnnforecaster defaults", "--no-nmse"]
    assert F.main(args) == 0
    files = sorted(p.name for p in (out / "mackey-glass").glob("*.json"))
    assert "persistence.json" in files and "rnnforecaster-defaults.json" in files
    r = json.loads((out / "mackey-glass" / "persistence.json").read_text())
    assert r["n"] == 300 and np.allclose(r["ratio"], 1.0)
    esn = json.loads((out / "mackey-glass" / "reservoirpy-esn-300-rls-per-horizon.json").read_text())
    assert len(esn["ratio"]) == 15 and len(esn["tuning"]) == 2
    assert np.isfinite(esn["ratio"]).all()
    text = (out / "forecasting.md").read_text()
    assert "RNNForecaster defaults" in text and "| persistence | 1.000 | 1.000 |" in text
    # a rerun reuses the cache (nothing recomputed) and renders again
    mtime = (out / "mackey-glass" / "persistence.json").stat().st_mtime
    assert F.main(args) == 0
    assert (out / "mackey-glass" / "persistence.json").stat().st_mtime == mtime
    assert F.main(["--render", "--data", "mackey-glass", "--n", "300", "--out", str(out)]) == 0
    assert (out / "figures" / "forecasting-mackey-glass.png").exists()


def test_unknown_keywords_are_skipped_not_fatal(monkeypatch):
    monkeypatch.setattr(F, "OURS", [("bogus", F._rnn_forecaster, {"no_such_kwarg": 1})])
    task = F.load_mackey_glass(200)
    specs, notes = F.our_specs(task)
    assert specs == [] and "no_such_kwarg" in notes[0]


def test_verdict_compares_with_the_best_peer_given_the_same_information():
    def row(label, group, uses_x, ratio):
        return {"label": label, "group": group, "uses_x": uses_x, "ratio": ratio}
    H = 24
    rows = [row("persistence", "baseline", False, [1.0] * H),
            row("lags", "peer", False, [0.90] * H),
            row("lags + features", "peer", True, [0.80] * H),
            row(F.VERDICT_OURS[0], "ours", False, [0.91] * H),
            row(F.VERDICT_OURS[1], "ours", True, [0.85] * H)]
    v = {(label, crit): ok for label, crit, _, _, ok in F.verdict("wth", (1, 6, 24), H, rows)}
    alone = [ok for (label, _), ok in v.items() if label == F.VERDICT_OURS[0]]
    feats = [ok for (label, _), ok in v.items() if label == F.VERDICT_OURS[1]]
    assert all(alone) and len(alone) == 4       # 0.91 <= 1.02 * 0.90, and < persistence
    assert feats[0] and not any(feats[1:])      # beats persistence, not 0.80
    assert F.verdict("mackey-glass", (1, 15), 15, rows) == []


def test_if_accepted_drops_only_that_keyword(monkeypatch):
    monkeypatch.setattr(F, "OURS", [
        ("optional", F._rnn_forecaster, {"n_hidden": 8, "no_such_kwarg": F.IfAccepted(1)})])
    specs, notes = F.our_specs(F.load_mackey_glass(200))
    assert len(specs) == 1 and notes == []
    model = specs[0][2](3).model
    assert model.n_hidden == 8
