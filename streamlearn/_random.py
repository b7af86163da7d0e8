"""A random stream that lives in the model.

Numba's ``np.random`` is one global state per thread, so two models would share
a stream and a pickled model could not continue where it stopped. Instead each
model owns a ``uint64[4]`` array holding a xoshiro256** state (Blackman and
Vigna, 2018); normal draws use the Box-Muller transform. The draw order is part
of the contract: ``_fill_normal`` fills an array front to back, two values per
pair of uniforms, so tests can replay the exact noise a kernel used.
"""

import numpy as np
from numba import njit

_U = np.uint64


def seed_state(seed):
    """Return a fresh xoshiro256** state (``uint64[4]``) for an integer seed.

    The seed is expanded with splitmix64, as the generator's authors advise, so
    nearby seeds give unrelated streams.
    """
    seed = int(seed) & 0xFFFFFFFFFFFFFFFF
    state = np.empty(4, dtype=np.uint64)
    mask = 0xFFFFFFFFFFFFFFFF
    for i in range(4):
        seed = (seed + 0x9E3779B97F4A7C15) & mask
        z = seed
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        state[i] = z ^ (z >> 31)
    if not state.any():  # the all-zero state is a fixed point
        state[0] = 1
    return state


def fresh_seed():
    """An integer seed drawn from the operating system's entropy."""
    return int(np.random.SeedSequence().entropy % (2**63))


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << _U(k)) | (x >> _U(64 - k))


@njit(cache=True)
def _next_u64(s):
    result = _rotl(s[1] * _U(5), 7) * _U(9)
    t = s[1] << _U(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@njit(cache=True)
def _next_double(s):
    """Uniform on [0, 1) with 53 random bits."""
    return float(_next_u64(s) >> _U(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _fill_normal(s, out, scale):
    """Fill the 1-D array ``out`` with N(0, scale^2) draws, front to back."""
    n = out.shape[0]
    i = 0
    while i < n:
        u1 = 1.0 - _next_double(s)  # (0, 1]: log is finite
        u2 = _next_double(s)
        r = scale * np.sqrt(-2.0 * np.log(u1))
        out[i] = r * np.cos(2.0 * np.pi * u2)
        if i + 1 < n:
            out[i + 1] = r * np.sin(2.0 * np.pi * u2)
        i += 2


def normal(state, shape, scale=1.0, dtype=np.float64):
    """Draw an array of normals from ``state`` (advancing it), in kernel order."""
    out = np.empty(int(np.prod(shape)), dtype=dtype)
    _fill_normal(state, out, scale)
    return out.reshape(shape)
