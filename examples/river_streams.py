"""Progressive validation of RNNRegressor on the regression streams River ships.

Every learning rule (anp, np, wp, bp), with and without decorrelation, against
River's LinearRegression, each behind a StandardScaler, on TrumpApproval,
ChickWeights and the synthetic Friedman stream (no download). Prints a table of
MAE and saves a bar chart (``--out``, default ``river_streams.png`` in the
current directory).

    python examples/river_streams.py [--out river_streams.png] [--seed 0] [--n 200]
"""

import itertools
import time

from river import datasets, evaluate, linear_model, metrics, preprocessing
from river.datasets import synth

from streamlearn.cliargs import ArgumentParser, nonnegative_int, output_file, positive_int
from streamlearn.regressor import RNNRegressor

METHODS = ["anp", "np", "wp", "bp"]


def streams(seed):
    return {
        "TrumpApproval": lambda: datasets.TrumpApproval(),
        "ChickWeights": lambda: datasets.ChickWeights(),
        "Friedman (2000)": lambda: synth.Friedman(seed=seed).take(2000),
    }


def models(seed):
    out = {}
    for decor in (False, True):
        for method in METHODS:
            name = ("d" if decor else "") + method
            out[name] = lambda m=method, d=decor: preprocessing.StandardScaler() | RNNRegressor(
                method=m, decorrelation=d, seed=seed)
    out["LinearRegression"] = lambda: preprocessing.StandardScaler() | linear_model.LinearRegression(
        intercept_lr=0.1)
    return out


def main(argv=None):
    parser = ArgumentParser(prog="river_streams.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=output_file, default="river_streams.png",
                        help="the PNG to write (default ./river_streams.png)")
    parser.add_argument("--seed", type=nonnegative_int, default=0)
    parser.add_argument("--n", type=positive_int, default=None,
                        help="only the first N samples of each stream (default: all)")
    args = parser.parse_args(argv)

    data, table = streams(args.seed), {}
    names = list(models(args.seed))
    for dname, make_data in data.items():
        for mname, make_model in models(args.seed).items():
            t0 = time.perf_counter()
            stream = make_data() if args.n is None else itertools.islice(make_data(), args.n)
            mae = evaluate.progressive_val_score(stream, make_model(), metrics.MAE()).get()
            table[dname, mname] = (mae, time.perf_counter() - t0)
            print(f"{dname:16s} {mname:17s} MAE {mae:10.4f}  ({table[dname, mname][1]:.1f}s)",
                  flush=True)

    # markdown table: rows = models, columns = streams
    header = "| model | " + " | ".join(data) + " |"
    print("\n" + header)
    print("|" + "---|" * (len(data) + 1))
    for mname in names:
        cells = []
        for dname in data:
            best = min(table[dname, m][0] for m in names)
            mae = table[dname, mname][0]
            cells.append(f"**{mae:.3f}**" if mae == best else f"{mae:.3f}")
        print(f"| {mname} | " + " | ".join(cells) + " |")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install matplotlib): no chart")
        return table
    fig, axes = plt.subplots(1, len(data), figsize=(4.2 * len(data), 3.6))
    colors = ["#4c72b0"] * 4 + ["#55a868"] * 4 + ["#c44e52"]
    for ax, dname in zip(axes, data):
        values = [table[dname, m][0] for m in names]
        ax.bar(range(len(names)), values, color=colors)
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right")
        ax.set_title(dname)
        ax.set_ylabel("MAE (progressive validation)")
    fig.suptitle("RNNRegressor vs LinearRegression (StandardScaler in front of each)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"chart saved to {args.out}")
    return table


if __name__ == "__main__":
    main()
