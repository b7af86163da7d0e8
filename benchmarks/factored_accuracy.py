"""Mackey-Glass accuracy of DANP with update="factored" against the exact mode.

    python -m benchmarks.factored_accuracy [--widths 100,300,500] [--seeds 0,1,2]
                                           [--steps 10000] [--json PATH]

For each width and seed both modes start from the same weights (the same
model seed) and learn the same training sequence prequentially (15 steps
ahead, the paper's forecasting pairing), then are evaluated without learning
on a separate test sequence (``advance_many``, continuing from the training
state). Prints the prequential MSE over the last fifth of training and the
test MSE per run, and the per-seed gap between the modes against the spread
over seeds (docs/factored.md).
"""

import argparse
import json
import os
import time

import numpy as np

from streamlearn import OnlineRNN
from streamlearn.datasets import mackey_glass


def run(width, seed, steps, update):
    U, Y = mackey_glass(steps, seed=1000 + seed)
    Ut, Yt = mackey_glass(2000, seed=2000 + seed)
    model = OnlineRNN(1, width, 1, method="anp", decorrelation=True, seed=seed, update=update)
    t0 = time.perf_counter()
    p = model.learn_many(U, Y)
    seconds = time.perf_counter() - t0
    tail = slice(steps - steps // 5, steps)
    q = model.advance_many(Ut)
    return {"train_mse": float(np.mean((p[tail] - Y[tail]) ** 2)),
            "test_mse": float(np.mean((q - Yt) ** 2)),
            "finite": bool(np.all(np.isfinite(p))), "seconds": seconds}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.factored_accuracy",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widths", default="100,300,500")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--json", default=None, help="also write the results here")
    a = ap.parse_args(argv)
    widths = [int(w) for w in a.widths.split(",")]
    seeds = [int(s) for s in a.seeds.split(",")]
    out = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "load_before": os.getloadavg(), "steps": a.steps, "rows": []}
    for N in widths:
        for s in seeds:
            row = {"N": N, "seed": s}
            for update in ("exact", "factored"):
                row[update] = run(N, s, a.steps, update)
            out["rows"].append(row)
            e, f = row["exact"], row["factored"]
            print(f"N={N} seed={s}: train MSE exact {e['train_mse']:.6g} factored "
                  f"{f['train_mse']:.6g}; test MSE exact {e['test_mse']:.6g} factored "
                  f"{f['test_mse']:.6g}", flush=True)
    print("\n| n_hidden | test MSE exact, mean (min - max) | factored | max gap per seed | "
          "seed spread (exact max - min) |")
    print("|---|---|---|---|---|")
    for N in widths:
        rows = [r for r in out["rows"] if r["N"] == N]
        e = np.array([r["exact"]["test_mse"] for r in rows])
        f = np.array([r["factored"]["test_mse"] for r in rows])
        print(f"| {N} | {e.mean():.5g} ({e.min():.5g} - {e.max():.5g}) | {f.mean():.5g} "
              f"({f.min():.5g} - {f.max():.5g}) | {np.abs(e - f).max():.2g} | "
              f"{e.max() - e.min():.2g} |")
    out["load_after"] = os.getloadavg()
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
