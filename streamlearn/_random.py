"""A random stream that lives in the model.

Numba's ``np.random`` is one global state per thread, so two models would share
a stream and a pickled model could not continue where it stopped. Instead each
model owns a ``uint64[4]`` array holding a xoshiro256** state (Blackman and
Vigna, 2018); normal draws use the Box-Muller transform. The draw order is part
of the contract: ``_fill_normal`` fills an array front to back, two values per
pair of uniforms, so tests can replay the exact noise a kernel used.

``_fill_rademacher`` draws the cheap alternative (``noise="rademacher"``):
+-scale with equal probability, 64 signs per 64-bit output. Its order: value
``i`` of a call is bit ``i % 64`` (least significant first) of the call's
``i // 64``-th output, bit 1 meaning ``+scale``; the unused bits of the last
output are discarded, so every call starts on a fresh output.

``_fill_normal_ziggurat`` is a faster normal generator on the same stream
(Marsaglia and Tsang, 2000: 128 layers, one 32-bit word per value, the low
half of each 64-bit output first, more words only for the tail or a wedge, a
half word left at the end of a call discarded). It is about six times faster
than Box-Muller, which is WP's main cost (N^2 draws per step), but the models
do not use it yet: switching would change every model's random stream (see
docs/benchmarks.md, target 2).
"""

import math

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


def _ziggurat_tables():
    """Marsaglia and Tsang's (2000) tables for 128 layers and 32-bit words."""
    m1 = 2147483648.0
    dn = 3.442619855899
    tn = dn
    vn = 9.91256303526217e-3
    kn = np.zeros(128, np.int64)
    wn = np.zeros(128)
    fn = np.zeros(128)
    q = vn / math.exp(-0.5 * dn * dn)
    kn[0] = int((dn / q) * m1)
    wn[0] = q / m1
    wn[127] = dn / m1
    fn[0] = 1.0
    fn[127] = math.exp(-0.5 * dn * dn)
    for i in range(126, 0, -1):
        dn = math.sqrt(-2.0 * math.log(vn / dn + math.exp(-0.5 * dn * dn)))
        kn[i + 1] = int((dn / tn) * m1)
        tn = dn
        fn[i] = math.exp(-0.5 * dn * dn)
        wn[i] = dn / m1
    return kn, wn, fn


_KN, _WN, _FN = _ziggurat_tables()
_ZR = 3.442620  # start of the tail


@njit(cache=True, inline="always")
def _word(s, word, have):
    """The next 32-bit word (as int64): the low half of a 64-bit output first."""
    if have:
        return np.int64(word >> _U(32)), word, False
    word = _next_u64(s)
    return np.int64(word & _U(0xFFFFFFFF)), word, True


@njit(cache=True, inline="always")
def _uniform_open(w):
    """A 32-bit word as a uniform on (0, 1)."""
    return (w + 0.5) * 2.3283064365386963e-10


@njit(cache=True)
def _ziggurat_slow(s, hz, iz, word, have):
    """The rare case: the base strip's tail, or a wedge test (Marsaglia-Tsang's nfix)."""
    while True:
        x = hz * _WN[iz]
        if iz == 0:
            while True:
                w, word, have = _word(s, word, have)
                x = -math.log(_uniform_open(w)) * (1.0 / _ZR)
                w, word, have = _word(s, word, have)
                y = -math.log(_uniform_open(w))
                if y + y >= x * x:
                    break
            return (_ZR + x if hz > 0 else -_ZR - x), word, have
        w, word, have = _word(s, word, have)
        if _FN[iz] + _uniform_open(w) * (_FN[iz - 1] - _FN[iz]) < math.exp(-0.5 * x * x):
            return x, word, have
        w, word, have = _word(s, word, have)
        hz = w - 4294967296 if w >= 2147483648 else w  # signed 32-bit
        iz = w & 127
        if abs(hz) < _KN[iz]:
            return hz * _WN[iz], word, have


@njit(cache=True)
def _fill_normal_ziggurat(s, out, scale):
    """Fill ``out`` with N(0, scale^2) draws by the ziggurat, front to back.

    Not used by the models yet (see the module docstring).
    """
    word = _U(0)
    have = False
    for i in range(out.shape[0]):
        w, word, have = _word(s, word, have)
        hz = w - 4294967296 if w >= 2147483648 else w  # signed 32-bit
        iz = w & 127
        if abs(hz) < _KN[iz]:
            out[i] = scale * (hz * _WN[iz])
        else:
            x, word, have = _ziggurat_slow(s, hz, iz, word, have)
            out[i] = scale * x


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


@njit(cache=True)
def _fill_rademacher(s, out, scale):
    """Fill the 1-D array ``out`` with +-scale (equal odds), front to back.

    Value ``i`` is bit ``i % 64`` (least significant first) of the
    ``i // 64``-th output of the stream: +scale for 1, -scale for 0. The
    last output's unused bits are discarded.
    """
    n = out.shape[0]
    i = 0
    while i < n:
        word = _next_u64(s)
        m = min(64, n - i)
        for b in range(m):
            out[i + b] = scale if (word >> _U(b)) & _U(1) else -scale
        i += m


@njit(cache=True)
def _fill_words(s, words, n):
    """The raw outputs ``_fill_rademacher`` would read for ``n`` values, unexpanded.

    ``words[q]`` for q < ceil(n / 64) is the stream's q-th output, so value i of
    that fill is bit ``i % 64`` of ``words[i // 64]`` (1 meaning +scale) and the
    stream ends where the fill leaves it. WP keeps its Rademacher noise so
    (``kernels.network._draw_wp_bits``).
    """
    for q in range((n + 63) // 64):
        words[q] = _next_u64(s)


def rademacher(state, shape, scale=1.0, dtype=np.float64):
    """Draw an array of +-scale signs from ``state`` (advancing it), in kernel order."""
    out = np.empty(int(np.prod(shape)), dtype=dtype)
    _fill_rademacher(state, out, scale)
    return out.reshape(shape)


def normal(state, shape, scale=1.0, dtype=np.float64):
    """Draw an array of normals from ``state`` (advancing it), in kernel order."""
    out = np.empty(int(np.prod(shape)), dtype=dtype)
    _fill_normal(state, out, scale)
    return out.reshape(shape)
