"""Progress display for experiment runs, drawn with tqdm.

On a terminal two bars are shown: the runs of the experiment and the epochs
(or chunks) of the current run, with its latest losses. Otherwise (a pipe, a
log file, CI) there are no bars, only one line per finished or skipped run, so
logs stay short.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

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
        self._name = ""
        # disable=None: tqdm draws nothing when the stream is not a terminal
        self._bar = tqdm(total=total, desc=f"{label}s", unit=label, file=self.stream,
                         disable=None if enabled else True, dynamic_ncols=True, leave=False)
        self._inner = None

    @property
    def _live(self):
        return not self._bar.disable

    def _line(self, text):
        if not self.enabled:
            return
        if self._live:
            tqdm.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _head(self):
        return f"[{self.done + 1}/{self.total}] {self._name}"

    def _close_inner(self):
        if self._inner is not None:
            self._inner.close()
            self._inner = None

    def start(self, name):
        """A run begins."""
        self._name = name
        self._close_inner()
        if self._live:
            self._inner = tqdm(desc=name, unit="epoch", file=self.stream, position=1,
                               leave=False, dynamic_ncols=True)

    def update(self, i, n, record):
        """Epoch (or chunk) ``i`` of ``n`` finished with metrics ``record``."""
        if self._inner is None:
            return
        if "train_loss" in record:
            metrics = f"train {_fmt(record['train_loss'])} test {_fmt(record['test_loss'])}"
        else:
            self._inner.unit = "chunk"
            metrics = f"{record['phase']} loss {_fmt(record['loss'])}"
        self._inner.total = n
        self._inner.set_postfix_str(metrics, refresh=False)
        self._inner.update(i - self._inner.n)

    def finish(self, status, final, seconds, reason=None):
        """The run ended (``status`` "ok" or "unstable")."""
        self._close_inner()
        tail = f"UNSTABLE ({reason})" if status != "ok" else (
            f"final train {_fmt(final.get('final_train_loss'))} "
            f"test {_fmt(final.get('final_test_loss'))}"
        )
        self._line(f"{self._head()}: {tail} in {seconds:.1f}s")
        self.done += 1
        self._bar.update(1)
        if self.done >= self.total:
            self.close()

    def skip(self, name, status):
        """A finished run was found and reused."""
        self._name = name
        self._line(f"{self._head()}: already done ({status}), skipped")
        self.done += 1
        self._bar.update(1)
        if self.done >= self.total:
            self.close()

    def close(self):
        """Remove the bars (idempotent)."""
        self._close_inner()
        self._bar.close()
