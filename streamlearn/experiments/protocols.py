"""Training protocols: the paper's epochs and one-pass prequential learning.

Both protocols work on a model with the :class:`streamlearn.OnlineRNN`
interface (``reset_state``, ``learn_many``, ``advance_many`` and the weight
matrices ``A``, ``R``, ``B``, ``D``) and a :class:`~.tasks.Split`.

Losses are mean squared errors: the squared error averaged over the outputs and
then over the steps, as in the authors' code (``MSELoss``). The training loss
of an epoch is measured on the predictions made *before* each online update,
which is what online learning sees.

A run that blows up, i.e. produces a non-finite loss or weight, a loss above
``stability["max_loss"]`` or a weight above ``stability["max_weight"]`` in
absolute value (checked after every epoch or chunk), or whose model refuses a
step with a ``FloatingPointError`` (``streamlearn.DivergenceError``: the model's
own guard, checked at every step), stops at once and is reported as
``"unstable"`` instead of raising; its final values are ``None`` so that it
cannot enter an average.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["run_epochs", "run_prequential", "mse", "instability"]


def mse(Ypred, Y):
    """Mean over steps and outputs of the squared error (``inf`` if non-finite).

    >>> mse(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]]))
    2.5
    """
    with np.errstate(all="ignore"):
        value = float(np.mean((np.asarray(Ypred) - Y) ** 2))
    return value if np.isfinite(value) else float("inf")


def _decorrelation_loss(XS, stride=1):
    """Decorrelation loss of the hidden states, on every ``stride``-th step.

    ``None`` when ``stride`` is 0 (switched off: for very wide networks the
    covariance matrix costs more than the epoch) or too few rows/units remain.
    """
    from streamlearn import decorrelation_loss

    if not stride or XS is None:
        return None
    XS = XS[::stride]
    if XS.shape[0] < 2 or XS.shape[1] < 2:
        return None
    with np.errstate(all="ignore"):
        value = float(decorrelation_loss(XS))
    return value if np.isfinite(value) else float("inf")


def _learn(model, U, Y, stride):
    """learn_many, asking for the hidden states only when they will be used."""
    if stride:
        return model.learn_many(U, Y, return_states=True)
    return model.learn_many(U, Y), None


def _diverged(exc):
    """Short reason from a divergence error (its first sentence, without advice)."""
    return "diverged: " + str(exc).split(" The model")[0]


def instability(model, losses, stability):
    """Return why a run counts as blown up, or ``None`` if it is healthy.

    Parameters
    ----------
    model : object
        Exposes weight matrices ``A``, ``R``, ``B`` and ``D``.
    losses : dict
        Loss values just measured (name -> float).
    stability : dict
        ``max_weight`` and ``max_loss`` thresholds.
    """
    for name, value in losses.items():
        if value is None:
            continue
        if not np.isfinite(value):
            return f"non-finite {name}"
        if value > stability["max_loss"]:
            return f"{name} {value:.3g} > max_loss {stability['max_loss']:.3g}"
    for name in ("A", "R", "B", "D"):
        W = np.asarray(getattr(model, name))
        with np.errstate(all="ignore"):
            biggest = float(np.max(np.abs(W))) if W.size else 0.0
        if not np.isfinite(biggest):
            return f"non-finite weights in {name}"
        if biggest > stability["max_weight"]:
            return f"|{name}| reached {biggest:.3g} > max_weight {stability['max_weight']:.3g}"
    return None


def _recall_metrics(prefix, Ypred, Y, mask):
    """Loss and symbol accuracy on the recall steps of the copying-memory task."""
    Yp, Yt = np.asarray(Ypred)[mask], Y[mask]
    with np.errstate(all="ignore"):
        acc = float(np.mean(np.argmax(Yp, axis=1) == np.argmax(Yt, axis=1)))
    return {f"{prefix}_recall_loss": mse(Yp, Yt), f"{prefix}_recall_accuracy": acc}


def _finalise(status, reason, records, final, started):
    return {
        "status": status,
        "reason": reason,
        "records": records,
        "final": final,
        "seconds": time.perf_counter() - started,
    }


def run_epochs(model, split, *, epochs, final_epochs, stability, progress=None,
               decorrelation_stride=1):
    """The paper's protocol: repeated passes over one training sequence.

    Every epoch resets the hidden state, learns online over the whole training
    sequence, then runs the evaluation sequence *without* learning, continuing
    from the state reached at the end of training (as the authors' code does).

    Parameters
    ----------
    model : OnlineRNN-like
    split : Split
    epochs : int
    final_epochs : int
        ``K``: the final performance is the mean over the last ``K`` epochs.
    stability : dict
        See :func:`instability`.
    progress : callable, optional
        Called as ``progress(epoch, epochs, record)`` after each epoch
        (``epoch`` counts from 1).
    decorrelation_stride : int, default 1
        Measure the decorrelation loss on every ``stride``-th training step
        (0: not at all; the record then holds ``None``).

    Returns
    -------
    dict
        ``status`` ("ok" or "unstable"), ``reason``, ``records`` (one dict per
        completed epoch: ``epoch``, ``train_loss``, ``test_loss``,
        ``decorrelation_loss``, ``seconds``, and recall metrics for masked tasks),
        ``final`` (``final_train_loss``, ``final_test_loss``,
        ``final_decorrelation_loss``, ... or ``None`` values when unstable) and
        ``seconds``.
    """
    started = time.perf_counter()
    records = []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.reset_state()
        try:
            with np.errstate(all="ignore"):
                Ypred, XS = _learn(model, split.U_train, split.Y_train, decorrelation_stride)
                Ytest = model.advance_many(split.U_eval)
        except FloatingPointError as exc:  # the model's own divergence guard
            return _finalise("unstable", f"epoch {epoch}: {_diverged(exc)}", records,
                             _final_of(records, 0, unstable=True), started)
        record = {
            "epoch": epoch,
            "train_loss": mse(Ypred, split.Y_train),
            "test_loss": mse(Ytest, split.Y_eval),
            "decorrelation_loss": _decorrelation_loss(XS, decorrelation_stride),
        }
        if split.mask_train is not None:
            record.update(_recall_metrics("train", Ypred, split.Y_train, split.mask_train))
            record.update(_recall_metrics("test", Ytest, split.Y_eval, split.mask_eval))
        record["seconds"] = time.perf_counter() - t0
        reason = instability(
            model, {k: record[k] for k in ("train_loss", "test_loss")}, stability
        )
        records.append(record)
        if progress is not None:
            progress(epoch, epochs, record)
        if reason is not None:
            return _finalise("unstable", f"epoch {epoch}: {reason}", records,
                             _final_of(records, 0, unstable=True), started)
    return _finalise("ok", None, records, _final_of(records, final_epochs), started)


def _final_of(records, k, unstable=False):
    keys = [key for key in records[0] if key not in ("epoch", "seconds")] if records else []
    if unstable:
        return {f"final_{key}": None for key in keys}
    tail = records[-k:]
    final = {}
    for key in keys:
        values = [r[key] for r in tail if r[key] is not None]
        final[f"final_{key}"] = float(np.mean(values)) if values else None
    return final


def run_prequential(model, split, *, chunk, stability, progress=None, decorrelation_stride=1):
    """One pass over the training then the evaluation sequence: predict, then learn.

    The state is reset once at the start and never again; every prediction is
    made before the model learns from its target, so the loss is an honest
    streaming (test-then-train) figure. The pass is processed in chunks of
    ``chunk`` steps (chunks do not straddle the training/evaluation boundary),
    each giving one record.

    Returns
    -------
    dict
        As :func:`run_epochs`; each record has ``chunk``, ``phase`` ("train" or
        "test"), ``step`` (steps processed so far), ``loss`` (prequential MSE of
        the chunk), ``decorrelation_loss``, ``n_steps`` and ``seconds``. ``final``
        holds ``final_train_loss`` and ``final_test_loss``: the prequential MSE
        over all training and all evaluation steps.
    """
    started = time.perf_counter()
    model.reset_state()
    parts = [("train", split.U_train, split.Y_train), ("test", split.U_eval, split.Y_eval)]
    n_chunks = sum(-(-len(U) // chunk) for _, U, _ in parts)
    records, step, sq_sums = [], 0, {"train": 0.0, "test": 0.0}
    for phase, U, Y in parts:
        for start in range(0, len(U), chunk):
            t0 = time.perf_counter()
            u, y = U[start:start + chunk], Y[start:start + chunk]
            try:
                with np.errstate(all="ignore"):
                    Ypred, XS = _learn(model, u, y, decorrelation_stride)
            except FloatingPointError as exc:  # the model's own divergence guard
                final = {"final_train_loss": None, "final_test_loss": None,
                         "final_decorrelation_loss": None}
                return _finalise("unstable", f"step {step + 1}+: {_diverged(exc)}", records,
                                 final, started)
            loss = mse(Ypred, y)
            step += len(u)
            sq_sums[phase] += loss * len(u)
            record = {
                "chunk": len(records) + 1,
                "phase": phase,
                "step": step,
                "loss": loss,
                "decorrelation_loss": _decorrelation_loss(XS, decorrelation_stride),
                "n_steps": len(u),
                "seconds": time.perf_counter() - t0,
            }
            records.append(record)
            if progress is not None:
                progress(record["chunk"], n_chunks, record)
            reason = instability(model, {"loss": loss}, stability)
            if reason is not None:
                final = {"final_train_loss": None, "final_test_loss": None,
                         "final_decorrelation_loss": None}
                return _finalise("unstable", f"step {step}: {reason}", records, final, started)
    final = {
        "final_train_loss": sq_sums["train"] / len(split.U_train),
        "final_test_loss": sq_sums["test"] / len(split.U_eval),
    }
    values = [r["decorrelation_loss"] for r in records if r["decorrelation_loss"] is not None]
    final["final_decorrelation_loss"] = float(np.mean(values)) if values else None
    return _finalise("ok", None, records, final, started)
