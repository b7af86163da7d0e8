"""Adam's update of R, before and after the row pass (2026-12-02), side by side.

    python -m benchmarks.adam             # ./benchmark-results/adam.md and adam.json
    python -m benchmarks.adam --write-docs  # also the "Adam" section data in docs/adam-benchmark.md

The fast path stores R transposed (RT) and R's Adam moments row-major. The kernel
used to walk RT's rows with the moments strided, entry by entry, with Python's
zero-divisor check on each of Adam's divisions (Numba's default error model); that
loop does not vectorise. ``optim._adam_transposed`` does one row of the moments at a
time in a scratch row (contiguous, IEEE division) and scatters it into RT. Each
entry's arithmetic is the same, so the results are bit for bit equal (checked
here too). Timed: (1) the R update alone, ``BEFORE`` below (a copy of the old
loop) against the kernel, at 100, 500 and 1,000 units; (2) a whole BP step with
Adam against one with SGD (``learn_many``), interleaved, medians of per-repeat
ratios.
"""

import json
import time
from pathlib import Path

import numpy as np
from numba import njit

from streamlearn.cliargs import ArgumentParser, add_debug, int_at_least, output_dir, run_main

from .run import fmt, machine, ratio_stats, side_by_side, stats

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@njit(cache=True)
def _element(m, v, s, b1, b2, bc1, bc2, eps, lr):
    m = b1 * m + (1.0 - b1) * s
    v = b2 * v + (1.0 - b2) * s * s
    return m, v, lr * (m / bc1) / (np.sqrt(v / bc2) + eps)


@njit(cache=True)
def BEFORE(RT, G, P, k, M, V, b1, b2, bc1, bc2, eps, lr):
    """The loop of ``optim._pending_general``'s Adam branch before 2026-12-02."""
    N = RT.shape[1]
    for j in range(N):
        row = RT[j]
        for i in range(N):
            s = 0.0
            for q in range(k):
                s += G[q, i] * P[q, j]
            M[i, j], V[i, j], d = _element(M[i, j], V[i, j], s, b1, b2, bc1, bc2, eps, lr)
            row[i] -= d


def _after():
    """The kernel as the step calls it (it has no Python wrapper of its own)."""
    from streamlearn.kernels.layout import ADAM
    from streamlearn.kernels.optim import _pending_general

    @njit
    def run(RT, G, P, k, M, V, hyper, t, lr, w):
        _pending_general(RT, 0, RT.shape[0], G, P, k, lr, ADAM, M, V, hyper, t, w)
    return run


def bench_update(sizes, repeats):
    from streamlearn.kernels.layout import H_BETA1, H_BETA2, H_EPS
    after = _after()
    rows = []
    for N in sizes:
        rng = np.random.default_rng(N)
        RT = rng.standard_normal((N, N))
        G, P = rng.standard_normal((1, N)), rng.standard_normal((1, N))
        M, V = 0.01 * rng.standard_normal((N, N)), rng.random((N, N))
        hyper = np.zeros(8)
        hyper[H_BETA1], hyper[H_BETA2], hyper[H_EPS] = 0.9, 0.999, 1e-8
        t, lr = 7, 1e-3
        b1, b2 = 0.9, 0.999
        bc1, bc2 = 1.0 - b1 ** t, 1.0 - b2 ** t
        w = np.empty(N)
        a = [x.copy() for x in (RT, M, V)]
        b = [x.copy() for x in (RT, M, V)]
        BEFORE(a[0], G, P, 1, a[1], a[2], b1, b2, bc1, bc2, 1e-8, lr)
        after(b[0], G, P, 1, b[1], b[2], hyper, t, lr, w)
        equal = all(np.array_equal(x, y) for x, y in zip(a, b))
        times = side_by_side({
            "before": (lambda: BEFORE(a[0], G, P, 1, a[1], a[2], b1, b2, bc1, bc2, 1e-8, lr), 1),
            "after": (lambda: after(b[0], G, P, 1, b[1], b[2], hyper, t, lr, w), 1),
        }, repeats)
        rows.append({"n_hidden": N, "bit_identical": equal,
                     "before_us": stats(1e6 * np.asarray(times["before"])),
                     "after_us": stats(1e6 * np.asarray(times["after"])),
                     "before_over_after": ratio_stats(times["before"], times["after"])})
    return rows


def bench_step(sizes, repeats, steps=200):
    from streamlearn import OnlineRNN
    rows = []
    for N in sizes:
        U = np.random.default_rng(0).standard_normal((steps, 1))
        models = {opt: OnlineRNN(1, N, 1, method="bp", optimizer=opt, seed=0)
                  for opt in ("sgd", "adam")}
        for m in models.values():
            m.learn_many(U[:2], U[:2])
        times = side_by_side({opt: ((lambda m=m: m.learn_many(U, U)), steps)
                              for opt, m in models.items()}, repeats)
        rows.append({"n_hidden": N, "sgd_us": stats(1e6 * np.asarray(times["sgd"])),
                     "adam_us": stats(1e6 * np.asarray(times["adam"])),
                     "adam_over_sgd": ratio_stats(times["adam"], times["sgd"])})
    return rows


def render(res):
    m = res["machine"]
    lines = ["# Adam's update of R: before and after the row pass", "",
             "`python -m benchmarks.adam` (benchmarks/adam.py says what is timed). Medians "
             "(min - max) over interleaved repeats.", "",
             "| N | bit-identical | before | after | before / after |", "|---|---|---|---|---|"]
    for r in res["update"]:
        lines.append(f"| {r['n_hidden']} | {r['bit_identical']} | {fmt(r['before_us'], ' us')} | "
                     f"{fmt(r['after_us'], ' us')} | {fmt(r['before_over_after'])} |")
    lines += ["", "A whole BP step (`learn_many`), Adam against SGD:", "",
              "| N | SGD | Adam | Adam / SGD |", "|---|---|---|---|"]
    for r in res["step"]:
        lines.append(f"| {r['n_hidden']} | {fmt(r['sgd_us'], ' us')} | {fmt(r['adam_us'], ' us')} | "
                     f"{fmt(r['adam_over_sgd'])} |")
    lines += ["", f"Machine: {m.get('cpu', '?')}, {m['cpus']} logical cores, Python {m['python']}, "
              f"NumPy {m['numpy']}, Numba {m['numba']}; load average at the start "
              f"{res['load'][0]:.1f}, at the end {res['load'][1]:.1f} (the machine was shared).", ""]
    return "\n".join(lines)


def main(argv=None):
    ap = ArgumentParser(prog="python -m benchmarks.adam", description=__doc__)
    ap.add_argument("--repeats", type=int_at_least(1), default=15)
    ap.add_argument("--out", default="benchmark-results", type=output_dir, metavar="DIR")
    ap.add_argument("--write-docs", action="store_true",
                    help="also write docs/adam-benchmark.md")
    add_debug(ap)
    args = ap.parse_args(argv)
    return run_main(_run, args, ap.prog)


def _run(args):
    import os
    load0 = os.getloadavg()[0]
    res = {"machine": machine(), "update": bench_update((100, 500, 1000), args.repeats),
           "step": bench_step((100, 500), max(3, args.repeats // 3))}
    res["load"] = (load0, os.getloadavg()[0])
    text = render(res)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "adam.md").write_text(text)
    (out / "adam.json").write_text(json.dumps(res, indent=1))
    if args.write_docs:
        (DOCS / "adam-benchmark.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
