"""The main job: online Mackey-Glass forecasting, learned as the data arrives.

No download: the series is generated (``streamlearn.datasets.mackey_glass``).
Each sample is predicted first and learned from second, so the reported
error is prequential: every prediction was made before its target was seen.
"""

import copy
import sys
import time

import numpy as np

from .datasets import mackey_glass
from .methods import NAMES_BY_RULE, get
from .online_rnn import OnlineRNN

#: The names ``--method`` accepts (``streamlearn.methods.NAMES_BY_RULE``).
METHOD_NAMES = NAMES_BY_RULE
#: Shortest stream ``run_demo`` accepts: its last fifth must hold some samples.
MIN_STEPS = 100


def parse_method(name):
    """``"danp"`` -> (``"anp"``, True); ``"np"`` -> (``"np"``, False)."""
    m = get(name)
    return m.rule, m.decorrelation


def run_demo(steps=50_000, n_hidden=100, method="danp", seed=0, horizon=15,
             report_every=5_000, out=None):
    """Learn to forecast Mackey-Glass ``horizon`` steps ahead, online.

    Returns a dict with the prequential MSE of the model and of persistence
    (predicting that the value ``horizon`` steps ahead equals the current one)
    over the whole stream and over its last fifth, and the run time.

    Examples
    --------
    >>> import io
    >>> result = run_demo(steps=4_000, n_hidden=32, report_every=2_000, out=io.StringIO())
    >>> result["model_last"] < 0.5 * result["persistence_last"]
    True
    """
    out = sys.stdout if out is None else out
    if steps < MIN_STEPS:
        raise ValueError(f"steps must be >= {MIN_STEPS}, got {steps}")
    if report_every < 1:
        raise ValueError(f"report_every must be >= 1, got {report_every}")
    spec = get(method)
    U, Y = mackey_glass(steps, horizon=horizon, seed=seed)
    model = OnlineRNN(1, n_hidden, 1, method=spec.rule, decorrelation=spec.decorrelation,
                      optimizer=spec.optimizer, seed=seed)
    persistence = (U - Y) ** 2
    errors = np.empty(steps)
    live = hasattr(out, "isatty") and out.isatty()
    print(f"streamlearn demo: {method.upper()} with {n_hidden} hidden units forecasts "
          f"Mackey-Glass {horizon} steps ahead, learning online from each sample "
          f"({steps:,} samples).", file=out)
    # compile (or load from Numba's cache) on a throwaway copy, so the timed
    # run below is the learning alone and the model is untouched
    print("kernels: compiled on the first run only, then loaded from the cache ...",
          end=" ", file=out, flush=True)
    tic = time.perf_counter()
    copy.deepcopy(model).learn_many(U[:2], Y[:2])
    compile_seconds = time.perf_counter() - tic
    print(f"ready in {compile_seconds:.1f} s", file=out, flush=True)
    header = f"{'samples':>9} {'window MSE':>11} {'persistence':>11} {'ratio':>6} {'prequential MSE':>16}"
    print(header, file=out)
    start = time.perf_counter()
    for lo in range(0, steps, report_every):
        hi = min(lo + report_every, steps)
        P = model.learn_many(U[lo:hi], Y[lo:hi])
        errors[lo:hi] = ((P - Y[lo:hi]) ** 2)[:, 0]
        window, pers = errors[lo:hi].mean(), persistence[lo:hi].mean()
        line = (f"{hi:>9,} {window:>11.5f} {pers:>11.5f} {window / pers:>6.3f} "
                f"{errors[:hi].mean():>16.5f}")
        print(line, end="\r" if live and hi < steps else "\n", file=out, flush=True)
    elapsed = time.perf_counter() - start
    last = slice(steps - steps // 5, steps)
    result = {
        "model": float(errors.mean()), "persistence": float(persistence.mean()),
        "model_last": float(errors[last].mean()),
        "persistence_last": float(persistence[last].mean()),
        "seconds": elapsed, "steps_per_second": steps / elapsed,
        "compile_seconds": compile_seconds,
    }
    print(f"done: prequential MSE {result['model']:.5f} against persistence "
          f"{result['persistence']:.5f} ({result['persistence'] / result['model']:.1f}x lower); "
          f"last fifth {result['model_last']:.5f} against {result['persistence_last']:.5f}; "
          f"{elapsed:.1f} s, {result['steps_per_second']:,.0f} samples/s (after {compile_seconds:.1f} s "
          "preparing the kernels).", file=out)
    return result
