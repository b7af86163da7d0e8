"""The method registry (streamlearn/methods.py) is the one list every layer uses."""

import dataclasses

import pytest

from streamlearn import OnlineRNN, methods, online_rnn
from streamlearn.demo import METHOD_NAMES, parse_method
from streamlearn.experiments import methods as experiment_methods
from streamlearn.forecaster import RNNForecaster

from test_defaults_pinned import CORE, FORECASTER


def test_names_rules_and_prefix():
    assert methods.NAMES == ("bp", "dbp", "anp", "danp", "np", "dnp", "wp", "dwp")
    assert set(methods.NAMES_BY_RULE) == set(methods.NAMES)
    for name, m in methods.METHODS.items():
        assert m.name == name
        assert name == methods.name_of(m.rule, m.decorrelation)
        assert name.startswith(methods.DECORRELATION_PREFIX) == m.decorrelation
        assert m.rule in methods.RULES
        assert m.optimizer == ("adam" if m.rule == "bp" else "sgd")
    assert {(m.rule, m.decorrelation) for m in methods.METHODS.values()} == {
        (r, d) for r in methods.RULES for d in (False, True)}


def test_entries_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        methods.get("anp").rule = "np"


def test_every_layer_takes_its_names_from_the_registry():
    assert set(online_rnn.METHODS) == set(methods.RULES)
    assert METHOD_NAMES == methods.NAMES_BY_RULE
    assert list(experiment_methods.METHODS) == list(methods.NAMES)
    for name, m in methods.METHODS.items():
        assert parse_method(name.upper()) == (m.rule, m.decorrelation)
        assert experiment_methods.METHODS[name] == (m.rule, m.decorrelation)
        assert experiment_methods.uses_sigma(name) == m.uses_sigma


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown method 'adam'; choose one of bp, dbp"):
        methods.get("ADAM")


@pytest.mark.parametrize("key", sorted(CORE))
def test_method_lr_is_the_cores_default(key):
    rule, decorrelation, optimizer, readout, n_hidden = key
    m = methods.get(methods.name_of(rule, decorrelation))
    assert m.lr(optimizer, n_hidden, readout) == CORE[key]


@pytest.mark.parametrize("key", sorted(FORECASTER, key=repr))
def test_forecaster_lr_is_the_forecasters_default(key):
    rule, decorrelation, optimizer, readout = key
    m = methods.get(methods.name_of(rule, decorrelation))
    assert (methods.forecaster_defaults(rule, optimizer, readout)[0],
            m.forecaster_lr(optimizer, readout)) == FORECASTER[key]


def test_forecaster_unknown_rule_is_reported_by_the_core():
    assert methods.forecaster_defaults("foo", "sgd") == ("sgd", None)
    with pytest.raises(ValueError, match="unknown method 'foo'"):
        RNNForecaster(method="foo")
    with pytest.raises(ValueError, match="unknown method 'foo'"):
        OnlineRNN(1, method="foo")
