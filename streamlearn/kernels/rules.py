"""The learning rules' estimates: the loss (eq. 2), ANP's direction (eq. 5), BP's gradients."""

from numba import njit

from .._jit import INNER
from .layout import C_DECOR, C_WINDOW, K_FILL, K_POS
from .linalg import _copy, _rmatvec, _rmatvec_t


@njit(**INNER)
def _sq_loss(y, target):
    """Per-step loss l = mean_o (y_o - y*_o)^2 (eq. 2)."""
    s = 0.0
    for o in range(y.shape[0]):
        d = y[o] - target[o]
        s += d * d
    return s / y.shape[0]


@njit(**INNER)
def _scaled_direction(d, scale, out):
    """out = scale * d / ||d||^2 (ANP, eq. 5); zero when d vanishes."""
    ss = 0.0
    for i in range(d.shape[0]):
        ss += d[i] * d[i]
    if ss > 0.0:
        f = scale / ss
    else:
        f = 0.0
    for i in range(d.shape[0]):
        out[i] = f * d[i]


@njit(**INNER)
def _bp_gradients_t(RT, B, DT, history, G, counters, config, y, target, gb, tmp, tmp2):
    """``_bp_gradients`` with R and D stored transposed (same arithmetic)."""
    N = RT.shape[0]
    O = B.shape[0]
    I = history.shape[1] - 2 * N
    K = config[C_WINDOW]
    decor = config[C_DECOR] != 0
    fill = counters[K_FILL]
    for o in range(O):
        gb[o] = 2.0 * (y[o] - target[o]) / O
    _rmatvec(B, gb, tmp)
    slot = (counters[K_POS] - 1) % K
    for q in range(fill):
        d = history[slot, I + N:I + 2 * N]
        if decor:
            _rmatvec_t(DT, tmp, tmp2)
        else:
            _copy(tmp, tmp2)
        g = G[slot]
        for i in range(N):
            g[i] = d[i] * tmp2[i]
        if q + 1 < fill:
            _rmatvec_t(RT, g, tmp)
        slot = (slot - 1) % K
