"""Markdown tables of the paper-scale runs committed under docs/results-data/.

    python -m benchmarks.paper_tables            # print the tables
    python -m benchmarks.paper_tables --write-docs  # also docs/results-paper-tables.md
    python -m benchmarks.paper_tables --figures     # also docs/figures/<name>_paper_final.png

Reads ``docs/results-data/<experiment>-paper/aggregate.csv`` and ``tuning.json`` (what
``streamlearn run ... --variant paper`` writes into its ``--out`` directory, copied
there as runs finish) and prints, per experiment, each method's chosen rate, stable
runs and final test / training loss (mean over stable seeds, min-max).

``--figures`` draws, from each experiment's ``summary.csv`` (one row per run), the
final training and test loss per method as bars at the mean over the stable seeds with
min-max error bars, unstable runs counted above the bars: the figure the runner draws
(``streamlearn.experiments.figures.final_performance``), for the runs committed here.
The per-epoch histories of these runs were not kept, so no learning curves.
"""

import argparse
import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "docs" / "results-data"
ORDER = ["bp", "dbp", "anp", "danp", "np", "dnp", "wp", "dwp"]
TITLES = {
    "mackey_glass": "Mackey-Glass, forecast pairing (input s_t, target s_t+15)",
    "mackey_glass_recall": "Mackey-Glass, recall pairing (the authors' code: input s_t+15, target s_t)",
    "weather_1h": "Weather 1 h", "weather_24h": "Weather 24 h", "weather_48h": "Weather 48 h",
    "scaling": "Scaling on weather 1 h, 100 to 3,000 units (reduced data: 3,000 training / 1,000 test hours, 4 epochs, 2 seeds, width-aware default rates)",
    "copy-authors-100": "Copying memory, the authors' setup at 100 units",
    "copy-authors": "Copying memory, the authors' setup (500 units)",
}


def _f(x):
    return "-" if x in ("", None) else "%.3g" % float(x)


def table(folder):
    rows = list(csv.DictReader((folder / "aggregate.csv").open()))
    tuned = {}
    if (folder / "tuning.json").exists():
        tuned = json.loads((folder / "tuning.json").read_text()).get("chosen", {})
    summary = list(csv.DictReader((folder / "summary.csv").open())) \
        if (folder / "summary.csv").exists() else []
    lrs = {r["method"]: r.get("lr") for r in summary}
    acc = "final_test_recall_accuracy_mean" in (rows[0] if rows else {})
    head = "| method | units | lr | stable/runs | final test loss (min-max) | final train loss (min-max) |"
    if acc:
        head += " test recall acc. | train recall acc. |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in sorted(rows, key=lambda r: (ORDER.index(r["method"]), int(r["n_hidden"]))):
        m = r["method"]
        lr = tuned.get(m, {}).get("lr", lrs.get(m))
        if int(r["n_stable"]) == 0:
            test = train = "-"
        else:
            test = (f"{_f(r['final_test_loss_mean'])} ({_f(r['final_test_loss_min'])}-"
                    f"{_f(r['final_test_loss_max'])})")
            train = (f"{_f(r['final_train_loss_mean'])} ({_f(r['final_train_loss_min'])}-"
                     f"{_f(r['final_train_loss_max'])})")
        line = (f"| {m.upper()} | {r['n_hidden']} | {_f(lr) if lr else '-'} | "
                f"{r['n_stable']}/{r['n_runs']} | {test} | {train} |")
        if acc:
            line += (f" {_f(r.get('final_test_recall_accuracy_mean', 'nan'))} |"
                     f" {_f(r.get('final_train_recall_accuracy_mean', 'nan'))} |")
        lines.append(line)
    return "\n".join(lines)


FIGURES = ["mackey_glass", "mackey_glass_recall", "weather_1h", "weather_24h", "weather_48h"]


def runs_from_summary(folder):
    """The run dicts ``final_performance`` reads, from a ``summary.csv``."""
    runs = []
    for r in csv.DictReader((folder / "summary.csv").open()):
        final = {k: (float(r[k]) if r.get(k) not in ("", None) else None)
                 for k in ("final_train_loss", "final_test_loss")}
        runs.append({"method": r["method"], "n_hidden": int(r["n_hidden"]), "seed": int(r["seed"]),
                     "status": r["status"], "final": final})
    return runs


def draw_figures(out_dir=None):
    """docs/figures/<name>_paper_final.png for every paper-scale experiment present."""
    from streamlearn.experiments.figures import final_performance

    out_dir = Path(out_dir) if out_dir else ROOT / "docs" / "figures"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in FIGURES:
        folder = DATA / (name + "-paper")
        if not (folder / "summary.csv").exists():
            continue
        runs = runs_from_summary(folder)
        sizes = sorted({r["n_hidden"] for r in runs})
        seeds = len({r["seed"] for r in runs})
        title = (f"{TITLES[name].split(' (')[0]}, {'/'.join(map(str, sizes))} hidden units, "
                 f"{seeds} seeds (paper scale)")
        path = out_dir / f"{name}_paper_final.png"
        final_performance(runs, path, title)
        written.append(path)
    return written


def render():
    out = []
    for name in TITLES:
        for suffix in ("-paper", ""):
            folder = DATA / (name + suffix)
            if (folder / "aggregate.csv").exists() and (suffix or name.startswith("copy-")):
                out += [f"**{TITLES[name]}** (`docs/results-data/{folder.name}/`)", "",
                        table(folder), ""]
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.paper_tables", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--figures", action="store_true",
                    help="draw docs/figures/<name>_paper_final.png (needs matplotlib)")
    args = ap.parse_args(argv)
    if args.figures:
        for path in draw_figures():
            print(f"wrote {path.relative_to(ROOT)}")
    text = render()
    print(text)
    if args.write_docs:
        (ROOT / "docs" / "results-paper-tables.md").write_text(
            "# Paper-scale runs: the tables\n\nGenerated by `python -m benchmarks.paper_tables` "
            "from `docs/results-data/`; what was run is in docs/results.md, \"Paper scale\".\n\n"
            + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
