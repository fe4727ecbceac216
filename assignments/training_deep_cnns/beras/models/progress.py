"""Keras's progress bar (``verbose=1`` / ``2``), ``History`` and the callback calls of ``fit``."""
from __future__ import annotations

import sys
import time

def _format_value(v):
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def _format_per_step(seconds):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class ProgressBar:
    """Keras's progress bar: ``45/45 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - accuracy: 0.9 - loss: 0.3``.

    Redrawn in place (at most every 50 ms) on a terminal or in Jupyter; elsewhere (logs, pipes)
    printed once when finished. verbose=2 prints one line per epoch without the bar.
    """

    def __init__(self, target, verbose=1, width=20, stream=None):
        self.target, self.verbose, self.width = target, verbose, width
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.dynamic = (hasattr(self.stream, "isatty") and self.stream.isatty()) or "ipykernel" in sys.modules
        self._drawn = 0

    def update(self, step, logs=None, finalize=False):
        if not self.verbose or (self.verbose == 2 and not finalize):
            return
        now = time.perf_counter()
        if not finalize and (not self.dynamic or now - self.last_draw < 0.05):
            return
        self.last_draw = now
        elapsed = now - self.start
        per_step = elapsed / max(step, 1)
        values = "".join(f" - {k}: {_format_value(v)}" for k, v in (logs or {}).items())
        if self.verbose == 2:
            line = f"{step}/{self.target} - {elapsed:.0f}s - {_format_per_step(per_step)}{values}"
        else:
            filled = int(self.width * step / self.target) if self.target else self.width
            bar = "━" * filled + "─" * (self.width - filled)
            shown = elapsed if finalize else per_step * (self.target - step)  # total, or the ETA
            line = f"{step}/{self.target} {bar} {shown:.0f}s {_format_per_step(per_step)}{values}"
        pad = " " * max(self._drawn - len(line), 0)
        self._drawn = len(line)
        prefix = "\r" if self.dynamic and self.verbose == 1 else ""
        self.stream.write(prefix + line + pad + ("\n" if finalize else ""))
        self.stream.flush()


class History:
    """Returned by ``fit``: ``history`` maps each log key ('loss', 'accuracy', 'val_loss', ...) to
    its per-epoch values; ``epoch`` lists the epoch indices; ``params`` the fit settings."""

    def __init__(self):
        self.history, self.epoch, self.params, self.model = {}, [], {}, None

    def _record(self, epoch, logs):
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self):
        return f"<beras History epochs={len(self.epoch)} keys={list(self.history)}>"


def _callback(callbacks, method, *args):
    for cb in callbacks:
        fn = getattr(cb, method, None)
        if fn is not None:
            fn(*args)
