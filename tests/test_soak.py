"""Soak: 1,000,000 steps of DANP with 100 hidden units on a drifting stream.

Marked slow (about a minute): `python -m pytest -m slow tests/test_soak.py -s`.
Checks no non-finite prediction, bounded weights, and resident memory flat
after warm-up (growth under 1 %).
"""

import numpy as np
import pytest

from streamlearn import OnlineRNN

STEPS, CHUNK, HORIZON = 1_000_000, 20_000, 5


def drifting(t0, n):
    """Two sines whose periods drift slowly, plus a wandering offset; the
    target is the value HORIZON steps ahead."""
    t = np.arange(t0, t0 + n + HORIZON, dtype=np.float64)
    period = 50.0 + 30.0 * np.sin(2 * np.pi * t / 200_000)
    phase = np.cumsum(2 * np.pi / period) + 2 * np.pi * t0 / 50.0
    x = (np.sin(phase) + 0.5 * np.sin(2.7 * phase)
         + 0.3 * np.sin(2 * np.pi * t / 330_000)) / 1.5
    return x[:n, None], x[HORIZON:HORIZON + n, None]


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.slow
def test_soak_one_million_steps():
    model = OnlineRNN(1, 100, 1, method="anp", decorrelation=True, seed=0)
    rss, errors, persistence, max_weight = [], [], [], []
    for t0 in range(0, STEPS, CHUNK):
        U, Y = drifting(t0, CHUNK)
        P = model.learn_many(U, Y)
        assert np.all(np.isfinite(P)), t0
        errors.append(float(np.mean((P - Y) ** 2)))
        persistence.append(float(np.mean((U - Y) ** 2)))
        max_weight.append(max(float(np.abs(getattr(model, k)).max()) for k in "ARBD"))
        rss.append(rss_bytes())
    warm = rss[4]  # after 100,000 steps
    growth = (max(rss[4:]) - warm) / warm
    print(f"\nsoak: {STEPS:,} steps; MSE first chunk {errors[0]:.4f}, last {errors[-1]:.4f}, "
          f"min {min(errors):.4f}, max {max(errors):.4f}; persistence {np.mean(persistence):.4f}; "
          f"max |weight| {max(max_weight):.3f}; "
          f"RSS after warm-up {warm / 2**20:.1f} MiB, growth {100 * growth:.3f} %")
    assert growth < 0.01
    assert max(max_weight) < 100.0
    assert np.all(np.isfinite(model.state))
    # it keeps tracking the drift: better than persistence over the last half
    half = len(errors) // 2
    assert np.mean(errors[half:]) < np.mean(persistence[half:])
