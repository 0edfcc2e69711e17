"""The callback protocol: ``Callback`` (every hook receives a ``logs`` dict), ``CallbackList``
(what fit/evaluate/predict call) and ``History``."""

from __future__ import annotations

import numpy as np

from zerograd.tensor import Tensor


class Callback:
    """Base of callbacks: override the ``on_*`` hooks; ``self.model`` and ``self.params``
    (``{'verbose', 'epochs', 'steps'}``) are set before training starts.

    Example:
        >>> class Print(keras.callbacks.Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(epoch, logs["loss"])
    """

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_batch_begin(self, batch, logs=None):
        """A training batch starts (``on_train_batch_begin`` calls it)."""

    def on_batch_end(self, batch, logs=None):
        """A training batch ended (``on_train_batch_end`` calls it)."""

    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...
    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...


def pythonify_logs(logs) -> dict:
    """Flatten nested result dicts and turn scalar values into Python floats, keys sorted (what
    Keras hands to callbacks)."""
    out: dict = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            out.update(pythonify_logs(value))
            continue
        if isinstance(value, Tensor):
            value = value.numpy()
        if isinstance(value, (np.ndarray, np.generic)) and np.size(value) == 1:
            value = float(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
        out[key] = value
    return out


class History(Callback):
    """``history.history``: a dict of per-epoch lists ('loss', metrics, 'val_...'); ``history.epoch``."""

    def __init__(self):
        super().__init__()
        self.history: dict = {}
        self.epoch: list = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self


class CallbackList(Callback):
    """Calls each callback in turn with flattened Python-float logs; adds ``History`` and, when
    ``verbose``, a ``ProgbarLogger`` at the end (as Keras does)."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        from zerograd.keras.progbar import ProgbarLogger

        if isinstance(callbacks, Callback) and not isinstance(callbacks, CallbackList):
            callbacks = [callbacks]
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks: expected keras.callbacks.Callback objects, received "
                    f"{type(cb).__name__}"
                )
        if add_history and not any(isinstance(c, History) for c in self.callbacks):
            self.callbacks.append(History())
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def set_model(self, model) -> None:
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def _call(self, hook: str, *args, logs=None) -> None:
        logs = pythonify_logs(logs) if hook not in _RAW_LOGS else dict(logs or {})
        for cb in self.callbacks:
            getattr(cb, hook)(*args, logs)
        if hook in _LATE:  # after every callback's hook (BackupAndRestore saves what they set)
            for cb in self.callbacks:
                late = getattr(cb, _LATE[hook], None)
                if late is not None:
                    late(*args, logs)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, logs=logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs=logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs=logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs=logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs=logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs=logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs=logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs=logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs=logs)


# predict's batch logs hold the output arrays: passed as they are
_RAW_LOGS = frozenset({"on_predict_batch_end"})
# hooks a callback may also receive once every callback has run the hook (``_late_on_...``)
_LATE = {h: f"_late_{h}" for h in ("on_epoch_end", "on_train_batch_end")}


def save_due(callback, batch: int) -> bool:
    """For callbacks that save every ``save_freq`` batches (ModelCheckpoint, BackupAndRestore):
    count the batches since the last save from the batch index (which restarts at each epoch, and
    may skip with ``steps_per_execution``), and say whether a save is due (the count then restarts).
    Uses ``callback._since_save`` and ``callback._last_batch``."""
    last = callback._last_batch
    callback._since_save += batch + 1 if last is None or batch <= last else batch - last
    callback._last_batch = batch
    if callback._since_save < callback.save_freq:
        return False
    callback._since_save = 0
    return True
