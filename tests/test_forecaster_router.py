"""ForecasterRouter: River's checks, and series that do not see each other."""

import math

import pytest
from river.checks import check_estimator

from streamlearn import Fleet, ForecasterRouter
from streamlearn.forecaster import RNNForecaster


def _template():
    return RNNForecaster(max_horizon=4, n_hidden=8, exogenous=False, seed=3)


@pytest.mark.parametrize("params", list(ForecasterRouter._unit_test_params()))
def test_check_estimator(params):
    check_estimator(ForecasterRouter(**params))


def test_each_series_is_its_own_forecaster(tmp_path):
    router = ForecasterRouter(key="id", forecaster=_template())
    alone = RNNForecaster(**{**_template()._get_params(), "seed": Fleet.member_seed(3, 1)})
    for t in range(120):
        for i, s in enumerate(("a", "b")):
            y = 10 * i + math.sin(t / 4 + i)
            router.learn_one(y, {"id": s, "other": 1.0})
            if s == "b":
                alone.learn_one(y)
    assert router.forecast(4, key="b") == alone.forecast(4)
    assert router.forecast(4, xs=[{"id": "b"}] * 4) == alone.forecast(4)
    assert router.forecast(2, key="new") == _template().forecast(2)
    router.save(tmp_path / "r.ckpt")
    again = ForecasterRouter.load(tmp_path / "r.ckpt")
    again.learn_one(1.0, {"id": "a"})
    router.learn_one(1.0, {"id": "a"})
    assert again.forecast(4, key="a") == router.forecast(4, key="a")
    assert router.series == ["a", "b"]
    with pytest.raises(TypeError, match="stream key"):
        router.learn_one(1.0, {"id": 2.5})
