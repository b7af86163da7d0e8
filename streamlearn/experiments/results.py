"""Storing run results and aggregating them over seeds.

Layout of an output directory::

    OUT/config.yaml              the resolved configuration that was run
    OUT/runs/<run_id>.json       one run: settings, status, per-epoch records, final values
    OUT/runs/<run_id>.csv        the same per-epoch records as a table
    OUT/summary.csv              one row per run (final values, status, hyperparameters)
    OUT/aggregate.csv            per method and hidden size: mean/min/max over stable seeds
    OUT/tuning.json, tuning.csv  written by ``streamlearn tune``
    OUT/figures/*.png

JSON files are written atomically (a temporary file, then a rename), so an
interrupted run never leaves a half-written result that a rerun would trust.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from .methods import METHODS

__all__ = [
    "write_json",
    "read_json",
    "write_records_csv",
    "load_runs",
    "aggregate",
    "write_summary",
]


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)  # "inf"/"nan": JSON has no such numbers
    if isinstance(obj, type):
        return obj.__name__
    return obj


def write_json(path, obj):
    """Atomically write ``obj`` as indented JSON (non-finite floats as strings)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(_jsonable(obj), fh, indent=1, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json(path):
    """Read a JSON file written by :func:`write_json` (``None`` if unreadable)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, json.JSONDecodeError):
        return None


def write_records_csv(path, records):
    """Write a list of flat dicts as CSV (columns in first-seen order)."""
    columns = []
    for r in records:
        columns += [k for k in r if k not in columns]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for r in records:
            writer.writerow({k: _jsonable(v) for k, v in r.items()})


def _number(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def load_runs(out_dir):
    """All run results (dicts) found in ``OUT/runs``, sorted by run id."""
    runs = []
    for path in sorted(Path(out_dir, "runs").glob("*.json")):
        run = read_json(path)
        if run is not None and run.get("status") in ("ok", "unstable"):
            runs.append(run)
    return runs


def aggregate(runs, keys=("final_train_loss", "final_test_loss", "final_decorrelation_loss")):
    """Mean, min and max of final values over the stable seeds.

    Unstable runs are counted but never averaged.

    Parameters
    ----------
    runs : list of dict
        Run results (as stored in ``runs/*.json``).
    keys : sequence of str
        Final values to aggregate.

    Returns
    -------
    list of dict
        One row per (method, n_hidden), in order of first appearance, with
        ``n_runs``, ``n_stable``, ``n_unstable`` and ``<key>_mean``,
        ``<key>_min``, ``<key>_max`` (``None`` when no seed is stable).

    Examples
    --------
    >>> runs = [{"method": "anp", "n_hidden": 8, "status": "ok", "final": {"final_test_loss": 1.0}},
    ...         {"method": "anp", "n_hidden": 8, "status": "ok", "final": {"final_test_loss": 3.0}},
    ...         {"method": "anp", "n_hidden": 8, "status": "unstable",
    ...          "final": {"final_test_loss": None}}]
    >>> row = aggregate(runs, keys=["final_test_loss"])[0]
    >>> row["n_stable"], row["n_unstable"], row["final_test_loss_mean"], row["final_test_loss_max"]
    (2, 1, 2.0, 3.0)
    """
    groups = {}
    for run in runs:
        groups.setdefault((run["method"], run["n_hidden"]), []).append(run)
    rows = []
    for (method, n_hidden), group in groups.items():
        stable = [r for r in group if r["status"] == "ok"]
        row = {
            "method": method,
            "n_hidden": n_hidden,
            "n_runs": len(group),
            "n_stable": len(stable),
            "n_unstable": len(group) - len(stable),
        }
        for key in keys:
            values = [_number(r["final"].get(key)) for r in stable]
            values = [v for v in values if v is not None]
            row[f"{key}_mean"] = float(np.mean(values)) if values else None
            row[f"{key}_min"] = float(np.min(values)) if values else None
            row[f"{key}_max"] = float(np.max(values)) if values else None
        rows.append(row)
    return rows


def write_summary(out_dir, runs):
    """Write ``summary.csv`` (one row per run) and ``aggregate.csv``; return the aggregate."""
    out_dir = Path(out_dir)
    summary = []
    final_keys = []
    for run in runs:
        final_keys += [k for k in run["final"] if k not in final_keys]
    for run in runs:
        row = {
            "run_id": run["run_id"],
            "method": run["method"],
            "n_hidden": run["n_hidden"],
            "seed": run["seed"],
            "status": run["status"],
            "reason": run.get("reason") or "",
            "epochs_done": len(run["records"]),
            "seconds": round(run["seconds"], 3),
            "lr": run["hyperparameters"].get("lr"),
            "sigma": run["hyperparameters"].get("sigma"),
            "lr_decorrelation": run["hyperparameters"].get("lr_decorrelation"),
            "optimizer": run["hyperparameters"].get("optimizer"),
            "tuned": run.get("tuned", False),
        }
        row.update({k: run["final"].get(k) for k in final_keys})
        summary.append(row)
    write_records_csv(out_dir / "summary.csv", summary)
    order = {m: i for i, m in enumerate(METHODS)}
    rows = sorted(aggregate(runs, keys=final_keys),
                  key=lambda r: (r["n_hidden"], order.get(r["method"], len(order))))
    write_records_csv(out_dir / "aggregate.csv", rows)
    return rows
