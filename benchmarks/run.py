"""Run the speed benchmarks; the report goes to benchmark-results/ (or --out).

    python -m benchmarks                # the full run (about 9 minutes on a 2-core machine)
    python -m benchmarks --quick        # fewer, shorter runs, same report (a few minutes)
    python -m benchmarks --write-docs   # the full run, also rewriting docs/benchmarks.md,
                                        # docs/benchmarks.json and docs/figures/step_time_vs_n.png
    python -m benchmarks forecast       # the forecasting benchmark instead (benchmarks/forecast.py,
                                        # docs/forecasting.md; --help for its options)

Output: OUT/benchmarks.md, OUT/benchmarks.json and OUT/figures/step_time_vs_n.png
(OUT is --out, default ./benchmark-results); committed files change only with
--write-docs.

Every timing is repeated (``--repeats``, at least 5); ratios are measured side
by side in one process, interleaving the two contenders within each repeat,
and reported as median with min and max over the repeats.
"""

import argparse
import gc
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from streamlearn.cliargs import ArgumentParser, add_debug, int_at_least, output_dir, run_main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


# -- helpers -------------------------------------------------------------------

def stream(T, n_in=1, n_out=1, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(T, n_in))
    Y = np.tanh(np.cumsum(rng.normal(size=(T, n_out)), axis=0) / 5)
    return U, Y


def steps_for(N, budget, lo=10, hi=200_000):
    """Steps so that one timed call costs about ``budget`` element updates."""
    return int(min(hi, max(lo, budget // (N * N + 50 * N))))


def stats(values):
    v = np.asarray(values, dtype=float)
    return {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max()),
            "n": int(v.size)}


def fmt(s, unit="", digits=3):
    if s is None:
        return "-"
    return (f"{s['median']:.{digits}g}{unit} ({s['min']:.{digits}g} - "
            f"{s['max']:.{digits}g})")


def side_by_side(contenders, repeats):
    """Time each callable once per repeat, interleaved; per-call seconds."""
    out = {k: [] for k in contenders}
    for _ in range(repeats):
        for name, (fn, per) in contenders.items():
            gc.disable()
            t0 = time.perf_counter()
            fn()
            t1 = time.perf_counter()
            gc.enable()
            out[name].append((t1 - t0) / per)
    return out


def ratio_stats(num, den):
    return stats(np.asarray(num) / np.asarray(den))


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- sections ------------------------------------------------------------------

def bench_methods_vs_blas(cfg):
    """Targets 1 and 2: per-step time of learn_many vs the BLAS sequence."""
    from streamlearn import OnlineRNN
    from .baselines import BlasStep

    rows = []
    for method in ("anp", "np", "wp", "bp"):
        for N in cfg.sizes:
            T = steps_for(N, cfg.budget)
            if method == "wp":
                T = max(5, T // 4)
            U, Y = stream(T)
            model = OnlineRNN(1, N, 1, method=method, decorrelation=True, seed=0, lr=1e-6,
                              lr_decorrelation=1e-6)
            blas_net = BlasStep(N, method, True, lr=1e-6, eps=1e-6)
            model.learn_many(U[:3], Y[:3])
            for t in range(3):
                blas_net.step(U[t], Y[t])

            def fast():
                model.learn_many(U, Y)

            def blas():
                for t in range(T):
                    blas_net.step(U[t], Y[t])

            res = side_by_side({"fast": (fast, T), "blas": (blas, T)}, cfg.repeats)
            rows.append({"method": method, "N": N, "steps": T,
                         "fast_us": stats(np.array(res["fast"]) * 1e6),
                         "blas_us": stats(np.array(res["blas"]) * 1e6),
                         "ratio": ratio_stats(res["fast"], res["blas"])})
            print(f"  {method} N={N}: {fmt(rows[-1]['fast_us'], ' us')} vs BLAS "
                  f"{fmt(rows[-1]['blas_us'], ' us')}, ratio {fmt(rows[-1]['ratio'])}",
                  flush=True)
    return rows


def bench_factored(cfg):
    """Issue 13, item 3: DANP with ``update="factored"`` against the exact mode and
    the BLAS sequence, the three side by side in one process (docs/factored.md)."""
    from streamlearn import OnlineRNN
    from .baselines import BlasStep

    rows = []
    for N in [n for n in cfg.sizes if n >= 500] or list(cfg.sizes):
        T = steps_for(N, cfg.budget)
        U, Y = stream(T)
        kw = dict(method="anp", decorrelation=True, seed=0, lr=1e-6, lr_decorrelation=1e-6)
        exact = OnlineRNN(1, N, 1, **kw)
        factored = OnlineRNN(1, N, 1, update="factored", **kw)
        blas_net = BlasStep(N, "anp", True, lr=1e-6, eps=1e-6)
        for m in (exact, factored):
            m.learn_many(U[:3], Y[:3])
        for t in range(3):
            blas_net.step(U[t], Y[t])

        def blas():
            for t in range(T):
                blas_net.step(U[t], Y[t])

        res = side_by_side({"exact": (lambda: exact.learn_many(U, Y), T),
                            "factored": (lambda: factored.learn_many(U, Y), T),
                            "blas": (blas, T)}, cfg.repeats)
        row = {"N": N, "steps": T, "factor_rank": factored.factor_rank,
               "exact_us": stats(np.array(res["exact"]) * 1e6),
               "factored_us": stats(np.array(res["factored"]) * 1e6),
               "blas_us": stats(np.array(res["blas"]) * 1e6),
               "exact_ratio": ratio_stats(res["exact"], res["blas"]),
               "factored_ratio": ratio_stats(res["factored"], res["blas"]),
               "factored_vs_exact": ratio_stats(res["factored"], res["exact"])}
        rows.append(row)
        print(f"  N={N}: exact {fmt(row['exact_ratio'])}, factored {fmt(row['factored_ratio'])} "
              f"of BLAS ({fmt(row['blas_us'], ' us')}); factored/exact "
              f"{fmt(row['factored_vs_exact'])}", flush=True)
    return rows


def bench_wp_vs_anp(cfg):
    """Target 2: WP's step against ANP's at n_hidden = 500, side by side."""
    from streamlearn import OnlineRNN

    N = 500
    T = steps_for(N, cfg.budget) // 2 or 5
    U, Y = stream(T)
    models = {m: OnlineRNN(1, N, 1, method=m, decorrelation=True, seed=0, lr=1e-6)
              for m in ("anp", "wp")}
    # issue 13's target: WP with Rademacher noise (its signs kept as bits)
    models["wp_rademacher"] = OnlineRNN(1, N, 1, method="wp", decorrelation=True, seed=0,
                                        lr=1e-6, noise="rademacher")
    for m in models.values():
        m.learn_many(U[:2], Y[:2])
    res = side_by_side({k: (lambda m=m: m.learn_many(U, Y), T) for k, m in models.items()},
                       cfg.repeats)
    # WP's main cost: N^2 + 2N normal draws per step; the generator in use
    # (Box-Muller) against the ziggurat on the same stream
    from streamlearn._random import _fill_normal, _fill_normal_ziggurat, seed_state
    buf = np.zeros(N * N + 2 * N)
    state = seed_state(0)
    _fill_normal(state, buf, 1.0)
    _fill_normal_ziggurat(state, buf, 1.0)
    gen = side_by_side({"box_muller": (lambda: _fill_normal(state, buf, 1.0), 1),
                        "ziggurat": (lambda: _fill_normal_ziggurat(state, buf, 1.0), 1)},
                       cfg.repeats)
    return {"N": N, "anp_us": stats(np.array(res["anp"]) * 1e6),
            "wp_us": stats(np.array(res["wp"]) * 1e6),
            "ratio": ratio_stats(res["wp"], res["anp"]),
            "wp_rademacher_us": stats(np.array(res["wp_rademacher"]) * 1e6),
            "rademacher_ratio": ratio_stats(res["wp_rademacher"], res["anp"]),
            "fill_bm_us": stats(np.array(gen["box_muller"]) * 1e6),
            "fill_zig_us": stats(np.array(gen["ziggurat"]) * 1e6),
            "wp_with_zig_ratio": stats(
                (np.array(res["wp"]) - np.array(gen["box_muller"]) + np.array(gen["ziggurat"]))
                / np.array(res["anp"]))}


def bench_float32(cfg):
    """Target 3: float32 against float64, and the same task learned."""
    from streamlearn import OnlineRNN
    from streamlearn.datasets import mackey_glass

    speed = []
    for N in [n for n in cfg.sizes if n >= 500]:
        T = steps_for(N, cfg.budget)
        U, Y = stream(T)
        models = {dt.__name__: OnlineRNN(1, N, 1, method="anp", decorrelation=True, seed=0,
                                         lr=1e-6, dtype=dt)
                  for dt in (np.float64, np.float32)}
        for m in models.values():
            m.learn_many(U[:2], Y[:2])
        res = side_by_side({k: (lambda m=m: m.learn_many(U, Y), T)
                            for k, m in models.items()}, cfg.repeats)
        speed.append({"N": N, "f64_us": stats(np.array(res["float64"]) * 1e6),
                      "f32_us": stats(np.array(res["float32"]) * 1e6),
                      "speedup": ratio_stats(res["float64"], res["float32"])})
        print(f"  float32 N={N}: speed-up {fmt(speed[-1]['speedup'])}", flush=True)

    # the same task: DANP on Mackey-Glass, prequential MSE over the last half
    T = cfg.task_steps
    U, Y = mackey_glass(T, seed=0)
    task = []
    for seed in range(cfg.task_seeds):
        mse = {}
        for dt in (np.float64, np.float32):
            m = OnlineRNN(1, 100, 1, method="anp", decorrelation=True, seed=seed, dtype=dt)
            p = m.learn_many(U.astype(dt), Y.astype(dt)).astype(float)
            mse[dt.__name__] = float(np.mean((p[T // 2:] - Y[T // 2:]) ** 2))
        mse["rel_diff"] = abs(mse["float32"] - mse["float64"]) / mse["float64"]
        task.append(mse)
    return {"speed": speed, "task": task, "task_steps": T}


def bench_threads(cfg):
    """Target 4: threads=2 against threads=1, bit-identical results."""
    from streamlearn import OnlineRNN

    rows = []
    for N in [n for n in cfg.sizes if n >= 500]:
        T = steps_for(N, cfg.budget)
        U, Y = stream(T)
        models = {k: OnlineRNN(1, N, 1, method="anp", decorrelation=True, seed=0, lr=1e-6,
                               threads=k) for k in (1, 2)}
        outs = {k: m.learn_many(U, Y) for k, m in models.items()}
        identical = bool(np.array_equal(outs[1], outs[2])
                         and np.array_equal(models[1].R, models[2].R)
                         and np.array_equal(models[1].D, models[2].D))
        res = side_by_side({k: (lambda m=m: m.learn_many(U, Y), T)
                            for k, m in models.items()}, cfg.repeats)
        rows.append({"N": N, "one_us": stats(np.array(res[1]) * 1e6),
                     "two_us": stats(np.array(res[2]) * 1e6),
                     "speedup": ratio_stats(res[1], res[2]), "identical": identical})
        print(f"  threads N={N}: speed-up {fmt(rows[-1]['speedup'])}, identical={identical}",
              flush=True)
    return rows


def bench_regressor_vs_river(cfg):
    """Target 5: RNNRegressor.learn_one with dict input vs River's linear model."""
    try:
        from river import linear_model, preprocessing
        from streamlearn.regressor import RNNRegressor
    except ImportError as e:  # pragma: no cover
        return {"error": str(e)}
    from river import datasets

    # River's TrumpApproval (bundled with River: 1,001 samples, 6 features), repeated
    samples = list(datasets.TrumpApproval())
    reps = -(-cfg.river_steps // len(samples))
    Xs = [dict(x) for x, _ in samples] * reps
    ys = [float(y) for _, y in samples] * reps
    T = len(Xs)

    def run_rnn():
        reg = RNNRegressor(n_hidden=32, seed=0)
        for x, y in zip(Xs, ys):
            reg.learn_one(x, y)

    def run_river():
        model = preprocessing.StandardScaler() | linear_model.LinearRegression()
        for x, y in zip(Xs, ys):
            model.learn_one(x, y)

    def run_rnn_predict_learn():
        reg = RNNRegressor(n_hidden=32, seed=0)
        for x, y in zip(Xs, ys):
            reg.predict_one(x)
            reg.learn_one(x, y)

    def run_river_predict_learn():
        model = preprocessing.StandardScaler() | linear_model.LinearRegression()
        for x, y in zip(Xs, ys):
            model.predict_one(x)
            model.learn_one(x, y)

    trained_rnn = RNNRegressor(n_hidden=32, seed=0)
    trained_river = preprocessing.StandardScaler() | linear_model.LinearRegression()
    for x, y in zip(Xs[:1000], ys[:1000]):
        trained_rnn.learn_one(x, y)
        trained_river.learn_one(x, y)

    def run_rnn_predict():
        for x in Xs:
            trained_rnn.predict_one(x)

    def run_river_predict():
        for x in Xs:
            trained_river.predict_one(x)

    run_rnn()
    breakdown = _regressor_breakdown(Xs, ys, cfg.repeats)
    res = side_by_side({"rnn": (run_rnn, T), "river": (run_river, T),
                        "rnn_p": (run_rnn_predict, T), "river_p": (run_river_predict, T),
                        "rnn_pl": (run_rnn_predict_learn, T),
                        "river_pl": (run_river_predict_learn, T)}, cfg.repeats)
    return {"steps": T, "rnn_us": stats(np.array(res["rnn"]) * 1e6),
            "rnn_p_us": stats(np.array(res["rnn_p"]) * 1e6),
            "river_p_us": stats(np.array(res["river_p"]) * 1e6),
            "ratio_p": ratio_stats(res["rnn_p"], res["river_p"]),
            "river_us": stats(np.array(res["river"]) * 1e6),
            "ratio": ratio_stats(res["rnn"], res["river"]),
            "rnn_pl_us": stats(np.array(res["rnn_pl"]) * 1e6),
            "river_pl_us": stats(np.array(res["river_pl"]) * 1e6),
            "ratio_pl": ratio_stats(res["rnn_pl"], res["river_pl"]),
            "breakdown": breakdown}


def _regressor_breakdown(Xs, ys, repeats):
    """Where ``RNNRegressor.learn_one`` and ``predict_one``'s time goes, per sample
    (us): the River layer (the dict to arrays, the target's scaling), the Python
    of ``OnlineRNN``'s one-sample call, the kernel call (Numba's dispatch and
    unboxing of its arguments), the arithmetic (``learn_many`` per step on the
    same inputs)."""
    from streamlearn.kernels import arena
    from streamlearn.regressor import RNNRegressor

    reg = RNNRegressor(n_hidden=32, seed=0)
    for x, y in zip(Xs[:100], ys[:100]):
        reg.learn_one(x, y)
    net, features = reg.network, reg._features
    T = len(Xs)
    raw, cols = features.raw(Xs[0])
    stats, fixed = features._stats, features.n_fixed
    p = net._packed
    entry, f, d, i = p[9], p[3], p[4], p[5]
    u = np.zeros(net.n_inputs, dtype=net.dtype)
    arena._standardise(stats.copy(), raw, cols, u, fixed, False)
    Us = np.tile(u, (T, 1))
    Zs = np.full((T, 1), 0.1, dtype=net.dtype)

    def learn_one():
        for x, y in zip(Xs, ys):
            reg.learn_one(x, y)

    def learn_raw():
        for _ in range(T):
            net._learn_raw(stats, raw, cols, fixed, 0.1)

    def kernel():
        for _ in range(T):
            entry(f, d, i, stats, raw, cols, fixed, 0.1)

    def learn_many():
        net.learn_many(Us, Zs)

    def predict_one():
        for x in Xs:
            reg.predict_one(x)

    def predict_raw():
        for _ in range(T):
            net._predict_raw(stats, raw, cols, fixed)

    def predict_kernel():
        for _ in range(T):
            arena._predict_raw(f, i, stats, raw, cols, fixed)

    res = side_by_side({"learn_one": (learn_one, T), "learn_raw": (learn_raw, T),
                        "kernel": (kernel, T), "learn_many": (learn_many, T),
                        "predict_one": (predict_one, T), "predict_raw": (predict_raw, T),
                        "predict_kernel": (predict_kernel, T)}, repeats)
    med = {k: float(np.median(v)) * 1e6 for k, v in res.items()}
    return {"river_layer_us": med["learn_one"] - med["learn_raw"],
            "online_rnn_us": med["learn_raw"] - med["kernel"],
            "dispatch_us": med["kernel"] - med["learn_many"],
            "arithmetic_us": med["learn_many"],
            "learn_one_us": med["learn_one"],
            "predict_river_layer_us": med["predict_one"] - med["predict_raw"],
            "predict_online_rnn_us": med["predict_raw"] - med["predict_kernel"],
            "predict_kernel_us": med["predict_kernel"],
            "predict_one_us": med["predict_one"]}


def bench_vs_naive(cfg):
    """Target 6: the kernels against tests/naive.py's NumPy step."""
    sys.path.insert(0, str(ROOT / "tests"))
    from naive import NaiveRNN
    from streamlearn import OnlineRNN

    rows = []
    for N in (32, 100, 1000):
        T = steps_for(N, cfg.budget // 4, lo=5, hi=2000)
        U, Y = stream(T)
        model = OnlineRNN(1, N, 1, method="anp", decorrelation=True, seed=0, lr=1e-6)
        model.learn_many(U[:2], Y[:2])
        naive = NaiveRNN(model)

        def run_naive():
            for u, y in zip(U, Y):
                naive.step(u, y)

        def run_one():
            for u, y in zip(U, Y):
                model.learn_one(u, y)

        res = side_by_side({"naive": (run_naive, T), "many": (lambda: model.learn_many(U, Y), T),
                            "one": (run_one, T)}, cfg.repeats)
        rows.append({"N": N, "naive_us": stats(np.array(res["naive"]) * 1e6),
                     "many_us": stats(np.array(res["many"]) * 1e6),
                     "one_us": stats(np.array(res["one"]) * 1e6),
                     "speedup_many": ratio_stats(res["naive"], res["many"]),
                     "speedup_one": ratio_stats(res["naive"], res["one"])})
        print(f"  naive N={N}: learn_many {fmt(rows[-1]['speedup_many'])}x, learn_one "
              f"{fmt(rows[-1]['speedup_one'])}x", flush=True)
    return rows


def bench_forecaster(cfg):
    """Target 9: RNNForecaster.learn_one + forecast against OnlineRNN.learn_one, per step.

    32 hidden units, the forecaster's defaults (24 lags, so 26 inputs) at 1 and 24
    horizons, and without lags (2 inputs) at 1, with each read-out and its default
    optimiser, against OnlineRNN on the same optimiser: with one input (the core's
    plain step) and with the forecaster's inputs (26 or 2) and read-out (the same
    arithmetic without the River layer).
    """
    from streamlearn import OnlineRNN
    from streamlearn.forecaster import RNNForecaster

    T = 2000 if cfg.quick else 6000
    t = np.arange(T + 1)
    ys = [float(v) for v in 10.0 + np.sin(t / 6.0) + 0.1 * np.cos(t * 1.7)]
    U1, Y1 = stream(T)
    rows = []
    for readout, opt in (("rls", "sgd"), ("perturbation", "adam")):
        core_kw = dict(optimizer=opt, seed=0, lr=1e-6)
        core1 = OnlineRNN(1, 32, 1, **core_kw)
        core26 = OnlineRNN(26, 32, 1, readout=readout, **core_kw)
        core2 = OnlineRNN(2, 32, 1, readout=readout, **core_kw)
        U26 = np.random.default_rng(1).normal(size=(T, 26))
        U26[:, 0] = 1.0
        U2 = np.ascontiguousarray(U26[:, :2])
        f1 = RNNForecaster(max_horizon=1, n_hidden=32, readout=readout, seed=0)
        f0 = RNNForecaster(max_horizon=1, n_hidden=32, readout=readout, seed=0, lags=0)
        f24 = RNNForecaster(max_horizon=24, n_hidden=32, readout=readout, seed=0)

        def run_core(model, U):
            def run():
                for u, y in zip(U, Y1):
                    model.learn_one(u, y)
            return run

        def run_forecaster(model, H):
            def run():
                for y in ys[:T]:
                    model.learn_one(y)
                    model.forecast(H)
            return run

        contenders = {"core1": (run_core(core1, U1), T), "core26": (run_core(core26, U26), T),
                      "core2": (run_core(core2, U2), T), "f1": (run_forecaster(f1, 1), T),
                      "f0": (run_forecaster(f0, 1), T), "f24": (run_forecaster(f24, 24), T)}
        for fn, _ in contenders.values():  # compile and warm up
            fn()
        res = side_by_side(contenders, cfg.repeats)
        row = {"readout": readout, "optimizer": opt, "steps": T}
        for k, v in res.items():
            row[k + "_us"] = stats(np.array(v) * 1e6)
        for k in ("f1", "f24"):
            row[k + "_vs_core1"] = ratio_stats(res[k], res["core1"])
            row[k + "_vs_core26"] = ratio_stats(res[k], res["core26"])
        row["f0_vs_core2"] = ratio_stats(res["f0"], res["core2"])
        row["f0_vs_core1"] = ratio_stats(res["f0"], res["core1"])
        rows.append(row)
        print(f"  forecaster {readout}/{opt}: 1 horizon {fmt(row['f1_us'], ' us')}, "
              f"{fmt(row['f1_vs_core1'])}x OnlineRNN(1 input) "
              f"{fmt(row['core1_us'], ' us')}, {fmt(row['f1_vs_core26'])}x OnlineRNN(26 inputs) "
              f"{fmt(row['core26_us'], ' us')}; 24 horizons {fmt(row['f24_us'], ' us')}; "
              f"no lags {fmt(row['f0_us'], ' us')}, {fmt(row['f0_vs_core2'])}x OnlineRNN"
              f"(2 inputs) {fmt(row['core2_us'], ' us')}",
              flush=True)
    # larger networks: 15 horizons (docs/reliability.md's guard table), each read-out
    sizes = []
    for N in (32, 100, 300):
        n = max(100, T * 32 // (N * 6))
        for readout, opt in (("rls", "sgd"), ("perturbation", "adam")):
            core = OnlineRNN(1, N, 1, optimizer=opt, seed=0, lr=1e-6)
            f15 = RNNForecaster(max_horizon=15, n_hidden=N, readout=readout, seed=0)

            def run_f15(model=f15):
                for y in ys[:n]:
                    model.learn_one(y)
                    model.forecast(15)

            contenders = {"core": (run_core(core, U1[:n]), n), "f15": (run_f15, n)}
            for fn, _ in contenders.values():
                fn()
            res = side_by_side(contenders, cfg.repeats)
            sizes.append({"N": N, "readout": readout, "optimizer": opt, "steps": n,
                          "core_us": stats(np.array(res["core"]) * 1e6),
                          "f15_us": stats(np.array(res["f15"]) * 1e6),
                          "ratio": ratio_stats(res["f15"], res["core"])})
            print(f"  forecaster N={N} {readout}/{opt}, 15 horizons: "
                  f"{fmt(sizes[-1]['f15_us'], ' us')}, {fmt(sizes[-1]['ratio'])}x OnlineRNN "
                  f"{fmt(sizes[-1]['core_us'], ' us')}", flush=True)
    return {"rows": rows, "sizes": sizes}


def bench_memory(cfg):
    """Target 7: resident memory over a long stream, after warm-up."""
    from streamlearn import OnlineRNN

    N, chunk = 100, 1000
    total = cfg.memory_steps
    U, Y = stream(chunk)
    model = OnlineRNN(1, N, 1, method="anp", decorrelation=True, seed=0, lr=1e-6)
    reg_one = OnlineRNN(1, N, 1, method="anp", decorrelation=True, seed=1, lr=1e-6)
    # warm-up: compile, first allocations
    model.learn_many(U, Y)
    for u, y in zip(U[:100], Y[:100]):
        reg_one.learn_one(u, y)
    gc.collect()
    start = rss_bytes()
    samples = []
    done = 0
    t0 = time.perf_counter()
    while done < total:
        model.learn_many(U, Y)
        done += chunk
        if done % (total // 20) == 0:
            samples.append((done, rss_bytes()))
    many_s = time.perf_counter() - t0
    gc.collect()
    end_many = rss_bytes()
    n_one = total // 10
    for k in range(n_one):
        reg_one.learn_one(U[k % chunk], Y[k % chunk])
    gc.collect()
    end_one = rss_bytes()
    return {"N": N, "steps": total, "learn_one_steps": n_one, "start": start,
            "end_learn_many": end_many, "end_learn_one": end_one,
            "growth_many": (end_many - start) / start, "growth_one": (end_one - end_many) / start,
            "samples": samples, "seconds": many_s}


STARTUP = r"""
import time
t0 = time.perf_counter()
import numpy as np
from streamlearn import OnlineRNN
t1 = time.perf_counter()
m = OnlineRNN(1, 32, 1, method="anp", decorrelation=True, seed=0)
m.learn_one(np.zeros(1), np.zeros(1))
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def bench_startup(cfg):
    """Target 8: import + first learn_one with a warm cache; the cold compile."""
    env = dict(os.environ)

    def once(cache_dir):
        e = dict(env, NUMBA_CACHE_DIR=cache_dir)
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", STARTUP], env=e, cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
        wall = time.perf_counter() - t0
        return float(out[0]), float(out[1]), wall

    cold = []
    for _ in range(cfg.cold_repeats):
        with tempfile.TemporaryDirectory() as d:
            cold.append(once(d))
    with tempfile.TemporaryDirectory() as d:
        once(d)  # fill the cache
        warm = [once(d) for _ in range(cfg.repeats)]
    river = []
    for _ in range(cfg.repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy, river.time_series, river.base"],
                       env=env, cwd=ROOT, check=True, capture_output=True)
        river.append(time.perf_counter() - t0)
    bare = []
    for _ in range(cfg.repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy"], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        bare.append(time.perf_counter() - t0)
    # the README's first command: the whole demo, on an empty cache and again
    def demo(cache_dir):
        e = dict(env, NUMBA_CACHE_DIR=cache_dir)
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "streamlearn", "demo"], env=e, cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout
        wall = time.perf_counter() - t0
        return wall, float(re.search(r"ready in ([0-9.]+) s", out).group(1))

    demo_cold, demo_warm = [], []
    for _ in range(cfg.cold_repeats):
        with tempfile.TemporaryDirectory() as d:
            demo_cold.append(demo(d))
            demo_warm.append(demo(d))
    pick = lambda runs, k: stats([r[k] for r in runs])
    return {"demo_cold_wall": pick(demo_cold, 0), "demo_cold_kernels": pick(demo_cold, 1),
            "demo_warm_wall": pick(demo_warm, 0), "demo_warm_kernels": pick(demo_warm, 1),
            "warm_import": pick(warm, 0), "warm_first": pick(warm, 1),
            "warm_total": stats([r[0] + r[1] for r in warm]), "warm_process": pick(warm, 2),
            "cold_import": pick(cold, 0), "cold_first": pick(cold, 1),
            "cold_process": pick(cold, 2), "python_numpy_process": stats(bare),
            "river_process": stats(river)}


# -- report --------------------------------------------------------------------

def machine():
    import numba
    import scipy
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "scipy": scipy.__version__,
            "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        import river
        info["river"] = river.__version__
    except ImportError:  # pragma: no cover
        pass
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(l for l in f if l.startswith("MemTotal")).split()[1])
        info["memory"] = f"{kb / 2**20:.0f} GiB"
    except (OSError, StopIteration):
        pass
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = ", ".join(f"{p['internal_api']} {p.get('version', '')} "
                                 f"({p.get('architecture', '?')}, {p['num_threads']} thread)"
                                 for p in threadpool_info() if p["user_api"] == "blas")
    except Exception:  # pragma: no cover
        info["blas"] = "?"
    info["load_before"] = os.getloadavg()
    return info


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for method, marker in zip(("anp", "np", "wp", "bp"), "osD^"):
        r = [x for x in rows if x["method"] == method]
        Ns = [x["N"] for x in r]
        med = np.array([x["fast_us"]["median"] for x in r])
        lo = med - np.array([x["fast_us"]["min"] for x in r])
        hi = np.array([x["fast_us"]["max"] for x in r]) - med
        ax.errorbar(Ns, med, yerr=[lo, hi], marker=marker, capsize=3, label=f"D{method.upper()}")
    r = [x for x in rows if x["method"] == "anp"]
    ax.plot([x["N"] for x in r], [x["blas_us"]["median"] for x in r], "k--",
            label="DANP as BLAS calls")
    Ns = np.array([x["N"] for x in r], float)
    ref = r[-1]["fast_us"]["median"] * (Ns / Ns[-1]) ** 2
    ax.plot(Ns, ref, ":", color="grey", label="~ N^2")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n_hidden")
    ax.set_ylabel("time per learning step (us)")
    ax.set_title("learn_many, 1 input, 1 output, decorrelation, float64, 1 thread")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


SECTIONS = ("startup", "methods", "factored", "wp_vs_anp", "float32", "threads", "regressor", "naive",
            "forecaster", "memory")


def _sections(text):
    names = [s for s in text.split(",") if s]
    bad = [s for s in names if s not in SECTIONS]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(bad)}; choose from {', '.join(SECTIONS)}")
    return names


def _sizes(text):
    try:
        sizes = tuple(int(s) for s in text.split(",") if s)
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"must be comma-separated positive integers, got {text!r}")
    return sizes


def main(argv=None):
    ap = ArgumentParser(prog="python -m benchmarks", description=__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer and shorter runs")
    ap.add_argument("--repeats", type=int_at_least(5), default=5,
                    help="timings per figure (at least 5; default 5)")
    ap.add_argument("--out", type=output_dir, default="benchmark-results", metavar="DIR",
                    help="where the report, its JSON and figure go (default ./benchmark-results)")
    ap.add_argument("--write-docs", action="store_true",
                    help="also write docs/benchmarks.md, docs/benchmarks.json and "
                         "docs/figures/step_time_vs_n.png (when regenerating the docs)")
    ap.add_argument("--only", type=_sections, default=[], metavar="SECTIONS",
                    help=f"comma-separated sections, of {','.join(SECTIONS)} (for development)")
    ap.add_argument("--sizes", type=_sizes, default=(100, 500, 1000, 2000), metavar="N,N",
                    help="n_hidden values of the size sweeps (default 100,500,1000,2000)")
    ap.add_argument("--budget", type=float, default=None,
                    help="element updates per timed call (for development and tests)")
    add_debug(ap)
    args = ap.parse_args(argv)
    return run_main(_run, args, ap.prog)


def _run(args):
    class cfg:
        quick = args.quick
        repeats = args.repeats
        sizes = args.sizes
        budget = args.budget or (2e7 if args.quick else 1.2e8)
        task_steps = 3000 if args.quick else 10000
        task_seeds = 2 if args.quick else 5
        river_steps = 2000 if args.quick else 10000
        memory_steps = 100_000 if args.quick else 1_000_000
        cold_repeats = 1 if args.quick else 3

    sections = [("machine", lambda c: machine()),
                ("startup", bench_startup),
                ("methods", bench_methods_vs_blas),
                ("factored", bench_factored),
                ("wp_vs_anp", bench_wp_vs_anp),
                ("float32", bench_float32),
                ("threads", bench_threads),
                ("regressor", bench_regressor_vs_river),
                ("naive", bench_vs_naive),
                ("forecaster", bench_forecaster),
                ("memory", bench_memory)]
    only = set(args.only)
    results = {"quick": args.quick, "repeats": args.repeats,
               "command": "python -m benchmarks" + (" --quick" if args.quick else "")}
    t_start = time.perf_counter()
    for name, fn in sections:
        if only and name not in only and name != "machine":
            continue
        print(f"[{name}]", flush=True)
        t0 = time.perf_counter()
        results[name] = fn(cfg)
        print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    results["machine"]["load_after"] = os.getloadavg()
    results["seconds"] = time.perf_counter() - t_start
    results["generated"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    write_report(results, Path(args.out))
    if args.write_docs:
        if only and (DOCS / "benchmarks.json").is_file():
            # some sections: into the committed report, the others as they were
            results = _merged(results, only)
        write_report(results, DOCS)
    return 0


def _merged(results, only):
    """docs/benchmarks.json with the sections just run replaced (each noting when and
    under what load it ran); the page keeps the date of its full run."""
    old = json.loads((DOCS / "benchmarks.json").read_text())
    if "generated" not in old:  # written before the field existed: the page's own date
        m = re.search(r"on (\d{4}-\d\d-\d\d \d\d:\d\d UTC)",
                      (DOCS / "benchmarks.md").read_text())
        old["generated"] = m.group(1) if m else None
    la, lb = results["machine"].get("load_before"), results["machine"]["load_after"]
    for name in only:
        section = results[name]
        if isinstance(section, dict):
            section["when"] = (f"Run on its own by `python -m benchmarks --only {name} "
                               f"--write-docs` on {results['generated']} (load average "
                               f"before {la[0]:.1f}, after {lb[0]:.1f}). " if la else "")
        old[name] = section
    return old


def write_report(results, folder):
    """``folder/benchmarks.md``, ``benchmarks.json`` and ``figures/step_time_vs_n.png``."""
    from .report import render

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "benchmarks.json").write_text(json.dumps(results, indent=1, default=str))
    if "methods" in results:
        plot(results["methods"], folder / "figures" / "step_time_vs_n.png")
    (folder / "benchmarks.md").write_text(render(results))
    print(f"wrote {folder / 'benchmarks.md'}")
