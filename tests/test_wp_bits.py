"""WP with Rademacher noise on sign bits: the same numbers as the float path had.

WP's fast path keeps the Rademacher signs of R's perturbation as the stream's raw
64-bit words (and a transposed copy) instead of expanding them to floats. This
must not change a single number: ``tests/data/wp_rademacher_8c58faa.json`` holds
the digests (sha256 of the predictions, states and every weight, moment, counter
and stream array) of runs recorded on commit 8c58faa, before the bit path existed,
for WP with both noises, every optimizer, both dtypes, decorrelation on and off,
widths that are and are not multiples of 64, the read-out extensions, the
least-squares read-out, the fleet and the forecaster. Regenerate (only on purpose,
on a commit whose numbers are the reference) with
``python -m tests.test_wp_bits COMMIT``.

The plain-NumPy check of WP with Rademacher noise is in tests/test_reference.py
(``test_rademacher_noise_matches_naive``); checkpoints mid-stream and
``learn_many`` against ``learn_one`` are checked here.
"""

import hashlib
import json
import pathlib
import pickle
import sys

import numpy as np
import pytest

from streamlearn import Fleet, OnlineRNN, RNNForecaster

DATA = pathlib.Path(__file__).parent / "data"
DIGESTS = DATA / "wp_rademacher_8c58faa.json"


def _stream(T, n_in, n_out, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(T, n_in))
    Y = np.tanh(np.cumsum(rng.normal(size=(T, n_out)), axis=0) / 5)
    return U, Y


def _cases():
    cases = {}
    for noise in ("rademacher", "gaussian"):
        for dtype in ("float64", "float32"):
            for opt in ("sgd", "adam"):
                for decor in (False, True):
                    for N in (13, 64, 70):
                        cases[f"{noise}-{dtype}-{opt}-d{int(decor)}-n{N}"] = dict(
                            noise=noise, dtype=dtype, optimizer=opt, decorrelation=decor,
                            n_hidden=N)
    for noise in ("rademacher", "gaussian"):
        for opt in ("sgd", "adam"):
            for dtype in ("float64", "float32"):
                cases[f"{noise}-{dtype}-{opt}-skipbias-n70"] = dict(
                    noise=noise, dtype=dtype, optimizer=opt, decorrelation=True,
                    n_hidden=70, skip=True, bias=True)
                cases[f"{noise}-{dtype}-{opt}-rls-n70"] = dict(
                    noise=noise, dtype=dtype, optimizer=opt, decorrelation=True,
                    n_hidden=70, readout="rls")
    cases["rademacher-float64-sgd-d1-n130-in1"] = dict(
        noise="rademacher", dtype="float64", optimizer="sgd", decorrelation=True,
        n_hidden=130, n_inputs=1, n_outputs=1)
    cases["rademacher-float32-adam-d1-n5-in7"] = dict(
        noise="rademacher", dtype="float32", optimizer="adam", decorrelation=True,
        n_hidden=5, n_inputs=7, n_outputs=3)
    for dtype in ("float64", "float32"):  # refused steps and resets (on_divergence)
        cases[f"rademacher-{dtype}-sgd-d1-n70-hot"] = dict(
            noise="rademacher", dtype=dtype, optimizer="sgd", decorrelation=True,
            n_hidden=70, lr=1e-3)
    return cases


CASES = _cases()


def _model(case):
    kw = dict(case)
    n_in = kw.pop("n_inputs", 3)
    n_out = kw.pop("n_outputs", 2)
    N = kw.pop("n_hidden")
    kw["dtype"] = np.dtype(kw["dtype"])
    lr = kw.pop("lr", 1e-3 if kw["optimizer"] == "adam" else 2e-5)
    return OnlineRNN(n_in, N, n_out, method="wp", seed=4, sigma=1e-2, lr=lr,
                     lr_decorrelation=1e-3, on_divergence="rollback", **kw), n_in, n_out


def _hash(h, *arrays):
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())


def _model_arrays(m):
    return (m.A, m.R, m.B, m.D, m.C, m.c, m._moments, m._moments_out, m._rng, m._state,
            m._counters, m._hyper, m.P if m.readout == "rls" else np.zeros(0),
            np.array([m.n_rollbacks, m.n_resets, m.n_skipped]))


def run_case(case):
    """The digest of a model's 300 steps: 200 by learn_many (states returned), 40 by
    learn_one, 60 more by learn_many, with predictions and 3 steps of advance_many
    in between."""
    m, n_in, n_out = _model(case)
    U, Y = _stream(300, n_in, n_out)
    h = hashlib.sha256()
    out, xs = m.learn_many(U[:200], Y[:200], return_states=True)
    _hash(h, out, xs, *_model_arrays(m))
    for t in range(200, 240):
        _hash(h, np.asarray(m.learn_one(U[t], Y[t])))
    _hash(h, *(np.asarray(m.predict_one(u)) for u in U[:5]), *_model_arrays(m))
    _hash(h, m.advance_many(U[:3]), *_model_arrays(m))
    _hash(h, m.learn_many(U[240:], Y[240:]), *_model_arrays(m))
    return h.hexdigest()


def run_fleet(noise):
    T = 120
    U, Y = _stream(T, 6, 3, seed=2)
    U = U.reshape(T, 3, 2)
    Y = Y.reshape(T, 3, 1)
    fleet = Fleet(2, 70, 1, seed=5, capacity=2, method="wp", decorrelation=True,
                  noise=noise, sigma=1e-2, lr=2e-5, on_divergence="rollback")
    keys = ["a", "b", "c"]
    h = hashlib.sha256()
    _hash(h, fleet.learn_many(keys, U[:60], Y[:60]))
    for t in range(60, 70):
        _hash(h, fleet.learn_many(keys, U[t], Y[t]))
    _hash(h, fleet.learn_many(keys, U[70:], Y[70:]))
    for k in keys:
        _hash(h, *_model_arrays(fleet.model(k)))
    return h.hexdigest()


def run_forecaster(readout, dtype):
    from streamlearn.datasets import mackey_glass

    U, _ = mackey_glass(200, seed=1)
    fc = RNNForecaster(max_horizon=3, n_hidden=70, method="wp", noise="rademacher",
                       seed=2, decorrelation=True, readout=readout,
                       dtype=np.dtype(dtype))
    h = hashlib.sha256()
    for t in range(200):
        fc.learn_one(float(U[t, 0]))
        if t % 10 == 0:
            _hash(h, np.asarray(fc.forecast(3), dtype=np.float64))
    return h.hexdigest()


def all_digests():
    d = {name: run_case(case) for name, case in CASES.items()}
    for noise in ("rademacher", "gaussian"):
        d[f"fleet-{noise}"] = run_fleet(noise)
    for readout in ("perturbation", "rls"):
        for dtype in ("float64", "float32"):
            d[f"forecaster-{readout}-{dtype}"] = run_forecaster(readout, dtype)
    return d


@pytest.fixture(scope="module")
def recorded():
    return json.loads(DIGESTS.read_text())


@pytest.mark.parametrize("name", list(CASES))
def test_same_numbers_as_the_float_path(recorded, name):
    assert run_case(CASES[name]) == recorded[name]


@pytest.mark.parametrize("noise", ["rademacher", "gaussian"])
def test_fleet_same_numbers_as_the_float_path(recorded, noise):
    assert run_fleet(noise) == recorded[f"fleet-{noise}"]


@pytest.mark.parametrize("readout", ["perturbation", "rls"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forecaster_same_numbers_as_the_float_path(recorded, readout, dtype):
    assert run_forecaster(readout, dtype) == recorded[f"forecaster-{readout}-{dtype}"]


def _same(a, b):
    for x, y in zip(_model_arrays(a), _model_arrays(b)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_learn_many_equals_learn_one(dtype, optimizer):
    U, Y = _stream(80, 2, 1)
    kw = dict(method="wp", noise="rademacher", decorrelation=True, seed=1, sigma=1e-2,
              lr=1e-3 if optimizer == "adam" else 2e-5, optimizer=optimizer, dtype=dtype)
    a = OnlineRNN(2, 70, 1, **kw)
    b = OnlineRNN(2, 70, 1, **kw)
    many = a.learn_many(U, Y)
    one = np.array([b.learn_one(u, y) for u, y in zip(U, Y)])
    np.testing.assert_array_equal(many, one)
    _same(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_checkpoint_and_pickle_mid_stream_continue_bit_identically(tmp_path, dtype,
                                                                   optimizer):
    U, Y = _stream(200, 2, 1)
    model = OnlineRNN(2, 70, 1, method="wp", noise="rademacher", decorrelation=True,
                      seed=3, sigma=1e-2, lr=1e-3 if optimizer == "adam" else 2e-5,
                      optimizer=optimizer, dtype=dtype)
    model.learn_many(U[:100], Y[:100])
    model.save(tmp_path / "m.ckpt")
    restored = OnlineRNN.load(tmp_path / "m.ckpt")
    pickled = pickle.loads(pickle.dumps(model))
    want = model.learn_many(U[100:], Y[100:])
    for other in (restored, pickled):
        np.testing.assert_array_equal(other.learn_many(U[100:], Y[100:]), want)
        _same(other, model)


@pytest.mark.parametrize("N,nA,n_tail", [(1, 3, 2), (13, 39, 26), (64, 192, 128),
                                          (70, 0, 0), (70, 210, 140), (130, 130, 131)])
def test_draw_wp_bits_is_the_float_fill_in_bits(N, nA, n_tail):
    """The words are the stream's outputs the float fill reads, the expanded parts
    are its values, XT holds R's signs transposed, and the stream ends where the
    float fill leaves it."""
    from numba import njit

    from streamlearn._random import rademacher, seed_state
    from streamlearn.kernels.network import _draw_wp_bits

    draw = njit(lambda *a: _draw_wp_bits(*a))
    n = nA + N * N + n_tail
    for dtype in (np.float64, np.float32):
        ref_state, state = seed_state(11), seed_state(11)
        want = rademacher(ref_state, (n,), 0.3, dtype)
        W = (N + 63) // 64
        words = np.zeros((n + 63) // 64 + 1, np.uint64)
        XT = np.zeros((64 * W, W), np.uint64)
        flat = np.zeros(n, dtype)
        draw(state, words, XT, flat, nA, N, 0.3)
        np.testing.assert_array_equal(state, ref_state)
        assert words[-1] == 0  # the spare word is never drawn
        np.testing.assert_array_equal(flat[:max(nA, 1)], want[:max(nA, 1)])
        np.testing.assert_array_equal(flat[nA + N * N:], want[nA + N * N:])
        xiR = want[nA:nA + N * N].reshape(N, N)
        bits = np.unpackbits(XT[:N].view(np.uint8), bitorder="little").reshape(N, 64 * W)
        np.testing.assert_array_equal(bits[:, :N].T, (xiR > 0).astype(np.uint8))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_wide_wp_rademacher_matches_naive(optimizer):
    """The plain-NumPy reference (tests/naive.py) at a width of two and a bit words."""
    from tests.test_reference import assert_close, run_both

    model, naive, got, want = run_both(T=60, n_hidden=130, method="wp", noise="rademacher",
                                       decorrelation=True, optimizer=optimizer,
                                       lr=1e-3 if optimizer == "adam" else 2e-5)
    assert np.abs(model.R - naive.W["R"]).max() <= 1e-10
    assert_close(model, naive, got, want)


if __name__ == "__main__":
    commit = sys.argv[1]
    path = DATA / f"wp_rademacher_{commit}.json"
    path.write_text(json.dumps(all_digests(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}")
