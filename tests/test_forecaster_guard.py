"""The forecaster's guard runs inside its kernels: a refused step is a
transaction that leaves every array (and so the pickle) as it was, under
both read-outs; ``OnlineRNN.buffers()`` hands the kernels views, not copies."""

import pickle

import numpy as np
import pytest

from streamlearn import DivergenceError, OnlineRNN, RNNForecaster


def _series(n=800):
    t = np.arange(n)
    return np.sin(t / 5.0) + 0.3 * np.sin(t / 1.7)


def _arrays(model):
    net = model.network
    return {k: np.array(v, copy=True) for k, v in vars(net).items() if isinstance(v, np.ndarray)}


@pytest.mark.parametrize("readout", ["perturbation", "rls"])
def test_a_refused_step_changes_no_array(readout):
    f = RNNForecaster(max_horizon=4, n_hidden=30, method="np", lr=1.0, optimizer="sgd",
                      readout=readout, seed=0, on_divergence="raise", max_weight=50.0)
    refused = False
    for y in _series():
        before, arrays = pickle.dumps(f), _arrays(f)
        try:
            f.learn_one(float(y))
        except DivergenceError as error:
            assert "refused" in str(error)
            refused = True
            break
    assert refused, "the stream was meant to diverge"
    assert pickle.dumps(f) == before
    after = _arrays(f)
    assert after.keys() == arrays.keys()
    for k in arrays:
        np.testing.assert_array_equal(after[k], arrays[k], err_msg=k)


def test_buffers_are_views_of_the_model():
    model = OnlineRNN(1, 6, 1, method="anp", optimizer="adam", seed=3)
    model.learn_one([0.1], [0.2])
    b = model.buffers()
    assert np.shares_memory(b.RT, model.R) and np.shares_memory(b.DT, model.D)
    assert np.shares_memory(b.A, model.A) and np.shares_memory(b.B, model.B)
    np.testing.assert_array_equal(b.RT, model.R.T)
    assert all(np.shares_memory(m, b.moments) for m in b.mom)
    b.RT[0, 1] += 1.0  # a write through the bundle is a write to the model
    assert model.R[1, 0] == b.RT[0, 1]
