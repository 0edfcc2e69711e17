"""ModelCheckpoint: an integer ``save_freq`` saves every N batches (across epochs, as Keras counts
them), and a filepath naming a log key that is missing raises a KeyError listing the keys there
are. Which files appear is compared with real Keras 3."""

import os

import numpy as np
import pytest

import zerograd.keras as keras


def _fit(k, folder, filepath, epochs=3, validation_split=0.2, **kwargs):
    x = np.random.default_rng(0).normal(size=(50, 4)).astype("float32")
    y = x.sum(1, keepdims=True)
    model = k.Sequential([k.Input((4,)), k.layers.Dense(1)])
    model.compile("sgd", "mse")
    cb = k.callbacks.ModelCheckpoint(os.path.join(folder, filepath), **kwargs)
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=epochs,
        verbose=0,
        callbacks=[cb],
        validation_split=validation_split,
    )
    return sorted(os.listdir(folder))


def _both(tmp_path, real_keras, filepath, **kwargs):
    ours, theirs = tmp_path / "zg", tmp_path / "keras"
    ours.mkdir()
    theirs.mkdir()
    return _fit(keras, ours, filepath, **kwargs), _fit(real_keras, theirs, filepath, **kwargs)


@pytest.mark.parametrize(
    "filepath, save_freq",
    [
        ("m-{epoch:02d}-{batch:03d}.weights.h5", 3),  # 5 batches an epoch: crosses epochs
        ("m-{epoch:02d}-{batch:03d}.weights.h5", 1),
        ("m-{epoch:02d}-{batch:03d}.weights.h5", 7),
        ("m-{epoch:02d}.weights.h5", 4),  # overwritten within an epoch
        ("m-{epoch:02d}.weights.h5", "epoch"),
    ],
)
def test_files_written_match_real_keras(tmp_path, real_keras, filepath, save_freq):
    ours, theirs = _both(
        tmp_path, real_keras, filepath, save_weights_only=True, save_freq=save_freq
    )
    assert ours == theirs
    assert len(ours) > 0


def test_integer_save_freq_saves_every_n_batches(tmp_path):
    files = _fit(
        keras, tmp_path, "b-{epoch}-{batch}.weights.h5", save_weights_only=True, save_freq=2
    )
    # 40 training samples, batch 8: 5 batches an epoch, 15 in all -> saves at 2, 4, ..., 14
    assert files == sorted(
        f"b-{e}-{b}.weights.h5" for e, b in [(1, 2), (1, 4), (2, 1), (2, 3), (2, 5), (3, 2), (3, 4)]
    )


def test_integer_save_freq_saves_whole_models(tmp_path):
    files = _fit(keras, tmp_path, "m-{epoch}-{batch}.keras", save_freq=5, epochs=2)
    assert files == ["m-1-5.keras", "m-2-5.keras"]
    again = keras.saving.load_model(tmp_path / "m-2-5.keras")
    assert again.count_params() == 5


@pytest.mark.parametrize(
    "filepath, save_freq, missing, available",
    [
        ("m-{val_acc:.2f}.keras", "epoch", "'val_acc'", "['epoch', 'loss', 'val_loss']"),
        ("m-{epoch:02d}-{batch}.keras", "epoch", "'batch'", "['epoch', 'loss', 'val_loss']"),
        ("m-{val_loss:.2f}.keras", 2, "'val_loss'", "['epoch', 'loss', 'batch']"),
    ],
)
def test_missing_log_key_lists_the_available_keys(
    tmp_path, real_keras, filepath, save_freq, missing, available
):
    with pytest.raises(KeyError) as ours:
        _fit(keras, tmp_path, filepath, save_freq=save_freq)
    message = str(ours.value)
    assert "ModelCheckpoint" in message and filepath in message
    assert f"no value for {missing}" in message
    assert available in message
    # real Keras raises a KeyError too (without the list of keys)
    with pytest.raises(KeyError, match=missing.strip("'")):
        _fit(real_keras, tmp_path, filepath, save_freq=save_freq)


@pytest.mark.parametrize(
    "filepath, problem",
    [("m-{}.keras", "Replacement index 0"), ("m-{loss:d}.keras", "Unknown format code 'd'")],
)
def test_unformattable_filepath_is_a_clear_value_error(tmp_path, filepath, problem):
    with pytest.raises(ValueError, match=f"ModelCheckpoint: cannot format filepath.*{problem}"):
        _fit(keras, tmp_path, filepath)


def test_save_best_only_on_batches(tmp_path):
    files = _fit(
        keras,
        tmp_path,
        "best-{epoch}-{batch}.weights.h5",
        save_weights_only=True,
        save_best_only=True,
        monitor="loss",
        save_freq=1,
        epochs=1,
        validation_split=0.0,
    )
    # the running mean loss of SGD on a linear target falls batch after batch: each one is
    # a new best at first; at least the first batch is saved and never a batch beyond the last
    assert files[0] == "best-1-1.weights.h5"
    assert all(1 <= int(f.split("-")[2].split(".")[0]) <= 7 for f in files)


@pytest.mark.parametrize("save_freq", [0, -3, "batch", 1.5])
def test_bad_save_freq(save_freq):
    with pytest.raises(ValueError, match="save_freq must be 'epoch' or a positive number"):
        keras.callbacks.ModelCheckpoint("m.keras", save_freq=save_freq)
