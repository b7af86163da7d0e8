"""FleetRegressor: River's checks, and streams that do not see each other."""

import math

import numpy as np
import pandas as pd
import pytest
from river.checks import check_estimator

from streamlearn import FleetRegressor


def _rows(n=300, streams=("a", "b", "c")):
    rows = []
    for t in range(n):
        for i, s in enumerate(streams):
            x = {"id": s, "temp": 20 + 5 * math.sin(t / 7 + i), "hum": 50 + i + (t % 5)}
            rows.append((x, 100 * i + math.cos(t / 5 + i)))
    return rows


@pytest.mark.parametrize("params", list(FleetRegressor._unit_test_params()))
def test_check_estimator(params):
    check_estimator(FleetRegressor(**params))


def test_interleaving_does_not_change_a_stream():
    """Stream b learned amid a and c, or alone: the same predictions."""
    together = FleetRegressor(key="id", n_hidden=8, seed=1)
    alone = FleetRegressor(key="id", n_hidden=8, seed=1, features=["hum", "temp"])
    alone.fleet.add("a")  # b joins second in both, so it gets the same seed
    p_together, p_alone = [], []
    for x, y in _rows():
        if x["id"] == "b":
            p_together.append(together.predict_one(x))
            p_alone.append(alone.predict_one(x))
            alone.learn_one(x, y)
        together.learn_one(x, y)
    assert p_together == p_alone
    assert together.fleet.seed_of("b") == alone.fleet.seed_of("b")


def test_learn_many_equals_learn_one_row_by_row(tmp_path):
    rows = _rows(120)
    one = FleetRegressor(key="id", n_hidden=8, seed=2)
    many = FleetRegressor(key="id", n_hidden=8, seed=2)
    for x, y in rows[:3]:  # fixes the features
        one.learn_one(x, y)
        many.learn_one(x, y)
    for x, y in rows[3:]:
        one.learn_one(x, y)
    X = pd.DataFrame([x for x, _ in rows[3:]])
    many.learn_many(X, pd.Series([y for _, y in rows[3:]]))
    probe = {"id": "c", "temp": 21.0, "hum": 52.0}
    assert one.predict_one(probe) == many.predict_one(probe)
    path = tmp_path / "reg.ckpt"
    many.save(path)
    again = FleetRegressor.load(path)
    assert again.predict_one(probe) == many.predict_one(probe)
    x, y = rows[-1]
    again.learn_one(x, y)
    many.learn_one(x, y)
    assert again.predict_one(probe) == many.predict_one(probe)


def test_bad_samples():
    model = FleetRegressor(key="id", n_hidden=8, seed=3)
    model.learn_one({"id": "a", "v": 1.0}, 2.0)
    assert model.predict_one({"id": "new", "v": 1.0}) == 0.0
    with pytest.raises(TypeError, match="'v' has the non-numeric value"):
        model.learn_one({"id": "a", "v": "x"}, 1.0)
    with pytest.raises(TypeError, match="stream key"):
        model.learn_one({"id": 1.5, "v": 1.0}, 1.0)
    with pytest.raises(ValueError, match="target is nan"):
        model.learn_one({"id": "a", "v": 1.0}, float("nan"))
    assert model.fleet.metrics()["a"]["n"] == 1
    skip = FleetRegressor(key="id", n_hidden=8, seed=3, on_invalid="skip")
    skip.learn_one({"id": "a", "v": "x"}, 1.0)
    assert skip.n_skipped == 1 and skip.streams == []
    with pytest.raises(ValueError, match="cannot also be a feature"):
        FleetRegressor(key="id", features=["id"])
    assert np.isfinite(model.predict_one({"id": "a"}))
