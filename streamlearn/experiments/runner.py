"""Running a configured experiment: every method x hidden size x seed.

:func:`run_experiment` plans the runs (:mod:`.planning`, with the values the
tuner chose, if any), executes them (:mod:`.execution`: finished runs with the
same settings are skipped, so an interrupted experiment resumes where it
stopped) and writes the summary and figures (:mod:`.results`, :mod:`.figures`).
Results go to ``OUT/runs``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from .execution import default_jobs, execute_run, execute_specs
from .methods import make_model
from .planning import TuningMismatch, load_tuned, plan_runs
from .results import load_runs, write_summary

# execute_run, execute_specs, default_jobs, load_tuned, plan_runs and
# TuningMismatch lived here before planning and execution had modules of
# their own; they stay importable from here.
__all__ = ["plan_runs", "run_experiment", "execute_run", "execute_specs", "load_tuned",
           "TuningMismatch", "default_jobs"]


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
