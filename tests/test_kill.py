"""Kill test: a learner killed with SIGKILL at random moments resumes from
its last checkpoint and ends exactly where an uninterrupted run ends.

Marked slow (about a minute): `python -m pytest -m slow tests/test_kill.py`.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from streamlearn import OnlineRNN
from streamlearn.checkpoint import load

STEPS, CHUNK = 40_000, 500

WORKER = textwrap.dedent(f"""
    import os, sys
    from streamlearn import OnlineRNN
    from streamlearn.datasets import mackey_glass

    path = sys.argv[1]
    U, Y = mackey_glass({STEPS}, seed=7)
    if os.path.exists(path):
        model = OnlineRNN.load(path)
    else:
        model = OnlineRNN(1, 64, 1, method="anp", decorrelation=True, seed=7)
    print("resume", model.n_updates, flush=True)
    # the model counts its learning steps, so it knows where it is in the stream
    while model.n_updates < {STEPS}:
        t = model.n_updates
        model.learn_many(U[t:t + {CHUNK}], Y[t:t + {CHUNK}])
        model.save(path)
    print("done", flush=True)
""")


def uninterrupted():
    from streamlearn.datasets import mackey_glass

    U, Y = mackey_glass(STEPS, seed=7)
    model = OnlineRNN(1, 64, 1, method="anp", decorrelation=True, seed=7)
    for t in range(0, STEPS, CHUNK):
        model.learn_many(U[t:t + CHUNK], Y[t:t + CHUNK])
    return model


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_exactly(tmp_path):
    path = str(tmp_path / "model.ckpt")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    rng = np.random.default_rng(0)
    kills = resumes = 0
    positions = []
    while True:
        proc = subprocess.Popen([sys.executable, str(script), path], stdout=subprocess.PIPE,
                                text=True)
        first = proc.stdout.readline()  # "resume N": the worker has loaded
        assert first.startswith("resume"), first
        positions.append(int(first.split()[1]))
        resumes += 1
        if kills < 25:
            time.sleep(rng.uniform(0.0, 0.4))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
                # whatever moment the kill hit, the file on disk is whole
                if os.path.exists(path):
                    load(path, expected=OnlineRNN)
                continue
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "done" in out
        break
    assert kills >= 20
    assert positions == sorted(positions) and positions[-1] > 0  # progress was kept
    final = OnlineRNN.load(path)
    reference = uninterrupted()
    assert final.n_updates == reference.n_updates == STEPS
    for k in "ARBD":
        np.testing.assert_array_equal(getattr(final, k), getattr(reference, k))
    np.testing.assert_array_equal(final.state, reference.state)
    np.testing.assert_array_equal(final._rng, reference._rng)
    print(f"{kills} kills, {resumes} starts, resumed at {positions}")
