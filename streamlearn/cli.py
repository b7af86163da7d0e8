"""The ``streamlearn`` command."""

import argparse
import sys

from .demo import METHOD_NAMES, run_demo
from .experiments.cli import add_subcommands


def _cmd_demo(args):
    run_demo(args.steps, args.hidden, args.method, args.seed)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="streamlearn",
        description="Online, gradient-free training of recurrent networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="online Mackey-Glass forecasting with DANP (no download)",
        description="Forecast a Mackey-Glass series 15 steps ahead, learning from every "
                    "sample as it arrives; prints the running prequential error next to "
                    "a persistence baseline.")
    demo.add_argument("--steps", type=int, default=50_000, help="stream length (default 50,000)")
    demo.add_argument("--hidden", type=int, default=100, help="hidden units (default 100)")
    demo.add_argument("--method", default="danp", choices=METHOD_NAMES,
                      help="learning rule (default danp)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_cmd_demo)
    add_subcommands(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
