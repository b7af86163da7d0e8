"""Width-dependent default learning rates (streamlearn/defaults.py, docs/width.md)."""

import os
from pathlib import Path

import numpy as np
import pytest

from streamlearn import OnlineRNN
from streamlearn.datasets import mackey_glass, weather
from streamlearn.defaults import (DECORRELATION_FACTOR, LR_DECORRELATION_REF, LR_REF, N_REF,
                                  WIDTH_EXPONENT, default_lr, default_lr_decorrelation,
                                  width_exponent)
from streamlearn.online_rnn import DEFAULT_LR, DivergenceError

METHODS = [("anp", False), ("anp", True), ("np", False), ("np", True),
           ("wp", False), ("wp", True), ("bp", False), ("bp", True)]
OPTIMIZERS = ["sgd", "adam"]
WTH = Path(os.environ.get("STREAMLEARN_WTH", Path(__file__).resolve().parents[2]
                          / "shared" / "data" / "WTH.csv"))


def test_reference_values_are_the_old_table():
    assert DEFAULT_LR == LR_REF
    assert set(WIDTH_EXPONENT) == set(LR_REF)


@pytest.mark.parametrize("key", sorted(LR_REF))
@pytest.mark.parametrize("decorrelation", [False, True])
def test_rate_is_the_reference_up_to_n_ref_and_falls_as_specified_above(key, decorrelation):
    method, optimizer = key
    ref = LR_REF[key] * (DECORRELATION_FACTOR.get(key, 1.0) if decorrelation else 1.0)
    for n in (1, 16, 50, N_REF):
        assert default_lr(method, optimizer, n, decorrelation) == pytest.approx(ref, rel=1e-12)
    p = width_exponent(method, optimizer, decorrelation)
    assert p >= 1.0
    previous = ref
    for n in (150, 200, 500, 1000, 2000, 10000):
        lr = default_lr(method, optimizer, n, decorrelation)
        assert lr == pytest.approx(ref * (N_REF / n) ** p, rel=1e-12)
        assert lr < previous
        previous = lr


def test_the_documented_rule():
    assert width_exponent("anp", "sgd") == 1.0 and width_exponent("bp", "sgd") == 1.0
    assert width_exponent("anp", "sgd", True) == 1.0
    assert width_exponent("np", "sgd") == width_exponent("wp", "sgd") == 4.0
    assert all(width_exponent(m, "adam", d) == 1.0 for m in ("anp", "np", "wp", "bp")
               for d in (False, True))
    assert default_lr("anp", "sgd", 500) == pytest.approx(6e-4)
    assert default_lr("np", "sgd", 100, True) == pytest.approx(1e-5)
    assert WIDTH_EXPONENT[("anp", "sgd")] == 1.0


@pytest.mark.parametrize("method, decorrelation", METHODS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_model_takes_the_width_dependent_default(method, decorrelation, optimizer):
    for n in (16, 100, 400):
        m = OnlineRNN(1, n, 1, method=method, decorrelation=decorrelation,
                      optimizer=optimizer, seed=0)
        assert m.lr == default_lr(method, optimizer, n, decorrelation)
    assert OnlineRNN(1, 400, 1, method=method, optimizer=optimizer, lr=0.5, seed=0).lr == 0.5


def test_decorrelation_rate_is_the_authors_up_to_n_ref_then_falls_as_1_over_n():
    assert LR_DECORRELATION_REF == 1e-4
    for n in (1, 16, 100):
        assert default_lr_decorrelation(n) == 1e-4
    for n in (200, 500, 1000, 3000):
        assert default_lr_decorrelation(n) == pytest.approx(1e-4 * 100 / n, rel=1e-12)
    for n in (16, 400):
        assert OnlineRNN(1, n, 1, decorrelation=True, seed=0).lr_decorrelation == \
            default_lr_decorrelation(n)
    assert OnlineRNN(1, 400, 1, lr_decorrelation=3e-4, seed=0).lr_decorrelation == 3e-4
    with pytest.raises(ValueError, match="n_hidden"):
        default_lr_decorrelation(0)


@pytest.mark.slow
def test_danp_at_1000_units_is_no_worse_than_at_100():
    """docs/width.md, "Decorrelation rate": median 0.29 at 1,000 units (0.22-0.30
    over three seeds; 0.28-0.30 at 100); with the old fixed 1e-4, 0.35-0.47 (~1 min)."""
    U, Y = mackey_glass(20000, horizon=15, seed=0)
    score = {}
    for n in (100, 1000):
        m = OnlineRNN(1, n, 1, method="anp", decorrelation=True, seed=0)
        P = m.learn_many(U, Y)
        score[n] = float(np.mean((P[-5000:] - Y[-5000:]) ** 2) / np.var(Y[-5000:]))
    assert score[1000] <= 1.05 * score[100]


def test_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        default_lr("xyz", "sgd", 100)
    with pytest.raises(ValueError, match="n_hidden"):
        default_lr("anp", "sgd", 0)


def test_anp_at_500_units_no_longer_diverges_with_defaults():
    # the old width-blind default (3e-3) is refused by the guard within
    # a few hundred steps at 500 units; the width-scaled default is not
    U, Y = mackey_glass(2000, horizon=15, seed=0)
    with pytest.raises(DivergenceError):
        OnlineRNN(1, 500, 1, method="anp", lr=DEFAULT_LR[("anp", "sgd")], seed=0).learn_many(U, Y)
    P = OnlineRNN(1, 500, 1, method="anp", seed=0).learn_many(U, Y)
    assert np.all(np.isfinite(P))
    tail = slice(1000, 2000)
    assert np.mean((P[tail] - Y[tail]) ** 2) < np.var(Y[tail])


def _runs_without_divergence(U, Y, n, method, decorrelation, optimizer, seed=0):
    m = OnlineRNN(U.shape[1], n, Y.shape[1], method=method, decorrelation=decorrelation,
                  optimizer=optimizer, seed=seed)
    P = m.learn_many(U, Y)  # on_divergence="raise": a refused step fails the test
    assert np.all(np.isfinite(P))
    return P


@pytest.mark.parametrize("method, decorrelation", METHODS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("n", [16, 200])
def test_defaults_do_not_diverge_on_mackey_glass(method, decorrelation, optimizer, n):
    U, Y = mackey_glass(1000, horizon=15, seed=1)
    _runs_without_divergence(U, Y, n, method, decorrelation, optimizer)


@pytest.mark.skipif(not WTH.exists(), reason="WTH.csv is shared data, never committed (CI has it at ../shared/data)")
@pytest.mark.parametrize("method, decorrelation", METHODS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_defaults_do_not_diverge_on_weather(method, decorrelation, optimizer):
    d = weather(WTH, 1)
    _runs_without_divergence(d.U_train[:1000], d.Y_train[:1000], 16, method, decorrelation,
                             optimizer)


# -- the big widths (opt-in: pytest -m slow) ---------------------------------

def _big_steps(method, optimizer):
    """Stream lengths at 2,000 units: a step of WP (4e6 weight noises) or of Adam
    (8e6 moments) costs 10-100 times one of ANP; docs/width.md has the long runs."""
    return 200 if method == "wp" else 300 if optimizer == "adam" else 1000


@pytest.mark.slow
@pytest.mark.parametrize("method, decorrelation", METHODS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_defaults_do_not_diverge_at_2000_units_on_mackey_glass(method, decorrelation, optimizer):
    steps = _big_steps(method, optimizer)
    U, Y = mackey_glass(steps, horizon=15, seed=0)
    _runs_without_divergence(U, Y, 2000, method, decorrelation, optimizer)


@pytest.mark.slow
@pytest.mark.skipif(not WTH.exists(), reason="WTH.csv is shared data, never committed (CI has it at ../shared/data)")
@pytest.mark.parametrize("method, decorrelation", METHODS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_defaults_do_not_diverge_at_2000_units_on_weather(method, decorrelation, optimizer):
    steps = _big_steps(method, optimizer)
    d = weather(WTH, 1)
    _runs_without_divergence(d.U_train[:steps], d.Y_train[:steps], 2000, method,
                             decorrelation, optimizer)


@pytest.mark.slow
def test_anp_and_danp_do_not_diverge_at_2000_units_on_a_long_stream():
    U, Y = mackey_glass(5000, horizon=15, seed=0)
    for decorrelation in (False, True):
        _runs_without_divergence(U, Y, 2000, "anp", decorrelation, "sgd")
