"""Our ``OnlineRNN`` against the authors' own PyTorch code, Mackey-Glass recall.

    python -m benchmarks.authors --authors PATH_OR_URL [--out DIR] [--epochs 10] [--seeds 3]
    python -m benchmarks.authors --ours-only [--n-hidden 12 --epochs 2 ...]

The authors' code (GitHub jesusgf96/NP_RNNs) is *not* part of this project and is
not copied into it: ``--authors`` names a clone (a work tree holding ``models.py``),
a bare git directory (the three files are read with ``git show HEAD:<file>`` into
``--cache``), or a git URL (cloned into ``--cache``). It needs PyTorch, which is not
a dependency of streamlearn either; without torch, or without the snapshot, the
script says so and exits 0 (``--ours-only`` then still runs our half).

Per method and seed, in one process, one after the other:

``theirs``
    ``training.training_mackey_glass`` of their ``training.py``, called as their
    ``main.py`` calls it (batch 1, tanh, linear read-out, MSE), with their data
    (``datasets.generate_mackey_glass_data``: recall pairing, Y = X[:-15],
    X = X[15:], train = first sequence, test = second) after
    ``np.random.seed(seed)``, and their weights (``models.RNN``,
    ``torch.manual_seed(seed)``). Their ``wandb``, ``tqdm`` and the
    ``tensorflow`` import of ``datasets.py`` (for MNIST only) are replaced by no-op
    stand-ins, and their prints are discarded.
``ours, same data and init``
    ``OnlineRNN`` with the settings of ``examples/configs/mackey_glass_recall.yaml``
    on exactly their training and test arrays, its A, R, B overwritten by their
    initial ``fwd_layers[0]``, ``rec_layers[0]``, ``fwd_layers[1]`` weights.
``ours, config``
    ``OnlineRNN`` as ``streamlearn run examples/configs/mackey_glass_recall.yaml``
    trains it: our own sequences (seeds 0 / 1) and our own initialisation.

Learning rates. The config's rates are ours; theirs are converted so that one
step of their update has the size of ours (docs/algorithms.md, eqs. 4, 5, 8):
their NP and WP divide the loss difference by sigma where we divide by sigma^2
(lr_theirs = lr / sigma); their ANP scales both layers by sqrt(I + N + O) where we
scale by the layer's width (lr_theirs = lr * N / sqrt(I + N + O), which matches
the hidden layer; their read-out step is then N / O times ours). BP and DBP use
Adam on the same per-step MSE in both: the same rate. ``--lr-mode same`` passes
our numbers unchanged instead.

Time per step: the wall time of a whole run (every epoch's training pass over
5,000 steps, its test pass, and what each side records per epoch) divided by the
number of training steps. Ours is timed after a warm-up run, so that Numba's
compilation is not counted.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import io
import math
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "configs" / "mackey_glass_recall.yaml"
METHODS = ["anp", "danp", "np", "dnp", "wp", "dwp", "bp", "dbp"]
FILES = ("models.py", "datasets.py", "training.py", "utils.py")
LENGTH = 5000  # hard-coded in their training_mackey_glass (lenght_sequence)


class Skip(Exception):
    """A reason to stop early with exit status 0."""


# -- the authors' code ------------------------------------------------------------------


def _git(*args):
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def locate_authors(source, cache):
    """Return (directory holding their .py files, commit or None)."""
    if not source:
        raise Skip("no snapshot of the authors' code given (--authors PATH_OR_URL)")
    cache = Path(cache)
    if "://" in source or source.startswith("git@"):
        dest = cache / "NP_RNNs"
        if not (dest / "models.py").exists():
            cache.mkdir(parents=True, exist_ok=True)
            try:
                _git("clone", "--depth", "1", source, str(dest))
            except (subprocess.CalledProcessError, FileNotFoundError) as exc:
                raise Skip(f"could not clone {source}: {exc}") from None
        source = str(dest)
    path = Path(source)
    if (path / "models.py").exists() and (path / "training.py").exists():
        try:
            commit = _git("-C", str(path), "rev-parse", "HEAD").strip()
        except (subprocess.CalledProcessError, FileNotFoundError):
            commit = None
        return path, commit
    if (path / "HEAD").exists() and (path / "objects").exists():  # bare git directory
        try:
            commit = _git("--git-dir", str(path), "rev-parse", "HEAD").strip()
            dest = cache / f"NP_RNNs-{commit[:12]}"
            dest.mkdir(parents=True, exist_ok=True)
            for name in FILES:
                (dest / name).write_text(_git("--git-dir", str(path), "show", f"HEAD:{name}"))
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            raise Skip(f"could not read the authors' files from {path}: {exc}") from None
        return dest, commit
    raise Skip(f"{source}: neither a clone of the authors' code (models.py, training.py) "
               "nor a bare git directory")


def _stub_modules():
    """No-op stand-ins for what their modules import but this comparison never uses.

    Returned as a dict for ``sys.modules`` while their modules are imported only:
    their modules keep references, and nothing else (torch's compiler looks up
    module specs) sees the stand-ins afterwards.
    """
    def module(name, **attrs):
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        return mod

    # datasets.py imports tensorflow for psMNIST only (real or not, never called here)
    keras_datasets = module("tensorflow.keras.datasets", mnist=None)
    keras = module("tensorflow.keras", datasets=keras_datasets)
    return {"tensorflow": module("tensorflow", keras=keras), "tensorflow.keras": keras,
            "tensorflow.keras.datasets": keras_datasets,
            # wandb would log to the network; tqdm would draw 20 progress bars per epoch
            "wandb": module("wandb", init=lambda *a, **k: None, log=lambda *a, **k: None,
                            finish=lambda *a, **k: None),
            "tqdm": module("tqdm", tqdm=lambda it, *a, **k: it)}


def import_authors(directory):
    """Import their ``models``, ``datasets``, ``training``, ``utils`` from ``directory``."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise Skip("PyTorch is not installed (it is not a streamlearn dependency): "
                   "pip install torch in a separate environment to run the authors' code") \
            from None
    stubs = _stub_modules()
    names = ("utils", "models", "datasets", "training")
    saved = {name: sys.modules.pop(name) for name in (*names, *stubs) if name in sys.modules}
    sys.modules.update(stubs)
    sys.path.insert(0, str(directory))
    try:
        mods = {name: importlib.import_module(name) for name in names}
    finally:
        sys.path.remove(str(directory))
        for name in (*names, *stubs):
            sys.modules.pop(name, None)
        sys.modules.update(saved)
    return types.SimpleNamespace(**mods)


def their_lr(method, lr, n_in, n_hidden, n_out, sigma, mode):
    """Their ``lr_fwd`` for a step the size of ours at ``lr`` (see the module docstring)."""
    if mode == "same":
        return lr
    rule = method[1:] if method.startswith("d") else method
    if rule in ("np", "wp"):
        return lr / sigma
    if rule == "anp":
        return lr * n_hidden / math.sqrt(n_in + n_hidden + n_out)
    return lr  # bp: Adam on the same loss


def their_data(authors, seed):
    """Their Mackey-Glass recall arrays, (U, Y, U_test, Y_test) as float64 (T, 1)."""
    np.random.seed(seed)
    (x, y), (xt, yt) = authors.datasets.generate_mackey_glass_data(length=LENGTH, n_batches=1)
    # the sequences training_mackey_glass moves to float32 tensors
    return [np.asarray(a[:, 0, :], dtype=np.float32).astype(np.float64) for a in (x, y, xt, yt)]


def their_initial_weights(authors, n_hidden, seed):
    """A (N, 1), R (N, N), B (1, N) of their RNN built with ``seed``, as float64."""
    torch = sys.modules["torch"]
    utils = authors.utils
    net = authors.models.RNN([1, n_hidden, 1], 1, utils.tanh(), utils.linear(),
                             decor_input=False, seed=seed, device=torch.device("cpu"))
    return [layer.weight.detach().numpy().astype(np.float64).copy()
            for layer in (net.fwd_layers[0], net.rec_layers[0], net.fwd_layers[1])]


def run_theirs(authors, method, n_hidden, epochs, final_epochs, lr, sigma, lr_decor, seed):
    """One run of their training_mackey_glass; returns the result dict."""
    torch = sys.modules["torch"]
    torch.set_num_threads(1)
    utils = authors.utils
    rule = method[1:] if method.startswith("d") else method
    np.random.seed(seed)  # their data generator draws from numpy's global stream
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        perf, _, _ = authors.training.training_mackey_glass(
            net_structure=[1, n_hidden, 1], act_func=utils.tanh(), act_func_out=utils.linear(),
            epochs=epochs, algorithm=rule.upper(), batch_size=1, lr_fwd=lr,
            decorrelation=method.startswith("d"), input_decorrelation=False, lr_decor=lr_decor,
            noise_std=sigma, loss_name="mse", opt="adam", device=torch.device("cpu"), seed=seed)
    seconds = time.perf_counter() - t0
    return _result(perf["test"]["loss"], perf["train"]["loss"], final_epochs, seconds,
                   epochs * LENGTH)


def _result(test, train, final_epochs, seconds, steps, reason=None):
    test = [float(v) for v in test]
    train = [float(v) for v in train]
    bad = reason or next((f"epoch {i + 1}: non-finite or > 1e4 loss"
                          for i, (a, b) in enumerate(zip(test, train))
                          if not (np.isfinite(a) and np.isfinite(b) and a < 1e4 and b < 1e4)),
                         None)
    return {"status": "unstable" if bad else "ok", "reason": bad or "",
            "final_test_loss": None if bad else float(np.mean(test[-final_epochs:])),
            "final_train_loss": None if bad else float(np.mean(train[-final_epochs:])),
            "test_curve": test, "train_curve": train,
            "seconds": seconds, "seconds_per_step": seconds / steps}


# -- ours ---------------------------------------------------------------------------------


def our_config(n_hidden=None, epochs=None, final_epochs=None, n_steps=None):
    from streamlearn.experiments.config import load_config

    cfg = load_config(CONFIG)
    if n_hidden:
        cfg["model"]["n_hidden"] = [n_hidden]
    if epochs:
        cfg["protocol"]["epochs"] = epochs
    if final_epochs:
        cfg["protocol"]["final_epochs"] = final_epochs
    if n_steps:
        cfg["task"]["n_steps"] = n_steps
    return cfg


def our_spec(cfg, method, seed):
    from streamlearn.experiments.planning import plan_runs

    (spec,) = plan_runs(cfg, methods=[method], seeds=[seed])
    return spec


def run_ours(spec, split=None, weights=None):
    """One run of OnlineRNN as the experiment runner trains it; ``split`` and ``weights``
    (A, R, B) replace the config's data and initialisation."""
    from streamlearn.experiments.methods import make_model
    from streamlearn.experiments.planning import cached_split
    from streamlearn.experiments.protocols import run_epochs

    split = split if split is not None else cached_split(spec["task"], spec["split"])
    model = make_model({**spec["kwargs"], "max_weight": spec["stability"]["max_weight"]})
    if weights is not None:
        for name, W in zip("ARB", weights):
            getattr(model, name)[...] = W  # in place: the kernels keep their views
    protocol = spec["protocol"]
    t0 = time.perf_counter()
    out = run_epochs(model, split, epochs=protocol["epochs"],
                     final_epochs=protocol["final_epochs"], stability=spec["stability"],
                     decorrelation_stride=protocol["decorrelation_stride"])
    seconds = time.perf_counter() - t0
    recs = out["records"]
    res = _result([r["test_loss"] for r in recs], [r["train_loss"] for r in recs],
                  protocol["final_epochs"], seconds, protocol["epochs"] * len(split.U_train),
                  reason=out["reason"] if out["status"] != "ok" else None)
    return res


def warm_up(spec):
    """Compile the model's kernels on a short run (not timed)."""
    from streamlearn.experiments.planning import cached_split
    from streamlearn.experiments.tasks import Split

    s = cached_split(spec["task"], spec["split"])
    run_ours({**spec, "protocol": {**spec["protocol"], "epochs": 1, "final_epochs": 1}},
             Split(s.U_train[:50], s.Y_train[:50], s.U_eval[:50], s.Y_eval[:50]))


def cross_check(authors, cfg, method, n_seeds, out_dir=None):
    """Ours on their data of seed d with their initial weights of seed i, every (d, i).

    Separates what the data and the initial weights do from what the rules do: the
    runs differ from ``ours_same_data`` only off the diagonal. Noise seed 0 throughout.
    """
    from streamlearn.experiments.tasks import Split

    spec = our_spec(cfg, method, 0)
    warm_up(spec)
    data = {s: their_data(authors, s) for s in range(n_seeds)}
    init = {s: their_initial_weights(authors, cfg["model"]["n_hidden"][0], s)
            for s in range(n_seeds)}
    rows = []
    for d in range(n_seeds):
        for i in range(n_seeds):
            r = run_ours(spec, Split(*data[d]), init[i])
            rows.append({"method": method, "data_seed": d, "init_seed": i, "noise_seed": 0,
                         "status": r["status"], "final_test_loss": r["final_test_loss"],
                         "final_train_loss": r["final_train_loss"]})
    lines = [f"{method.upper()} (ours, lr {spec['kwargs']['lr']:.3g}): final test MSE on their "
             "data of seed d (rows) from their initial weights of seed i (columns)", "",
             "| data \\ init |" + "".join(f" {i} |" for i in range(n_seeds)),
             "|" + "---|" * (n_seeds + 1)]
    for d in range(n_seeds):
        lines.append(f"| {d} |" + "".join(
            f" {_fmt(r['final_test_loss'])} |" for r in rows if r["data_seed"] == d))
    text = "\n".join(lines) + "\n"
    if out_dir:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        with open(out_dir / f"cross_{method}.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        (out_dir / f"cross_{method}.md").write_text(text)
    return text


# -- the table ----------------------------------------------------------------------------

SIDES = ("theirs", "ours_same_data", "ours_config")
LABELS = {"theirs": "theirs (PyTorch)", "ours_same_data": "ours, their data and init",
          "ours_config": "ours, config data"}


def _fmt(x):
    return "-" if x is None else "%.3g" % x


def summarise(rows):
    """Per method and side: stable/runs, mean and min-max of the final test MSE, s/step."""
    out = []
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    for m in methods:
        line = {"method": m}
        for side in SIDES:
            rs = [r for r in rows if r["method"] == m and r["side"] == side]
            if not rs:
                continue
            ok = [r["final_test_loss"] for r in rs if r["status"] == "ok"]
            line[side] = {
                "stable": len(ok), "runs": len(rs),
                "mean": float(np.mean(ok)) if ok else None,
                "min": min(ok) if ok else None, "max": max(ok) if ok else None,
                "s_per_step": float(np.mean([r["seconds_per_step"] for r in rs])),
                "lr": rs[0]["lr"],
            }
        out.append(line)
    return out


def markdown(summary):
    sides = [s for s in SIDES if any(s in line for line in summary)]
    head = "| method |" + "".join(f" {LABELS[s]}: lr | stable | final test MSE (min-max) |"
                                  for s in sides)
    if "theirs" in sides:
        head += " theirs s/step | ours s/step | ratio |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for line in summary:
        cells = f"| {line['method'].upper()} |"
        for s in sides:
            d = line.get(s)
            if d is None:
                cells += " | | |"
                continue
            test = "-" if d["mean"] is None else \
                f"{_fmt(d['mean'])} ({_fmt(d['min'])}-{_fmt(d['max'])})"
            cells += f" {d['lr']:.3g} | {d['stable']}/{d['runs']} | {test} |"
        if "theirs" in sides:
            t = line.get("theirs", {}).get("s_per_step")
            o = line.get("ours_same_data", line.get("ours_config", {})).get("s_per_step")
            ratio = f"{t / o:.0f}x" if t and o else "-"
            cells += (f" {t * 1e3:.3g} ms | {o * 1e6:.3g} us | {ratio} |" if t and o
                      else " - | - | - |")
        lines.append(cells)
    return "\n".join(lines)


def write(rows, out_dir, header):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = ["method", "side", "seed", "n_hidden", "epochs", "final_epochs", "lr", "sigma",
            "lr_decorrelation", "status", "reason", "final_test_loss", "final_train_loss",
            "seconds", "seconds_per_step", "test_curve", "train_curve"]
    with open(out_dir / "runs.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: (" ".join("%.6g" % v for v in r[k]) if k.endswith("_curve") else r[k])
                        for k in keys})
    text = header + "\n\n" + markdown(summarise(rows)) + "\n"
    (out_dir / "table.md").write_text(text)
    return text


# -- main ---------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.authors", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--authors", default=os.environ.get("STREAMLEARN_AUTHORS_CODE"),
                    help="clone, bare git directory or git URL of jesusgf96/NP_RNNs "
                         "(default: $STREAMLEARN_AUTHORS_CODE)")
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "streamlearn-authors"),
                    help="where a bare directory's files are written or a URL is cloned")
    ap.add_argument("--methods", nargs="+", default=["anp", "danp", "np", "wp", "bp", "dbp"],
                    choices=METHODS)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--n-hidden", type=int, default=None, help="default: the config's (100)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--final-epochs", type=int, default=5)
    ap.add_argument("--n-steps", type=int, default=None,
                    help="ours only (their code fixes 5,000): shorten our sequences")
    ap.add_argument("--lr-mode", choices=["matched", "same"], default="matched")
    ap.add_argument("--ours-only", action="store_true",
                    help="run only our half, on the config's data (no torch needed)")
    ap.add_argument("--out", default=None, help="write runs.csv and table.md here")
    ap.add_argument("--cross", metavar="METHOD", choices=METHODS, default=None,
                    help="instead: ours on every (their data seed, their init seed) pair "
                         "of --seeds seeds (cross_<method>.csv/.md)")
    args = ap.parse_args(argv)

    cfg = our_config(args.n_hidden, args.epochs, args.final_epochs, args.n_steps)
    n_hidden = cfg["model"]["n_hidden"][0]
    authors = commit = None
    if not args.ours_only:
        if args.n_steps not in (None, LENGTH):
            ap.error(f"--n-steps applies to --ours-only (their code trains on {LENGTH} steps)")
        try:
            directory, commit = locate_authors(args.authors, args.cache)
            authors = import_authors(directory)
        except Skip as exc:
            print(f"skipped: {exc}")
            return 0

    if args.cross:
        if authors is None:
            ap.error("--cross needs the authors' code (their data and initial weights)")
        print(cross_check(authors, cfg, args.cross, args.seeds, args.out))
        return 0

    rows = []
    warmed = set()
    for method in args.methods:
        for seed in range(args.seeds):
            spec = our_spec(cfg, method, seed)
            kw = spec["kwargs"]
            sigma, lr_dec = kw.get("sigma", 1e-3), kw.get("lr_decorrelation", 1e-4)
            base = {"method": method, "seed": seed, "n_hidden": n_hidden, "epochs": args.epochs,
                    "final_epochs": args.final_epochs, "sigma": sigma,
                    "lr_decorrelation": lr_dec if method.startswith("d") else ""}
            if method not in warmed:
                warm_up(spec)
                warmed.add(method)
            todo = []
            if authors is not None:
                U, Y, Ut, Yt = their_data(authors, seed)
                from streamlearn.experiments.tasks import Split

                lr_t = their_lr(method, kw["lr"], 1, n_hidden, 1, sigma, args.lr_mode)
                todo.append(("theirs", lr_t, lambda: run_theirs(
                    authors, method, n_hidden, args.epochs, args.final_epochs, lr_t, sigma,
                    lr_dec, seed)))
                weights = their_initial_weights(authors, n_hidden, seed)
                todo.append(("ours_same_data", kw["lr"],
                             lambda: run_ours(spec, Split(U, Y, Ut, Yt), weights)))
            todo.append(("ours_config", kw["lr"], lambda: run_ours(spec)))
            for side, lr, fn in todo:
                r = {**base, "side": side, "lr": lr, **fn()}
                rows.append(r)
                print(f"{method:5s} seed {seed} {side:15s} lr {lr:.3g}: {r['status']:8s} "
                      f"final test {_fmt(r['final_test_loss'])}  train "
                      f"{_fmt(r['final_train_loss'])}  {r['seconds']:.1f} s "
                      f"({r['seconds_per_step'] * 1e6:.0f} us/step)", flush=True)
    load = os.getloadavg()
    header = (f"Mackey-Glass recall, {n_hidden} hidden units, {args.epochs} epochs of "
              f"{cfg['task']['n_steps'] if authors is None else LENGTH} steps (final: mean "
              f"of the last {args.final_epochs}), seeds 0-{args.seeds - 1}, lr mode "
              f"{args.lr_mode}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load "
              f"average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
              + (f"; authors' commit {commit}" if commit else "")
              + (f"; torch {sys.modules['torch'].__version__}" if authors is not None else ""))
    if args.out:
        text = write(rows, args.out, header)
    else:
        text = header + "\n\n" + markdown(summarise(rows)) + "\n"
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
