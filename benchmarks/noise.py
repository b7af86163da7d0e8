"""Gaussian against Rademacher perturbations (issue 13, item 2): accuracy and WP's cost.

    python -m benchmarks.noise                  # all three parts, a few minutes of CPU
    python -m benchmarks.noise --quick          # fewer repeats and seeds, shorter streams
    python -m benchmarks.noise --weather PATH   # WTH.csv (default /work/shared/data/WTH.csv
                                                # or $STREAMLEARN_WTH; skipped when missing)
    python -m benchmarks.noise --write-docs     # also rewrite docs/noise.md

Output: OUT/noise.md and OUT/noise.json (OUT is --out, default ./benchmark-results).

1. Mackey-Glass 15 ahead (streamlearn.datasets.mackey_glass, 20,000 samples, one
   learn_many call, NMSE = MSE / var(target) over the last 5,000), 100 units, DANP,
   DNP and DWP at their default settings, seeds 0, 1, 2, each Gaussian and Rademacher.
2. Weather 1 h (streamlearn.datasets.weather): the 33,600 training rows as one
   prequential stream (learn_many), MAE of the normalised DryBulbFarenheit over
   the second half divided by the MAE of persistence (the current value), same
   methods and seeds.
3. Cost per step at 500 units, DWP Gaussian, DWP Rademacher, DANP (and DANP
   Rademacher) timed side by side in one process: every repeat times each
   contender once, interleaved; medians of the per-repeat ratios, with min and max.
   DWP Rademacher runs on R's signs as bits (kernels.network._draw_wp_bits).
"""

import json
import os
import time
from pathlib import Path

import numpy as np

from streamlearn.cliargs import ArgumentParser, add_debug, int_at_least, output_dir, run_main

from .run import fmt, machine, ratio_stats, side_by_side, stats, stream

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NOISES = ("gaussian", "rademacher")
METHODS = ("anp", "np", "wp")  # each with decorrelation: DANP, DNP, DWP


def _model(method, noise, seed, n_in, N=100):
    from streamlearn import OnlineRNN

    return OnlineRNN(n_in, N, 1, method=method, decorrelation=True, noise=noise, seed=seed,
                     on_divergence="rollback")


def mackey_glass_part(cfg):
    from streamlearn.datasets import mackey_glass

    U, Y = mackey_glass(cfg.mg_steps, horizon=15, seed=0)
    last = min(5000, cfg.mg_steps // 4)
    rows = []
    for method in METHODS:
        for noise in NOISES:
            for seed in range(cfg.seeds):
                model = _model(method, noise, seed, U.shape[1])
                t0 = time.process_time()
                P = model.learn_many(U, Y)
                cpu = time.process_time() - t0
                e = P[-last:] - Y[-last:]
                nmse = float(np.mean(e**2) / np.var(Y[-last:]))
                rows.append(dict(method="d" + method, noise=noise, seed=seed, nmse=nmse,
                                 rollbacks=model.n_rollbacks, resets=model.n_resets,
                                 cpu_s=cpu))
                print(f"mackey-glass d{method} {noise} seed {seed}: NMSE {nmse:.4g}", flush=True)
    return dict(steps=cfg.mg_steps, last=last, rows=rows)


def weather_part(cfg):
    from streamlearn.datasets import weather

    if not cfg.weather or not os.path.exists(cfg.weather):
        print(f"weather: {cfg.weather!r} not found, skipped", flush=True)
        return None
    data = weather(cfg.weather, horizon_hours=1)
    U, Y = data.U_train[:cfg.weather_steps], data.Y_train[:cfg.weather_steps]
    half = U.shape[0] // 2
    persistence = float(np.mean(np.abs(U[half:, data.target_index] - Y[half:, 0])))
    rows = []
    for method in METHODS:
        for noise in NOISES:
            for seed in range(cfg.seeds):
                model = _model(method, noise, seed, U.shape[1])
                t0 = time.process_time()
                P = model.learn_many(U, Y)
                cpu = time.process_time() - t0
                mae = float(np.mean(np.abs(P[half:, 0] - Y[half:, 0])))
                rows.append(dict(method="d" + method, noise=noise, seed=seed, mae=mae,
                                 rel=mae / persistence, rollbacks=model.n_rollbacks,
                                 resets=model.n_resets, cpu_s=cpu))
                print(f"weather d{method} {noise} seed {seed}: MAE/persistence "
                      f"{mae / persistence:.4g}", flush=True)
    return dict(steps=int(U.shape[0]), persistence_mae=persistence, rows=rows)


def cost_part(cfg):
    from streamlearn import OnlineRNN
    from streamlearn._random import _fill_normal, _fill_rademacher, seed_state

    N, T = cfg.n_cost, cfg.cost_steps
    U, Y = stream(T)
    models = {}
    for name, method, noise in (("dwp_gaussian", "wp", "gaussian"),
                                ("dwp_rademacher", "wp", "rademacher"),
                                ("danp_gaussian", "anp", "gaussian"),
                                ("danp_rademacher", "anp", "rademacher")):
        m = OnlineRNN(1, N, 1, method=method, decorrelation=True, noise=noise, seed=0,
                      lr=1e-6, lr_decorrelation=1e-6)
        m.learn_many(U[:3], Y[:3])  # compile / load the kernels
        models[name] = m
    reps = {k: (lambda m=m: m.learn_many(U, Y), T) for k, m in models.items()}
    times = side_by_side(reps, cfg.repeats)
    size = N + N * N + N  # WP's draws per step at one input and one output
    state, buf = seed_state(0), np.empty(size)
    _fill_normal(state, buf, 1.0)
    _fill_rademacher(state, buf, 1.0)
    draws = side_by_side({"normal": (lambda: _fill_normal(state, buf, 1.0), 1),
                          "rademacher": (lambda: _fill_rademacher(state, buf, 1.0), 1)},
                         cfg.repeats)
    per_step = {k: stats(v) for k, v in times.items()}
    ratios = {
        "dwp_gaussian / danp": ratio_stats(times["dwp_gaussian"], times["danp_gaussian"]),
        "dwp_rademacher / danp": ratio_stats(times["dwp_rademacher"], times["danp_gaussian"]),
        "dwp_gaussian / dwp_rademacher": ratio_stats(times["dwp_gaussian"],
                                                     times["dwp_rademacher"]),
        "danp_rademacher / danp": ratio_stats(times["danp_rademacher"],
                                              times["danp_gaussian"]),
        "fill normal / fill rademacher": ratio_stats(draws["normal"], draws["rademacher"]),
    }
    for k, v in ratios.items():
        print(f"cost at {N}: {k} = {fmt(v)}", flush=True)
    return dict(n_hidden=N, steps=T, repeats=cfg.repeats, draws_per_step=size,
                per_step_s=per_step, fill_s={k: stats(v) for k, v in draws.items()},
                ratios=ratios)


def _summary(rows, key):
    out = {}
    for r in rows:
        out.setdefault((r["method"], r["noise"]), []).append(r[key])
    return out


def report(res):
    lines = ["# Gaussian and Rademacher perturbations", "",
             "Generated by `python -m benchmarks.noise` (benchmarks/noise.py); rerun it to "
             "regenerate. What the option is: docs/algorithms.md, \"Noise\".", ""]
    m = res["machine"]
    lines += [f"Machine: {m.get('cpu', '?')}, {m.get('cpus', '?')} logical CPUs shared with "
              "other work (timings are noisy), Python " + m.get("python", "?") + ", numba "
              + m.get("numba", "?") + f"; load average {res['load']:.2f} at the start.", ""]
    mg = res["mackey_glass"]
    lines += ["## Mackey-Glass, 15 steps ahead", "",
              f"{mg['steps']:,} samples, one `learn_many` call, NMSE over the last "
              f"{mg['last']:,}; 100 hidden units, default settings (lr, sigma), "
              "`on_divergence=\"rollback\"`. Per seed, then the mean.", "",
              "| method | noise | NMSE per seed | mean | refused steps |", "|---|---|---|---|---|"]
    rb = _summary(mg["rows"], "rollbacks")
    for (meth, noise), v in _summary(mg["rows"], "nmse").items():
        lines.append(f"| {meth} | {noise} | {', '.join(f'{x:.4f}' for x in v)} | "
                     f"{np.mean(v):.4f} | {sum(rb[(meth, noise)])} |")
    w = res.get("weather")
    lines += [""]
    if w:
        lines += ["## Weather, 1 hour ahead", "",
                  f"The first {w['steps']:,} rows of WTH.csv (`streamlearn.datasets.weather`, "
                  "9 features, min-max normalised) as one prequential stream; MAE of "
                  "DryBulbFarenheit over the second half divided by persistence's "
                  f"(persistence MAE {w['persistence_mae']:.4g} in normalised units; "
                  "below 1 beats it).", "",
                  "| method | noise | MAE / persistence per seed | mean |", "|---|---|---|---|"]
        for (meth, noise), v in _summary(w["rows"], "rel").items():
            lines.append(f"| {meth} | {noise} | {', '.join(f'{x:.3f}' for x in v)} | "
                         f"{np.mean(v):.3f} |")
        lines += [""]
    else:
        lines += ["## Weather", "", "Skipped: WTH.csv not found.", ""]
    c = res["cost"]
    lines += [f"## Cost per step at {c['n_hidden']} hidden units", "",
              f"`learn_many` of {c['steps']} steps, decorrelation on, one input and one "
              f"output; {c['repeats']} repeats, the contenders interleaved within each "
              "repeat; median (min - max) over the repeats.", "",
              "| contender | per step |", "|---|---|"]
    for k, v in c["per_step_s"].items():
        lines.append(f"| {k} | {v['median'] * 1e6:.0f} us ({v['min'] * 1e6:.0f} - "
                     f"{v['max'] * 1e6:.0f}) |")
    lines += ["", "| ratio | median (min - max) |", "|---|---|"]
    for k, v in c["ratios"].items():
        lines.append(f"| {k} | {fmt(v)} |")
    lines += ["", f"One fill of WP's {c['draws_per_step']:,} draws per step as floats: "
              f"Box-Muller {c['fill_s']['normal']['median'] * 1e6:.0f} us, Rademacher "
              f"{c['fill_s']['rademacher']['median'] * 1e6:.0f} us (medians). With "
              "Rademacher noise the core's WP step does not expand R's signs to floats: it "
              f"keeps the stream's {-(-c['draws_per_step'] // 64):,} words as bits, plus a "
              "transposed copy (`kernels.network._draw_wp_bits`), and its products and "
              "update read the bits (docs/algorithms.md, \"Noise\").", ""]
    return "\n".join(lines)


def run(args):
    cfg = args
    if cfg.quick:
        cfg.seeds, cfg.mg_steps, cfg.weather_steps = 1, 5000, 8000
        cfg.repeats, cfg.cost_steps = max(5, min(cfg.repeats, 5)), 50
    import numba

    res = {"machine": dict(machine(), numba=numba.__version__), "config": {
        k: getattr(cfg, k) for k in ("seeds", "mg_steps", "weather_steps", "n_cost",
                                      "cost_steps", "repeats", "quick")}}
    res["load"] = os.getloadavg()[0]
    res["cost"] = cost_part(cfg)
    res["mackey_glass"] = mackey_glass_part(cfg)
    res["weather"] = weather_part(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    text = report(res)
    (out / "noise.md").write_text(text)
    (out / "noise.json").write_text(json.dumps(res, indent=1))
    print(f"wrote {out / 'noise.md'} and {out / 'noise.json'}")
    if cfg.write_docs:
        (DOCS / "noise.md").write_text(text)
        print(f"wrote {DOCS / 'noise.md'}")
    return 0


def main(argv=None):
    p = ArgumentParser(prog="python -m benchmarks.noise", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=output_dir, default="benchmark-results")
    p.add_argument("--write-docs", action="store_true", help="also rewrite docs/noise.md")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--weather", default=os.environ.get("STREAMLEARN_WTH",
                                                       "/work/shared/data/WTH.csv"))
    p.add_argument("--seeds", type=int_at_least(1), default=3)
    p.add_argument("--mg-steps", type=int_at_least(1000), default=20_000)
    p.add_argument("--weather-steps", type=int_at_least(100), default=33_600)
    p.add_argument("--n-cost", type=int_at_least(1), default=500)
    p.add_argument("--cost-steps", type=int_at_least(5), default=100)
    p.add_argument("--repeats", type=int_at_least(5), default=15)
    add_debug(p)
    args = p.parse_args(argv)
    return run_main(run, args, "benchmarks.noise")


if __name__ == "__main__":
    raise SystemExit(main())
