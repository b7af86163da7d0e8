"""Checkpoints: exact resume, atomic writes, and clear errors on bad files."""

import os
import struct

import numpy as np
import pytest

from streamlearn import OnlineRNN
from streamlearn.checkpoint import CheckpointError, FORMAT_VERSION, MAGIC, load, save

CASES = [dict(method="anp", decorrelation=True), dict(method="np"),
         dict(method="wp", decorrelation=True), dict(method="bp", bptt_window=3),
         dict(method="anp", optimizer="adam", noisy_reference=True),
         dict(method="anp", dtype=np.float32)]


def stream(T=200, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(T, 2))
    return U, np.tanh(np.cumsum(U[:, :1], axis=0) / 4)


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: "-".join(map(str, kw.values())))
def test_saved_mid_stream_and_loaded_continues_bit_identically(tmp_path, kw):
    U, Y = stream()
    model = OnlineRNN(2, 12, 1, seed=3, sigma=1e-2, **kw)
    model.learn_many(U[:100], Y[:100])
    model.save(tmp_path / "m.ckpt")
    restored = OnlineRNN.load(tmp_path / "m.ckpt")
    assert type(restored) is OnlineRNN
    np.testing.assert_array_equal(restored.learn_many(U[100:], Y[100:]),
                                  model.learn_many(U[100:], Y[100:]))
    for k in "ARBD":
        np.testing.assert_array_equal(getattr(restored, k), getattr(model, k))
    np.testing.assert_array_equal(restored._rng, model._rng)
    np.testing.assert_array_equal(restored._moments, model._moments)
    assert restored.A.dtype == model.A.dtype


def test_save_replaces_atomically_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "m.ckpt"
    old = OnlineRNN(1, 4, 1, seed=1)
    old.save(path)
    new = OnlineRNN(1, 4, 1, seed=2)

    def crash(*args):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        new.save(path)
    monkeypatch.undo()
    np.testing.assert_array_equal(OnlineRNN.load(path).A, old.A)  # the old file is whole
    new.save(path)
    np.testing.assert_array_equal(OnlineRNN.load(path).A, new.A)
    assert os.listdir(tmp_path) == ["m.ckpt"]


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "m.ckpt"
    model = OnlineRNN(2, 6, 1, seed=0)
    model.learn_many(*stream(20))
    model.save(path)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        OnlineRNN.load(tmp_path / "absent.ckpt")


@pytest.mark.parametrize("keep", [0, 10, 60, -1])
def test_truncated_file(saved, keep):
    raw = saved.read_bytes()
    saved.write_bytes(raw[:keep] if keep >= 0 else raw[:-1])
    with pytest.raises(CheckpointError, match="truncated"):
        OnlineRNN.load(saved)


def test_flipped_byte_fails_the_checksum(saved):
    raw = bytearray(saved.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    saved.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="checksum"):
        OnlineRNN.load(saved)


def test_not_a_checkpoint(saved):
    saved.write_bytes(b"x" * 200)
    with pytest.raises(CheckpointError, match="not a streamlearn checkpoint"):
        OnlineRNN.load(saved)


def test_other_format_version(saved):
    raw = saved.read_bytes()
    saved.write_bytes(MAGIC + struct.pack("<I", FORMAT_VERSION + 1) + raw[20:])
    with pytest.raises(CheckpointError, match=f"format {FORMAT_VERSION + 1}"):
        OnlineRNN.load(saved)


def test_wrong_class(saved):
    class Other(OnlineRNN):
        pass

    with pytest.raises(CheckpointError, match="holds a OnlineRNN, not a Other"):
        Other.load(saved)


@pytest.mark.parametrize("name", ["os:system", "builtins:eval", "streamlearn:nothing_here"])
def test_foreign_classes_are_never_built(tmp_path, name):
    """A well-formed, correctly checksummed file naming a class outside
    streamlearn is refused before anything is imported or called."""
    import hashlib
    import io
    import json

    meta = {"format": FORMAT_VERSION, "library": "0", "class": name, "state": {"__dict__": []}}
    buf = io.BytesIO()
    np.savez(buf, **{"meta.json": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)})
    payload = buf.getvalue()
    header = struct.pack("<16sIQ32s", MAGIC, FORMAT_VERSION, len(payload),
                         hashlib.sha256(payload).digest())
    path = tmp_path / "evil.ckpt"
    path.write_bytes(header + payload)
    with pytest.raises(CheckpointError, match="cannot build|does not have"):
        load(path)


def test_unsupported_attribute_is_refused_on_save(tmp_path):
    model = OnlineRNN(1, 2, 1, seed=0)
    model.callback = lambda: None
    with pytest.raises(TypeError, match="cannot checkpoint"):
        model.save(tmp_path / "m.ckpt")
    assert not (tmp_path / "m.ckpt").exists()


# -- the River learners --------------------------------------------------------

def test_regressor_saved_mid_stream_continues_exactly(tmp_path):
    import itertools

    from river import datasets

    from streamlearn import RNNRegressor

    # polls scaled to about 1; the raw ordinal date (~7e5) would need a scaler
    data = [({k: v / 50 for k, v in x.items() if k != "ordinal_date"}, y)
            for x, y in itertools.islice(datasets.TrumpApproval(), 240)]
    model = RNNRegressor(n_hidden=16, method="anp", decorrelation=True, seed=1)
    for x, y in data[:120]:
        model.learn_one({k: v for k, v in x.items() if k != "gallup"}, y)  # one feature later
    model.save(tmp_path / "r.ckpt")
    restored = RNNRegressor.load(tmp_path / "r.ckpt")
    assert restored.feature_columns == model.feature_columns
    for x, y in data[120:]:
        assert restored.predict_one(x) == model.predict_one(x)
        restored.learn_one(x, y)
        model.learn_one(x, y)
    assert restored.feature_columns == model.feature_columns
    np.testing.assert_array_equal(restored.network.A, model.network.A)


@pytest.mark.parametrize("method", ["anp", "wp", "bp"])
def test_forecaster_saved_with_pending_targets_continues_exactly(tmp_path, method):
    from streamlearn import RNNForecaster

    ys = np.sin(np.arange(300) / 6.0) + 0.1 * np.cos(np.arange(300) / 2.3)
    model = RNNForecaster(max_horizon=6, n_hidden=12, method=method, seed=2)
    for y in ys[:150]:
        model.learn_one(y)
    model.save(tmp_path / "f.ckpt")  # six forecasts still wait for their targets
    restored = RNNForecaster.load(tmp_path / "f.ckpt")
    for y in ys[150:]:
        assert restored.forecast(6) == model.forecast(6)
        restored.learn_one(y)
        model.learn_one(y)
    assert restored.forecast(6) == model.forecast(6)


def test_learner_classes_do_not_load_each_other(tmp_path):
    from streamlearn import RNNRegressor

    OnlineRNN(1, 3, 1, seed=0).save(tmp_path / "m.ckpt")
    with pytest.raises(CheckpointError, match="holds a OnlineRNN, not a RNNRegressor"):
        RNNRegressor.load(tmp_path / "m.ckpt")
