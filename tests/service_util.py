"""Helpers of the service tests: a broker, the service, a test client, comparisons."""

import json
import os
import threading
import time

import numpy as np

from streamlearn.service.config import check_config
from streamlearn.service.local import (free_port, mqtt_client, start_broker, start_service,
                                       stop_process)
from streamlearn.service.shard import Shard, shard_of, shard_path

MODEL = {"max_horizon": 4, "n_hidden": 16, "lags": 6, "seed": 3}


def write_config(folder, port, **sections):
    """A service YAML in ``folder`` (checkpoints in folder/state); returns (path, cfg)."""
    import yaml

    raw = {"broker": {"url": f"mqtt://127.0.0.1:{port}", "reconnect_min": 0.2,
                      "reconnect_max": 1.0},
           "model": dict(MODEL),
           "checkpoint": {"dir": os.path.join(folder, "state"), "period": 0.5},
           "service": {"stats_period": 5.0},
           "dask": {"n_shards": 4}}
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    path = os.path.join(folder, "service.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(raw, f)
    return path, check_config(raw)


def stream(n_sensors, n, seed=0):
    """Readings (sensor, value, features, seq), interleaved over the sensors."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(n):
        for s in range(n_sensors):
            value = 10 * np.sin(2 * np.pi * t / 24 + s) + rng.normal()
            features = {"h": float(rng.normal())} if s % 2 else None
            out.append((f"dev{s}/temp", float(value), features, t))
    return out


def payload(reading):
    sensor, value, features, seq = reading
    body = {"value": value, "seq": seq}
    if features:
        body["features"] = features
    return json.dumps(body)


def reference(cfg, readings):
    """The shards an uninterrupted run ends with: {shard id: Shard}."""
    n = cfg["dask"]["n_shards"]
    model = {k: v for k, v in cfg["model"].items() if k != "seed"}
    shards = {k: Shard(k, model, cfg["model"]["seed"]) for k in range(n)}
    for r in readings:
        shards[shard_of(r[0], n)].learn(*r)
    return shards


def load_shards(cfg):
    n = cfg["dask"]["n_shards"]
    model = {k: v for k, v in cfg["model"].items() if k != "seed"}
    return {k: Shard.restore(cfg["checkpoint"]["dir"], k, model, cfg["model"]["seed"])
            for k in range(n)}


def assert_same(a, b, where="state"):
    """Equal, arrays bit for bit, recursing into dicts, lists and objects."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {set(a) ^ set(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif hasattr(a, "__dict__") and type(a).__module__.startswith("streamlearn"):
        assert type(a) is type(b), where
        sa = a.__getstate__() if hasattr(a, "__getstate__") else vars(a)
        sb = b.__getstate__() if hasattr(b, "__getstate__") else vars(b)
        sa = {k: v for k, v in sa.items() if k != "_shadow"}
        sb = {k: v for k, v in sb.items() if k != "_shadow"}
        assert_same(sa, sb, where)
    elif isinstance(a, float) and isinstance(b, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_models_equal(got, want):
    """Every learner and every last sequence number, shard by shard."""
    for k in want:
        assert got[k].last_seq == want[k].last_seq, f"shard {k}"
        assert set(got[k].learners) == set(want[k].learners), f"shard {k}"
        for sensor in want[k].learners:
            assert got[k].learners[sensor].n_steps == want[k].learners[sensor].n_steps, sensor
            assert_same(got[k].learners[sensor], want[k].learners[sensor], sensor)


class Watcher:
    """A test client: publishes readings (QoS 1) and collects forecasts and status."""

    def __init__(self, port, client_id="tester"):
        self.forecasts = []
        self.status = []
        self.best = {}
        self.lock = threading.Lock()
        self.client = mqtt_client(port, client_id, clean_session=False, reconnect=(0.2, 1.0),
                                  inflight=1000, on_message=self._on_message,
                                  subscribe=[("forecasts/#", 1), ("streamlearn/status/#", 1)])

    def _on_message(self, client, userdata, msg):
        data = json.loads(msg.payload)
        with self.lock:
            if msg.topic.startswith("streamlearn/"):
                self.status.append((msg.topic, data))
            else:
                self.forecasts.append((msg.topic, data))
                s = data["sensor"]
                self.best[s] = max(self.best.get(s, -1), data["seq"])

    def publish(self, readings, rate=None):
        t0 = time.perf_counter()
        infos = []
        for i, r in enumerate(readings):
            infos.append(self.client.publish(f"sensors/{r[0]}", payload(r), qos=1))
            if rate:
                delay = t0 + (i + 1) / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
        return infos

    def publish_raw(self, topic, body):
        return self.client.publish(topic, body, qos=1)

    def wait_online(self, count=1, timeout=90.0):
        """Until the service has said "online" ``count`` times in all."""
        self.wait(lambda: sum(s[1]["state"] == "online" for s in self.status) >= count, timeout,
                  "the service did not come online")

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate():
                    return
            time.sleep(0.05)
        raise AssertionError(f"{what} within {timeout} s")

    def last_seqs(self):
        seqs = {}
        with self.lock:
            for topic, data in self.forecasts:
                seqs[data["sensor"]] = max(seqs.get(data["sensor"], -1), data["seq"])
        return seqs

    def wait_learned(self, readings, timeout=90.0):
        want = {}
        for r in readings:
            want[r[0]] = max(want.get(r[0], -1), r[3])
        self.wait(lambda: all(self._seq(s) >= q for s, q in want.items()), timeout,
                  "forecasts for the last readings did not arrive")

    def _seq(self, sensor):
        return self.best.get(sensor, -1)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


__all__ = ["MODEL", "write_config", "stream", "payload", "reference", "load_shards",
           "assert_same", "assert_models_equal", "Watcher", "free_port", "start_broker",
           "start_service", "stop_process", "shard_path"]
