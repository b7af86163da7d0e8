"""Per-method grid search of the learning rate and noise scale on a validation split.

For a fair comparison each method runs at its own best settings. For every
method, every combination of the ``tune.grid`` values (merged with that
method's ``tune.method_grids`` entry, which takes precedence) is trained on the
validation split (see :mod:`.tasks`; the test data are never used) for
``tune.seeds``, at hidden size ``tune.n_hidden``. Its score is the mean over
seeds of the final validation loss (mean of the last ``final_epochs`` epochs;
for the prequential protocol, the prequential loss on the validation part). A
combination with an unstable seed scores ``inf``. The lowest score wins; ties go
to the first combination in grid order.

``sigma`` is dropped from the grid of BP and DBP, which do not use it.
The choice is written to ``OUT/tuning.json`` and used by every later
``streamlearn run`` into the same ``OUT``; each run records the values it used.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

from .config import fingerprint
from .methods import make_model, uses_sigma
from .results import write_json, write_records_csv
from .runner import execute_specs, plan_runs

__all__ = ["grid_for", "tune", "tuning_fingerprint", "tuning_protocol"]


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


def _n_hidden(cfg):
    return cfg["tune"]["n_hidden"] or cfg["model"]["n_hidden"][0]


def tuning_fingerprint(cfg):
    """Hash of everything the tuning result depends on."""
    methods = tuned_methods(cfg)
    return fingerprint({
        "task": cfg["task"],
        "protocol": tuning_protocol(cfg),
        "stability": cfg["stability"],
        "model": {k: v for k, v in cfg["model"].items() if k != "n_hidden"},
        "n_hidden": _n_hidden(cfg),
        # a method's own value of a tuned setting is overridden by the tuner,
        # so it does not make the tuning stale
        "methods": {m: {k: v for k, v in cfg["methods"][m].items()
                        if k not in (grid_for(cfg, m)[0] if grid_for(cfg, m) else {})}
                    for m in methods},
        "grids": {m: grid_for(cfg, m) for m in methods},
        "seeds": cfg["tune"]["seeds"],
    })


def _tag(combo):
    return "-".join(f"{k}{v:g}" for k, v in combo.items())


def tune(cfg, out_dir, *, force=False, quiet=False, stream=None, jobs=1,
         model_factory=make_model):
    """Run the grid search and write ``OUT/tuning.json`` and ``OUT/tuning.csv``.

    Finished trials (``OUT/tuning/<trial>.json``) are reused unless ``force``.

    Returns
    -------
    dict
        The content of ``tuning.json``: ``chosen`` (method -> settings),
        ``failed`` (methods whose every combination was unstable), ``trials``
        (one row per combination) and the tuning settings.

    Raises
    ------
    ValueError
        If no method has a grid to search.
    """
    out_dir = Path(out_dir)
    methods = tuned_methods(cfg)
    if not methods:
        raise ValueError("nothing to tune: the configuration has no tune.grid / tune.method_grids values")
    protocol = tuning_protocol(cfg)
    n_hidden = _n_hidden(cfg)
    specs, combos = [], {}
    for m in methods:
        for combo in grid_for(cfg, m):
            for spec in plan_runs(cfg, tuned={m: combo}, methods=[m], split="validation",
                                  n_hidden=[n_hidden], seeds=cfg["tune"]["seeds"],
                                  protocol=protocol):
                spec["run_id"] = f"{m}-{_tag(combo)}-s{spec['seed']}"
                combos[spec["run_id"]] = (m, combo)
                specs.append(spec)
    results = execute_specs(specs, out_dir / "tuning", experiment=f"{cfg['name']}-tuning",
                            force=force, quiet=quiet, stream=stream, jobs=jobs,
                            model_factory=model_factory, label="trial")
    rows = {}
    for result in results:
        m, combo = combos[result["run_id"]]
        row = rows.setdefault((m, _tag(combo)), {"method": m, **combo, "scores": [], "n_unstable": 0})
        value = result["final"].get("final_test_loss")
        if result["status"] != "ok" or value is None or not math.isfinite(value):
            row["n_unstable"] += 1
            row["scores"].append(math.inf)
        else:
            row["scores"].append(value)
    trials, chosen, failed = [], {}, []
    for m in methods:
        best = None
        for combo in grid_for(cfg, m):
            row = rows[(m, _tag(combo))]
            score = sum(row["scores"]) / len(row["scores"])
            trial = {k: v for k, v in row.items() if k != "scores"}
            trial["validation_loss"] = score
            trials.append(trial)
            if math.isfinite(score) and (best is None or score < best[0]):
                best = (score, combo, trial)
        if best is None:
            failed.append(m)
        else:
            chosen[m] = dict(best[1])
            best[2]["chosen"] = True
    for trial in trials:
        trial.setdefault("chosen", False)
    summary = {
        "fingerprint": tuning_fingerprint(cfg),
        "experiment": cfg["name"],
        "chosen": chosen,
        "failed": failed,
        "n_hidden": n_hidden,
        "seeds": cfg["tune"]["seeds"],
        "protocol": protocol,
        "split": "validation",
        "trials": trials,
    }
    write_records_csv(out_dir / "tuning.csv", trials)
    write_json(out_dir / "tuning.json", summary)
    return summary
