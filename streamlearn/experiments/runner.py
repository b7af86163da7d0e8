"""Running a configured experiment: every method x hidden size x seed.

Each run is one training of one freshly initialised network (its seed sets the
weights and the perturbation noise; the data seeds are fixed by the task so that
all methods see the same sequences). Results go to ``OUT/runs`` (see
:mod:`.results`); a run whose result file exists with the same settings is
skipped, so an interrupted experiment resumes where it stopped.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import yaml

from .config import fingerprint
from .methods import make_model, model_kwargs
from .progress import Progress
from .protocols import run_epochs, run_prequential
from .results import load_runs, read_json, write_json, write_records_csv, write_summary
from .tasks import load_split

__all__ = ["plan_runs", "run_experiment", "execute_run", "TuningMismatch"]


class TuningMismatch(RuntimeError):
    """The output directory holds tuned values for different settings."""


def merged_settings(cfg, method, tuned=None):
    """Model settings for ``method``: model section, then method section, then tuned values."""
    settings = {k: v for k, v in cfg["model"].items() if k != "n_hidden"}
    settings.update(cfg["methods"][method])
    if tuned and method in tuned:
        settings.update(tuned[method])
    return settings


def _jsonable_kwargs(kwargs):
    out = dict(kwargs)
    if "dtype" in out:
        out["dtype"] = out["dtype"].__name__
    return out


def plan_runs(cfg, tuned=None, methods=None, split="test", n_hidden=None, seeds=None,
              protocol=None, task=None):
    """List the runs of an experiment, in execution order.

    Parameters
    ----------
    cfg : dict
        Resolved configuration.
    tuned : dict, optional
        ``{method: {"lr": ..., "sigma": ...}}`` chosen by the tuner.
    methods, n_hidden, seeds : list, optional
        Restrict (or, for the tuner, replace) the configured values.
    split : {"test", "validation"}
    protocol, task : dict, optional
        Replace the configured protocol / task sections (the tuner shortens them).

    Returns
    -------
    list of dict
        Run specifications with ``run_id``, ``method``, ``n_hidden``, ``seed``,
        ``kwargs`` (for the model), ``fingerprint`` and the sections needed to
        execute it.
    """
    methods = list(cfg["methods"]) if methods is None else list(methods)
    for m in methods:
        if m not in cfg["methods"]:
            raise ValueError(f"method {m!r} is not in the configuration ({list(cfg['methods'])})")
    sizes = cfg["model"]["n_hidden"] if n_hidden is None else list(n_hidden)
    seeds = cfg["seeds"] if seeds is None else list(seeds)
    protocol = cfg["protocol"] if protocol is None else protocol
    task = cfg["task"] if task is None else task
    split_data = _cached_split(task, split)  # only to size the network
    specs = []
    for h in sizes:
        for m in methods:
            settings = merged_settings(cfg, m, tuned)
            for seed in seeds:
                kwargs = model_kwargs(m, split_data.n_inputs, split_data.n_outputs, h, settings, seed)
                spec = {
                    "run_id": f"{m}-h{h}-s{seed}",
                    "method": m,
                    "n_hidden": h,
                    "seed": seed,
                    "kwargs": kwargs,
                    "task": task,
                    "split": split,
                    "protocol": protocol,
                    "stability": cfg["stability"],
                    "tuned": bool(tuned and m in tuned),
                }
                spec["fingerprint"] = fingerprint(
                    {k: spec[k] for k in ("task", "split", "protocol", "stability")}
                    | {"kwargs": _jsonable_kwargs(kwargs)}
                )
                specs.append(spec)
    return specs


_SPLIT_CACHE = {}


def _cached_split(task, split):
    key = fingerprint({"task": task, "split": split})
    if key not in _SPLIT_CACHE:
        _SPLIT_CACHE.clear()  # one task at a time: keep memory bounded
        _SPLIT_CACHE[key] = load_split(task, split)
    return _SPLIT_CACHE[key]


def _guard_kwargs(stability):
    """Set the model's per-step divergence guard to the experiment's weight threshold.

    Not part of the run's ``kwargs`` (nor of its fingerprint): the stability
    thresholds are fingerprinted already.
    """
    import inspect

    from streamlearn import OnlineRNN

    if "max_weight" in inspect.signature(OnlineRNN).parameters:
        return {"max_weight": stability["max_weight"]}
    return {}


def execute_run(spec, *, experiment="experiment", progress=None, model_factory=make_model):
    """Train one network as specified and return its result dict (not written)."""
    split = _cached_split(spec["task"], spec["split"])
    model = model_factory({**spec["kwargs"], **_guard_kwargs(spec["stability"])})
    protocol = spec["protocol"]
    callback = progress.update if progress is not None else None
    if protocol["name"] == "epochs":
        outcome = run_epochs(model, split, epochs=protocol["epochs"],
                             final_epochs=protocol["final_epochs"],
                             stability=spec["stability"], progress=callback,
                             decorrelation_stride=protocol["decorrelation_stride"])
    else:
        outcome = run_prequential(model, split, chunk=protocol["chunk"],
                                  stability=spec["stability"], progress=callback,
                                  decorrelation_stride=protocol["decorrelation_stride"])
    return {
        "experiment": experiment,
        "run_id": spec["run_id"],
        "method": spec["method"],
        "n_hidden": spec["n_hidden"],
        "seed": spec["seed"],
        "task": spec["task"],
        "split": spec["split"],
        "protocol": protocol,
        "stability": spec["stability"],
        "hyperparameters": _jsonable_kwargs(spec["kwargs"]),
        "tuned": spec["tuned"],
        "fingerprint": spec["fingerprint"],
        **outcome,
    }


def _finished(path, spec):
    old = read_json(path)
    if old and old.get("fingerprint") == spec["fingerprint"] and old.get("status") in ("ok", "unstable"):
        return old
    return None


def _worker(spec, experiment, run_dir, model_factory):
    result = execute_run(spec, experiment=experiment, model_factory=model_factory)
    _store(run_dir, result)
    return result


def _store(run_dir, result):
    write_records_csv(run_dir / f"{result['run_id']}.csv", result["records"])
    write_json(run_dir / f"{result['run_id']}.json", result)  # last: marks the run done


def execute_specs(specs, run_dir, *, experiment, force=False, quiet=False, stream=None,
                  jobs=1, model_factory=make_model, label="run"):
    """Execute run specifications, skipping finished ones; return all results."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    progress = Progress(len(specs), stream=stream, enabled=not quiet, label=label)
    try:
        return _execute(specs, run_dir, progress, experiment=experiment, force=force,
                        stream=stream, jobs=jobs, model_factory=model_factory)
    finally:
        progress.close()


def _execute(specs, run_dir, progress, *, experiment, force, stream, jobs, model_factory):
    results, todo = {}, []
    for spec in specs:
        old = None if force else _finished(run_dir / f"{spec['run_id']}.json", spec)
        if old is not None:
            progress.skip(spec["run_id"], old["status"])
            results[spec["run_id"]] = old
        else:
            todo.append(spec)
    if jobs > 1 and len(todo) > 1:
        # Separate processes: the kernels are single-threaded, so this is the
        # way to use several cores. Only start/finish lines are shown.
        try:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {
                    pool.submit(_worker, spec, experiment, run_dir, model_factory): spec
                    for spec in todo
                }
                for future in as_completed(futures):
                    spec = futures[future]
                    result = future.result()
                    progress._name = spec["run_id"]
                    progress.finish(result["status"], result["final"], result["seconds"],
                                    result["reason"])
                    results[spec["run_id"]] = result
        except BrokenProcessPool:
            # a worker died (e.g. killed, or crashed in native code): finish the
            # remaining runs here, one at a time, rather than losing them
            (stream or sys.stderr).write("a worker process died; running the rest serially\n")
        todo = [spec for spec in todo if spec["run_id"] not in results]
    for spec in todo:
        progress.start(spec["run_id"])
        result = execute_run(spec, experiment=experiment, progress=progress,
                             model_factory=model_factory)
        _store(run_dir, result)
        progress.finish(result["status"], result["final"], result["seconds"], result["reason"])
        results[spec["run_id"]] = result
    return [results[s["run_id"]] for s in specs]


def load_tuned(cfg, out_dir):
    """Tuned values stored in ``OUT/tuning.json`` for this configuration, or ``None``.

    Raises
    ------
    TuningMismatch
        If the file was made for different tuning settings (rerun ``tune``).
    """
    from .tuning import tuning_fingerprint

    path = Path(out_dir) / "tuning.json"
    if not path.exists():
        return None
    stored = read_json(path)
    if stored is None or "chosen" not in stored:
        raise TuningMismatch(f"{path} is unreadable; delete it or rerun `streamlearn tune`")
    if stored.get("fingerprint") != tuning_fingerprint(cfg):
        raise TuningMismatch(
            f"{path} was produced for different settings (task, tuning grid, methods or "
            f"model); rerun `streamlearn tune` on this configuration or use another --out"
        )
    return stored["chosen"]


def run_experiment(cfg, out_dir, *, methods=None, force=False, quiet=False, stream=None,
                   jobs=1, figures=None, model_factory=make_model):
    """Run (or resume) every run of a configuration and write all outputs.

    Parameters
    ----------
    cfg : dict
        Resolved configuration (:func:`~.config.load_config`).
    out_dir : path-like
        Output directory (created).
    methods : list of str, optional
        Run only these of the configured methods.
    force : bool, default False
        Rerun finished runs too.
    quiet : bool, default False
        No progress display.
    stream : file-like, optional
        Where progress goes (default ``sys.stderr``).
    jobs : int, default 1
        Runs executed in parallel processes.
    figures : bool, optional
        Override the configuration's ``figures`` switch.
    model_factory : callable, default :func:`~.methods.make_model`
        Builds a model from keyword arguments (tests substitute their own).

    Returns
    -------
    dict
        ``runs`` (all results of this configuration), ``aggregate`` rows,
        ``tuned`` values used (or ``None``) and ``figures`` (written paths).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "config.yaml", "w", encoding="utf-8") as fh:
        yaml.safe_dump(cfg, fh, sort_keys=False)
    tuned = load_tuned(cfg, out_dir)
    specs = plan_runs(cfg, tuned=tuned, methods=methods)
    results = execute_specs(specs, out_dir / "runs", experiment=cfg["name"], force=force,
                            quiet=quiet, stream=stream, jobs=jobs, model_factory=model_factory)
    # the summary covers every finished run of the current settings, so partial
    # `--methods` invocations accumulate into one table
    wanted = {s["fingerprint"] for s in plan_runs(cfg, tuned=tuned)}
    all_runs = [r for r in load_runs(out_dir) if r.get("fingerprint") in wanted]
    rows = write_summary(out_dir, all_runs)
    written = []
    if cfg["figures"] if figures is None else figures:
        from .figures import make_figures

        written = make_figures(all_runs, out_dir / "figures", title=cfg["name"],
                               stream=None if quiet else (stream or sys.stderr))
    return {"runs": results, "aggregate": rows, "tuned": tuned, "figures": written}


def default_jobs():
    """Parallel jobs when asked for ``--jobs 0``: the number of usable cores."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1

