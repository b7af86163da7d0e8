"""Options of the jitted functions that only other jitted functions call.

Numba compiles a CPython (and a C) wrapper for every ``@njit`` function so
that Python can call it; for the kernels called only from other kernels the
wrappers are never used and cost about a quarter of a cold start's compile
time. Entry points (called from Python) keep plain ``@njit(cache=True)``.
"""

INNER = dict(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)

# Inlined into the caller in Numba's IR (no library of their own to optimise,
# link and turn into machine code again at every level of nesting).
FLAT = dict(cache=True, inline="always")
