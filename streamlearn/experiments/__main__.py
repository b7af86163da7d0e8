"""``python -m streamlearn.experiments run|tune CONFIG --out DIR``."""

import sys

from .cli import main

if __name__ == "__main__":  # not when imported (e.g. by pytest --doctest-modules)
    sys.exit(main())
