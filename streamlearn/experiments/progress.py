"""Progress display for experiment runs (plain text on a stream, no dependencies).

On a terminal the current run's line is rewritten in place after every epoch;
otherwise (a log file, CI) a line is printed at the start and end of each run
and about every tenth of its epochs, so logs stay short.
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


def _fmt(value):
    return "-" if value is None else f"{value:.4g}"


class Progress:
    """Report runs of an experiment as they start, advance and finish.

    Parameters
    ----------
    total : int
        Number of runs planned.
    stream : file-like, default sys.stderr
    enabled : bool, default True
        ``False`` silences everything.
    label : str, default "run"
        Word used in the messages ("run", "trial").
    """

    def __init__(self, total, stream=None, enabled=True, label="run"):
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.label = label
        self.done = 0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._t0 = None
        self._name = ""

    def _write(self, text, end="\n"):
        if self.enabled:
            self.stream.write(text + end)
            self.stream.flush()

    def _head(self):
        return f"[{self.done + 1}/{self.total}] {self._name}"

    def start(self, name):
        """A run begins."""
        self._name = name
        self._t0 = time.perf_counter()
        if not self._tty:
            self._write(f"{self._head()}: started")

    def update(self, i, n, record):
        """Epoch (or chunk) ``i`` of ``n`` finished with metrics ``record``."""
        elapsed = time.perf_counter() - self._t0
        if "train_loss" in record:
            metrics = f"train {_fmt(record['train_loss'])} test {_fmt(record['test_loss'])}"
        else:
            metrics = f"{record['phase']} loss {_fmt(record['loss'])}"
        eta = elapsed / i * (n - i)
        text = f"{self._head()}: {i}/{n} {metrics} ({elapsed:.0f}s, ~{eta:.0f}s left)"
        if self._tty:
            self._write("\r" + text + "\x1b[K", end="")
        elif i == n or i == 1 or i % max(1, n // 10) == 0:
            self._write(text)

    def finish(self, status, final, seconds, reason=None):
        """The run ended (``status`` "ok" or "unstable")."""
        if self._tty:
            self._write("\r\x1b[K", end="")
        tail = f"UNSTABLE ({reason})" if status != "ok" else (
            f"final train {_fmt(final.get('final_train_loss'))} "
            f"test {_fmt(final.get('final_test_loss'))}"
        )
        self._write(f"{self._head()}: {tail} in {seconds:.1f}s")
        self.done += 1

    def skip(self, name, status):
        """A finished run was found and reused."""
        self._name = name
        self._write(f"{self._head()}: already done ({status}), skipped")
        self.done += 1
