"""Review of keras.callbacks.BackupAndRestore: configurations the other resume tests do not cover
(a LearningRateScheduler of the current rate, gradient accumulation, EMA, class weights, a
changed ``epochs``), deleting only its own files, refusing a mid-epoch backup for epochs of other
batches, and damaged or hostile records refused as FileFormatError."""

import json

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

import zerograd.keras as keras
from zerograd.io import FileFormatError, state_file


class SimulatedCrashError(Exception):
    pass


class InterruptAt(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at, self.n = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.n += 1
        if self.n == self.at:
            raise SimulatedCrashError


def _data(n=50):
    r = np.random.default_rng(0)
    return r.normal(size=(n, 6)).astype("float32"), r.integers(0, 3, size=n)


def _model(optimizer=None):
    keras.utils.set_random_seed(1)
    m = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(3),
        ]
    )
    m.compile(optimizer or keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    return m


def _fit(model, backup, save_freq, extra=(), **kwargs):
    x, y = _data()
    kwargs = {"epochs": 4, "batch_size": 8, **kwargs}
    cb = keras.callbacks.BackupAndRestore(backup, save_freq=save_freq)
    return model.fit(x, y, shuffle=True, verbose=0, callbacks=[cb, *extra], **kwargs)


def _halve():
    return [keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)]


CASES = {
    # schedule(epoch, lr) ran again at the resumed epoch's start: the rate was halved twice
    "LearningRateScheduler of the current rate, mid-epoch": (3, [9], {}, _halve, None),
    "gradient accumulation": (
        3,
        [8],
        {},
        list,
        lambda: keras.optimizers.Adam(0.01, gradient_accumulation_steps=2),
    ),
    "EMA with overwrites": (
        3,
        [7],
        {},
        list,
        lambda: keras.optimizers.Adam(0.01, use_ema=True, ema_overwrite_frequency=4),
    ),
    "class_weight": (3, [7], {"class_weight": {0: 1.0, 1: 2.0, 2: 0.5}}, list, None),
    "sample_weight and a schedule": (
        2,
        [5, 11],
        {"sample_weight": np.linspace(0.1, 1, 50)},
        list,
        lambda: keras.optimizers.SGD(
            keras.optimizers.schedules.ExponentialDecay(0.05, 3, 0.5), momentum=0.9
        ),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_interrupted_fit_resumes_bitwise(tmp_path, case):
    save_freq, kills, kwargs, extra, make_opt = CASES[case]

    def model():
        return _model(make_opt() if make_opt else None)

    ref = model()
    _fit(ref, tmp_path / "ref", save_freq, extra(), **kwargs)
    for k in kills:
        with pytest.raises(SimulatedCrashError):
            _fit(model(), tmp_path / "b", save_freq, [*extra(), InterruptAt(k)], **kwargs)
    resumed = model()
    _fit(resumed, tmp_path / "b", save_freq, extra(), **kwargs)
    for a, b in zip(resumed.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.learning_rate == ref.optimizer.learning_rate


def test_more_epochs_after_an_interruption_equal_a_run_of_that_many(tmp_path):
    ref = _model()
    _fit(ref, tmp_path / "ref", "epoch", epochs=5)
    with pytest.raises(SimulatedCrashError):
        _fit(_model(), tmp_path / "b", "epoch", [InterruptAt(9)], epochs=3)
    resumed = _model()
    _fit(resumed, tmp_path / "b", "epoch", epochs=5)
    for a, b in zip(resumed.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_end_of_training_deletes_only_the_callbacks_files(tmp_path):
    mine = tmp_path / "notes.txt"
    mine.write_text("the user's own file")
    _fit(_model(), tmp_path, 2, epochs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    _fit(_model(), tmp_path / "empty", 2, epochs=1)
    assert not (tmp_path / "empty").exists()  # an emptied folder goes, as in Keras


def test_mid_epoch_backup_with_other_batches_per_epoch_is_refused(tmp_path):
    with pytest.raises(SimulatedCrashError):
        _fit(_model(), tmp_path / "b", 3, [InterruptAt(4)])
    with pytest.raises(ValueError, match="epoch of 7 batches, this fit has 4 batches per epoch"):
        _fit(_model(), tmp_path / "b", 3, batch_size=16)


def _backup(tmp_path):
    with pytest.raises(SimulatedCrashError):
        _fit(_model(), tmp_path / "b", 1, [InterruptAt(3)])
    return tmp_path / "b" / "latest.safetensors"


def _opt(state):
    return state["optimizer"]


HOSTILE = {
    "deep JSON": (lambda t: t[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "JSON"),
    "history a list": (lambda s: s.update(history=[1]), "'history' must be a JSON object"),
    "iterations a string": (lambda s: _opt(s).update(iterations="3"), "'iterations' has the wrong"),
    "iterations negative": (lambda s: _opt(s).update(iterations=-5), "iterations must be >= 0"),
    "learning rate NaN": (lambda s: _opt(s).update(learning_rate=float("nan")), "finite number"),
    "learning rate a string": (lambda s: _opt(s).update(learning_rate="x"), "finite number"),
    "slots a number": (lambda s: _opt(s).update(slots=3), "'slots' has the wrong type"),
    "layer generator by name": (
        lambda s: s["layer_rng"].update({"0:Dropout._random": {"bit_generator": "seed"}}),
        "NumPy bit generator",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_backup_record_is_a_file_format_error(tmp_path, case):
    edit, message = HOSTILE[case]
    path = _backup(tmp_path)
    with safe_open(str(path), framework="numpy") as f:
        meta = dict(f.metadata())
        arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
    if case == "deep JSON":
        meta["record"] = edit(meta["record"])
    else:
        state = json.loads(meta["record"])
        edit(state)
        meta["record"] = json.dumps(state)
    meta["crc32"] = state_file.checksum(meta["record"], arrays)  # as an attacker would
    save_file(arrays, str(path), metadata=meta)
    with pytest.raises(FileFormatError, match=message) as info:
        _fit(_model(), tmp_path / "b", 1)
    assert "latest.safetensors" in str(info.value)


def test_a_flipped_bit_in_the_backups_weights_is_caught(tmp_path):
    """The backup is checksummed like a checkpoint (one state-file format): damage inside the
    tensor bytes, which safetensors itself cannot see, is a FileFormatError."""
    path = _backup(tmp_path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match="latest.safetensors.*checksum"):
        _fit(_model(), tmp_path / "b", 1)
