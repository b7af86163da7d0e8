"""Turn a resolved task configuration into training and evaluation sequences.

Two splits exist:

``"test"``
    The training sequence and the held-out test sequence of the paper.
``"validation"``
    Used only by the hyperparameter search, never touching the test data.
    For the synthetic tasks it is the same training sequence plus a third,
    separately seeded sequence; for the weather task the training rows are cut
    in two, in time order: the first ``1 - validation_fraction`` for training and
    the rest for validation.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from .. import datasets

__all__ = ["Split", "load_split"]


class Split(NamedTuple):
    """One training sequence and the sequence evaluated after it.

    ``mask_train`` / ``mask_eval`` flag the steps scored separately as the
    "recall" phase of the copying-memory task (``None`` for other tasks).
    """

    U_train: np.ndarray
    Y_train: np.ndarray
    U_eval: np.ndarray
    Y_eval: np.ndarray
    mask_train: Optional[np.ndarray] = None
    mask_eval: Optional[np.ndarray] = None

    @property
    def n_inputs(self):
        return self.U_train.shape[1]

    @property
    def n_outputs(self):
        return self.Y_train.shape[1]


def _mackey_glass(task, split):
    mg = {k: task[k] for k in ("horizon", "tau", "substeps", "washout")}
    mg["pairing"] = task.get("pairing", "forecast")
    U, Y = datasets.mackey_glass(task["n_steps"], seed=task["train_seed"], **mg)
    n_eval = task["n_test_steps"] or task["n_steps"]
    seed = task["test_seed"] if split == "test" else task["validation_seed"]
    Ue, Ye = datasets.mackey_glass(n_eval, seed=seed, **mg)
    return Split(U, Y, Ue, Ye)


def _copy_memory(task, split):
    cm = {k: task[k] for k in ("n_symbols", "delay", "n_values")}
    U, Y, M = datasets.copy_memory(
        task["n_train_sequences"], seed=task["train_seed"], return_mask=True, **cm
    )
    seed = task["test_seed"] if split == "test" else task["validation_seed"]
    Ue, Ye, Me = datasets.copy_memory(task["n_test_sequences"], seed=seed, return_mask=True, **cm)
    return Split(U, Y, Ue, Ye, M, Me)


def _weather(task, split):
    data = datasets.weather(task["path"], task["horizon_hours"], n_train=task["n_train"])
    U, Y = data.U_train, data.Y_train
    Ue, Ye = data.U_test, data.Y_test
    if split == "validation":
        # cut the training steps in time order; the test rows are never read
        cut = int(round(len(U) * (1.0 - task["validation_fraction"])))
        U, Y, Ue, Ye = U[:cut], Y[:cut], U[cut:], Y[cut:]
    # Truncate while keeping the evaluation sequence right after the training one:
    # the last training steps, the first evaluation steps.
    if task["max_train_steps"]:
        U, Y = U[-task["max_train_steps"]:], Y[-task["max_train_steps"]:]
    if task["max_test_steps"]:
        Ue, Ye = Ue[: task["max_test_steps"]], Ye[: task["max_test_steps"]]
    return Split(U, Y, Ue, Ye)


_LOADERS = {"mackey_glass": _mackey_glass, "copy_memory": _copy_memory, "weather": _weather}


def load_split(task, split="test"):
    """Build the sequences of a resolved task configuration.

    Parameters
    ----------
    task : dict
        The ``task`` section of a resolved configuration.
    split : {"test", "validation"}

    Returns
    -------
    Split

    Examples
    --------
    >>> from streamlearn.experiments.config import resolve_config
    >>> cfg = resolve_config({"task": {"name": "copy_memory", "n_symbols": 5, "delay": 2},
    ...                       "methods": ["anp"]})
    >>> s = load_split(cfg["task"], "validation")
    >>> s.U_train.shape, s.U_eval.shape, int(s.mask_eval.sum())
    ((12, 10), (12, 10), 5)
    """
    if split not in ("test", "validation"):
        raise ValueError(f"split must be 'test' or 'validation', got {split!r}")
    return _LOADERS[task["name"]](task, split)
