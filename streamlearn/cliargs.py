"""Argument types and error handling shared by the command-line tools.

Used by ``streamlearn``, ``python -m benchmarks`` and the examples: a bad value
gives argparse's one-line ``prog: error: argument --x: ...`` and exit code 2;
:func:`run_main` turns any other error into one line too, unless ``--debug``.

>>> positive_int("3")
3
>>> positive_int("-5")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: must be a positive integer, got -5
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["ArgumentParser", "positive_int", "nonnegative_int", "int_at_least", "positive_float",
           "output_dir", "output_file", "add_debug", "run_main"]


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors are one line (no usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int(text, what):
    try:
        return int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def int_at_least(minimum, what=None):
    """An ``argparse`` type: an integer >= ``minimum``."""
    what = what or f"an integer >= {minimum}"

    def parse(text):
        value = _int(text, what)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
        return value

    parse.__name__ = f"int_at_least_{minimum}"
    return parse


positive_int = int_at_least(1, "a positive integer")
positive_int.__name__ = "positive_int"
nonnegative_int = int_at_least(0, "a non-negative integer")
nonnegative_int.__name__ = "nonnegative_int"


def positive_float(text):
    """An ``argparse`` type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def output_dir(text):
    """An ``argparse`` type: a directory to write into (may not exist yet, must not be a file)."""
    path = os.path.expanduser(text)
    if os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(
            f"{text!r} is an existing file, not a directory; give a directory (it is created)")
    return path


def output_file(text):
    """An ``argparse`` type: a file to write (its folder must exist; not a directory)."""
    path = os.path.expanduser(text)
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; give a file name")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"folder {folder!r} does not exist; create it first")
    return path


def add_debug(parser, sub=False):
    """Add ``--debug`` (show the traceback of an error) to ``parser``.

    On a sub-command's parser pass ``sub=True``, so that the flag works after the
    sub-command too without overriding one given before it.
    """
    parser.add_argument("--debug", action="store_true",
                        default=argparse.SUPPRESS if sub else False,
                        help="show the full traceback of an error")


def run_main(func, args, prog):
    """Call ``func(args)`` and return its exit code; an error becomes one line on stderr.

    Exit code 2 for errors in what the user gave (``ValueError``, ``OSError``:
    a bad value, a missing or unwritable file), 1 for anything else and 130 on
    Ctrl-C. With ``args.debug`` the exception propagates with its traceback.
    """
    try:
        code = func(args)
    except KeyboardInterrupt:
        if getattr(args, "debug", False):
            raise
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 (one line instead of a traceback)
        if getattr(args, "debug", False):
            raise
        user = isinstance(exc, (ValueError, OSError))
        if isinstance(exc, OSError) and exc.filename and exc.strerror:
            message = f"{exc.filename}: {exc.strerror}"
        else:
            message = str(exc) if user else f"{type(exc).__name__}: {exc}"
        message = " ".join(message.split()) or type(exc).__name__
        hint = "" if user else " (an internal error; rerun with --debug for the traceback)"
        sys.stderr.write(f"{prog}: error: {message}{hint}\n")
        return 2 if user else 1
    return 0 if code is None else code
