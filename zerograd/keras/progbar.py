"""The progress display of fit/evaluate/predict, shaped as Keras's: ``verbose=1`` a live bar per
epoch, ``verbose=2`` one line per epoch, ``verbose=0`` nothing."""

from __future__ import annotations

import sys
import time

import numpy as np

from zerograd.keras.callback_base import Callback

BAR_WIDTH = 20


def _format_value(v) -> str:
    if isinstance(v, np.ndarray):  # a per-class metric: the bar shows its mean, as Keras's
        v = float(v.mean())
    if isinstance(v, float):
        return f"{v:.4f}" if v == 0 or abs(v) >= 1e-3 else f"{v:.4e}"
    return str(v)


def _per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progbar:
    """``update(current, values, finalize)`` writes ``7/10 ━━━━━━━━━━━━━━━━━━━━ 0s 3ms/step -
    loss: 0.1234`` (verbose 1, redrawn) or one closing line (verbose 2) to ``sys.stdout``."""

    def __init__(self, target=None, verbose: int = 1, interval: float = 0.05):
        self.target, self.verbose, self.interval = target, verbose, interval
        self.start, self.last = time.time(), 0.0  # the first update always shows
        self.seen = 0

    def _metrics(self, values) -> str:
        return "".join(f" - {k}: {_format_value(v)}" for k, v in values)

    def update(self, current: int, values=(), finalize: bool = False) -> None:
        now = time.time()
        self.seen = current
        elapsed = now - self.start
        step_time = _per_step(elapsed / max(current, 1))
        stream = sys.stdout
        if self.verbose == 1:
            # on a terminal the line is redrawn in place; in a log file only the epoch's last
            # line is written, as Keras does
            dynamic = getattr(stream, "isatty", lambda: False)()
            if not finalize and (not dynamic or now - self.last < self.interval):
                return
            self.last = now
            if self.target:
                done = int(BAR_WIDTH * min(current, self.target) / self.target)
                bar = "━" * done + " " * (BAR_WIDTH - done)
                head = f"{current}/{self.target} {bar}"
            else:
                head = f"{current}/Unknown"
            line = f"{head} {elapsed:.0f}s {step_time}{self._metrics(values)}"
            if dynamic:
                stream.write(f"\r{line}" + ("\n" if finalize else ""))
            else:
                stream.write(f"{line}\n")
        elif self.verbose == 2 and finalize:
            target = self.target or current
            stream.write(
                f"{target}/{target} - {elapsed:.0f}s - {step_time}{self._metrics(values)}\n"
            )
        stream.flush()


class ProgbarLogger(Callback):
    """Prints progress: the epoch header (``Epoch 2/5``) and a Progbar per epoch, evaluate or
    predict run, following ``params['verbose']``."""

    def __init__(self):
        super().__init__()
        self.progbar, self.seen, self.target = None, 0, None
        self.verbose, self.epochs, self._in_fit = 1, 1, False

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs, self.target = params.get("epochs", 1), params.get("steps")

    def _start(self) -> None:
        self.seen, self.progbar = 0, Progbar(self.target, self.verbose)

    def _update(self, batch, logs) -> None:
        if self.progbar is None:
            self._start()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()))

    def _finish(self, logs) -> None:
        if self.progbar is None:
            self._start()
        target = self.target or self.seen
        self.progbar.target = target
        self.progbar.update(target, list((logs or {}).items()), finalize=True)
        self.progbar = None

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._start()
        if self.verbose and self.epochs > 1:
            sys.stdout.write(f"Epoch {epoch + 1}/{self.epochs}\n")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._start()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finish(logs)

    def on_predict_begin(self, logs=None):
        self._start()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_predict_end(self, logs=None):
        self._finish(None)
