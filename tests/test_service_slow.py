"""The service's long cases, marked slow (`python -m pytest -m slow tests/test_service_slow.py`):
the service SIGKILLed at random moments (at least ten times), a Dask worker
killed mid-stream, and the broker restarted under the service."""

import os
import re
import signal
import time

import numpy as np
import pytest

from streamlearn.service.config import check_config
from streamlearn.service.engine import Router

from service_util import (MODEL, Watcher, assert_models_equal, free_port, load_shards,
                          reference, start_broker, start_service, stop_process, stream,
                          write_config)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def warm():
    reference(check_config({"model": MODEL, "dask": {"n_shards": 2}}), stream(2, 30))


def test_sigkill_at_random_moments_resumes_exactly(tmp_path, children, warm):
    """Twelve SIGKILLs while a publisher streams 6 sensors x 400 readings at about
    1,000 readings/s; each restart replays its log and gets the rest from the broker.
    The final models equal an uninterrupted run's, bit for bit."""
    port = free_port()
    broker = start_broker(port)
    children.append(broker)
    path, cfg = write_config(str(tmp_path), port, checkpoint={"period": 0.4})
    readings = stream(6, 400)
    rng = np.random.default_rng(7)
    watcher = Watcher(port)
    kills = 0
    try:
        proc = start_service(path, log=open(tmp_path / "service-0.log", "w"))
        children.append(proc)
        watcher.wait_online()
        sent = 0
        while sent < len(readings):
            n = int(rng.integers(50, 300))
            watcher.publish(readings[sent:sent + n], rate=1000)
            sent += n
            if kills < 12:
                time.sleep(rng.uniform(0.0, 0.3))  # anywhere: learning, logging, checkpointing
                proc.kill()
                proc.wait()
                kills += 1
                proc = start_service(path, log=open(tmp_path / f"service-{kills}.log", "w"))
                children.append(proc)
                if kills % 4:  # mostly once it is up again; every fourth time, while it starts
                    watcher.wait_online(count=kills + 1 - kills // 4)
        watcher.wait_learned(readings, 120)
        assert stop_process(proc, signal.SIGTERM) == 0
    finally:
        watcher.close()
    assert kills >= 10
    assert_models_equal(load_shards(cfg), reference(cfg, readings))
    replayed = [[int(n) for n in re.findall(r"ready: (\d+) reading",
                                            (tmp_path / f"service-{k}.log").read_text())]
                for k in range(1, kills + 1)]  # [] where the kill came before it was ready
    print(f"{kills} kills; readings replayed from the logs at each restart: {replayed}")
    assert sum(bool(r and r[0] > 0) for r in replayed) >= 3  # the kills hit with readings in the logs


def test_dask_worker_killed_mid_stream_bit_identical(tmp_path, warm):
    """Shards on a LocalCluster of 2 worker processes; one worker is SIGKILLed twice
    mid-stream. Its shards are restored on the other worker (or its replacement) from
    their checkpoints and their logs replayed: the final models are bit-identical to
    an uninterrupted run."""
    import dask
    from distributed import Client, LocalCluster

    from streamlearn.service.dask_shards import DaskShards

    cfg = check_config({"model": MODEL, "checkpoint": {"dir": str(tmp_path / "state")},
                        "dask": {"n_shards": 4, "enabled": True}})
    readings = stream(8, 150)
    with dask.config.set({"distributed.comm.timeouts.connect": "3s"}), \
            LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                         dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        backend = DaskShards(cfg, client=client, timeout=60)
        router = Router(cfg, backend)
        router.start()
        kills = 0
        for i, start in enumerate(range(0, len(readings), 100)):
            router.process(readings[start:start + 100])
            if i % 3 == 2:
                router.checkpoint()
            if i in (4, 8):  # between checkpoints: the log holds the difference
                pids = sorted(set(backend.pids().values()))
                os.kill(pids[0], signal.SIGKILL)
                kills += 1
        router.checkpoint()
        assert backend.n_restores >= 2 and kills == 2
        assert backend.stats()["learned"] == len(readings)
        router.close()
    assert_models_equal(load_shards(cfg), reference(cfg, readings))


def test_broker_restart_the_service_reconnects(tmp_path, children, warm):
    """The broker goes away and comes back on the same port: the service reconnects
    with back-off, subscribes again, and learns what is published after."""
    port = free_port()
    broker = start_broker(port)
    children.append(broker)
    path, cfg = write_config(str(tmp_path), port)
    readings = stream(3, 60)
    watcher = Watcher(port)
    try:
        proc = start_service(path, log=open(tmp_path / "service.log", "w"))
        children.append(proc)
        watcher.wait_online()
        watcher.publish(readings[:90])
        watcher.wait_learned(readings[:90], 60)
        stop_process(broker, signal.SIGKILL)
        time.sleep(2.0)  # the service is retrying with back-off
        assert proc.poll() is None
        broker = start_broker(port)
        children.append(broker)
        watcher.wait_online(count=2, timeout=60)  # the watcher reconnected too
        watcher.publish(readings[90:])
        watcher.wait_learned(readings, 60)
        assert stop_process(proc, signal.SIGTERM) == 0
    finally:
        watcher.close()
    log = (tmp_path / "service.log").read_text()
    assert "lost the broker" in log and log.count("connected to") >= 2
    assert_models_equal(load_shards(cfg), reference(cfg, readings))


def test_live_fleet_example_with_a_sigkill(tmp_path, warm):
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "fleet.png"
    proc = subprocess.run(
        [sys.executable, os.path.join(root, "examples", "live_fleet.py"), "--seconds", "8",
         "--rate", "20", "--sensors", "4", "--kill-at", "3", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": root})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "service SIGKILLed" in proc.stdout and "service stopped with exit code 0" in proc.stdout
    assert out.stat().st_size > 10_000


def test_serve_on_dask_worker_killed_end_to_end(tmp_path, children, warm):
    """`streamlearn serve` with dask.enabled (a LocalCluster of 2 worker processes on
    127.0.0.1) over the broker; one worker process is SIGKILLed mid-stream. The nanny
    starts a new one, the lost shards are restored and replayed, and the final models
    are bit-identical to an uninterrupted run."""
    import psutil

    port = free_port()
    broker = start_broker(port)
    children.append(broker)
    path, cfg = write_config(str(tmp_path), port, checkpoint={"period": 1.0},
                             dask={"enabled": True, "n_workers": 2, "n_shards": 4})
    readings = stream(6, 120)
    watcher = Watcher(port)
    try:
        proc = start_service(path, log=open(tmp_path / "service.log", "w"))
        children.append(proc)
        watcher.wait_online(timeout=180)
        watcher.publish(readings[:300], rate=500)
        watcher.wait_learned(readings[:250], 120)
        workers = [p for p in psutil.Process(proc.pid).children(recursive=True)
                   if "spawn_main" in " ".join(p.cmdline())]
        assert len(workers) == 2, [p.cmdline() for p in workers]
        workers[0].kill()
        watcher.publish(readings[300:], rate=500)
        watcher.wait_learned(readings, 180)
        assert stop_process(proc, signal.SIGTERM, timeout=60) == 0
    finally:
        watcher.close()
    log = (tmp_path / "service.log").read_text()
    assert "restoring it from its checkpoint" in log
    assert_models_equal(load_shards(cfg), reference(cfg, readings))
