"""Throughput of the live service (docs/service.md, "Throughput").

    python -m benchmarks.service [--sensors 16] [--steps 1000] [--out FILE] [--write-docs]

Output: --out (default ./benchmark-results/service.json); --write-docs also
rewrites the committed benchmarks/service.json that docs/service.md quotes.

Measures, on the same stream (``--sensors`` sensors x ``--steps`` readings):

1. the router alone, in this process (no broker): readings/s through the log
   and the learners, with the shards in this process and on Dask (a
   LocalCluster of 1 and of 2 worker processes);
2. where the time of one reading goes in the service's own process: parsing
   the JSON, the log (append + fsync per batch), learning, the forecast's JSON;
3. the broker's ceiling: readings/s that amqtt delivers from a publisher to one
   subscriber at QoS 1 with nothing learned, and the CPU the broker uses;
4. the whole service over the broker (``streamlearn serve`` in a subprocess,
   local shards, and Dask with 1 and 2 workers): from the first reading
   published to the last forecast received, and the CPU of the broker and the
   service meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

from streamlearn.service.config import check_config  # noqa: E402
from streamlearn.service.engine import Router  # noqa: E402
from streamlearn.service.local import mqtt_client  # noqa: E402
from streamlearn.service.payload import parse_reading  # noqa: E402
from streamlearn.service.shard import Shard  # noqa: E402

MODEL = {"max_horizon": 6, "n_hidden": 32, "seed": 0}  # the service's default model


def make_stream(n_sensors, n_steps, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for t in range(n_steps):
        for s in range(n_sensors):
            value = 10 * np.sin(2 * np.pi * t / 24 + s) + rng.normal()
            out.append((f"dev{s:02d}/temp", float(value), None, t))
    return out


def router_rate(readings, folder, n_workers=None, batch=500):
    cfg = check_config({"model": MODEL, "checkpoint": {"dir": folder},
                        "dask": {"n_shards": 8}})
    backend = cluster = client = None
    if n_workers:
        from distributed import Client, LocalCluster

        from streamlearn.service.dask_shards import DaskShards
        cluster = LocalCluster(host="127.0.0.1", n_workers=n_workers, threads_per_worker=1,
                               processes=True, dashboard_address="127.0.0.1:0")
        client = Client(cluster)
        backend = DaskShards(cfg, client=client)
    router = Router(cfg, backend)
    router.start()
    router.process(readings[:batch])  # warm: kernels loaded, actors placed
    t = time.perf_counter()
    for i in range(batch, len(readings), batch):
        router.process(readings[i:i + batch])
    elapsed = time.perf_counter() - t
    t = time.perf_counter()
    router.checkpoint()
    ckpt = time.perf_counter() - t
    router.close()
    if client is not None:
        client.close()
        cluster.close()
    return {"readings_per_s": (len(readings) - batch) / elapsed, "checkpoint_s": ckpt}


def breakdown(readings, folder, batch=500):
    """Microseconds per reading of each part of the service's own work."""
    from streamlearn.service.log import ReplayLog

    payloads = [json.dumps({"value": r[1], "seq": r[3]}).encode() for r in readings]
    t = time.perf_counter()
    for p in payloads:
        parse_reading(p)
    parse = time.perf_counter() - t
    log = ReplayLog(folder, 0)
    t = time.perf_counter()
    for i in range(0, len(readings), batch):
        log.append(readings[i:i + batch])
    logging_ = time.perf_counter() - t
    log.close()
    shard = Shard(0, MODEL)
    shard.learn_batch(readings[:100])
    learn = forecast = 0.0
    models = {}
    out = []
    for r in readings[100:]:
        m = models.get(r[0]) or models.setdefault(r[0], shard.learner(r[0]))
        t = time.perf_counter()
        m.learn_one(r[1])
        t2 = time.perf_counter()
        out.append(m.forecast(MODEL["max_horizon"]))
        t3 = time.perf_counter()
        learn += t2 - t
        forecast += t3 - t2
    t = time.perf_counter()
    for r, f in zip(readings, out):
        json.dumps({"sensor": r[0], "seq": r[3], "n_steps": 1, "horizons": [1, 2, 3, 4, 5, 6],
                    "forecast": f})
    dumps = time.perf_counter() - t
    n, m = len(readings), len(readings) - 100
    return {"parse_us": 1e6 * parse / n, "log_us": 1e6 * logging_ / n,
            "learn_us": 1e6 * learn / m, "forecast_us": 1e6 * forecast / m,
            "forecast_json_us": 1e6 * dumps / len(out)}


class CPU:
    """CPU seconds a set of processes used between start() and stop()."""

    def __init__(self, pids):
        import psutil
        self.procs = [psutil.Process(p) for p in pids]

    def _total(self):
        total = 0.0
        for p in self.procs:
            try:
                c = p.cpu_times()
                total += c.user + c.system
                for child in p.children(recursive=True):
                    cc = child.cpu_times()
                    total += cc.user + cc.system
            except Exception:  # noqa: BLE001
                pass
        return total

    def start(self):
        self.t0, self.c0 = time.perf_counter(), self._total()

    def stop(self):
        return (self._total() - self.c0) / (time.perf_counter() - self.t0)


def broker_ceiling(readings, port, broker_pid):
    """Readings/s amqtt delivers to one QoS 1 subscriber that learns nothing."""
    done = threading.Event()
    count = [0]
    n = len(readings)

    def on_message(c, u, msg):
        c.ack(msg.mid, msg.qos)
        count[0] += 1
        if count[0] == n:
            done.set()
    sub = mqtt_client(port, "bench-sub", username="bench", on_message=on_message,
                      subscribe=[("sensors/#", 1)], manual_ack=True)
    pub = publisher(port, "bench-pub")
    time.sleep(0.5)
    cpu = CPU([broker_pid])
    cpu.start()
    t = time.perf_counter()
    for r in readings:
        pub.publish(f"sensors/{r[0]}", json.dumps({"value": r[1], "seq": r[3]}), qos=1)
    published = time.perf_counter() - t
    done.wait(600)
    elapsed = time.perf_counter() - t
    broker_cpu = cpu.stop()
    for c in (sub, pub):
        c.disconnect()
        c.loop_stop()
    return {"readings_per_s": n / elapsed, "publish_per_s": n / published,
            "broker_cpu": broker_cpu}


def broker_echo(readings, port, broker_pid, horizon=6):
    """The broker's ceiling for the service's traffic, with nothing learned: a
    subscriber that acknowledges each reading and publishes a forecast-sized
    message for it (QoS 0, as the service does), and a watcher that receives those."""
    done = threading.Event()
    count = [0]
    n = len(readings)
    body = json.dumps({"sensor": "dev00/temp", "seq": 0, "n_steps": 1,
                       "horizons": list(range(1, horizon + 1)), "forecast": [1.234567] * horizon})

    def on_reading(c, u, msg):
        c.ack(msg.mid, msg.qos)
        c.publish("forecasts/" + msg.topic[len("sensors/"):], body, qos=0)

    def on_forecast(c, u, msg):
        count[0] += 1
        if count[0] == n:
            done.set()
    echo = mqtt_client(port, "bench-echo", username="bench", on_message=on_reading,
                       subscribe=[("sensors/#", 1)], manual_ack=True, queued=0)
    watch = mqtt_client(port, "bench-echo-watch", username="bench", on_message=on_forecast,
                        subscribe=[("forecasts/#", 1)])
    pub = publisher(port, "bench-echo-pub")
    time.sleep(0.5)
    cpu = CPU([broker_pid])
    cpu.start()
    t = time.perf_counter()
    for r in readings:
        pub.publish(f"sensors/{r[0]}", json.dumps({"value": r[1], "seq": r[3]}), qos=1)
    done.wait(600)
    elapsed = time.perf_counter() - t
    broker_cpu = cpu.stop()
    for c in (echo, watch, pub):
        c.disconnect()
        c.loop_stop()
    return {"readings_per_s": n / elapsed, "broker_cpu": broker_cpu}


def publisher(port, client_id):
    return mqtt_client(port, client_id, inflight=0, queued=0)


def service_rate(readings, port, broker_pid, folder, n_workers=None):
    """The whole service: first reading published -> last forecast received."""
    from service_util import Watcher, start_service, stop_process, write_config

    dask = {"enabled": bool(n_workers), "n_workers": n_workers or 2, "n_shards": 8}
    path, cfg = write_config(folder, port, model=MODEL, dask=dask,
                             checkpoint={"period": 30.0})
    watcher = Watcher(port, client_id=f"bench-watch-{n_workers}")
    proc = start_service(path, log=open(os.path.join(folder, "service.log"), "w"))
    try:
        watcher.wait_online(timeout=180)
        watcher.publish(readings[:200])  # warm: kernels loaded, actors placed
        watcher.wait_learned(readings[:200], 120)
        rest = readings[200:]
        pub = publisher(port, f"bench-pub-{n_workers}")
        cpu_b, cpu_s = CPU([broker_pid]), CPU([proc.pid])
        cpu_b.start()
        cpu_s.start()
        t = time.perf_counter()
        for r in rest:
            pub.publish(f"sensors/{r[0]}", json.dumps({"value": r[1], "seq": r[3]}), qos=1)
        watcher.wait_learned(rest, 900)
        elapsed = time.perf_counter() - t
        result = {"readings_per_s": len(rest) / elapsed, "broker_cpu": cpu_b.stop(),
                  "service_cpu": cpu_s.stop()}
        pub.disconnect()
        pub.loop_stop()
    finally:
        stop_process(proc)
        watcher.close()
    with open(os.path.join(folder, "state", "stats.json")) as f:
        stats = json.load(f)
    result["service_main_thread"] = stats["timing"]  # includes the warm-up's 200 readings
    result["received"] = stats["received"]
    return result


def machine():
    import multiprocessing
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {multiprocessing.cpu_count()} cores, Python {platform.python_version()}"


def main(argv=None):
    from streamlearn.service.local import free_port, start_broker, stop_process

    parser = argparse.ArgumentParser(prog="python -m benchmarks.service")
    parser.add_argument("--sensors", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--parts", default="breakdown,router,broker,echo,service",
                        help="which measurements, comma-separated")
    parser.add_argument("--out", default=os.path.join("benchmark-results", "service.json"))
    parser.add_argument("--write-docs", action="store_true",
                        help="also rewrite benchmarks/service.json (docs/service.md's figures)")
    args = parser.parse_args(argv)
    readings = make_stream(args.sensors, args.steps)
    res = {"machine": machine(), "sensors": args.sensors, "readings": len(readings),
           "model": MODEL}
    parts = set(args.parts.split(","))
    if os.path.exists(args.out):
        with open(args.out) as f:
            old = json.load(f)
        res = {**old, **res}
    with tempfile.TemporaryDirectory() as d:
        if "breakdown" in parts:
            res["breakdown"] = breakdown(readings, d)
            print("breakdown (us per reading):", json.dumps(res["breakdown"]), flush=True)
        if "router" in parts:
            res["router"] = {}
            for name, workers in (("local", None), ("dask-1", 1), ("dask-2", 2)):
                res["router"][name] = router_rate(readings, os.path.join(d, f"r-{name}"),
                                                  workers)
                print("router", name, json.dumps(res["router"][name]), flush=True)
        port = free_port()
        broker = start_broker(port)
        try:
            if "broker" in parts:
                res["broker"] = broker_ceiling(readings, port, broker.pid)
                print("broker", json.dumps(res["broker"]), flush=True)
            if "echo" in parts:
                res["echo"] = broker_echo(readings, port, broker.pid)
                print("echo", json.dumps(res["echo"]), flush=True)
            if "service" not in parts:
                return _write(res, args.out, args.write_docs)
            res["service"] = {}
            for name, workers in (("local", None), ("dask-1", 1), ("dask-2", 2)):
                folder = os.path.join(d, f"s-{name}")
                os.makedirs(folder)
                res["service"][name] = service_rate(readings, port, broker.pid, folder, workers)
                print("service", name, json.dumps(res["service"][name]), flush=True)
        finally:
            stop_process(broker)
    return _write(res, args.out, args.write_docs)


def _write(res, path, docs):
    paths = [path] + ([os.path.join(ROOT, "benchmarks", "service.json")] if docs else [])
    for p in paths:
        os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)
        with open(p, "w") as f:
            json.dump(res, f, indent=1)
        print("written", p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
