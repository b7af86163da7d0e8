"""Executing run specifications (from :mod:`.planning`): train, record, resume.

Each run is one training of one freshly initialised network (its seed sets the
weights and the perturbation noise; the data seeds are fixed by the task so that
all methods see the same sequences). Its result goes to ``RUN_DIR/<run_id>.json``
and its per-epoch records to ``RUN_DIR/<run_id>.csv`` (see :mod:`.results`); a
run whose result file exists with the same fingerprint is skipped, so an
interrupted experiment or tuning resumes where it stopped.
"""

from __future__ import annotations

import inspect
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from .methods import make_model
from .planning import cached_split, jsonable_kwargs
from .progress import Progress
from .protocols import run_epochs, run_prequential
from .results import read_json, write_json, write_records_csv

__all__ = ["execute_run", "execute_specs", "default_jobs"]


def _guard_kwargs(stability):
    """Set the model's per-step divergence guard to the experiment's weight threshold.

    Not part of the run's ``kwargs`` (nor of its fingerprint): the stability
    thresholds are fingerprinted already.
    """
    from streamlearn import OnlineRNN

    if "max_weight" in inspect.signature(OnlineRNN).parameters:
        return {"max_weight": stability["max_weight"]}
    return {}


def execute_run(spec, *, experiment="experiment", progress=None, model_factory=make_model):
    """Train one network as specified and return its result dict (not written)."""
    split = cached_split(spec["task"], spec["split"])
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
        "hyperparameters": jsonable_kwargs(spec["kwargs"]),
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


def default_jobs():
    """Parallel jobs when asked for ``--jobs 0``: the number of usable cores."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
