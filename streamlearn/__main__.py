"""``python -m streamlearn``: the same as the ``streamlearn`` command."""

import sys

from .cli import main

if __name__ == "__main__":  # not when imported (pytest --doctest-modules)
    sys.exit(main())
