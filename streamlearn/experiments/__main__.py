"""``python -m streamlearn.experiments run|tune CONFIG --out DIR``."""

import sys

from .cli import main

sys.exit(main())
