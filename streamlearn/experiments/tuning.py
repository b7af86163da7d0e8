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

import math
from pathlib import Path

from .execution import execute_specs
from .methods import make_model
from .planning import (grid_for, plan_runs, tuned_methods, tuning_fingerprint, tuning_n_hidden,
                       tuning_protocol)
from .results import write_json, write_records_csv

# grid_for, tuning_fingerprint and tuning_protocol are planned in .planning
# (run_experiment needs the fingerprint too); they stay importable from here.
__all__ = ["grid_for", "tune", "tuning_fingerprint", "tuning_protocol"]


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
    n_hidden = tuning_n_hidden(cfg)
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
