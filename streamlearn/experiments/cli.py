"""Command-line wiring of ``streamlearn run`` and ``streamlearn tune``.

The package's main entry point (:mod:`streamlearn.cli`) calls
:func:`add_subcommands` on its ``argparse`` sub-parsers and then dispatches with
``args.func(args)``, which returns the process exit code. The same commands are
available without the main CLI as ``python -m streamlearn.experiments``.
"""

from __future__ import annotations

import sys

from ..cliargs import ArgumentParser, add_debug, nonnegative_int, output_dir, run_main

__all__ = ["add_subcommands", "main"]


def _common(p):
    p.add_argument("config", help="experiment configuration (YAML), e.g. examples/configs/mackey_glass.yaml")
    p.add_argument("--out", required=True, metavar="DIR", type=output_dir,
                   help="output directory (results, figures; created); reruns resume from it")
    p.add_argument("--smoke", action="store_true",
                   help="use the configuration's small 'smoke' variant (the full "
                        "configuration is checked first)")
    p.add_argument("--variant", metavar="NAME",
                   help="use a variant defined under 'variants' in the configuration")
    p.add_argument("--force", action="store_true",
                   help="rerun finished runs instead of skipping them")
    p.add_argument("--jobs", type=nonnegative_int, default=1, metavar="N",
                   help="runs executed in parallel processes (0: one per core; default 1)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress display (the final table is still printed)")


def _load(args):
    from .config import load_config

    return load_config(args.config, smoke=args.smoke, variant=args.variant)


def _jobs(args):
    from .execution import default_jobs

    return default_jobs() if args.jobs == 0 else args.jobs


def _fail(args, message):
    prog = " ".join(filter(None, ["streamlearn", getattr(args, "command", None)]))
    sys.stderr.write(f"{prog}: error: {message}\n")
    return 2


def _cmd_run(args):
    from .config import ConfigError
    from .runner import TuningMismatch, run_experiment

    try:
        cfg = _load(args)
        if args.tune:
            from .tuning import tune

            tune(cfg, args.out, force=args.force, quiet=args.quiet, jobs=_jobs(args))
        result = run_experiment(cfg, args.out, methods=args.methods, force=args.force,
                                quiet=args.quiet, jobs=_jobs(args),
                                figures=False if args.no_figures else None)
    except (ConfigError, FileNotFoundError, TuningMismatch, ValueError) as exc:
        if getattr(args, "debug", False):
            raise
        return _fail(args, str(exc))
    _print_table(result["aggregate"])
    if not args.quiet:
        for path in result["figures"]:
            sys.stderr.write(f"figure: {path}\n")
    return 0


def _cmd_tune(args):
    from .config import ConfigError
    from .tuning import tune

    try:
        summary = tune(_load(args), args.out, force=args.force, quiet=args.quiet, jobs=_jobs(args))
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        if getattr(args, "debug", False):
            raise
        return _fail(args, str(exc))
    for m, settings in summary["chosen"].items():
        values = ", ".join(f"{k}={v:g}" for k, v in settings.items())
        print(f"chosen for {m}: {values}")
    for m in summary["failed"]:
        print(f"no stable setting found for {m}; the configured values stay")
    return 0


def _print_table(rows):
    def f(v):
        return "-" if v is None else f"{v:.4g}"

    out = sys.stdout
    out.write(f"{'method':8} {'hidden':>6} {'stable':>7} {'final train':>12} {'final test':>12}\n")
    for r in rows:
        out.write(f"{r['method']:8} {r['n_hidden']:>6} {r['n_stable']:>3}/{r['n_runs']:<3} "
                  f"{f(r.get('final_train_loss_mean')):>12} {f(r.get('final_test_loss_mean')):>12}\n")


def add_subcommands(subparsers):
    """Add the ``run`` and ``tune`` sub-commands.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        As returned by ``ArgumentParser.add_subparsers()``.

    Returns
    -------
    dict
        The two new parsers, ``{"run": ..., "tune": ...}``. Each sets
        ``func``: call ``args.func(args)`` to execute and get the exit code.
    """
    run = subparsers.add_parser(
        "run", help="run a paper experiment from a YAML configuration",
        description="Train every configured method x hidden size x seed, write per-epoch "
                    "results (CSV and JSON), summary tables and figures to --out. "
                    "Finished runs are skipped on a rerun.")
    _common(run)
    run.add_argument("--tune", action="store_true",
                     help="run the grid search first (as `streamlearn tune`)")
    run.add_argument("--methods", nargs="+", metavar="M",
                     help="run only these of the configured methods")
    run.add_argument("--no-figures", action="store_true", help="skip the figures")
    run.set_defaults(func=_cmd_run)

    tune = subparsers.add_parser(
        "tune", help="grid-search learning rate / noise scale per method on a validation split",
        description="Search the configuration's tune.grid for every method on a validation "
                    "split and write the choice to --out/tuning.json; a later `streamlearn "
                    "run` with the same --out uses it.")
    _common(tune)
    tune.set_defaults(func=_cmd_tune)
    return {"run": run, "tune": tune}


def main(argv=None):
    """``python -m streamlearn.experiments {run,tune} ...``"""
    parser = ArgumentParser(prog="python -m streamlearn.experiments")
    add_debug(parser)
    for p in add_subcommands(parser.add_subparsers(dest="command", required=True)).values():
        add_debug(p, sub=True)
    args = parser.parse_args(argv)
    return run_main(args.func, args, parser.prog)
