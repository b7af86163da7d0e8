"""The ``streamlearn`` command (also ``python -m streamlearn``)."""

import argparse
import sys

from ._version import __version__
from .cliargs import ArgumentParser, add_debug, int_at_least, nonnegative_int, positive_int, run_main
from .demo import METHOD_NAMES, MIN_STEPS, run_demo
from .experiments.cli import add_subcommands


def _cmd_demo(args):
    run_demo(args.steps, args.hidden, args.method, args.seed)
    return 0


def _cmd_serve(args):
    import logging

    from .service.config import load_config
    from .service.server import serve

    cfg = load_config(args.config)  # a bad file: one line, exit code 2
    logging.basicConfig(level=getattr(logging, args.log_level.upper()),
                        format="%(asctime)s streamlearn serve: %(message)s")
    logging.getLogger("distributed").setLevel(logging.WARNING)
    return serve(cfg)


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
    from .service.help import SERVE_EPILOG

    serve = sub.add_parser(
        "serve", help="a live service: MQTT readings in, forecasts out (docs/service.md)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Subscribe to sensor readings on an MQTT broker, learn one forecaster per "
                    "sensor from each reading as it arrives, publish forecasts for 1..H steps "
                    "ahead, checkpoint periodically, and resume exactly after a crash. "
                    "SIGTERM writes a final checkpoint and exits cleanly.",
        epilog=SERVE_EPILOG)
    serve.add_argument("--config", required=True, metavar="FILE",
                       help="the service's YAML file (example: examples/configs/service.yaml)")
    serve.add_argument("--log-level", default="info",
                       choices=["debug", "info", "warning", "error"],
                       help="what to log on stderr (default info)")
    add_debug(serve, sub=True)
    serve.set_defaults(func=_cmd_serve)
    for p in add_subcommands(sub).values():
        add_debug(p, sub=True)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return run_main(args.func, args, "streamlearn")


if __name__ == "__main__":
    sys.exit(main())
