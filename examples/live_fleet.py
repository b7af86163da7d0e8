"""A live fleet: a local MQTT broker, simulated sensors publishing readings, and
``streamlearn serve`` learning one forecaster per sensor and publishing forecasts.

Everything runs on 127.0.0.1 and stops by itself after ``--seconds``:

1. the broker (amqtt: ``python -m streamlearn.service.broker``);
2. the service (``streamlearn serve`` with a config written into ``--state``;
   ``--dask N`` puts its shards on a LocalCluster of N worker processes);
3. the fleet: synthetic sensors (temperature, humidity, pressure, a vibration
   sensor with bursts) and, with ``--wth PATH``, the columns of the hourly
   weather file WTH.csv replayed as sensors ``wth/<column>`` (a bare ``--wth``
   downloads it once, see ``streamlearn.datasets.fetch_weather``);
4. a watcher subscribed to ``forecasts/#``: it prints a compact live table, per
   sensor, of the rolling mean absolute error of the 1-step forecast next to
   persistence ("the next value equals this one"), and at the end writes a
   figure (``--out``, default ``live_fleet.png``).

    python examples/live_fleet.py                    # 60 s, 8 synthetic sensors
    python examples/live_fleet.py --wth ~/data/WTH.csv --rate 400 --dask 2

Kill the service with ``--kill-at SECONDS`` (SIGKILL) to see it come back from
its checkpoint and carry on where it stopped: nothing published in between is lost.
"""

import collections
import csv
import json
import math
import os
import signal
import sys
import tempfile
import threading
import time

import numpy as np

from streamlearn.cliargs import ArgumentParser, output_file, positive_float, positive_int
from streamlearn.service.local import (free_port, mqtt_client, start_broker, start_service,
                                       stop_process)

WTH_COLUMNS = ("DryBulbFarenheit", "RelativeHumidity", "StationPressure", "WindSpeed",
               "Visibility", "DewPointFarenheit")
WINDOW = 200


def synthetic_fleet(n, seed):
    """Generators of (sensor, value) per tick: hourly-like cycles, fronts, noise."""
    rng = np.random.default_rng(seed)
    sensors = []
    for i in range(n):
        kind = ("temp", "humidity", "pressure", "vibration")[i % 4]
        sensors.append((f"site{i // 4}/{kind}", kind, rng.uniform(0, 2 * math.pi)))
    state = {s[0]: 0.0 for s in sensors}

    def tick(t):
        out = []
        for sensor, kind, phase in sensors:
            front = state[sensor] = 0.99 * state[sensor] + 0.3 * rng.normal()
            daily = math.sin(2 * math.pi * t / 24 + phase)
            if kind == "temp":
                v = 15 + 8 * daily + front + 0.3 * rng.normal()
            elif kind == "humidity":
                v = 60 - 15 * daily + 2 * front + rng.normal()
            elif kind == "pressure":
                v = 1013 + 3 * front + 0.2 * rng.normal()
            else:
                burst = 5.0 if (t // 50) % 7 == 3 else 0.0
                v = 1 + abs(math.sin(t / 3.0)) + burst + 0.2 * rng.normal()
            out.append((sensor, v))
        return out
    return tick


def wth_fleet(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = [c for c in WTH_COLUMNS if rows and c in rows[0]]

    def tick(t):
        row = rows[t % len(rows)]
        out = []
        for c in columns:
            try:
                out.append((f"wth/{c}", float(row[c])))
            except (TypeError, ValueError):
                pass
        return out
    return tick, len(columns)


class Watcher:
    """Collects the readings (its own copy) and the forecasts, and scores them."""

    def __init__(self, port):
        self.lock = threading.Lock()
        self.values = collections.defaultdict(dict)      # sensor -> seq -> value
        self.forecast1 = collections.defaultdict(dict)   # sensor -> seq -> 1-step forecast
        self.err = collections.defaultdict(lambda: collections.deque(maxlen=WINDOW))
        self.err_p = collections.defaultdict(lambda: collections.deque(maxlen=WINDOW))
        self.history = collections.defaultdict(list)     # sensor -> [(seq, value, forecast1)]
        self.n_forecasts = 0
        self.status = "waiting"
        self.client = mqtt_client(port, "live-fleet-watcher", username="watcher",
                                  on_message=self._on_message, reconnect=(0.2, 2),
                                  subscribe=[("forecasts/#", 0), ("sensors/#", 0),
                                             ("streamlearn/status/#", 0)])

    def _on_message(self, client, userdata, msg):
        data = json.loads(msg.payload)
        with self.lock:
            if msg.topic.startswith("streamlearn/status/"):
                self.status = data["state"]
            elif msg.topic.startswith("sensors/"):
                sensor, seq, v = msg.topic[len("sensors/"):], data["seq"], data["value"]
                self.values[sensor][seq] = v
                self._score(sensor, seq)
            else:
                sensor, seq = data["sensor"], data["seq"]
                self.n_forecasts += 1
                self.forecast1[sensor][seq] = data["forecast"][0]
                self._score(sensor, seq + 1)

    def _score(self, sensor, seq):
        """Score the 1-step forecast made at seq - 1 once both it and the value are in."""
        vals, fc = self.values[sensor], self.forecast1[sensor]
        if seq in vals and seq - 1 in fc and seq - 1 in vals:
            v = vals[seq]
            f = fc.pop(seq - 1)
            self.err[sensor].append(abs(f - v))
            self.err_p[sensor].append(abs(vals[seq - 1] - v))
            self.history[sensor].append((seq, v, f))
            vals.pop(seq - 2, None)

    def table(self):
        with self.lock:
            rows = []
            for sensor in sorted(self.err):
                e, p = self.err[sensor], self.err_p[sensor]
                if not e:
                    continue
                mae, mae_p = float(np.mean(e)), float(np.mean(p))
                rows.append((sensor, len(self.history[sensor]), mae, mae_p,
                             mae / mae_p if mae_p > 0 else float("nan")))
            return rows, self.status, self.n_forecasts

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def render(rows, status, n_forecasts, elapsed, tty):
    lines = [f"t={elapsed:5.1f} s  service: {status:8s} forecasts received: {n_forecasts:,}",
             f"{'sensor':24s} {'scored':>7s} {'MAE model':>10s} {'MAE persist':>12s} {'ratio':>6s}"]
    for sensor, n, mae, mae_p, ratio in rows:
        mark = " <" if ratio < 1 else ""
        lines.append(f"{sensor:24s} {n:7d} {mae:10.3f} {mae_p:12.3f} {ratio:6.2f}{mark}")
    text = "\n".join(lines)
    if tty:
        return "\x1b[H\x1b[J" + text + "\n(ratio < 1: the model beats persistence; "
        "rolling window of the last 200 forecasts)\n"
    return text + "\n"


def figure(watcher, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, _, _ = watcher.table()
    if not rows:
        print("no forecasts were scored; no figure")
        return
    fig, axes = plt.subplots(2, 1, figsize=(10, 7.5), constrained_layout=True)
    names = [r[0] for r in rows]
    axes[0].barh(names, [r[4] for r in rows], color=["tab:green" if r[4] < 1 else "tab:red"
                                                      for r in rows])
    axes[0].axvline(1.0, color="k", lw=0.8)
    for i, r in enumerate(rows):
        axes[0].text(r[4], i, f" {r[4]:.2f}", va="center", fontsize=8)
    axes[0].set_xlabel("rolling MAE of the 1-step forecast / MAE of persistence")
    axes[0].invert_yaxis()
    temps = [r for r in rows if r[0].endswith("temp") or r[0].endswith("Farenheit")]
    best = max(temps or rows, key=lambda r: r[1])[0]
    hist = watcher.history[best][-300:]
    if hist:
        seq, v, f = zip(*hist)
        axes[1].plot(seq, v, label="reading", color="k", lw=1)
        axes[1].plot(seq, f, label="1-step forecast (made one reading earlier)", lw=1)
        axes[1].set_title(best)
        axes[1].set_xlabel("sequence number")
        axes[1].legend(loc="upper left")
    fig.suptitle("streamlearn serve: a live fleet, one online RNN forecaster per sensor")
    fig.savefig(path, dpi=110)
    print(f"figure: {path}")


def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=positive_float, default=60.0,
                        help="how long the fleet publishes (default 60)")
    parser.add_argument("--rate", type=positive_float, default=25.0,
                        help="ticks per second; each tick is one reading per sensor (default 25)")
    parser.add_argument("--sensors", type=positive_int, default=8,
                        help="synthetic sensors (default 8)")
    parser.add_argument("--wth", nargs="?", const="", default=None, metavar="PATH",
                        help="also replay WTH.csv's columns as sensors (bare: download it once)")
    parser.add_argument("--dask", type=positive_int, default=0, metavar="N",
                        help="shards on a LocalCluster of N Dask worker processes")
    parser.add_argument("--kill-at", type=positive_float, default=None, metavar="SECONDS",
                        help="SIGKILL the service at this time and start it again")
    parser.add_argument("--state", default=None, metavar="DIR",
                        help="the service's checkpoint folder (default: a temporary one)")
    parser.add_argument("--out", type=output_file, default="live_fleet.png",
                        help="the figure written at the end (default live_fleet.png)")
    args = parser.parse_args(argv)

    ticks = [synthetic_fleet(args.sensors, seed=0)]
    if args.wth is not None:
        from streamlearn.datasets import fetch_weather
        path = args.wth or str(fetch_weather())
        tick, n = wth_fleet(path)
        ticks.append(tick)
        print(f"replaying {n} columns of {path}")

    tmp = tempfile.TemporaryDirectory()
    state = args.state or os.path.join(tmp.name, "state")
    port = free_port()
    config = os.path.join(tmp.name, "service.yaml")
    with open(config, "w") as f:
        f.write(f"broker: {{url: 'mqtt://127.0.0.1:{port}', reconnect_min: 0.2, "
                f"reconnect_max: 2}}\nmodel: {{max_horizon: 6, n_hidden: 32, seed: 0}}\n"
                f"checkpoint: {{dir: '{state}', period: 5}}\n"
                f"dask: {{enabled: {'true' if args.dask else 'false'}, "
                f"n_workers: {max(args.dask, 1)}, n_shards: 8}}\n")
    print(f"broker on 127.0.0.1:{port}; service state in {state}")
    broker = start_broker(port)
    log = open(os.path.join(tmp.name, "service.log"), "w")
    service = start_service(config, log=log)
    watcher = publisher = None
    tty = sys.stdout.isatty()
    try:
        watcher = Watcher(port)
        publisher = mqtt_client(port, "live-fleet", username="fleet", inflight=0)
        deadline = time.monotonic() + 120
        while watcher.status != "online" and time.monotonic() < deadline:
            time.sleep(0.1)  # the first start loads (or compiles) the kernels
        print("service online; the fleet starts publishing")
        t0 = time.perf_counter()
        t = 0
        next_print = 0.0
        killed = False
        while True:
            elapsed = time.perf_counter() - t0
            if elapsed >= args.seconds:
                break
            while t < elapsed * args.rate:
                for tick in ticks:
                    for sensor, value in tick(t):
                        publisher.publish(f"sensors/{sensor}",
                                          json.dumps({"value": value, "seq": t}), qos=1)
                t += 1
            if args.kill_at is not None and not killed and elapsed >= args.kill_at:
                service.send_signal(signal.SIGKILL)
                service.wait()
                with watcher.lock:
                    watcher.status = "killed"
                killed = True
                print(f"t={elapsed:.1f} s: service SIGKILLed; starting it again")
                service = start_service(config, log=log)
            if elapsed >= next_print:
                rows, status, n = watcher.table()
                sys.stdout.write(render(rows, status, n, elapsed, tty))
                sys.stdout.flush()
                next_print = elapsed + (1.0 if tty else 10.0)
            time.sleep(0.01)
        deadline = time.monotonic() + 120
        while watcher.status != "online" and time.monotonic() < deadline:
            time.sleep(0.1)  # a service started again after --kill-at is up
        time.sleep(2.0)  # the last forecasts arrive
        rows, status, n = watcher.table()
        sys.stdout.write(render(rows, status, n, time.perf_counter() - t0, False))
        print(f"published {t:,} ticks; service stopped with exit code "
              f"{stop_process(service)}")
        figure(watcher, args.out)
    finally:
        if publisher is not None:
            publisher.disconnect()
            publisher.loop_stop()
        if watcher is not None:
            watcher.close()
        stop_process(service)
        stop_process(broker)
        log.close()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
