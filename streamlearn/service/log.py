"""The durable replay log: per shard, append-only, fsynced per batch, truncated
after each checkpoint of the shard.

Each line is one reading as JSON, ``[sensor, value, features, seq]``. A
reading is written (and fsynced) here before the broker is told it arrived
(PUBACK), so after any crash the readings since the shard's last checkpoint
are in the log or still with the broker. A torn last line (a crash in the
middle of a write) belongs to a reading the broker was never told about, and
is skipped on reading.
"""

from __future__ import annotations

import json
import os

__all__ = ["ReplayLog"]


class ReplayLog:
    def __init__(self, folder, shard_id, fsync=True):
        self.path = os.path.join(os.fspath(folder), f"shard-{int(shard_id):03d}.log")
        self.fsync = fsync
        self._f = open(self.path, "ab")

    def append(self, readings):
        """Append ``[(sensor, value, features, seq), ...]``; durable when this returns."""
        if not readings:
            return
        data = "".join(json.dumps(list(r), separators=(",", ":")) + "\n" for r in readings)
        self._f.write(data.encode("utf-8"))
        self._f.flush()
        if self.fsync:
            os.fsync(self._f.fileno())

    def read(self):
        """The readings in the log, in order (a torn last line is left out)."""
        out = []
        with open(self.path, "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break
                try:
                    sensor, value, features, seq = json.loads(line)
                except ValueError:
                    break
                out.append((sensor, value, features, seq))
        return out

    def truncate(self):
        """Empty the log (after the shard's checkpoint holds all of it)."""
        self._f.truncate(0)
        self._f.seek(0)
        if self.fsync:
            os.fsync(self._f.fileno())

    def close(self):
        self._f.close()
