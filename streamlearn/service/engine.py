"""The router: readings to shards, through the durable log, and checkpoints.

It knows nothing of MQTT (``server.py`` feeds it), so the tests, the
throughput measurements and the Dask runs drive it directly too. The shards
live in a *backend*: :class:`LocalShards` (in this process) or
``dask_shards.DaskShards`` (on Dask workers); both restore a shard from its
checkpoint and replay its log.

Order of a batch: sequence numbers are assigned where the payload has none;
the readings are appended to their shards' logs and fsynced; the shards learn
them; only then does the caller acknowledge them to the broker. Order of a
checkpoint: every shard that learned since the last one writes its file
(atomically), then its log is truncated.
"""

from __future__ import annotations

import os

from .log import ReplayLog
from .shard import Shard, shard_of

__all__ = ["Router", "LocalShards"]


class LocalShards:
    """The shards as objects in this process."""

    def __init__(self, cfg):
        self.folder = cfg["checkpoint"]["dir"]
        self.model = {k: v for k, v in cfg["model"].items() if k != "seed"}
        self.seed = cfg["model"].get("seed", 0)
        self.shards = {}

    def start(self, n_shards, replay):
        """Restore every shard from its checkpoint and replay its log; returns the
        results of the replay by shard."""
        out = {}
        for k in range(n_shards):
            self.shards[k] = Shard.restore(self.folder, k, self.model, self.seed)
            out[k] = self.shards[k].learn_batch(replay(k))
        return out

    def last_seqs(self):
        seqs = {}
        for shard in self.shards.values():
            seqs.update(shard.last_seqs())
        return seqs

    def learn(self, groups):
        return {k: self.shards[k].learn_batch(entries) for k, entries in groups.items()}

    def checkpoint(self, shard_ids):
        for k in shard_ids:
            self.shards[k].checkpoint(self.folder)

    def stats(self):
        return _sum_stats(s.__dict__ for s in self.shards.values())

    def close(self):
        pass


def _sum_stats(states):
    total = {"learned": 0, "duplicates": 0, "refused": 0, "sensors": 0}
    for st in states:
        total["learned"] += st["n_learned"]
        total["duplicates"] += st["n_duplicates"]
        total["refused"] += st.get("n_refused", 0)
        total["sensors"] += len(st["learners"]) if "learners" in st else st.get("n_sensors", 0)
    return total


class Router:
    """Sends each reading to its shard (``crc32(sensor) % n_shards``) via the log."""

    def __init__(self, cfg, backend=None):
        self.cfg = cfg
        self.folder = cfg["checkpoint"]["dir"]
        os.makedirs(self.folder, exist_ok=True)
        self.n_shards = cfg["dask"]["n_shards"]
        self.backend = backend if backend is not None else LocalShards(cfg)
        fsync = cfg["checkpoint"]["fsync_log"]
        self.logs = {k: ReplayLog(self.folder, k, fsync) for k in range(self.n_shards)}
        self.dirty = set()
        self.next_seq = {}
        self.n_logged = 0

    def start(self):
        """Restore and replay; returns the replay's results (one list)."""
        replayed = self.backend.start(self.n_shards, lambda k: self.logs[k].read())
        self.dirty = {k for k, r in replayed.items() if r}
        self.next_seq = {}
        for sensor, seq in self.backend.last_seqs().items():
            self.next_seq[sensor] = seq
        return [r for k in sorted(replayed) for r in replayed[k]]

    def process(self, readings):
        """``[(sensor, value, features, seq or None), ...]`` -> learned results
        ``[(sensor, seq, n_steps, forecasts), ...]``; the readings are in the log
        (fsynced) before any is learned."""
        groups = {}
        for sensor, value, features, seq in readings:
            if seq is None:  # the broker's order: one more than the last one seen
                last = self.next_seq.get(sensor)
                seq = 0 if last is None else int(last) + 1
            last = self.next_seq.get(sensor)
            if last is None or seq > last:
                self.next_seq[sensor] = seq
            groups.setdefault(shard_of(sensor, self.n_shards), []).append(
                (sensor, value, features, seq))
        for k, entries in groups.items():
            self.logs[k].append(entries)
            self.n_logged += len(entries)
        self.dirty.update(groups)
        if not groups:
            return []
        results = self.backend.learn(groups)
        return [r for k in groups for r in results[k]]

    def checkpoint(self):
        """Checkpoint every shard that learned since the last checkpoint, then
        truncate its log. Returns the number of shards written."""
        written = sorted(self.dirty)
        if written:
            self.backend.checkpoint(written)
            for k in written:
                self.logs[k].truncate()
        self.dirty = set()
        return len(written)

    def stats(self):
        return self.backend.stats()

    def close(self):
        for log in self.logs.values():
            log.close()
        self.backend.close()
