"""Benchmarks of streamlearn: ``python -m benchmarks [--quick]`` writes benchmark-results/ (docs/ with ``--write-docs``).

Single-threaded unless a section says otherwise: the BLAS library is limited
to one thread before NumPy is imported.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
