"""Many streams at once (issue 10): a Fleet against one model per stream.

    python -m benchmarks fleet                # every size, about 5 minutes
    python -m benchmarks fleet --quick        # fewer repeats, K up to 1,000
    python -m benchmarks fleet --write-docs   # also rewrite docs/fleet-benchmark.md

Output: OUT/fleet.md and OUT/fleet.json (OUT is --out, default ./benchmark-results).

For K streams (1, 100, 1,000, 10,000) and n_hidden 16, 32 and 64, ANP with
the default settings, one input and one output, every stream its own random
walk: stream-steps per second of

- ``fleet, one tick``: ``Fleet.learn_many(keys, U, Y)`` with one sample per
  stream per call, on both cores (threads=2), and on one (threads=1);
- ``fleet, 50 ticks``: one call with a block of 50 ticks of every stream;
- ``learn_one loop``: one stand-alone ``OnlineRNN`` per stream, ``learn_one``
  on each in turn (for K = 10,000 a sample of 1,000 of them: the cost per
  stream-step does not depend on how many others there are);
- ``learn_many per stream``: each stand-alone model learns its 50 samples in
  one ``learn_many`` call (the single-stream fast path, no per-call overhead
  to speak of).

Contenders are timed side by side, interleaved within each repeat; the table
gives medians and the ratios to the ``learn_one`` loop. Memory per member is
the fleet's own count of its stacked arrays' bytes. Before timing, one member
per configuration is checked bit for bit against its stand-alone model.
"""

import json
import os
import time
from pathlib import Path

import numpy as np

from streamlearn.cliargs import ArgumentParser, add_debug, int_at_least, output_dir, run_main

from .run import machine, side_by_side, stats

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BLOCK = 50


def _data(K, T, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(T, K, 1))
    Y = np.tanh(np.cumsum(rng.normal(size=(T, K, 1)), axis=0) / 5)
    return U, Y


def _check(fleet, keys, U, Y):
    """One member against its stand-alone model (the timed fleet continues after)."""
    from streamlearn import OnlineRNN

    probe = type(fleet)(1, fleet.n_hidden, 1, seed=fleet.seed,
                        **{k: v for k, v in fleet.settings.items()
                           if k not in ("n_inputs", "n_hidden", "n_outputs")})
    out = probe.learn_many(keys, U, Y)
    j = len(keys) // 2
    ref = OnlineRNN(**probe.settings, seed=probe.seed_of(keys[j]))
    return bool(np.array_equal(out[:, j], ref.learn_many(U[:, j], Y[:, j])))


def bench(K, N, repeats, ticks):
    from streamlearn import Fleet, OnlineRNN

    keys = list(range(K))
    U, Y = _data(K, max(BLOCK, ticks) + 5)
    fleet2 = Fleet(1, N, 1, method="anp", seed=0, threads=2, capacity=K)
    fleet1 = Fleet(1, N, 1, method="anp", seed=1, threads=1, capacity=K)
    t0 = time.perf_counter()
    for k in keys:
        fleet2.add(k)
    add_s = (time.perf_counter() - t0) / K
    for k in keys:
        fleet1.add(k)
    exact = _check(fleet2, keys[:min(K, 50)], U[:20, :min(K, 50)], Y[:20, :min(K, 50)])
    fleet2.learn_many(keys, U[0], Y[0])
    fleet1.learn_many(keys, U[0], Y[0])
    n_alone = min(K, 1000)
    alone = [OnlineRNN(**fleet2.settings, seed=fleet2.seed_of(k)) for k in keys[:n_alone]]
    for m in alone:
        m.learn_one(U[0, 0], Y[0, 0])

    def fleet_ticks(fleet):
        def run():
            for t in range(1, ticks + 1):
                fleet.learn_many(keys, U[t], Y[t])
        return run, ticks * K

    def fleet_block():
        fleet2.learn_many(keys, U[1:BLOCK + 1], Y[1:BLOCK + 1])

    def loop():
        for t in range(1, ticks + 1):
            u, y = U[t], Y[t]
            for j, m in enumerate(alone):
                m.learn_one(u[j], y[j])

    Ua = np.ascontiguousarray(U[1:BLOCK + 1, :n_alone].transpose(1, 0, 2))
    Ya = np.ascontiguousarray(Y[1:BLOCK + 1, :n_alone].transpose(1, 0, 2))

    def many():
        for j, m in enumerate(alone):
            m.learn_many(Ua[j], Ya[j])

    contenders = {"fleet, one tick, 2 threads": fleet_ticks(fleet2),
                  "fleet, one tick, 1 thread": fleet_ticks(fleet1),
                  f"fleet, {BLOCK} ticks, 2 threads": (fleet_block, BLOCK * K),
                  "learn_one loop": (loop, ticks * n_alone),
                  "learn_many per stream": (many, BLOCK * n_alone)}
    times = side_by_side(contenders, repeats)
    rates = {k: stats(1.0 / np.asarray(v)) for k, v in times.items()}
    base = np.asarray(times["learn_one loop"])
    ratios = {k: stats(base / np.asarray(v)) for k, v in times.items()}
    row = dict(K=K, N=N, exact=exact, memory_per_member=fleet2.memory_per_member,
               add_us=add_s * 1e6, sampled=n_alone, rates=rates, speedup=ratios)
    print(f"K={K:>6} N={N:>3}: " + ", ".join(f"{k} {v['median']:,.0f}/s"
                                              for k, v in rates.items()), flush=True)
    return row


def report(res):
    m = res["machine"]
    lines = ["# Many streams: a Fleet against one model per stream", "",
             "Generated by `python -m benchmarks fleet` (benchmarks/fleet.py); rerun it to "
             "regenerate. What a fleet is and guarantees: [fleet.md](fleet.md).", "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cpus', '?')} logical CPUs, "
             f"{m.get('memory', '?')}, Python {m.get('python', '?')}, numba "
             f"{m.get('numba', '?')}; load average {res['load'][0]:.2f} at the start, "
             f"{res['load_after'][0]:.2f} at the end{res.get('note', '')}.", "",
             "ANP, default settings, one input and one output per stream. Stream-steps "
             "per second (one stream learning one sample), median of "
             f"{res['repeats']} interleaved repeats; in brackets the speed-up over the "
             "`learn_one` loop measured in the same repeats. Every row's member was checked "
             "bit for bit against its stand-alone `OnlineRNN` first (column `exact`).", ""]
    names = list(res["rows"][0]["rates"])
    lines += ["| K | N | " + " | ".join(names) + " | exact | bytes / member |",
              "|---|---|" + "---|" * len(names) + "---|---|"]
    for r in res["rows"]:
        cells = [f"{r['rates'][k]['median']:,.0f} ({r['speedup'][k]['median']:.1f}x)"
                 for k in names]
        lines.append(f"| {r['K']:,} | {r['N']} | " + " | ".join(cells) +
                     f" | {'yes' if r['exact'] else 'NO'} | {r['memory_per_member']:,} |")
    lines += ["", "For K = 10,000 the two stand-alone contenders ran on a sample of "
              "1,000 of the streams (their cost per stream-step does not depend on the "
              "others). Adding a member (drawing its weights as `OnlineRNN` does and "
              "copying them in) took " + ", ".join(
                  f"{r['add_us']:.0f} us" for r in res["rows"] if r["K"] == max(
                      x["K"] for x in res["rows"])) + " per member at the largest K.", ""]
    target = [r for r in res["rows"] if r["K"] == 10_000 and r["N"] == 32]
    if target:
        v = target[0]["rates"]["fleet, one tick, 2 threads"]["median"]
        b = target[0]["rates"][f"fleet, {BLOCK} ticks, 2 threads"]["median"]
        lines += [f"Issue 10's target, 10,000 32-unit ANP models at >= 200,000 stream-steps "
                  f"per second on this 2-core machine: {v:,.0f} per second one tick per call, "
                  f"{b:,.0f} with blocks of {BLOCK} ticks.", ""]
    return "\n".join(lines)


def run(args):
    import numba

    Ks = (1, 100, 1000) if args.quick else (1, 100, 1000, 10_000)
    sizes = (16, 32, 64)
    repeats = 5 if args.quick else args.repeats
    res = {"machine": dict(machine(), numba=numba.__version__), "repeats": repeats,
           "quick": args.quick, "load": os.getloadavg()}
    if args.note:
        res["note"] = f"; {args.note}"
    rows = []
    for K in Ks:
        for N in sizes:
            ticks = max(2, min(200, 20_000 // K))
            rows.append(bench(K, N, repeats, ticks))
    res["rows"] = rows
    res["load_after"] = os.getloadavg()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = report(res)
    (out / "fleet.md").write_text(text)
    (out / "fleet.json").write_text(json.dumps(res, indent=1))
    print(f"wrote {out / 'fleet.md'} and {out / 'fleet.json'}")
    if args.write_docs:
        (DOCS / "fleet-benchmark.md").write_text(text)
        (DOCS / "fleet-benchmark.json").write_text(json.dumps(res, indent=1))
        print(f"wrote {DOCS / 'fleet-benchmark.md'}")
    return 0


def main(argv=None):
    p = ArgumentParser(prog="python -m benchmarks fleet", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=output_dir, default="benchmark-results")
    p.add_argument("--write-docs", action="store_true",
                   help="also rewrite docs/fleet-benchmark.md and .json")
    p.add_argument("--quick", action="store_true", help="K up to 1,000, 5 repeats")
    p.add_argument("--repeats", type=int_at_least(3), default=7)
    p.add_argument("--note", default="", help="a remark on the machine for the report")
    add_debug(p)
    args = p.parse_args(argv)
    return run_main(run, args, "benchmarks.fleet")


if __name__ == "__main__":
    raise SystemExit(main())
