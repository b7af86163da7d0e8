"""Live sensor forecasting: a producer streams readings over a loopback socket,
the consumer forecasts them with RNNForecaster while they arrive.

The producer (a thread) sends one JSON line per reading at ``--rate`` readings
per second over a TCP socket on 127.0.0.1. With ``--wth`` it replays the
hourly weather file WTH.csv (``--wth PATH`` for a local copy; a bare ``--wth``
downloads it once into the cache, see ``streamlearn.datasets.fetch_weather``) (target DryBulbFarenheit, the other numeric columns as
exogenous features); otherwise it simulates a temperature sensor (daily cycle,
weather fronts, noise). The consumer scales the exogenous features with River's
StandardScaler, calls ``learn_one`` on every reading (scoring the forecasts
that targeted it) and ``forecast`` for the next ``--horizons``; it shows the
rolling MAE per horizon against persistence on a progress bar (tqdm; when
the output is not a terminal, a line every tenth of the stream), and at the end
prints a table and saves a PNG of forecast against actual (``--out``, default
``live_sensor_forecast.png`` in the current directory).

    python examples/live_sensor_forecast.py                       # synthetic, ~11 s
    python examples/live_sensor_forecast.py --wth --n 8000 --rate 2000   # WTH.csv, fetched once
"""

import collections
import csv
import json
import math
import socket
import sys
import threading
import time

import numpy as np
from river import preprocessing
from tqdm import tqdm

from streamlearn.cliargs import (ArgumentParser, nonnegative_int, output_file, positive_float,
                                 positive_int)
from streamlearn.forecaster import RNNForecaster

WTH_TARGET = "DryBulbFarenheit"
WTH_DROPPED = {"date", "DryBulbCelsius", "DewPointCelsius", "WetBulbCelsius"}


def synthetic_readings(n, seed):
    """An hourly temperature sensor: daily cycle, slow fronts (AR(1)), noise."""
    rng = np.random.default_rng(seed)
    front = 0.0
    for t in range(n):
        front = 0.995 * front + 0.3 * rng.normal()
        daily = 8.0 * math.sin(2 * math.pi * (t % 24) / 24.0 - 1.5)
        temp = 55.0 + daily + front + 0.5 * rng.normal()
        humidity = 60.0 - 1.5 * daily + 2.0 * rng.normal()
        yield {"t": t, "y": temp, "x": {"humidity": humidity}}


def check_wth(path):
    """Fail early, in the main thread, with a clear message."""
    try:
        with open(path, newline="") as f:
            header = next(csv.reader(f), None)
    except OSError as e:
        sys.exit(f"cannot read the weather file {path!r}: {e}")
    if not header or WTH_TARGET not in header:
        sys.exit(f"{path!r} has no {WTH_TARGET!r} column: is it WTH.csv?")


def wth_readings(path, n):
    with open(path, newline="") as f:
        for t, row in enumerate(csv.DictReader(f)):
            if t >= n:
                return
            x = {k: float(v) for k, v in row.items() if k not in WTH_DROPPED and k != WTH_TARGET}
            yield {"t": t, "y": float(row[WTH_TARGET]), "x": x}


def producer(server, readings, rate):
    """Accept one consumer and send it the readings, one JSON line each, at ``rate`` Hz."""
    conn, _ = server.accept()
    with conn:
        period = 1.0 / rate
        start = time.perf_counter()
        for i, r in enumerate(readings):
            delay = start + i * period - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            conn.sendall((json.dumps(r) + "\n").encode())
        conn.sendall(b'{"end": true}\n')


def main(argv=None):
    parser = ArgumentParser(prog="live_sensor_forecast.py", description=__doc__.splitlines()[0])
    parser.add_argument("--wth", nargs="?", const="download", metavar="PATH",
                        help="replay WTH.csv: PATH, or without one the cached download "
                             "(default: synthetic sensor)")
    parser.add_argument("--n", type=positive_int, default=3000,
                        help="number of readings (default 3000)")
    parser.add_argument("--rate", type=positive_float, default=400.0,
                        help="readings per second (default 400)")
    parser.add_argument("--horizons", type=positive_int, default=24,
                        help="steps ahead forecast (default 24)")
    parser.add_argument("--method", default="anp", choices=["anp", "np", "wp", "bp"],
                        help="learning rule (default anp)")
    parser.add_argument("--hidden", type=positive_int, default=64, help="hidden units (default 64)")
    parser.add_argument("--window", type=positive_int, default=500,
                        help="rolling-error window (default 500)")
    parser.add_argument("--seed", type=nonnegative_int, default=0)
    parser.add_argument("--out", type=output_file, default="live_sensor_forecast.png",
                        help="the PNG to write (default ./live_sensor_forecast.png)")
    args = parser.parse_args(argv)
    H = args.horizons
    if args.n < 2 * H + 2:
        parser.error(f"argument --n: must be at least {2 * H + 2} (2 x --horizons + 2), "
                     f"got {args.n}")
    shown = sorted({1, max(1, H // 4), H})

    if args.wth == "download":
        from streamlearn.datasets import fetch_weather

        try:
            args.wth = str(fetch_weather())
        except (ConnectionError, ValueError) as e:
            sys.exit(str(e))
    if args.wth:
        check_wth(args.wth)
    readings = (wth_readings(args.wth, args.n) if args.wth
                else synthetic_readings(args.n, args.seed))
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    thread = threading.Thread(target=producer, args=(server, readings, args.rate), daemon=True)
    thread.start()

    model = RNNForecaster(max_horizon=H, n_hidden=args.hidden, method=args.method,
                          seed=args.seed)
    scaler = preprocessing.StandardScaler()
    pending = collections.deque()  # (forecast made at t, value at t), newest last
    errors = {k: collections.deque(maxlen=args.window) for k in range(1, H + 1)}
    persistence = {k: collections.deque(maxlen=args.window) for k in range(1, H + 1)}
    actual, made = [], []  # for the plot: value at t, forecasts made at t
    t0 = time.perf_counter()
    # a bar on a terminal; otherwise (disable=None) no bar, and a line every tenth
    bar = tqdm(total=args.n, unit="reading", file=sys.stdout, disable=None,
               dynamic_ncols=True, mininterval=0.2,
               bar_format="{n_fmt}/{total_fmt} |{bar:16}| {elapsed}<{remaining}{postfix}")
    every = max(1, args.n // 10)

    with socket.create_connection(("127.0.0.1", port)) as sock, sock.makefile() as lines:
        for line in lines:
            r = json.loads(line)
            if r.get("end"):
                break
            y, x = r["y"], r["x"]
            # score the forecasts that targeted this reading (made k steps ago)
            for k, (f, y_then) in enumerate(reversed(pending), start=1):
                if k <= H:
                    errors[k].append(abs(f[k - 1] - y))
                    persistence[k].append(abs(y_then - y))
            scaler.learn_one(x)
            model.learn_one(y, scaler.transform_one(x))
            forecast = model.forecast(H)
            pending.append((forecast, y))
            if len(pending) > H:
                pending.popleft()
            actual.append(y)
            made.append(forecast)

            t = r["t"] + 1
            bar.update(1)
            if t % 50 == 0 or t == args.n:
                mae = [(k, np.mean(errors[k]), np.mean(persistence[k])) for k in shown if errors[k]]
                if not bar.disable:
                    bar.set_postfix_str("MAE/persistence " + " ".join(
                        f"+{k} {e:.2f}/{p:.2f}" for k, e, p in mae), refresh=False)
                elif t % every == 0 or t == args.n:
                    rate = t / (time.perf_counter() - t0)
                    print(f"{t}/{args.n} readings, {rate:.0f}/s, rolling MAE " + ", ".join(
                        f"+{k} {e:.2f} (persistence {p:.2f})" for k, e, p in mae), flush=True)
    bar.close()
    thread.join(timeout=5)
    server.close()

    print(f"\nrolling MAE over the last {args.window} readings "
          f"({'WTH.csv' if args.wth else 'synthetic sensor'}, {args.method}, {args.hidden} hidden)")
    print("| horizon | RNNForecaster | persistence |")
    print("|---|---|---|")
    for k in shown:
        print(f"| +{k} | {np.mean(errors[k]):.3f} | {np.mean(persistence[k]):.3f} |")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install matplotlib): no plot")
        return errors
    actual = np.array(actual)
    made = np.array(made)
    n_show = min(300, len(actual) - H - 1)
    ts = np.arange(len(actual) - n_show, len(actual))
    fig, axes = plt.subplots(len(shown), 1, figsize=(11, 2.4 * len(shown)), sharex=True)
    unit = "temperature (°F)"  # the synthetic sensor and WTH's DryBulbFarenheit
    for ax, k in zip(np.atleast_1d(axes), shown):
        ax.plot(ts, actual[ts], color="black", lw=1.2, label="actual")
        ax.plot(ts, made[ts - k, k - 1], color="#c44e52", lw=1.0,
                label=f"forecast made\n{k} h before")
        ax.set_ylabel(unit)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        ax.set_title(f"+{k} h: rolling MAE {np.mean(errors[k]):.2f} °F "
                     f"(persistence {np.mean(persistence[k]):.2f} °F)", fontsize=9)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[-1].set_xlabel("reading (one per hour)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"plot saved to {args.out}")
    return errors


if __name__ == "__main__":
    main()
