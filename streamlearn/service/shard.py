"""A shard: the learners of a set of sensors, one RNNForecaster each.

The small interface the service needs from "many learners" (a fleet class
can replace it behind the same methods): :meth:`Shard.learn` one reading,
:meth:`Shard.learn_batch`, :meth:`Shard.checkpoint` and :meth:`Shard.restore`.

Everything is a stable function of the configuration and the sensor ids, never
of the process: a sensor's shard is ``crc32(id) % n_shards`` and its learner's
seed ``crc32(f"{seed}/{id}")``, so a restart or a move of a shard to another
Dask worker rebuilds exactly the same learners.
"""

from __future__ import annotations

import os
import zlib

from .. import checkpoint as _ckpt
from ..forecaster import RNNForecaster
from ..online_rnn import DivergenceError

__all__ = ["Shard", "shard_of", "sensor_seed", "shard_path"]


def shard_of(sensor, n_shards):
    """The shard of a sensor id: stable across processes and machines (not ``hash``)."""
    return zlib.crc32(sensor.encode("utf-8")) % int(n_shards)


def sensor_seed(seed, sensor):
    """The seed of a sensor's learner: a stable function of (config seed, sensor id)."""
    return zlib.crc32(f"{int(seed)}/{sensor}".encode("utf-8"))


def shard_path(folder, shard_id):
    return os.path.join(os.fspath(folder), f"shard-{int(shard_id):03d}.ckpt")


class Shard:
    """The learners of one shard of sensors, and the last sequence number each learned.

    ``model`` holds the keyword arguments of :class:`RNNForecaster` (without
    ``seed``); ``seed`` is the configuration's seed.
    """

    def __init__(self, shard_id, model, seed=0):
        self.shard_id = int(shard_id)
        self.model = dict(model)
        self.model.pop("seed", None)
        self.seed = int(seed)
        self.horizon = int(self.model.get("max_horizon", 12))
        self.learners = {}
        self.last_seq = {}
        self.n_learned = 0
        self.n_duplicates = 0
        self.n_refused = 0

    # -- learning --------------------------------------------------------------

    def learner(self, sensor):
        model = self.learners.get(sensor)
        if model is None:
            model = RNNForecaster(**self.model, seed=sensor_seed(self.seed, sensor))
            self.learners[sensor] = model
        return model

    def learn(self, sensor, value, features, seq):
        """Learn one reading; returns ``(n_steps, forecasts 1..H)``, or None for a
        reading whose sequence number is not beyond the last one learned (a
        duplicate or a replay of what the checkpoint already holds)."""
        last = self.last_seq.get(sensor)
        if last is not None and seq <= last:
            self.n_duplicates += 1
            return None
        model = self.learner(sensor)
        self.last_seq[sensor] = seq  # a refused step is not retried either
        try:
            model.learn_one(value, features or None)
        except (DivergenceError, ValueError, TypeError):
            self.n_refused += 1  # the learner undid the step itself (docs/reliability.md)
            return None
        self.n_learned += 1
        return model.n_steps, model.forecast(self.horizon)

    def learn_batch(self, readings):
        """Learn ``[(sensor, value, features, seq), ...]`` in order; returns
        ``[(sensor, seq, n_steps, forecasts), ...]`` for the readings learned."""
        out = []
        for sensor, value, features, seq in readings:
            r = self.learn(sensor, value, features, seq)
            if r is not None:
                out.append((sensor, seq, r[0], r[1]))
        return out

    def last_seqs(self):
        return dict(self.last_seq)

    # -- checkpoints -----------------------------------------------------------

    def checkpoint(self, folder):
        """Write the whole shard atomically to ``folder/shard-NNN.ckpt``; returns the path."""
        path = shard_path(folder, self.shard_id)
        _ckpt.save(self, path)
        return path

    @classmethod
    def restore(cls, folder, shard_id, model, seed=0):
        """The shard from its checkpoint in ``folder``, or a new one if there is none."""
        path = shard_path(folder, shard_id)
        if not os.path.exists(path):
            return cls(shard_id, model, seed)
        shard = _ckpt.load(path, expected=cls)
        if shard.shard_id != int(shard_id):
            raise _ckpt.CheckpointError(f"{path!r} holds shard {shard.shard_id}, not {shard_id}")
        return shard
