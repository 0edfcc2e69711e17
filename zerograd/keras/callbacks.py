"""Keras callbacks: the protocol (``Callback``, ``CallbackList``, ``History``), the progress
display, the monitoring callbacks (EarlyStopping, ModelCheckpoint, ReduceLROnPlateau),
BackupAndRestore and LambdaCallback, LearningRateScheduler, CSVLogger, TerminateOnNaN."""

from __future__ import annotations

import csv
import inspect
import os
import sys

import numpy as np

from zerograd.keras.backup import BackupAndRestore
from zerograd.keras.callback_base import Callback, CallbackList, History
from zerograd.keras.monitor_callbacks import (
    EarlyStopping,
    ModelCheckpoint,
    MonitorCallback,
    ReduceLROnPlateau,
)
from zerograd.keras.progbar import ProgbarLogger
from zerograd.keras.tensorboard import TensorBoard  # noqa: F401 - keras.callbacks.TensorBoard

__all__ = [
    "BackupAndRestore",
    "Callback",
    "CallbackList",
    "CSVLogger",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "MonitorCallback",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``; any
    other ``on_*`` hook may be given by keyword too."""

    _HOOKS = (
        "on_epoch_begin",
        "on_epoch_end",
        "on_train_begin",
        "on_train_end",
        "on_train_batch_begin",
        "on_train_batch_end",
    )

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        given = dict(
            zip(
                self._HOOKS,
                (
                    on_epoch_begin,
                    on_epoch_end,
                    on_train_begin,
                    on_train_end,
                    on_train_batch_begin,
                    on_train_batch_end,
                ),
            )
        )
        for name, fn in kwargs.items():
            if not (name.startswith("on_") and hasattr(Callback, name)):
                raise TypeError(
                    f"LambdaCallback: unexpected keyword argument {name!r} (expected on_* hooks)"
                )
            given[name] = fn
        for name, fn in given.items():
            if fn is not None and not callable(fn):
                raise TypeError(
                    f"LambdaCallback: {name} must be a function or None, received "
                    f"{type(fn).__name__} {fn!r}"
                )
            if fn is not None:
                setattr(self, name, fn)


class LearningRateScheduler(Callback):
    """``schedule(epoch, lr) -> new lr`` (or ``schedule(epoch)``) at the start of each epoch."""

    def __init__(self, schedule, verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                "LearningRateScheduler: schedule must be a function schedule(epoch, lr) -> lr, "
                f"received {type(schedule).__name__} {schedule!r}"
            )
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        lr = float(opt.learning_rate)
        try:
            takes_lr = len(inspect.signature(self.schedule).parameters) > 1
        except (TypeError, ValueError):
            takes_lr = True
        new = self.schedule(epoch, lr) if takes_lr else self.schedule(epoch)
        try:
            new = float(np.asarray(new))
        except (TypeError, ValueError):
            raise ValueError(
                "LearningRateScheduler: the output of the schedule function should be a float, "
                f"received {type(new).__name__} {new!r} for epoch {epoch}"
            ) from None
        if not np.isfinite(new):
            raise ValueError(
                f"LearningRateScheduler: the schedule returned {new} for epoch {epoch}; expected "
                "a finite float"
            )
        opt.learning_rate = new
        if self.verbose > 0:
            sys.stdout.write(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {new}.\n"
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class CSVLogger(Callback):
    """One CSV row per epoch (``epoch`` then the log keys, sorted)."""

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(
                f"CSVLogger: filename must be a path (str or os.PathLike), received "
                f"{type(filename).__name__} {filename!r}"
            )
        if not isinstance(separator, str) or len(separator) != 1:
            raise TypeError(
                f"CSVLogger: separator must be a one-character string, received {separator!r}"
            )
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self.file = None

    def on_train_begin(self, logs=None):
        self.keys = None
        self._new = not (self.append and os.path.exists(self.filename))
        folder = os.path.dirname(os.path.abspath(self.filename))
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                f"CSVLogger: cannot write {self.filename!r}: the directory {folder!r} does not "
                "exist"
            )
        try:
            self.file = open(self.filename, "a" if self.append else "w", newline="")
        except OSError as e:
            raise type(e)(
                e.errno, f"CSVLogger: cannot open {self.filename!r} for writing: {e.strerror}"
            ) from e

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self.writer = csv.writer(self.file, delimiter=self.separator)
            if self._new:
                self.writer.writerow(["epoch", *self.keys])
        self.writer.writerow([epoch, *[logs.get(k, "NA") for k in self.keys]])
        self.file.flush()

    def on_train_end(self, logs=None):
        if self.file is not None:
            self.file.close()
            self.file = None


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite (``raise_error=True``: raise a
    RuntimeError instead of stopping quietly)."""

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(
                    f"TerminateOnNaN: NaN or Inf loss encountered at batch {batch} "
                    f"(loss={loss}); terminating training"
                )
            sys.stdout.write(f"Batch {batch}: Invalid loss, terminating training\n")
            self.model.stop_training = True
