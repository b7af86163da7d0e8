"""A shared model over many streams against one stream's learn_many (issue 10, item 2).

    python -m benchmarks.shared                 # 64 / 256 / 1,024 units x K = 16 / 64 / 256
    python -m benchmarks.shared --quick         # fewer repeats, shorter runs
    python -m benchmarks.shared --write-docs    # also rewrite the table in docs/shared.md

Output: OUT/shared.md and OUT/shared.json (OUT is --out, default ./benchmark-results).

Per-sample learning cost of ``SharedRNN.learn_many`` (one tick = K samples, one per
stream) against ``OnlineRNN.learn_many`` over one stream (per sample), at the same
width and settings (ANP, SGD, tanh, Gaussian noise, float64, one input and one
output), measured side by side in one process: every repeat times each contender
once, interleaved; medians of the per-repeat ratios, with min and max. More
rows: DANP and ANP with Rademacher noise at 256 units and K = 64, and 2,048
units (R no longer fits the caches) at K = 16 and 64.

"Fixed work" is what every sample costs in either model and no batching can share:
2N tanh (two twins) and N + O normal draws (Box-Muller), timed alone; "floor" is
that over the single stream's cost, the lowest ratio reachable with the same
arithmetic.
"""

import json
import os
import re
from pathlib import Path

import numpy as np

from streamlearn.cliargs import ArgumentParser, add_debug, int_at_least, output_dir, run_main

from .run import fmt, machine, ratio_stats, side_by_side, stats, stream

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "shared.md"
BEGIN, END = "<!-- begin: benchmarks/shared.py -->", "<!-- end: benchmarks/shared.py -->"
WIDTHS = (64, 256, 1024)
STREAMS = (16, 64, 256)
TARGET = (256, 64, 0.2)  # the done-when: 256 units, K = 64, <= 0.2 x


def _models(N, K, method, decorrelation, noise):
    from streamlearn import OnlineRNN, SharedRNN

    kw = dict(method=method, decorrelation=decorrelation, noise=noise, seed=0, lr=1e-6,
              lr_decorrelation=1e-6)
    return SharedRNN(1, N, 1, **kw), OnlineRNN(1, N, 1, **kw)


def _fixed_work(N, O, repeats):
    """Seconds per sample of the work no batching shares: 2N tanh and N + O normals."""
    from numba import njit

    from streamlearn._random import _fill_normal, seed_state

    @njit(cache=False)
    def tanh_twice(a, x, n):
        for _ in range(n):
            for twin in range(2):
                for i in range(a.shape[0]):
                    x[i] = np.tanh(a[i])

    a, x = np.linspace(-2.0, 2.0, N), np.empty(N)
    state, buf = seed_state(0), np.empty(N + O)
    n = max(10, 200_000 // N)
    tanh_twice(a, x, 1)
    _fill_normal(state, buf, 1.0)

    def normals():
        for _ in range(n):
            _fill_normal(state, buf, 1.0)

    t = side_by_side({"tanh": (lambda: tanh_twice(a, x, n), n), "normal": (normals, n)},
                     repeats)
    return {k: stats(v) for k, v in t.items()}


def measure(N, K, method, decorrelation, noise, cfg):
    shared, single = _models(N, K, method, decorrelation, noise)
    samples = max(50, int(cfg.budget // (3 * N * N)))
    ticks = max(3, samples // K)
    Us, Ys = stream(ticks + K)
    # K streams, each the same series from its own offset: (ticks, K, 1)
    U = np.ascontiguousarray(np.stack([Us[s:s + ticks] for s in range(K)], 1))
    Y = np.ascontiguousarray(np.stack([Ys[s:s + ticks] for s in range(K)], 1))
    keys = list(range(K))
    Ua, Ya = stream(samples, seed=1)
    shared.learn_many(keys, U[0], Y[0])  # compile / load the kernels, join the streams
    single.learn_many(Ua[:3], Ya[:3])

    def run_shared():
        for t in range(ticks):
            shared.learn_many(keys, U[t], Y[t])

    times = side_by_side({"shared": (run_shared, ticks * K),
                          "single": (lambda: single.learn_many(Ua, Ya), samples)},
                         cfg.repeats)
    tag = ("d" if decorrelation else "") + method
    row = dict(n_hidden=N, streams=K, method=tag, noise=noise, ticks=ticks,
               single_samples=samples, shared_s=stats(times["shared"]),
               single_s=stats(times["single"]),
               ratio=ratio_stats(times["shared"], times["single"]))
    print(f"{N:5d} units, K={K:3d}, {tag} {noise}: shared {row['shared_s']['median'] * 1e6:8.1f}"
          f" us/sample, single {row['single_s']['median'] * 1e6:8.1f} us/sample, ratio "
          f"{fmt(row['ratio'])}", flush=True)
    return row


def table(res):
    fixed = res["fixed_work"]
    lines = [f"Measured by `python -m benchmarks.shared{' --quick' if res['quick'] else ''}` "
             f"on {res['machine'].get('cpu', '?')}, {res['machine'].get('cpus', '?')} cores "
             f"shared with two other jobs (load average {res['load']:.2f} at the start), "
             f"Python {res['machine'].get('python', '?')}, numba "
             f"{res['machine'].get('numba', '?')}; {res['repeats']} interleaved repeats, "
             "medians (ratio: median of the per-repeat ratios, min - max).", "",
             "| units | K | method, noise | shared, us/sample | one stream's learn_many, "
             "us/sample | ratio | fixed work, us/sample | floor |",
             "|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        f = fixed[str(r["n_hidden"])]
        fw = f["tanh"]["median"] + f["normal"]["median"]
        if r["noise"] == "rademacher":  # 64 signs per random word: no normals to draw
            fw = f["tanh"]["median"]
        floor = fw / r["single_s"]["median"]
        lines.append(f"| {r['n_hidden']:,} | {r['streams']} | {r['method'].upper()}, "
                     f"{r['noise']} | {r['shared_s']['median'] * 1e6:.1f} | "
                     f"{r['single_s']['median'] * 1e6:.1f} | {fmt(r['ratio'], digits=2)} | "
                     f"{fw * 1e6:.1f} | {floor:.2f} |")
    N, K, goal = TARGET
    hit = [r for r in res["rows"] if (r["n_hidden"], r["streams"], r["method"],
                                      r["noise"]) == (N, K, "anp", "gaussian")]
    if hit:
        v = hit[0]["ratio"]["median"]
        lines += ["", f"Target ({N} units, K = {K}, ANP, defaults): ratio <= {goal}; "
                  f"measured {v:.2f}: {'met' if v <= goal else 'not met'}."]
    return "\n".join(lines)


def run(cfg):
    if cfg.quick:
        cfg.repeats, cfg.budget = 5, cfg.budget / 4
    import numba

    res = {"machine": dict(machine(), numba=numba.__version__), "load": os.getloadavg()[0],
           "repeats": cfg.repeats, "budget": cfg.budget, "quick": cfg.quick, "rows": []}
    res["fixed_work"] = {str(N): _fixed_work(N, 1, cfg.repeats) for N in WIDTHS + (2048,)}
    for N in WIDTHS:
        for K in STREAMS:
            res["rows"].append(measure(N, K, "anp", False, "gaussian", cfg))
    res["rows"].append(measure(256, 64, "anp", True, "gaussian", cfg))
    res["rows"].append(measure(256, 64, "anp", False, "rademacher", cfg))
    for K in (16, 64):  # R (32 MB) no longer fits the caches: the single stream reads memory
        res["rows"].append(measure(2048, K, "anp", False, "gaussian", cfg))
    text = table(res)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "shared.md").write_text("# SharedRNN against one stream\n\n" + text + "\n")
    (out / "shared.json").write_text(json.dumps(res, indent=1))
    print(text)
    print(f"wrote {out / 'shared.md'} and {out / 'shared.json'}")
    if cfg.write_docs:
        doc = DOC.read_text()
        new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END),
                     lambda m: f"{BEGIN}\n{text}\n{END}", doc, flags=re.S)
        DOC.write_text(new)
        print(f"wrote {DOC}")
    return 0


def main(argv=None):
    p = ArgumentParser(prog="python -m benchmarks.shared", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=output_dir, default="benchmark-results")
    p.add_argument("--write-docs", action="store_true", help="also rewrite the table in "
                   "docs/shared.md")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeats", type=int_at_least(5), default=9)
    p.add_argument("--budget", type=float, default=4e8,
                   help="multiply-adds per timed call (sets the number of samples)")
    add_debug(p)
    args = p.parse_args(argv)
    return run_main(run, args, "benchmarks.shared")


if __name__ == "__main__":
    raise SystemExit(main())
