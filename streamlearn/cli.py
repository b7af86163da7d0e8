"""The ``streamlearn`` command (also ``python -m streamlearn``)."""

import sys

from ._version import __version__
from .cliargs import ArgumentParser, add_debug, int_at_least, nonnegative_int, positive_int, run_main
from .demo import METHOD_NAMES, MIN_STEPS, run_demo
from .experiments.cli import add_subcommands


def _cmd_demo(args):
    run_demo(args.steps, args.hidden, args.method, args.seed)
    return 0


def build_parser():
    parser = ArgumentParser(
        prog="streamlearn",
        description="Online, gradient-free training of recurrent networks.")
    parser.add_argument("--version", action="version", version=f"streamlearn {__version__}")
    add_debug(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="online Mackey-Glass forecasting with DANP (no download)",
        description="Forecast a Mackey-Glass series 15 steps ahead, learning from every "
                    "sample as it arrives; prints the running prequential error next to "
                    "a persistence baseline.")
    demo.add_argument("--steps", type=int_at_least(MIN_STEPS, f"an integer >= {MIN_STEPS}"),
                      default=50_000, metavar="N",
                      help=f"stream length, at least {MIN_STEPS} (default 50,000)")
    demo.add_argument("--hidden", type=positive_int, default=100, metavar="N",
                      help="hidden units (default 100)")
    demo.add_argument("--method", default="danp", choices=METHOD_NAMES,
                      help="learning rule (default danp)")
    demo.add_argument("--seed", type=nonnegative_int, default=0, metavar="N",
                      help="random seed of the data and the model (default 0)")
    add_debug(demo, sub=True)
    demo.set_defaults(func=_cmd_demo)
    for p in add_subcommands(sub).values():
        add_debug(p, sub=True)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return run_main(args.func, args, "streamlearn")


if __name__ == "__main__":
    sys.exit(main())
