"""River's estimator checks, for every River learner over each of its ``_unit_test_params()``.

As River's own ``river/test_estimators.py`` does for its estimators: one place
that lists the learners, so a new one is checked by adding it to ESTIMATORS.
"""

import pytest
from river.checks import check_estimator

from streamlearn.forecaster import RNNForecaster
from streamlearn.regressor import RNNRegressor
from streamlearn.river_base import RNNLearner

ESTIMATORS = [RNNRegressor, RNNForecaster]


def _cases():
    for cls in ESTIMATORS:
        for params in cls._unit_test_params():
            tag = ("d" if params.get("decorrelation") else "") + params["method"]
            yield pytest.param(cls, params, id=f"{cls.__name__}-{tag}")


@pytest.mark.parametrize("cls, params", list(_cases()))
def test_check_estimator(cls, params):
    model = cls(**params)
    assert model._unit_test_skips() == set()
    check_estimator(model)


def test_every_river_learner_is_checked():
    assert set(RNNLearner.__subclasses__()) == set(ESTIMATORS)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_unit_test_params_cover_every_method_with_and_without_decorrelation(cls):
    params = list(cls._unit_test_params())
    assert {(p["method"], p["decorrelation"]) for p in params} == {
        (m, d) for m in ("anp", "np", "wp", "bp") for d in (False, True)}
    assert all("on_divergence" not in p for p in params)
