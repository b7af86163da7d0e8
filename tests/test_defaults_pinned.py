"""The default learning rates and optimisers, pinned to the values the code used
before the method registry (streamlearn/methods.py) existed.

Every documented number in docs/ was measured with these defaults: a refactoring
must not change a single one of them, bit for bit. The tables below were written
by running the code of commit a510790 (main before issue 14's registry), not by
reading the registry.
"""

import pytest

from streamlearn import OnlineRNN
from streamlearn.experiments.methods import model_kwargs
from streamlearn.forecaster import RNNForecaster
from streamlearn.regressor import RNNRegressor

#: OnlineRNN(lr=None).lr by (method, decorrelation, optimizer, readout, n_hidden)
CORE = {('anp', False, 'adam', 'perturbation', 16): 0.0001,
 ('anp', False, 'adam', 'perturbation', 100): 0.0001,
 ('anp', False, 'adam', 'perturbation', 500): 2e-05,
 ('anp', False, 'adam', 'rls', 16): 1e-08,
 ('anp', False, 'adam', 'rls', 100): 1e-08,
 ('anp', False, 'adam', 'rls', 500): 2e-09,
 ('anp', False, 'sgd', 'perturbation', 16): 0.003,
 ('anp', False, 'sgd', 'perturbation', 100): 0.003,
 ('anp', False, 'sgd', 'perturbation', 500): 0.0006000000000000001,
 ('anp', False, 'sgd', 'rls', 16): 3.0000000000000004e-07,
 ('anp', False, 'sgd', 'rls', 100): 3.0000000000000004e-07,
 ('anp', False, 'sgd', 'rls', 500): 6.000000000000001e-08,
 ('anp', True, 'adam', 'perturbation', 16): 0.0001,
 ('anp', True, 'adam', 'perturbation', 100): 0.0001,
 ('anp', True, 'adam', 'perturbation', 500): 2e-05,
 ('anp', True, 'adam', 'rls', 16): 1e-08,
 ('anp', True, 'adam', 'rls', 100): 1e-08,
 ('anp', True, 'adam', 'rls', 500): 2e-09,
 ('anp', True, 'sgd', 'perturbation', 16): 0.003,
 ('anp', True, 'sgd', 'perturbation', 100): 0.003,
 ('anp', True, 'sgd', 'perturbation', 500): 0.0006000000000000001,
 ('anp', True, 'sgd', 'rls', 16): 3.0000000000000004e-07,
 ('anp', True, 'sgd', 'rls', 100): 3.0000000000000004e-07,
 ('anp', True, 'sgd', 'rls', 500): 6.000000000000001e-08,
 ('bp', False, 'adam', 'perturbation', 16): 0.001,
 ('bp', False, 'adam', 'perturbation', 100): 0.001,
 ('bp', False, 'adam', 'perturbation', 500): 0.0002,
 ('bp', False, 'adam', 'rls', 16): 1.0000000000000001e-07,
 ('bp', False, 'adam', 'rls', 100): 1.0000000000000001e-07,
 ('bp', False, 'adam', 'rls', 500): 2e-08,
 ('bp', False, 'sgd', 'perturbation', 16): 0.01,
 ('bp', False, 'sgd', 'perturbation', 100): 0.01,
 ('bp', False, 'sgd', 'perturbation', 500): 0.002,
 ('bp', False, 'sgd', 'rls', 16): 1.0000000000000002e-06,
 ('bp', False, 'sgd', 'rls', 100): 1.0000000000000002e-06,
 ('bp', False, 'sgd', 'rls', 500): 2.0000000000000002e-07,
 ('bp', True, 'adam', 'perturbation', 16): 0.001,
 ('bp', True, 'adam', 'perturbation', 100): 0.001,
 ('bp', True, 'adam', 'perturbation', 500): 0.0002,
 ('bp', True, 'adam', 'rls', 16): 1.0000000000000001e-07,
 ('bp', True, 'adam', 'rls', 100): 1.0000000000000001e-07,
 ('bp', True, 'adam', 'rls', 500): 2e-08,
 ('bp', True, 'sgd', 'perturbation', 16): 0.01,
 ('bp', True, 'sgd', 'perturbation', 100): 0.01,
 ('bp', True, 'sgd', 'perturbation', 500): 0.002,
 ('bp', True, 'sgd', 'rls', 16): 1.0000000000000002e-06,
 ('bp', True, 'sgd', 'rls', 100): 1.0000000000000002e-06,
 ('bp', True, 'sgd', 'rls', 500): 2.0000000000000002e-07,
 ('np', False, 'adam', 'perturbation', 16): 1e-05,
 ('np', False, 'adam', 'perturbation', 100): 1e-05,
 ('np', False, 'adam', 'perturbation', 500): 2.0000000000000003e-06,
 ('np', False, 'adam', 'rls', 16): 1e-09,
 ('np', False, 'adam', 'rls', 100): 1e-09,
 ('np', False, 'adam', 'rls', 500): 2.0000000000000003e-10,
 ('np', False, 'sgd', 'perturbation', 16): 0.0001,
 ('np', False, 'sgd', 'perturbation', 100): 0.0001,
 ('np', False, 'sgd', 'perturbation', 500): 1.6000000000000003e-07,
 ('np', False, 'sgd', 'rls', 16): 1e-08,
 ('np', False, 'sgd', 'rls', 100): 1e-08,
 ('np', False, 'sgd', 'rls', 500): 1.6000000000000003e-11,
 ('np', True, 'adam', 'perturbation', 16): 1e-05,
 ('np', True, 'adam', 'perturbation', 100): 1e-05,
 ('np', True, 'adam', 'perturbation', 500): 2.0000000000000003e-06,
 ('np', True, 'adam', 'rls', 16): 1e-09,
 ('np', True, 'adam', 'rls', 100): 1e-09,
 ('np', True, 'adam', 'rls', 500): 2.0000000000000003e-10,
 ('np', True, 'sgd', 'perturbation', 16): 1e-05,
 ('np', True, 'sgd', 'perturbation', 100): 1e-05,
 ('np', True, 'sgd', 'perturbation', 500): 1.6000000000000004e-08,
 ('np', True, 'sgd', 'rls', 16): 1e-09,
 ('np', True, 'sgd', 'rls', 100): 1e-09,
 ('np', True, 'sgd', 'rls', 500): 1.6000000000000005e-12,
 ('wp', False, 'adam', 'perturbation', 16): 1e-06,
 ('wp', False, 'adam', 'perturbation', 100): 1e-06,
 ('wp', False, 'adam', 'perturbation', 500): 2e-07,
 ('wp', False, 'adam', 'rls', 16): 1e-10,
 ('wp', False, 'adam', 'rls', 100): 1e-10,
 ('wp', False, 'adam', 'rls', 500): 2e-11,
 ('wp', False, 'sgd', 'perturbation', 16): 1e-05,
 ('wp', False, 'sgd', 'perturbation', 100): 1e-05,
 ('wp', False, 'sgd', 'perturbation', 500): 1.6000000000000004e-08,
 ('wp', False, 'sgd', 'rls', 16): 1e-09,
 ('wp', False, 'sgd', 'rls', 100): 1e-09,
 ('wp', False, 'sgd', 'rls', 500): 1.6000000000000005e-12,
 ('wp', True, 'adam', 'perturbation', 16): 1e-06,
 ('wp', True, 'adam', 'perturbation', 100): 1e-06,
 ('wp', True, 'adam', 'perturbation', 500): 2e-07,
 ('wp', True, 'adam', 'rls', 16): 1e-10,
 ('wp', True, 'adam', 'rls', 100): 1e-10,
 ('wp', True, 'adam', 'rls', 500): 2e-11,
 ('wp', True, 'sgd', 'perturbation', 16): 1e-05,
 ('wp', True, 'sgd', 'perturbation', 100): 1e-05,
 ('wp', True, 'sgd', 'perturbation', 500): 1.6000000000000004e-08,
 ('wp', True, 'sgd', 'rls', 16): 1e-09,
 ('wp', True, 'sgd', 'rls', 100): 1e-09,
 ('wp', True, 'sgd', 'rls', 500): 1.6000000000000005e-12}

#: RNNForecaster(lr=None): (optimizer, lr) by (method, decorrelation, optimizer, readout)
#: (max_horizon=3, n_hidden=12: the forecaster's rates do not depend on width)
FORECASTER = {('anp', False, None, 'perturbation'): ('adam', 3e-05),
 ('anp', False, 'adam', 'perturbation'): ('adam', 3e-05),
 ('anp', False, 'adam', 'rls'): ('adam', 1e-05),
 ('anp', False, 'sgd', 'perturbation'): ('sgd', 0.0002),
 ('anp', False, 'sgd', 'rls'): ('sgd', 0.0001),
 ('anp', False, None, 'rls'): ('sgd', 0.0001),
 ('anp', True, None, 'perturbation'): ('adam', 3e-05),
 ('anp', True, None, 'rls'): ('sgd', 0.0001),
 ('anp', True, 'adam', 'perturbation'): ('adam', 3e-05),
 ('anp', True, 'adam', 'rls'): ('adam', 1e-05),
 ('anp', True, 'sgd', 'perturbation'): ('sgd', 0.0002),
 ('anp', True, 'sgd', 'rls'): ('sgd', 0.0001),
 ('bp', False, None, 'perturbation'): ('adam', 0.0001),
 ('bp', False, None, 'rls'): ('sgd', 0.001),
 ('bp', False, 'adam', 'perturbation'): ('adam', 0.0001),
 ('bp', False, 'adam', 'rls'): ('adam', 1e-05),
 ('bp', False, 'sgd', 'perturbation'): ('sgd', 0.003),
 ('bp', False, 'sgd', 'rls'): ('sgd', 0.001),
 ('bp', True, None, 'perturbation'): ('adam', 0.0001),
 ('bp', True, None, 'rls'): ('sgd', 0.001),
 ('bp', True, 'adam', 'perturbation'): ('adam', 0.0001),
 ('bp', True, 'adam', 'rls'): ('adam', 1e-05),
 ('bp', True, 'sgd', 'perturbation'): ('sgd', 0.003),
 ('bp', True, 'sgd', 'rls'): ('sgd', 0.001),
 ('np', False, None, 'perturbation'): ('adam', 3e-05),
 ('np', False, None, 'rls'): ('sgd', 1e-05),
 ('np', False, 'adam', 'perturbation'): ('adam', 3e-05),
 ('np', False, 'adam', 'rls'): ('adam', 1e-06),
 ('np', False, 'sgd', 'perturbation'): ('sgd', 0.0001),
 ('np', False, 'sgd', 'rls'): ('sgd', 1e-05),
 ('np', True, 'adam', 'perturbation'): ('adam', 3e-05),
 ('np', True, None, 'perturbation'): ('adam', 3e-05),
 ('np', True, None, 'rls'): ('sgd', 1e-05),
 ('np', True, 'adam', 'rls'): ('adam', 1e-06),
 ('np', True, 'sgd', 'perturbation'): ('sgd', 0.0001),
 ('np', True, 'sgd', 'rls'): ('sgd', 1e-05),
 ('wp', False, None, 'perturbation'): ('adam', 3e-06),
 ('wp', False, None, 'rls'): ('sgd', 1e-06),
 ('wp', False, 'adam', 'perturbation'): ('adam', 3e-06),
 ('wp', False, 'adam', 'rls'): ('adam', 1e-07),
 ('wp', False, 'sgd', 'perturbation'): ('sgd', 3e-06),
 ('wp', False, 'sgd', 'rls'): ('sgd', 1e-06),
 ('wp', True, None, 'perturbation'): ('adam', 3e-06),
 ('wp', True, None, 'rls'): ('sgd', 1e-06),
 ('wp', True, 'adam', 'perturbation'): ('adam', 3e-06),
 ('wp', True, 'adam', 'rls'): ('adam', 1e-07),
 ('wp', True, 'sgd', 'perturbation'): ('sgd', 3e-06),
 ('wp', True, 'sgd', 'rls'): ('sgd', 1e-06)}

#: RNNRegressor(lr=None) with its default optimizer: (optimizer, lr) by
#: (method, decorrelation, readout), at the default 100 hidden units
REGRESSOR = {('anp', False, 'perturbation'): ('sgd', 0.003),
 ('anp', False, 'rls'): ('sgd', 3.0000000000000004e-07),
 ('anp', True, 'perturbation'): ('sgd', 0.003),
 ('anp', True, 'rls'): ('sgd', 3.0000000000000004e-07),
 ('bp', False, 'perturbation'): ('sgd', 0.01),
 ('bp', False, 'rls'): ('sgd', 1.0000000000000002e-06),
 ('bp', True, 'perturbation'): ('sgd', 0.01),
 ('bp', True, 'rls'): ('sgd', 1.0000000000000002e-06),
 ('np', False, 'perturbation'): ('sgd', 0.0001),
 ('np', False, 'rls'): ('sgd', 1e-08),
 ('np', True, 'perturbation'): ('sgd', 1e-05),
 ('np', True, 'rls'): ('sgd', 1e-09),
 ('wp', False, 'perturbation'): ('sgd', 1e-05),
 ('wp', False, 'rls'): ('sgd', 1e-09),
 ('wp', True, 'perturbation'): ('sgd', 1e-05),
 ('wp', True, 'rls'): ('sgd', 1e-09)}

#: The experiments' (and the demo's) default optimiser per paper name
EXPERIMENT_OPTIMIZER = {"anp": "sgd", "danp": "sgd", "np": "sgd", "dnp": "sgd",
                        "wp": "sgd", "dwp": "sgd", "bp": "adam", "dbp": "adam"}


@pytest.mark.parametrize("key", sorted(CORE))
def test_core_default_lr(key):
    method, decorrelation, optimizer, readout, n_hidden = key
    model = OnlineRNN(1, n_hidden, 1, method=method, decorrelation=decorrelation,
                      optimizer=optimizer, readout=readout, seed=0)
    assert model.lr == CORE[key]


@pytest.mark.parametrize("key", sorted(FORECASTER, key=repr))
def test_forecaster_default_optimizer_and_lr(key):
    method, decorrelation, optimizer, readout = key
    model = RNNForecaster(max_horizon=3, n_hidden=12, method=method, decorrelation=decorrelation,
                          optimizer=optimizer, readout=readout, seed=0)
    assert (model.network.optimizer, model.network.lr) == FORECASTER[key]


@pytest.mark.parametrize("key", sorted(REGRESSOR))
def test_regressor_default_optimizer_and_lr(key):
    method, decorrelation, readout = key
    model = RNNRegressor(method=method, decorrelation=decorrelation, readout=readout, seed=0)
    assert (model.network.optimizer, model.network.lr) == REGRESSOR[key]


@pytest.mark.parametrize("name", sorted(EXPERIMENT_OPTIMIZER))
def test_experiment_default_optimizer(name):
    kw = model_kwargs(name, 1, 1, 8, {}, seed=0)
    assert (kw["method"], kw["decorrelation"]) == (name.removeprefix("d"), name.startswith("d"))
    assert kw["optimizer"] == EXPERIMENT_OPTIMIZER[name]
    assert "lr" not in kw  # the core's default rate applies


class _Captured(Exception):
    pass


@pytest.mark.parametrize("name", sorted(EXPERIMENT_OPTIMIZER))
def test_demo_default_optimizer(name, monkeypatch):
    import streamlearn.demo as demo

    seen = {}

    def capture(*args, **kwargs):
        seen.update(kwargs)
        raise _Captured

    monkeypatch.setattr(demo, "OnlineRNN", capture)
    with pytest.raises(_Captured):
        demo.run_demo(steps=200, n_hidden=8, method=name, report_every=100)
    assert seen["optimizer"] == EXPERIMENT_OPTIMIZER[name]
    assert (seen["method"], seen["decorrelation"]) == (name.removeprefix("d"), name.startswith("d"))
