"""Width sweep: does every method learn, without diverging, from 16 to 2,000 hidden units?

    python -m benchmarks.width defaults --task mg --methods anp,danp --widths 50,100,200,500,1000 --seeds 0,1
    python -m benchmarks.width grid --task mg --methods anp --widths 16,50,100 --lrs 1e-3,3e-3,1e-2
    python -m benchmarks.width report          # benchmark-results/width/: the table and the figure
    python -m benchmarks.width --results docs/width.jsonl report --write-docs
                                               # docs/width_table.md, docs/figures/width_sweep.png

Every run is one prequential pass (``learn_many``): the model predicts each
sample before it learns from it. Scores over the last ``--score`` steps:
Mackey-Glass (``mg``, 15 steps ahead, ``mackey_glass(steps, horizon=15,
seed=seed)``): NMSE = MSE / var(Y). Weather (``wth``, WTH.csv 1 h ahead, the
training rows then the test rows in one pass): MSE relative to persistence
(the current temperature as the forecast). A run that raises
``DivergenceError`` (the default ``on_divergence="raise"``) is recorded as
diverged, with the step. Results are appended to ``--results`` (default
``benchmark-results/width.jsonl``; the committed runs are ``docs/width.jsonl``);
a run already there is not repeated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DOCS = ROOT / "docs"
RESULTS = Path("benchmark-results") / "width.jsonl"  # default --results, relative to the cwd
OUT = Path("benchmark-results") / "width"
WTH = Path(os.environ.get("STREAMLEARN_WTH", "/work/shared/data/WTH.csv"))

from streamlearn.methods import METHODS as _REGISTRY, NAMES_BY_RULE  # noqa: E402

#: name -> (rule, decorrelation), from the registry (streamlearn/methods.py), by rule
METHODS = {name: (_REGISTRY[name].rule, _REGISTRY[name].decorrelation) for name in NAMES_BY_RULE}


def task_data(task, steps, seed):
    """(U, Y, baseline) for a task; baseline is the per-step forecast scores are relative to."""
    from streamlearn.datasets import mackey_glass, weather

    if task == "mg":
        U, Y = mackey_glass(steps, horizon=15, seed=seed)
        return U, Y, None
    if task == "wth":
        d = weather(WTH, 1)
        U = np.vstack([d.U_train, d.U_test])
        Y = np.vstack([d.Y_train, d.Y_test])
        if steps:
            U, Y = U[:steps], Y[:steps]
        return U, Y, U[:, d.target_index:d.target_index + 1]
    raise ValueError(task)


def run_one(spec):
    """Run one configuration; returns a JSON-ready dict."""
    from streamlearn import OnlineRNN
    from streamlearn.online_rnn import DivergenceError

    task, name, optimizer, n_hidden, lr, seed, steps, score = (
        spec[k] for k in ("task", "method", "optimizer", "n_hidden", "lr", "seed", "steps",
                          "score"))
    U, Y, base = task_data(task, steps, seed)
    rule, dec = METHODS[name]
    model = OnlineRNN(U.shape[1], n_hidden, Y.shape[1], method=rule, decorrelation=dec,
                      optimizer=optimizer, lr=lr, seed=seed)
    out = dict(spec, lr_used=model.lr, lr_decorrelation_used=model.lr_decorrelation,
               steps=len(U))
    t0 = time.perf_counter()
    try:
        P = model.learn_many(U, Y)
        tail = slice(len(U) - score, len(U))
        mse = float(np.mean((P[tail] - Y[tail]) ** 2))
        ref = (float(np.var(Y[tail])) if base is None
               else float(np.mean((base[tail] - Y[tail]) ** 2)))
        out.update(diverged=False, score_value=mse / ref,
                   finite=bool(np.all(np.isfinite(P))),
                   max_weight=float(max(np.abs(model.A).max(), np.abs(model.R).max(),
                                        np.abs(model.B).max(), np.abs(model.D).max())))
    except DivergenceError as e:
        out.update(diverged=True, score_value=None, div_step=int(e.step), reason=e.reason)
    out["seconds"] = time.perf_counter() - t0
    return out


def key(r):
    return (r["task"], r["method"], r["optimizer"], r["n_hidden"], r["lr"], r["seed"],
            r["steps_req"])


def load(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def sweep(args, lrs):
    done = {key(r) for r in load(args.results) if r["lr"] is not None or current(r)}
    specs = []
    for n in args.widths:
        for name in args.methods:
            for lr in lrs:
                for seed in args.seeds:
                    s = dict(task=args.task, method=name, optimizer=args.optimizer,
                             n_hidden=n, lr=lr, seed=seed, steps=args.steps,
                             steps_req=args.steps, score=args.score)
                    if key(s) not in done:
                        specs.append(s)
    print(f"{len(specs)} runs, appended to {args.results}", flush=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(args.jobs) as pool, args.results.open("a") as f:
        for r in pool.map(run_one, specs):
            f.write(json.dumps(r) + "\n")
            f.flush()
            v = "div@%d" % r["div_step"] if r["diverged"] else "%.4f" % r["score_value"]
            print(f"{r['task']} {r['method']:5s} {r['optimizer']:4s} N={r['n_hidden']:5d} "
                  f"lr={r['lr_used']:.3g} seed={r['seed']} {v} {r['seconds']:.0f}s", flush=True)


# -- report ------------------------------------------------------------------

def fmt(rs):
    if any(r["diverged"] for r in rs):
        return "div (%d/%d)" % (sum(r["diverged"] for r in rs), len(rs))
    v = [r["score_value"] for r in rs]
    if len(v) == 1:
        return "%.3f" % v[0]
    return "%.3f (%.3f-%.3f)" % (np.median(v), min(v), max(v))


def current(r):
    """A run at the default rates of the rules as they are now (lr, and with
    decorrelation the rate of D): a ``defaults`` run, or a ``grid`` run whose lr
    happens to equal it (runs of earlier rules are kept in the file but not
    reported)."""
    from streamlearn.defaults import LR_DECORRELATION_REF, default_lr, default_lr_decorrelation

    rule, dec = METHODS[r["method"]]
    # runs recorded before the decorrelation rate had a width rule used 1e-4
    ed = r.get("lr_decorrelation_used", LR_DECORRELATION_REF)
    return (abs(r["lr_used"] - default_lr(rule, r["optimizer"], r["n_hidden"], dec))
            <= 1e-9 * r["lr_used"]
            and (not dec or abs(ed - default_lr_decorrelation(r["n_hidden"])) <= 1e-9 * ed))


def report(args):
    seen, rows = set(), []
    records = load(args.results)
    if not records:
        raise FileNotFoundError(f"no runs in {args.results}; run a sweep first, or report "
                                f"the committed ones with --results docs/width.jsonl")
    for r in records:
        k = (r["task"], r["method"], r["optimizer"], r["n_hidden"], r["seed"], r["steps"])
        if current(r) and k not in seen:
            seen.add(k)
            rows.append(r)
    lines = []
    for task, opt in sorted({(r["task"], r["optimizer"]) for r in rows}):
        sub = [r for r in rows if (r["task"], r["optimizer"]) == (task, opt)]
        full = max(r["steps"] for r in sub)
        widths = sorted({r["n_hidden"] for r in sub})
        names = [m for m in METHODS if any(r["method"] == m for r in sub)]
        label = {"mg": "Mackey-Glass 15 steps ahead, NMSE",
                 "wth": "weather 1 h ahead, MSE / persistence MSE"}[task]
        lines.append(f"\n**{label}, {opt}** (default lr; median (min-max) over seeds; "
                     f"div = DivergenceError; {full:,} steps unless marked)\n")
        lines.append("| method | " + " | ".join(str(w) for w in widths) + " |")
        lines.append("|---|" + "---|" * len(widths))
        for m in names:
            cells = []
            for w in widths:
                rs = [r for r in sub if r["method"] == m and r["n_hidden"] == w]
                if not rs:
                    cells.append("")
                    continue
                longest = max(r["steps"] for r in rs)
                rs = [r for r in rs if r["steps"] == longest]
                mark = f" [{longest:,} steps]" if longest != full else ""
                cells.append(fmt(rs) + mark)
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    for folder in [args.out] + ([DOCS] if args.write_docs else []):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "width_table.md").write_text(text)
        print("wrote", folder / "width_table.md")
        figure(rows, folder / "figures" / "width_sweep.png")


def figure(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted({(r["task"], r["optimizer"]) for r in rows})
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5), squeeze=False)
    for ax, g in zip(axes.flat, groups):
        sub = [r for r in rows if (r["task"], r["optimizer"]) == g]
        full = max(r["steps"] for r in sub)
        for m in METHODS:
            ms = [r for r in sub if r["method"] == m]
            if not ms:
                continue
            pts = {}
            for w in sorted({r["n_hidden"] for r in ms}):
                v = [r["score_value"] for r in ms
                     if r["n_hidden"] == w and r["steps"] == full and not r["diverged"]]
                if v:
                    pts[w] = (np.median(v), min(v), max(v))
            wx = sorted(pts)
            line, = ax.plot(wx, [pts[w][0] for w in wx], "s--" if m.startswith("d") else "o-",
                            label=m, ms=4)
            ax.fill_between(wx, [pts[w][1] for w in wx], [pts[w][2] for w in wx],
                            color=line.get_color(), alpha=0.12)
            short = [r for r in ms if r["steps"] < full and not r["diverged"]
                     and r["n_hidden"] not in pts]
            ax.plot([r["n_hidden"] for r in short], [r["score_value"] for r in short],
                    "s" if m.startswith("d") else "o", mfc="none", color=line.get_color())
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("hidden units N")
        ax.set_ylabel("NMSE" if g[0] == "mg" else "MSE / persistence")
        ax.set_title(f"{'Mackey-Glass, 15 ahead' if g[0] == 'mg' else 'weather, 1 h ahead'}"
                     f", {g[1]} ({full:,} steps; open: shorter runs)", fontsize=9)
        ax.legend(fontsize=7, ncol=2)
    fig.suptitle("default learning rate (streamlearn.defaults.default_lr); "
                 "median over seeds, band = min-max; "
                 f"{sum(r['diverged'] for r in rows)} of {len(rows)} runs diverged", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print("wrote", path)


def _list(kind):
    def parse(text):
        try:
            values = [kind(x) for x in text.split(",") if x]
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be comma-separated numbers, got {text!r}") from None
        if any(v < 0 for v in values):
            raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
        return values

    return parse


def main(argv=None):
    from streamlearn.cliargs import (ArgumentParser, add_debug, nonnegative_int, output_dir,
                                     positive_int, run_main)

    p = ArgumentParser(prog="python -m benchmarks.width", description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=["defaults", "grid", "report"])
    p.add_argument("--results", type=Path, default=RESULTS, metavar="FILE",
                   help=f"JSON lines of the runs, appended to (default ./{RESULTS})")
    p.add_argument("--out", type=output_dir, default=str(OUT), metavar="DIR",
                   help=f"report: where the table and the figure go (default ./{OUT})")
    p.add_argument("--write-docs", action="store_true",
                   help="report: also write docs/width_table.md and docs/figures/width_sweep.png")
    p.add_argument("--task", default="mg", choices=["mg", "wth"])
    p.add_argument("--methods", default="anp,danp",
                   type=lambda s: [m for m in s.split(",") if m])
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    p.add_argument("--widths", default="16,50,100,200,500,1000,2000", type=_list(int))
    p.add_argument("--lrs", default="", type=_list(float))
    p.add_argument("--seeds", default="0,1", type=_list(int))
    p.add_argument("--steps", type=nonnegative_int, default=20000,
                   help="stream length (wth: 0 = the whole file)")
    p.add_argument("--score", type=positive_int, default=5000, help="scored tail length")
    p.add_argument("--jobs", type=positive_int, default=1)
    add_debug(p)
    args = p.parse_args(argv)
    if 0 in args.widths:
        p.error("argument --widths: hidden sizes must be positive")
    args.out = Path(args.out)
    if args.mode == "report":
        return run_main(report, args, p.prog)
    return run_main(lambda a: sweep(a, [None] if a.mode == "defaults" else a.lrs), args, p.prog)


if __name__ == "__main__":
    sys.exit(main())
