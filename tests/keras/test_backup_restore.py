"""keras.callbacks.BackupAndRestore: Keras's semantics (resume at the interrupted epoch, delete the
backup at the end), exact resume mid-epoch (weights, optimizer, metrics, random generators), and a
clear FileFormatError for a damaged backup."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import zerograd.keras as keras
from zerograd.io import FileFormatError


class SimulatedCrashError(Exception):
    pass


def _interrupt_at(base):
    class InterruptAt(base):
        """Raise at the ``at``-th training batch end (counted over the whole fit)."""

        def __init__(self, at):
            super().__init__()
            self.at, self.n = at, 0

        def on_train_batch_end(self, batch, logs=None):
            self.n += 1
            if self.n == self.at:
                raise SimulatedCrashError

    return InterruptAt


InterruptAt = _interrupt_at(keras.callbacks.Callback)


def _data(n=50):
    r = np.random.default_rng(0)
    return r.normal(size=(n, 6)).astype("float32"), r.integers(0, 3, size=n)


class NoisyDense(keras.layers.Layer):
    """A layer drawing from its own SeedGenerator while training."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units)
        self.gen = keras.random.SeedGenerator(11)

    def call(self, x, training=False):
        y = self.dense(x)
        return keras.random.dropout(y, 0.25, seed=self.gen) if training else y


def _model(optimizer=None):
    keras.utils.set_random_seed(1)
    m = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.3),
            NoisyDense(8),
            keras.layers.Dropout(0.2, seed=5),
            keras.layers.Dense(3),
        ]
    )
    m.compile(
        optimizer or keras.optimizers.Adam(0.01),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return m


def _fit(model, backup_dir, save_freq, extra=(), epochs=4, **kwargs):
    x, y = _data()
    cb = keras.callbacks.BackupAndRestore(backup_dir, save_freq=save_freq, **kwargs)
    h = model.fit(
        x,
        y,
        batch_size=8,
        epochs=epochs,
        validation_split=0.2,
        shuffle=True,
        verbose=0,
        callbacks=[cb, *extra],
    )
    return h, cb


def _equal(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


@pytest.mark.parametrize(
    "save_freq, kills", [("epoch", [7]), (2, [7]), (3, [4, 6]), (1, [5]), (5, [5])]
)
def test_interrupted_fit_resumes_bitwise(tmp_path, save_freq, kills):
    ref = _model()
    h_ref, _ = _fit(ref, tmp_path / "ref", save_freq)
    backup = tmp_path / "b"
    for k in kills:
        with pytest.raises(SimulatedCrashError):
            _fit(_model(), backup, save_freq, [InterruptAt(k)])
    model = _model()
    h, cb = _fit(model, backup, save_freq)
    assert _equal(model.get_weights(), ref.get_weights())
    assert model.optimizer.iterations == ref.optimizer.iterations
    assert _equal(
        [a for _, a in model.optimizer.slot_arrays()], [a for _, a in ref.optimizer.slot_arrays()]
    )
    # the epochs run after the restart log what the uninterrupted run logged (metrics restored)
    n = len(h.history["loss"])
    assert 0 < n <= 4  # [5]: the backup came after epoch 0's last step; its end is replayed
    for key, values in h.history.items():
        assert values == h_ref.history[key][-n:], key
    assert all(len(v) == 4 - n for v in cb.restored_history.values())
    assert not backup.exists()  # delete_checkpoint=True


def test_resumes_at_the_interrupted_epoch_as_real_keras(tmp_path, real_keras):
    """Keras's own example: interrupted at epoch 4 of 10, the second fit runs epochs 4..9."""

    class InterruptAtEpoch:
        def __init__(self, base):
            class Cb(base):
                def on_epoch_begin(self, epoch, logs=None):
                    if epoch == 4:
                        raise SimulatedCrashError

            self.cls = Cb

    def run(k, folder):
        x, y = np.arange(100, dtype="float32").reshape(5, 20) / 100, np.zeros(5, "float32")
        model = k.models.Sequential([k.Input((20,)), k.layers.Dense(10)])
        model.compile(k.optimizers.SGD(), loss="mse")
        cb = k.callbacks.BackupAndRestore(backup_dir=str(folder))
        interrupt = InterruptAtEpoch(k.callbacks.Callback).cls()
        with pytest.raises(SimulatedCrashError):
            model.fit(x, y, epochs=10, batch_size=1, callbacks=[cb, interrupt], verbose=0)
        exists = os.path.isdir(folder)
        h = model.fit(x, y, epochs=10, batch_size=1, callbacks=[cb], verbose=0)
        return exists, len(h.history["loss"]), list(h.epoch), os.path.isdir(folder)

    ours = run(keras, tmp_path / "zg")
    theirs = run(real_keras, tmp_path / "keras")
    assert ours == theirs
    assert ours == (True, 6, [4, 5, 6, 7, 8, 9], False)


def test_mid_epoch_backup_resumes_the_same_epochs_as_real_keras(tmp_path, real_keras):
    """save_freq=2, interrupted at the 8th batch (epoch 1 of 4, 5 batches an epoch): both resume
    in epoch 1 (real Keras from its first batch, zerograd from the step after the backup)."""

    def run(k, folder):
        x, y = _data(40)
        model = k.Sequential([k.Input((6,)), k.layers.Dense(3)])
        model.compile(k.optimizers.SGD(), loss="sparse_categorical_crossentropy")
        interrupt = _interrupt_at(k.callbacks.Callback)(8)
        cb = k.callbacks.BackupAndRestore(backup_dir=str(folder), save_freq=2)
        with pytest.raises(SimulatedCrashError):
            model.fit(x, y, epochs=4, batch_size=8, callbacks=[cb, interrupt], verbose=0)
        h = model.fit(x, y, epochs=4, batch_size=8, callbacks=[cb], verbose=0)
        return list(h.epoch), len(h.history["loss"]), os.path.isdir(folder)

    ours = run(keras, tmp_path / "zg")
    assert ours == run(real_keras, tmp_path / "keras")
    assert ours == ([1, 2, 3], 3, False)


def test_delete_checkpoint_false_keeps_the_backup(tmp_path):
    _fit(_model(), tmp_path / "b", "epoch", delete_checkpoint=False, epochs=2)
    assert sorted(os.listdir(tmp_path / "b")) == ["latest.safetensors"]
    # a finished backup resumes after the last epoch: nothing left to run
    model = _model()
    h, cb = _fit(model, tmp_path / "b", "epoch", delete_checkpoint=False, epochs=2)
    assert h.history == {}
    assert len(cb.restored_history["loss"]) == 2


def test_optimizer_learning_rate_and_schedule_are_restored(tmp_path):
    class Halve(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.optimizer.learning_rate = self.model.optimizer.learning_rate / 2

    with pytest.raises(SimulatedCrashError):
        _fit(_model(), tmp_path / "b", "epoch", [Halve(), InterruptAt(9)])
    model = _model()
    # restore only: stop right after on_train_begin by running zero epochs left
    cb = keras.callbacks.BackupAndRestore(tmp_path / "b")
    cb.set_model(model)
    cb.on_train_begin()
    assert model.optimizer.learning_rate == 0.01 / 2  # after the one epoch that ended
    assert model.optimizer.iterations == 5

    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5)
    with pytest.raises(SimulatedCrashError):
        _fit(_model(keras.optimizers.SGD(schedule)), tmp_path / "s", 2, [InterruptAt(8)])
    model = _model(keras.optimizers.SGD(schedule))
    cb = keras.callbacks.BackupAndRestore(tmp_path / "s", save_freq=2)
    cb.set_model(model)
    cb.on_train_begin()
    # the interruption at batch 8 came before the backup of batch 8: the one of batch 6 is kept
    assert model.optimizer.iterations == 6
    assert model.optimizer.learning_rate == pytest.approx(float(schedule(6)))


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    with pytest.raises(SimulatedCrashError):
        _fit(_model(), tmp_path / "b", "epoch", [InterruptAt(12)], double_checkpoint=True)
    assert sorted(os.listdir(tmp_path / "b")) == ["latest.safetensors", "latest.safetensors.bkp"]
    (tmp_path / "b" / "latest.safetensors").write_bytes(b"\x00" * 10)
    model = _model()
    cb = keras.callbacks.BackupAndRestore(tmp_path / "b", double_checkpoint=True)
    cb.set_model(model)
    cb.on_train_begin()
    assert model.__dict__["_backup_resume"].epoch == 1  # the previous backup: after epoch 0


def _backup(tmp_path):
    with pytest.raises(SimulatedCrashError):
        _fit(_model(), tmp_path / "b", 2, [InterruptAt(3)])
    return tmp_path / "b" / "latest.safetensors"


def _restore(path, model=None):
    cb = keras.callbacks.BackupAndRestore(os.path.dirname(path))
    cb.set_model(model or _model())
    cb.on_train_begin()


@pytest.mark.parametrize("cut", [0, 7, 100, -10])
def test_truncated_backup_raises_file_format_error(tmp_path, cut):
    path = _backup(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(FileFormatError, match="latest.safetensors.*not a readable safetensors"):
        _restore(path)


def _rewrite_state(path, edit):
    """Edit the backup's header as an attacker would: the record, with a matching checksum."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from zerograd.io import state_file

    with safe_open(str(path), framework="numpy") as f:
        meta = dict(f.metadata())
    tensors = load_file(str(path))
    meta = edit(meta, json.loads(meta["record"]))
    meta["crc32"] = state_file.checksum(meta["record"], tensors)
    save_file(tensors, str(path), metadata=meta)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m, s: {**m, "record": "{not json"}, "not valid JSON"),
        (lambda m, s: {**m, "format": "other"}, "not a BackupAndRestore backup"),
        (lambda m, s: {**m, "record": json.dumps([1, 2])}, "must be a JSON object"),
        (
            lambda m, s: {**m, "record": json.dumps({**s, "epoch": "3"})},
            "'epoch' must be a JSON int",
        ),
        (
            lambda m, s: {
                **m,
                "record": json.dumps({k: v for k, v in s.items() if k != "rng"}),
            },
            "misses 'rng'",
        ),
        (
            lambda m, s: {**m, "record": json.dumps({**s, "metrics": 99})},
            "names 99 metrics arrays",
        ),
        (
            lambda m, s: {**m, "record": json.dumps({**s, "rng": {"zerograd": 1}})},
            "bad random state",
        ),
        (
            lambda m, s: {**m, "record": json.dumps({**s, "version": 7})},
            "unknown backup version 7",
        ),
    ],
)
def test_corrupt_backup_record_raises_file_format_error(tmp_path, edit, message):
    path = _backup(tmp_path)
    _rewrite_state(path, edit)
    with pytest.raises(FileFormatError, match=message):
        _restore(path)


def test_backup_of_another_model_names_the_mismatch(tmp_path):
    path = _backup(tmp_path)
    other = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.Dense(3)])
    other.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    with pytest.raises(FileFormatError, match="holds 6 weights, the model has 4"):
        _restore(path, other)
    wide = _model()
    wide.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    with pytest.raises(FileFormatError, match="state of a Adam optimizer.*SGD"):
        _restore(path, wide)


def test_stale_temporary_files_are_removed(tmp_path):
    path = _backup(tmp_path)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stale = path.parent / f".latest.safetensors.zgtmp-{dead}-0badc0de"  # its writer has exited
    stale.write_bytes(b"partial")
    _restore(path)
    assert sorted(os.listdir(path.parent)) == ["latest.safetensors"]


def test_unbuilt_model_with_a_backup_says_not_built(tmp_path):
    path = _backup(tmp_path)
    model = keras.Sequential([keras.layers.Dense(3)])
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match="must be built before fit"):
        _restore(path, model)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"backup_dir": ""}, "backup_dir must name a folder"),
        ({"backup_dir": "x", "save_freq": "batch"}, "save_freq must be 'epoch' or a positive"),
        ({"backup_dir": "x", "save_freq": 0}, "received save_freq=0"),
        ({"backup_dir": "x", "save_freq": 2.5}, "received save_freq=2.5"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras.callbacks.BackupAndRestore(**kwargs)


def test_get_config_round_trip():
    cb = keras.callbacks.BackupAndRestore("d", save_freq=3, double_checkpoint=True)
    again = keras.callbacks.BackupAndRestore(**cb.get_config())
    assert again.get_config() == {
        "backup_dir": "d",
        "save_freq": 3,
        "double_checkpoint": True,
        "delete_checkpoint": True,
    }


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.optimizers.Nadam(0.01),
        lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
        lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        lambda: keras.optimizers.AdamW(0.01, amsgrad=True),
        lambda: keras.optimizers.Ftrl(0.05),
        lambda: keras.optimizers.Adam(0.01, use_ema=True, ema_overwrite_frequency=4),
        lambda: keras.optimizers.Adam(0.01, gradient_accumulation_steps=3),
    ],
    ids=["nadam", "rmsprop", "sgd", "adamw", "ftrl", "ema", "accumulation"],
)
def test_every_optimizer_state_resumes_bitwise(tmp_path, make):
    ref = _model(make())
    _fit(ref, tmp_path / "ref", 3)
    with pytest.raises(SimulatedCrashError):
        _fit(_model(make()), tmp_path / "b", 3, [InterruptAt(11)])
    model = _model(make())
    _fit(model, tmp_path / "b", 3)
    assert _equal(model.get_weights(), ref.get_weights())
    assert _equal(
        [a for _, a in model.optimizer.slot_arrays()], [a for _, a in ref.optimizer.slot_arrays()]
    )


def test_mutated_backups_raise_only_file_format_error(tmp_path):
    """Random byte flips and cuts of a backup: it is read, or refused with FileFormatError."""
    from zerograd.keras import training_state

    path = _backup(tmp_path)
    data = path.read_bytes()
    rng = np.random.default_rng(0)
    refused = 0
    for i in range(60):
        mutated = bytearray(data)
        if i % 3 == 0:
            mutated = mutated[: int(rng.integers(len(data)))]
        else:
            for at in rng.integers(0, min(len(data), 3000), size=int(rng.integers(1, 4))):
                mutated[at] = int(rng.integers(256))
        bad = tmp_path / f"m{i}.safetensors"
        bad.write_bytes(bytes(mutated))
        try:
            training_state.read(bad)
        except FileFormatError as e:
            assert str(bad) in str(e)
            refused += 1
    assert refused >= 20
