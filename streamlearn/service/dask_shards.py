"""Shards on Dask distributed workers, restored elsewhere when a worker dies.

Each shard is a Dask actor (:class:`ShardActor`, holding a
:class:`~streamlearn.service.shard.Shard`) on one worker: shard ``k`` starts on
the ``k % n``-th worker. The router sends each shard its part of a batch; the
shards of different workers learn in parallel. Every shard writes its
checkpoint into the shared checkpoint folder (a local folder with a
``LocalCluster``; on a real cluster a folder every worker and the router
mount at the same path).

A worker that dies (a killed process, a lost machine) takes its actors with
it: the call fails, the router starts the shard again on a live worker from
its last checkpoint and replays the shard's log (which holds everything since
that checkpoint, the failed batch included), so the shard ends where it would
have ended without the failure, bit for bit.
"""

from __future__ import annotations

import logging
import os
import time

from .shard import Shard

__all__ = ["ShardActor", "DaskShards"]

logger = logging.getLogger("streamlearn.service")


class ShardActor:
    """A shard living on a Dask worker."""

    def __init__(self, folder, shard_id, model, seed):
        self.folder = folder
        self.shard = Shard.restore(folder, shard_id, model, seed)

    def learn_batch(self, readings):
        return self.shard.learn_batch(readings)

    def checkpoint(self):
        self.shard.checkpoint(self.folder)
        return True

    def last_seqs(self):
        return self.shard.last_seqs()

    def stats(self):
        s = self.shard
        return {"n_learned": s.n_learned, "n_duplicates": s.n_duplicates,
                "n_refused": s.n_refused, "n_sensors": len(s.learners)}

    def pid(self):
        return os.getpid()


class DaskShards:
    """The shard backend of :class:`~streamlearn.service.engine.Router` on Dask.

    ``cfg["dask"]["scheduler"]``: a scheduler address, or None for a
    ``LocalCluster(host="127.0.0.1", n_workers=cfg["dask"]["n_workers"])`` of
    worker processes that this object starts and stops. ``client``: an existing
    ``distributed.Client`` instead (the tests).
    """

    def __init__(self, cfg, client=None, timeout=120.0):
        self.folder = os.path.abspath(cfg["checkpoint"]["dir"])
        self.model = {k: v for k, v in cfg["model"].items() if k != "seed"}
        self.seed = cfg["model"].get("seed", 0)
        self.timeout = timeout
        self._cluster = None
        self._own_client = client is None
        import dask
        import distributed  # noqa: F401 (loads distributed's configuration)

        if logging.getLogger("distributed").getEffectiveLevel() < logging.WARNING:
            logging.getLogger("distributed").setLevel(logging.WARNING)  # its INFO is chatty

        # a call to a dead worker's actor fails after this (Dask's default is 30 s)
        if dask.config.get("distributed.comm.timeouts.connect") in ("30s", 30):
            dask.config.set({"distributed.comm.timeouts.connect": "5s"})
        if client is None:
            from distributed import Client, LocalCluster

            d = cfg["dask"]
            if d["scheduler"]:
                client = Client(d["scheduler"], timeout=timeout)
            else:
                self._cluster = LocalCluster(host="127.0.0.1", n_workers=d["n_workers"],
                                             threads_per_worker=1, processes=True,
                                             dashboard_address="127.0.0.1:0")
                client = Client(self._cluster)
        self.client = client
        self.actors = {}
        self.n_restores = 0
        self._replay = None

    def _workers(self):
        return sorted(self.client.scheduler_info()["workers"])

    def _place(self, k, exclude=()):
        deadline = time.monotonic() + self.timeout
        while True:
            workers = [w for w in self._workers() if w not in exclude]
            if workers:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("no Dask worker is alive to hold the shard")
            time.sleep(0.2)
        worker = workers[k % len(workers)]
        future = self.client.submit(ShardActor, self.folder, k, self.model, self.seed,
                                    actor=True, workers=[worker], allow_other_workers=True,
                                    pure=False, key=f"shard-{k}-{time.monotonic_ns()}")
        actor = future.result(timeout=self.timeout)
        self.actors[k] = (actor, future, worker)
        return actor

    def start(self, n_shards, replay):
        self._replay = replay
        for k in range(n_shards):
            self._place(k)
        return self._run({k: replay(k) for k in range(n_shards)}, "learn_batch")

    def _run(self, groups, method):
        """Call ``method`` on the shards of ``groups`` in parallel; restore any shard
        whose worker died, then replay its log."""
        calls = {}
        for k, arg in groups.items():
            actor = self.actors[k][0]
            try:
                calls[k] = getattr(actor, method)(arg) if method == "learn_batch" \
                    else getattr(actor, method)()
            except Exception as exc:  # noqa: BLE001 (the worker is gone already)
                calls[k] = exc
        out = {}
        for k, call in calls.items():
            try:
                if isinstance(call, Exception):
                    raise call
                out[k] = call.result(timeout=self.timeout)
            except Exception as exc:  # noqa: BLE001 (a lost worker shows as many kinds)
                out[k] = self._recover(k, groups[k], method, exc)
        return out

    def _recover(self, k, arg, method, exc):
        _, _, worker = self.actors[k]
        logger.warning("shard %d on %s failed (%s: %s); restoring it from its checkpoint on "
                       "another worker", k, worker, type(exc).__name__, str(exc)[:100])
        self.n_restores += 1
        actor = self._place(k, exclude={worker})
        entries = self._replay(k)  # everything since the checkpoint, this batch included
        results = actor.learn_batch(entries).result(timeout=self.timeout)
        if method == "learn_batch":
            wanted = {(r[0], r[3]) for r in arg}
            return [r for r in results if (r[0], r[1]) in wanted]
        return getattr(actor, method)().result(timeout=self.timeout)

    def learn(self, groups):
        return self._run(groups, "learn_batch")

    def checkpoint(self, shard_ids):
        self._run({k: None for k in shard_ids}, "checkpoint")

    def last_seqs(self):
        seqs = {}
        for part in self._run({k: None for k in self.actors}, "last_seqs").values():
            seqs.update(part)
        return seqs

    def stats(self):
        from .engine import _sum_stats
        return _sum_stats(self._run({k: None for k in self.actors}, "stats").values())

    def pids(self):
        return self._run({k: None for k in self.actors}, "pid")

    def close(self):
        if self._own_client:
            self.client.close()
            if self._cluster is not None:
                self._cluster.close()
