"""``BackupAndRestore``: back up a training run so that, killed at any moment and started again
with the same command, ``fit`` carries on where the last backup left it and ends with the same
parameters, bit for bit, as a run never interrupted.

The backup (``training_state``) holds the weights, the optimizer's state, the metrics, every random
generator, the epoch and the step, and the random state at the start of the epoch: a run resumed
mid-epoch draws the epoch's shuffle order again from it, skips the steps already done, then takes
the random state of the backup's moment and goes on.

Exact for the same model, compile and fit arguments, on array data (or a PyDataset) without
``steps_per_epoch`` (with it, an epoch may start mid-way through a pass over the data, and the
pass's shuffle order is not replayed). The state of other callbacks (EarlyStopping's patience
count, ReduceLROnPlateau's) is not backed up, as in Keras; the learning rate they set is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from zerograd import backend
from zerograd.autograd import no_grad
from zerograd.io.atomic import atomic_path, clean_stale_temps
from zerograd.io.errors import FileFormatError
from zerograd.keras import training_state as ts
from zerograd.keras.callback_base import Callback, save_due

_FILE = "latest.safetensors"


class BackupAndRestore(Callback):
    """Back up the training state to ``backup_dir`` at the end of each epoch (or every
    ``save_freq`` batches); a later ``fit`` with the callback restores it and resumes at the epoch
    and step of the backup. When ``fit`` ends normally the backup is deleted
    (``delete_checkpoint``). With ``double_checkpoint`` the previous backup is kept too and used
    when the latest cannot be read.

    Args:
        backup_dir: a folder used by this callback alone.
        save_freq: ``"epoch"`` or a number of batches.
        double_checkpoint: keep the previous backup as ``latest.safetensors.bkp``.
        delete_checkpoint: delete ``backup_dir`` when training ends.

    Example:
        >>> cb = keras.callbacks.BackupAndRestore("/tmp/backup", save_freq=100)
        >>> model.fit(x, y, epochs=10, callbacks=[cb])  # killed? run it again: it resumes
    """

    def __init__(
        self,
        backup_dir,
        save_freq="epoch",
        double_checkpoint: bool = False,
        delete_checkpoint: bool = True,
    ):
        super().__init__()
        if not backup_dir:
            raise ValueError(
                f"BackupAndRestore: backup_dir must name a folder, received {backup_dir!r}"
            )
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1
        ):
            raise ValueError(
                "BackupAndRestore: save_freq must be 'epoch' or a positive number of batches, "
                f"received save_freq={save_freq!r}"
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._path = Path(self.backup_dir) / _FILE
        self._prev_path = Path(self.backup_dir) / (_FILE + ".bkp")
        self._epoch, self._since_save, self._last_batch = 0, 0, None
        self._epoch_rng = None
        self._history: dict = {}
        self.restored_history: dict = {}  # per-epoch logs of the epochs before the interruption

    # --- restoring -----------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._epoch, self._since_save, self._last_batch = 0, 0, None
        self._history, self.restored_history = {}, {}
        self.model.__dict__.pop("_backup_resume", None)  # one left by a fit that failed early
        self._remove_stale_temps()
        loaded = self._load()
        if loaded is None:
            return
        source, tensors, state = loaded
        model = self.model
        if not getattr(model, "built", True):
            raise ValueError(
                f"BackupAndRestore: the model must be built before fit() to restore the backup "
                f"{str(source)!r}; model '{model.name}' is not built (call it on a batch, or "
                "give it an Input)"
            )
        ts.restore_model(model, tensors, state, source)
        epoch, step = state["epoch"], state["step"]
        self._epoch = epoch
        self._history = {k: list(v) for k, v in (state.get("history") or {}).items()}
        self.restored_history = {k: list(v) for k, v in self._history.items()}
        if step:
            self._check_same_epochs(source, state)
            self._last_batch = step - 1  # a backup was just made: nothing counted since
            if state.get("epoch_rng") is None:
                raise FileFormatError(
                    source, "a mid-epoch backup misses 'epoch_rng'", loader="BackupAndRestore"
                )
            ts.set_rng(state["epoch_rng"], source)  # the epoch's shuffle order is drawn again
        else:
            ts.set_layer_generators(model, state["layer_rng"], source)
            ts.set_rng(state["rng"], source)
        model.__dict__["_backup_resume"] = _Resume(self, epoch, step, source, tensors, state)

    def _check_same_epochs(self, source, state: dict) -> None:
        """A mid-epoch backup skips its steps again: only right for epochs of the same batches."""
        saved, now = state.get("steps_per_epoch"), self.params.get("steps")
        if saved is not None and now is not None and saved != now:
            raise ValueError(
                f"BackupAndRestore: the backup {str(source)!r} was made at step {state['step']} "
                f"of an epoch of {saved} batches, this fit has {now} batches per epoch (another "
                "batch_size, data or steps_per_epoch?); resume with the arguments of the "
                "interrupted fit, or delete the backup"
            )

    def _load(self):
        """(path, tensors, state) of the backup to restore, or None when there is none."""
        paths = [p for p in (self._path, self._prev_path) if p.is_file()]
        if not self.double_checkpoint:
            paths = paths[:1] if paths and paths[0] == self._path else []
        error = None
        for path in paths:
            try:
                return (path, *ts.read(path))
            except FileFormatError as e:
                error = error or e
        if error is not None:
            raise error
        return None

    def _resume_step(self, resume, data) -> None:
        """Called by fit at the first step it runs of a mid-epoch backup's epoch (``data`` is that
        step's batch, or the last one skipped when the backup came after the epoch's last step):
        the metrics (built first if need be), the layers' generators and the random state of the
        backup's moment."""
        model, state, source = self.model, resume.state, resume.source
        if not ts.restore_metrics(model, resume.tensors, state, source) and data is not None:
            _build_metrics(model, data)
            ts.restore_metrics(model, resume.tensors, state, source)
        ts.set_layer_generators(model, state["layer_rng"], source)
        ts.set_rng(state["rng"], source)
        # the epoch's on_epoch_begin ran again (a LearningRateScheduler's schedule(epoch, lr)
        # would apply twice): the learning rate of the backup's moment is the one to go on with
        ts.restore_learning_rate(model, state["optimizer"])

    # --- backing up ----------------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self.save_freq != "epoch":
            self._epoch_rng = backend.get_rng_state()

    # the saves run once every callback has run its hook (``CallbackList``), so that what other
    # callbacks change at the end of a batch or an epoch (a learning rate) is in the backup
    def _late_on_train_batch_end(self, batch, logs=None):
        if self.save_freq != "epoch" and save_due(self, batch):
            self._save(self._epoch, batch + 1)

    def _late_on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self._history.setdefault(key, []).append(ts._json_value(value))
        self._epoch, self._last_batch = epoch + 1, None
        if self.save_freq == "epoch":
            self._save(epoch + 1, 0)

    def _save(self, epoch: int, step: int) -> None:
        record = {
            "epoch": epoch,
            "step": step,
            "rng": backend.get_rng_state(),
            "epoch_rng": self._epoch_rng if step else None,
            "steps_per_epoch": self.params.get("steps"),
            "history": self._history,
        }
        tensors, state = ts.collect(self.model, record, with_metrics=step > 0)
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and self._path.is_file():
            with atomic_path(self._prev_path) as tmp:
                shutil.copyfile(self._path, tmp)
        ts.write(self._path, tensors, state)

    def on_train_end(self, logs=None):
        """Delete the backup: the files this callback writes, then the folder if nothing else is
        in it (Keras removes the whole folder; a ``backup_dir`` of ``"."`` would lose the user's
        files)."""
        if not (self.delete_checkpoint and os.path.isdir(self.backup_dir)):
            return
        self._remove_stale_temps()
        for p in (self._path, self._prev_path):
            p.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: another program's files stay
            os.rmdir(self.backup_dir)

    def _remove_stale_temps(self) -> None:
        """Temporary files of backups killed mid-write (those of writers still alive stay)."""
        for p in (self._path, self._prev_path):
            clean_stale_temps(p)

    def get_config(self) -> dict:
        return {
            "backup_dir": self.backup_dir,
            "save_freq": self.save_freq,
            "double_checkpoint": self.double_checkpoint,
            "delete_checkpoint": self.delete_checkpoint,
        }


class _Resume:
    """Where fit resumes (read by ``fit`` once): the epoch, the steps of it already done, and the
    call that restores the moment of the backup once those steps are skipped."""

    def __init__(self, callback, epoch, step, source, tensors, state):
        self.callback, self.epoch, self.step = callback, epoch, step
        self.source, self.tensors, self.state = source, tensors, state

    def restore(self, data) -> int:
        """Restore the rest of the state before the first step that runs; returns 0 (no more
        steps to skip)."""
        self.callback._resume_step(self, data)
        return 0


def _build_metrics(model, data) -> None:
    """Create the compiled metrics (Keras builds them at the first batch) so that their saved
    state can be put back before that batch; an inference forward pass gives the output shapes."""
    from zerograd.keras import data_adapters as da
    from zerograd.keras.training_steps import _as_list

    x, y, _ = da.unpack_x_y_sample_weight(data)
    with no_grad():
        y_pred = model(x, training=False)
    y_pred = _as_list(model._align_targets(y_pred))
    compile_loss = getattr(model, "_compile_loss", None)
    if compile_loss is not None and not compile_loss.built:
        compile_loss.build(len(y_pred))
    compile_metrics = getattr(model, "_compile_metrics", None)
    if compile_metrics is not None and not compile_metrics.built and y is not None:
        compile_metrics.build(_as_list(model._align_targets(y)), y_pred)


__all__ = ["BackupAndRestore"]
