"""The live service (streamlearn serve): payloads, shards, the log, the router,
and end to end over a real broker (amqtt) on 127.0.0.1.

The long cases (ten and more SIGKILLs, a Dask worker killed, the broker
restarted) are in tests/test_service_slow.py, marked slow.
"""

import json
import math
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from streamlearn.service.config import check_config, load_config
from streamlearn.service.engine import Router
from streamlearn.service.log import ReplayLog
from streamlearn.service.payload import BadPayload, parse_reading, sensor_of_topic
from streamlearn.service.server import Service
from streamlearn.service.shard import Shard, sensor_seed, shard_of

from service_util import (MODEL, Watcher, assert_models_equal, free_port, load_shards,
                          reference, start_broker, start_service, stop_process, stream,
                          write_config)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def warm():
    """Compile (or load from the cache) the kernels the service's model needs, once,
    before any subprocess needs them."""
    shards = reference(check_config({"model": MODEL, "dask": {"n_shards": 2}}), stream(2, 30))
    assert sum(s.n_learned for s in shards.values()) == 60


@pytest.fixture
def broker():
    port = free_port()
    proc = start_broker(port)
    yield port
    stop_process(proc)


# -- stable identities ---------------------------------------------------------------

def test_sharding_and_seeds_are_stable_across_processes():
    code = ("from streamlearn.service.shard import shard_of, sensor_seed;"
            "import json; print(json.dumps([[shard_of(f'dev{i}/t', 8) for i in range(20)],"
            " sensor_seed(0, 'dev1/t')]))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": str(h), "PYTHONPATH": ROOT},
                           check=True).stdout for h in (12345,)}  # this process: another
    assert json.loads(outs.pop()) == [[shard_of(f"dev{i}/t", 8) for i in range(20)],
                                      sensor_seed(0, "dev1/t")]
    assert shard_of("dev1/t", 8) == 5 and sensor_seed(0, "dev1/t") == 891588031  # crc32


# -- payloads ------------------------------------------------------------------------

def test_payloads_good_and_bad():
    assert parse_reading(b'{"value": 1.5, "seq": 3}') == (1.5, None, 3)
    assert parse_reading('{"value": 2, "features": {"h": 1}, "timestamp": 10.5}') == (
        2.0, {"h": 1.0}, 10.5)
    assert sensor_of_topic("sensors/a/temp") == "a/temp"
    bad = {b"\xff\xfe": "not_json", b"nope": "not_json", b"[1, 2]": "not_object",
           b"{}": "no_value", b'{"value": NaN}': "bad_value", b'{"value": "3"}': "bad_value",
           b'{"value": Infinity}': "bad_value", b'{"value": true}': "bad_value",
           b'{"value": null}': "bad_value", b'{"value": 1, "seq": 1.5}': "bad_seq",
           b'{"value": 1, "features": {"h": "x"}}': "bad_features",
           b'{"value": 1, "features": [1]}': "bad_features",
           b'{"value": 1, "timestamp": "noon"}': "bad_timestamp"}
    for body, reason in bad.items():
        with pytest.raises(BadPayload) as info:
            parse_reading(body)
        assert info.value.reason == reason, body
    with pytest.raises(BadPayload):
        sensor_of_topic("other/a")


def fuzz_bodies(rng, n):
    good = json.dumps({"value": 1.0, "seq": 1})
    pieces = ['{"value":', "NaN", '"x"', "}", "[", "null", "1e999", '{"value": -Infinity}',
              '{"seq": 1}', '{"value": {"a": 1}}', '{"value": [1]}', "\x00", "\u00e9", "'"]
    for _ in range(n):
        kind = rng.integers(4)
        if kind == 0:
            yield bytes(rng.integers(0, 256, rng.integers(0, 40), dtype=np.uint8))
        elif kind == 1:
            cut = rng.integers(0, len(good))
            yield good[:cut].encode()
        elif kind == 2:
            yield "".join(rng.choice(pieces, rng.integers(1, 5))).encode()
        else:
            yield json.dumps({"value": ["1", None, True, [], {}][rng.integers(5)],
                              "seq": int(rng.integers(100))}).encode()


def test_malformed_payload_fuzz_never_crashes_nor_touches_a_model(tmp_path, warm):
    """Bad payloads mixed into a stream: counted, logged, and the models end exactly
    as if they had never been sent."""
    cfg = check_config({"model": MODEL, "checkpoint": {"dir": str(tmp_path / "s")},
                        "dask": {"n_shards": 2}})
    readings = stream(3, 60)
    rng = np.random.default_rng(1)
    service = Service(cfg)
    service.router.start()
    items, n_bad = [], 0
    for r in readings:
        items.append((0, 0, 1, f"sensors/{r[0]}", json.dumps(
            {"value": r[1], "seq": r[3], **({"features": r[2]} if r[2] else {})}).encode()))
        for body in fuzz_bodies(rng, int(rng.integers(0, 3))):
            items.append((0, 0, 1, f"sensors/{r[0]}", body))
            n_bad += 1
    items.append((0, 0, 1, "sensors", b'{"value": 1}'))  # matches sensors/#, names no sensor
    n_bad += 1
    for i in range(0, len(items), 37):
        service.handle(items[i:i + 37])
    st = service.stats()
    assert st["bad"] == n_bad and st["learned"] == len(readings) and st["received"] == len(items)
    assert set(st["bad_by_reason"]) <= {"not_json", "not_object", "no_value", "bad_value",
                                        "bad_seq", "bad_features", "bad_timestamp", "topic"}
    got = service.router.backend.shards
    assert_models_equal(got, reference(cfg, readings))


# -- the shard, the log and the router ----------------------------------------------

def test_shard_skips_what_it_has_learned(warm):
    shard = Shard(0, MODEL)
    assert shard.learn("a", 1.0, None, 5) is not None
    assert shard.learn("a", 2.0, None, 5) is None and shard.learn("a", 2.0, None, 4) is None
    n_steps, forecasts = shard.learn("a", 2.0, None, 6)
    assert n_steps == 2 and len(forecasts) == MODEL["max_horizon"]
    assert shard.n_duplicates == 2 and shard.n_learned == 2


def test_log_skips_a_torn_last_line(tmp_path):
    log = ReplayLog(tmp_path, 0)
    log.append([("a", 1.0, None, 1), ("b", 2.0, {"h": 1.0}, 7)])
    with open(log.path, "ab") as f:
        f.write(b'["a", 3.0, nu')  # a crash in the middle of a write
    assert log.read() == [("a", 1.0, None, 1), ("b", 2.0, {"h": 1.0}, 7)]
    log.truncate()
    assert log.read() == []


def test_router_crash_without_checkpoint_replays_the_log_exactly(tmp_path, warm):
    cfg = check_config({"model": MODEL, "checkpoint": {"dir": str(tmp_path)},
                        "dask": {"n_shards": 3}})
    readings = stream(4, 50)
    r = Router(cfg)
    r.start()
    r.process(readings[:60])
    r.checkpoint()
    r.process(readings[60:130])  # in the log only: the process "dies" here
    r2 = Router(cfg)
    replayed = r2.start()
    assert len(replayed) == 70
    r2.process(readings[100:])  # redelivered readings overlap: skipped by seq
    assert_models_equal(r2.backend.shards, reference(cfg, readings))
    r2.checkpoint()
    assert all(os.path.getsize(log.path) == 0 for log in r2.logs.values())
    assert_models_equal(load_shards(cfg), reference(cfg, readings))


def test_readings_without_seq_are_numbered_in_arrival_order(tmp_path, warm):
    cfg = check_config({"model": MODEL, "checkpoint": {"dir": str(tmp_path)}})
    r = Router(cfg)
    r.start()
    out = r.process([("a", 1.0, None, None), ("a", 2.0, None, None), ("b", 1.0, None, None)])
    assert [(x[0], x[1]) for x in out] == [("a", 0), ("a", 1), ("b", 0)]
    r.checkpoint()
    r2 = Router(cfg)
    r2.start()
    assert [(x[0], x[1]) for x in r2.process([("a", 3.0, None, None)])] == [("a", 2)]


# -- the command line ---------------------------------------------------------------

def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "streamlearn", *args], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": ROOT}, timeout=120)


@pytest.mark.parametrize("text, message", [
    ("broker: {url: 'http://x'}", "broker.url must look like mqtt://"),
    ("brokr: {}", "unknown section 'brokr'"),
    ("broker: {port: 3}", "unknown key broker.port"),
    ("checkpoint: {period: -1}", "period must be a positive number"),
    ("checkpoint: {period: soon}", "checkpoint.period must be float"),
    ("model: {n_hiden: 3}", "model: got an unexpected keyword argument 'n_hiden'"),
    ("model: {max_horizon: 0}", "model:"),
    ("dask: {n_shards: 0}", "n_shards must be a positive integer"),
    ("broker: [1", "not valid YAML"),
])
def test_config_errors_name_the_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        load_config(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_config_error_on_the_command_line_is_one_line_with_exit_code_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: {n_hiden: 3}")
    proc = run_cli("serve", "--config", str(path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (f"streamlearn: error: {path}: model: got an unexpected keyword "
                           "argument 'n_hiden'\n")


def test_example_config_is_valid_and_help_documents_every_key():
    cfg = load_config(os.path.join(ROOT, "examples", "configs", "service.yaml"))
    help_text = run_cli("serve", "--help").stdout
    for section, keys in cfg.items():
        for key in keys:
            if key not in ("host", "port"):
                assert f"{key}:" in help_text, (section, key)


# -- end to end, over the broker ----------------------------------------------------

def test_end_to_end_forecasts_sigterm_and_readings_sent_while_down(tmp_path, broker, children,
                                                                    warm):
    """Publish, receive forecasts; SIGTERM writes a final checkpoint; readings published
    while the service is down arrive when it is back (persistent session, QoS 1)."""
    path, cfg = write_config(str(tmp_path), broker)
    readings = stream(3, 40)
    first, second = readings[:60], readings[60:]
    watcher = Watcher(broker)
    try:
        proc = start_service(path, log=open(tmp_path / "service.log", "w"))
        children.append(proc)
        watcher.wait_online()
        watcher.publish(first)
        watcher.wait_learned(first, 60)
        topic, data = watcher.forecasts[-1]
        assert topic == f"forecasts/{data['sensor']}" and data["horizons"] == [1, 2, 3, 4]
        assert len(data["forecast"]) == 4 and all(math.isfinite(v) for v in data["forecast"])
        assert data["n_steps"] == 20  # its 20th reading: dev2/temp, seq 19
        assert stop_process(proc, signal.SIGTERM) == 0
        assert watcher.status[-1][1]["state"] == "stopped"
        assert_models_equal(load_shards(cfg), reference(cfg, first))
        for info in watcher.publish(second):  # nobody is subscribed: the broker keeps them
            info.wait_for_publish(10)
        proc = start_service(path, log=open(tmp_path / "service2.log", "w"))
        children.append(proc)
        watcher.wait_learned(readings, 60)
        assert stop_process(proc, signal.SIGTERM) == 0
    finally:
        watcher.close()
    assert_models_equal(load_shards(cfg), reference(cfg, readings))
    stats = json.loads((tmp_path / "state" / "stats.json").read_text())
    assert stats["learned"] == len(readings) and stats["duplicates"] == 0
    assert stats["received"] == len(second) and stats["bad"] == 0  # the second process's


def test_sigkill_mid_stream_then_exact_resume(tmp_path, broker, children, warm):
    """SIGKILL while readings stream in; the restart replays its log, the broker
    re-sends what was not acknowledged, and the models end bit for bit as an
    uninterrupted run's: nothing lost, nothing learned twice."""
    path, cfg = write_config(str(tmp_path), broker, checkpoint={"period": 0.3})
    readings = stream(4, 150)
    watcher = Watcher(broker)
    try:
        proc = start_service(path, log=open(tmp_path / "service.log", "w"))
        children.append(proc)
        watcher.wait_online()
        watcher.publish(readings[:300], rate=600)
        proc.kill()  # SIGKILL, mid-stream: the broker is still delivering
        proc.wait()
        watcher.publish(readings[300:450])
        proc = start_service(path, log=open(tmp_path / "service2.log", "w"))
        children.append(proc)
        watcher.publish(readings[450:], rate=1000)
        watcher.wait_learned(readings, 90)
        assert stop_process(proc, signal.SIGTERM) == 0
    finally:
        watcher.close()
    assert_models_equal(load_shards(cfg), reference(cfg, readings))


def test_live_fleet_example_runs(tmp_path, warm):
    """examples/live_fleet.py: broker, fleet, service, table, figure (its --kill-at is
    run by tests/test_service_slow.py)."""
    out = tmp_path / "fleet.png"
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "live_fleet.py"), "--seconds", "5",
         "--rate", "20", "--sensors", "4", "--out", str(out)],
        capture_output=True, text=True, timeout=240, env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "site0/temp" in proc.stdout
    assert "service stopped with exit code 0" in proc.stdout
    assert out.stat().st_size > 10_000


def test_live_fleet_replays_wth_columns(tmp_path):
    """The example's WTH.csv fleet: one sensor per column, values as floats, rows in turn."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "live_fleet", os.path.join(ROOT, "examples", "live_fleet.py"))
    fleet = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fleet)
    path = tmp_path / "WTH.csv"
    path.write_text("date,Visibility,DryBulbFarenheit,RelativeHumidity,WindSpeed\n"
                    "2010-01-01 00:00:00,10.0,33.0,80,5\n2010-01-01 01:00:00,9.0,32.0,82,\n")
    tick, n = fleet.wth_fleet(str(path))
    assert n == 4
    assert tick(0) == [("wth/DryBulbFarenheit", 33.0), ("wth/RelativeHumidity", 80.0),
                       ("wth/WindSpeed", 5.0), ("wth/Visibility", 10.0)]
    assert ("wth/WindSpeed", 5.0) not in tick(1)  # an empty cell is no reading
    assert tick(2) == tick(0)  # the file is replayed in a loop
