"""Planning an experiment: which runs, with which settings (nothing is trained here).

A *run specification* (spec) is a dict that says everything one training needs:
``run_id``, ``method``, ``n_hidden``, ``seed``, the model's ``kwargs``, the
``task``, ``split``, ``protocol`` and ``stability`` sections, and a
``fingerprint`` of all of it (a finished run whose result file carries the same
fingerprint is not run again). :func:`plan_runs` lists the specs of an
experiment; :func:`grid_for` and :func:`tuning_fingerprint` plan the tuner's
trials; :func:`load_tuned` reads the values the tuner chose.

The modules of this package import one another in one direction only:
``planning`` (what to run) <- ``execution`` (running specs) <- ``tuning`` and
``runner`` (the two commands).
"""

from __future__ import annotations

import itertools
from pathlib import Path

from .config import fingerprint
from .methods import model_kwargs, uses_sigma
from .results import read_json
from .tasks import load_split

__all__ = ["TuningMismatch", "merged_settings", "plan_runs", "cached_split", "grid_for",
           "tuned_methods", "tuning_protocol", "tuning_n_hidden", "tuning_fingerprint",
           "load_tuned", "jsonable_kwargs"]


class TuningMismatch(RuntimeError):
    """The output directory holds tuned values for different settings."""


def merged_settings(cfg, method, tuned=None):
    """Model settings for ``method``: model section, then method section, then tuned values."""
    settings = {k: v for k, v in cfg["model"].items() if k != "n_hidden"}
    settings.update(cfg["methods"][method])
    if tuned and method in tuned:
        settings.update(tuned[method])
    return settings


def jsonable_kwargs(kwargs):
    """Model keyword arguments as they are written to JSON (the dtype by name)."""
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
    split_data = cached_split(task, split)  # only to size the network
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
                    | {"kwargs": jsonable_kwargs(kwargs)}
                )
                specs.append(spec)
    return specs


_SPLIT_CACHE = {}


def cached_split(task, split):
    """``tasks.load_split(task, split)``, kept for the next call with the same task."""
    key = fingerprint({"task": task, "split": split})
    if key not in _SPLIT_CACHE:
        _SPLIT_CACHE.clear()  # one task at a time: keep memory bounded
        _SPLIT_CACHE[key] = load_split(task, split)
    return _SPLIT_CACHE[key]


# -- the tuner's plan ------------------------------------------------------------------


def grid_for(cfg, method):
    """All settings combinations tried for ``method``, in grid order.

    >>> from streamlearn.experiments.config import resolve_config
    >>> cfg = resolve_config({"task": {"name": "mackey_glass"}, "methods": ["bp", "anp"],
    ...                       "tune": {"grid": {"lr": [0.1, 0.01], "sigma": [0.001]}}})
    >>> grid_for(cfg, "anp")
    [{'lr': 0.1, 'sigma': 0.001}, {'lr': 0.01, 'sigma': 0.001}]
    >>> grid_for(cfg, "bp")
    [{'lr': 0.1}, {'lr': 0.01}]
    """
    grid = {**cfg["tune"]["grid"], **cfg["tune"]["method_grids"].get(method, {})}
    if not uses_sigma(method):
        grid.pop("sigma", None)
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def tuned_methods(cfg):
    """Methods the tuner searches (those with a non-trivial grid)."""
    methods = cfg["tune"]["methods"] or list(cfg["methods"])
    return [m for m in methods if grid_for(cfg, m) not in ([], [{}])]


def tuning_protocol(cfg):
    """The protocol section used for trials (epochs possibly shortened)."""
    protocol = dict(cfg["protocol"])
    if protocol["name"] == "epochs":
        epochs = cfg["tune"]["epochs"] or protocol["epochs"]
        final = cfg["tune"]["final_epochs"] or min(protocol["final_epochs"], epochs)
        protocol.update(epochs=epochs, final_epochs=min(final, epochs))
    return protocol


def tuning_n_hidden(cfg):
    """The hidden size the tuner trains at."""
    return cfg["tune"]["n_hidden"] or cfg["model"]["n_hidden"][0]


def tuning_fingerprint(cfg):
    """Hash of everything the tuning result depends on."""
    methods = tuned_methods(cfg)
    return fingerprint({
        "task": cfg["task"],
        "protocol": tuning_protocol(cfg),
        "stability": cfg["stability"],
        "model": {k: v for k, v in cfg["model"].items() if k != "n_hidden"},
        "n_hidden": tuning_n_hidden(cfg),
        # a method's own value of a tuned setting is overridden by the tuner,
        # so it does not make the tuning stale
        "methods": {m: {k: v for k, v in cfg["methods"][m].items()
                        if k not in (grid_for(cfg, m)[0] if grid_for(cfg, m) else {})}
                    for m in methods},
        "grids": {m: grid_for(cfg, m) for m in methods},
        "seeds": cfg["tune"]["seeds"],
    })


def load_tuned(cfg, out_dir):
    """Tuned values stored in ``OUT/tuning.json`` for this configuration, or ``None``.

    Raises
    ------
    TuningMismatch
        If the file was made for different tuning settings (rerun ``tune``).
    """
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
