"""Callbacks that watch one logged quantity: ``EarlyStopping``, ``ModelCheckpoint`` and
``ReduceLROnPlateau``, sharing ``MonitorCallback`` (mode auto/min/max, ``min_delta``, baseline)."""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

from zerograd.keras.callback_base import Callback, save_due
from zerograd.ops import argcheck

# metric names whose larger values are better, for mode="auto" (Keras reads the metric's direction)
_UP = ("acc", "auc", "precision", "recall", "f1", "f_beta", "iou", "specificity", "sensitivity")
_DOWN = ("loss", "error", "crossentropy", "hinge", "divergence", "mse", "mae", "mape", "msle")


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")


class MonitorCallback(Callback):
    """Base of callbacks watching ``monitor``: ``_is_improvement(current, reference)`` with
    ``mode`` ('auto' guesses the direction from the metric), ``min_delta`` and a ``baseline``."""

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(
                f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', received {mode!r}"
            )
        if not isinstance(monitor, str):
            raise TypeError(
                f"{type(self).__name__}: monitor must be the name of a logged quantity (a str), "
                f"received {type(monitor).__name__} {monitor!r}"
            )
        _check_number(self, "min_delta", min_delta)
        self.monitor, self.mode, self.best = monitor, mode, baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _ensure_monitor_op(self) -> None:
        # as Keras: settle the direction at the first epoch end (the metrics are built by then),
        # so an unknown monitor under mode='auto' fails even when it is missing from the logs
        if self.monitor_op is None:
            self._set_monitor_op()

    def _direction(self) -> str:
        if self.mode != "auto":
            return self.mode
        name = self.monitor.removeprefix("val_")
        if name == "loss":
            return "min"
        for m in _flat_metrics(self.model):
            if m.name == name and getattr(m, "_direction", None) in ("up", "down"):
                return "max" if m._direction == "up" else "min"
        if any(w in name for w in _UP):
            return "max"
        if any(w in name for w in _DOWN):
            return "min"
        raise ValueError(
            f"{type(self).__name__} received monitor={self.monitor!r} and cannot tell whether it "
            "should be maximized or minimized; pass mode='max' or mode='min'"
        )

    def _set_monitor_op(self) -> None:
        self.monitor_op = self._direction()

    def _is_improvement(self, current, reference) -> bool:
        """Better than ``reference`` by more than ``min_delta`` (None: anything is better)."""
        if self.monitor_op is None:
            self._set_monitor_op()
        if reference is None:
            return True
        if self.monitor_op == "min":
            return current + self.min_delta < reference
        return current - self.min_delta > reference

    def _current(self, logs, what: str):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{what} conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs or {})}",
                stacklevel=3,
            )
        return value


def _check_number(cb, name: str, value, minimum=None, integer: bool = False) -> None:
    owner = type(cb).__name__
    if not integer:
        argcheck.number(owner, name, value, minimum, finite=True)
        return
    if isinstance(value, (float, np.floating)) and value.is_integer():
        value = int(value)  # patience=2.0 is taken, as Keras takes it
    argcheck.integer(owner, name, value, minimum)


def _flat_metrics(model) -> list:
    out = []
    for m in getattr(model, "metrics", None) or []:
        out.extend(getattr(m, "metrics", None) or [m])
    return out


class EarlyStopping(MonitorCallback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs; with
    ``restore_best_weights`` the best epoch's weights are put back when training ends."""

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        _check_number(self, "patience", patience, 0, integer=True)
        _check_number(self, "start_from_epoch", start_from_epoch, 0, integer=True)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.wait, self.stopped_epoch, self.best_weights, self.best_epoch = 0, 0, None, 0

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best, self.best_weights, self.best_epoch = (
            0,
            0,
            None,
            None,
            0,
        )

    def on_epoch_end(self, epoch, logs=None):
        self._ensure_monitor_op()
        current = self._current(logs, "Early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _say(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _say(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(MonitorCallback):
    """Save the model (``.keras``) or its weights (``.weights.h5``) every epoch or every
    ``save_freq`` batches, or only on improvement; ``filepath`` may hold ``{epoch:02d}``,
    ``{batch}`` and log keys such as ``{val_loss:.2f}``."""

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode, initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only = verbose, save_best_only
        self.save_weights_only, self.save_freq = save_weights_only, save_freq
        self._since_save, self._last_batch, self._epoch = 0, None, 0
        if save_freq != "epoch" and (not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(
                "ModelCheckpoint: save_freq must be 'epoch' or a positive number of batches, "
                f"received {save_freq!r}"
            )
        if save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError(
                "ModelCheckpoint: with save_weights_only=True the filepath must end in "
                f"'.weights.h5', received filepath={self.filepath!r}"
            )
        if not save_weights_only and not self.filepath.endswith((".keras", ".h5")):
            raise ValueError(
                "ModelCheckpoint: the filepath must end in '.keras' (the model format), "
                f"received filepath={self.filepath!r}"
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq != "epoch" and save_due(self, batch):
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _path(self, epoch, batch, logs) -> str:
        keys = dict(logs or {})
        if batch is not None and "batch" not in keys:
            keys["batch"] = batch + 1
        try:
            return self.filepath.format(epoch=epoch + 1, **keys)
        except KeyError as e:
            raise KeyError(
                f"ModelCheckpoint: cannot format filepath {self.filepath!r}: no value for "
                f"{e.args[0]!r}; the available keys are {['epoch', *keys]}"
            ) from None
        except (IndexError, ValueError) as e:  # "{}" or a format spec that does not fit a value
            raise ValueError(
                f"ModelCheckpoint: cannot format filepath {self.filepath!r} with the keys "
                f"{['epoch', *keys]}: {e}"
            ) from None

    def _save(self, epoch, batch, logs) -> None:
        path = self._path(epoch, batch, logs)
        if self.save_best_only:
            current = (logs or {}).get(self.monitor)
            if current is None:
                warnings.warn(
                    f"Can save best model only with {self.monitor} available.", stacklevel=3
                )
            elif not self._is_improvement(current, self.best):
                if self.verbose > 0:
                    _say(
                        f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}"
                    )
                return
            else:
                if self.verbose > 0:
                    best = "None" if self.best is None else f"{self.best:.5f}"
                    _say(
                        f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                        f"{current:.5f}, saving model to {path}"
                    )
                self.best = current
        elif self.verbose > 0:
            _say(f"\nEpoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` once ``monitor`` has stalled for ``patience``
    epochs (then wait ``cooldown`` epochs); never below ``min_lr``."""

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        _check_number(self, "factor", factor, 0.0)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1.0, received factor={factor}")
        _check_number(self, "patience", patience, 0, integer=True)
        _check_number(self, "cooldown", cooldown, 0, integer=True)
        _check_number(self, "min_lr", min_lr, 0.0)
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr
        self.wait = self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        self._ensure_monitor_op()
        current = self._current(logs, "Learning rate reduction")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(optimizer.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    optimizer.learning_rate = new
                    if self.verbose > 0:
                        _say(
                            f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}."
                        )
                    self.cooldown_counter, self.wait = self.cooldown, 0
