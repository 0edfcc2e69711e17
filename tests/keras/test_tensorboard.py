"""keras.callbacks.TensorBoard: event files read back by an independent TFRecord/protobuf reader."""

import struct
from pathlib import Path

import numpy as np
import pytest

from zerograd import keras


# --- an independent reader: bitwise CRC-32C and a generic protobuf wire-format parser -------------
def crc32c_bitwise(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def masked(data: bytes) -> int:
    crc = crc32c_bitwise(data)
    return (((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8 & 0xFFFFFFFF


def records(path: Path) -> list:
    data, out, i = path.read_bytes(), [], 0
    while i < len(data):
        header = data[i : i + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[i + 8 : i + 12])[0] == masked(header), "length CRC"
        body = data[i + 12 : i + 12 + length]
        assert struct.unpack("<I", data[i + 12 + length : i + 16 + length])[0] == masked(body)
        out.append(body)
        i += 16 + length
    return out


def varint(buf: bytes, i: int):
    shift = value = 0
    while True:
        b = buf[i]
        value |= (b & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not b & 0x80:
            return value, i


def parse(buf: bytes) -> dict:
    """field number -> list of raw values (ints, bytes, or 4/8-byte chunks)."""
    fields, i = {}, 0
    while i < len(buf):
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 2:
            n, i = varint(buf, i)
            value, i = buf[i : i + n], i + n
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def read_scalars(directory: Path) -> tuple:
    """(file_version, {tag: [(step, value), ...]}) from the one event file in ``directory``."""
    (path,) = list(directory.glob("events.out.tfevents.*"))
    events = [parse(r) for r in records(path)]
    version = events[0][3][0].decode()
    scalars: dict = {}
    for event in events[1:]:
        assert struct.unpack("<d", event[1][0])[0] > 1e9  # a wall time
        step = event.get(2, [0])[0]
        for value in parse(event[5][0])[1]:
            v = parse(value)
            scalars.setdefault(v[1][0].decode(), []).append((step, struct.unpack("<f", v[2][0])[0]))
    return version, scalars


def test_reader_crc_matches_published_vectors():
    assert crc32c_bitwise(b"123456789") == 0xE3069283
    assert crc32c_bitwise(bytes(32)) == 0x8A9136AA
    from zerograd.keras.tensorboard import crc32c

    assert crc32c(b"123456789") == 0xE3069283


def _fit(tmp_path, **kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 3)).astype("float32")
    y = x @ np.ones((3, 1), "float32")
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(3,))])
    model.compile(keras.optimizers.SGD(0.01), "mse", metrics=["mae"])
    board = keras.callbacks.TensorBoard(log_dir=tmp_path / "logs", **kwargs)
    history = model.fit(
        x, y, batch_size=8, epochs=3, validation_data=(x[:8], y[:8]), callbacks=[board], verbose=0
    )
    return history.history


def test_epoch_scalars_in_train_and_validation(tmp_path):
    history = _fit(tmp_path)
    version, train = read_scalars(tmp_path / "logs" / "train")
    assert version == "brain.Event:2"
    assert {"epoch_loss", "epoch_mae", "epoch_learning_rate"} <= set(train)
    assert [s for s, _ in train["epoch_loss"]] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in train["epoch_loss"]], history["loss"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in train["epoch_learning_rate"]], [0.01] * 3, rtol=1e-6)
    _, val = read_scalars(tmp_path / "logs" / "validation")
    np.testing.assert_allclose([v for _, v in val["epoch_loss"]], history["val_loss"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in val["epoch_mae"]], history["val_mae"], rtol=1e-6)
    assert not any(tag.startswith("batch_") for tag in train)


def test_batch_scalars_every_n_batches(tmp_path):
    _fit(tmp_path, update_freq=2, write_steps_per_second=True)
    _, train = read_scalars(tmp_path / "logs" / "train")
    assert [s for s, _ in train["batch_loss"]] == [2, 4, 6, 8]
    assert len(train["batch_steps_per_second"]) == 4 and len(train["epoch_steps_per_second"]) == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"histogram_freq": 1},
        {"write_images": True},
        {"profile_batch": 2},
        {"embeddings_freq": 1},
        {"update_freq": 0},
    ],
)
def test_unsupported_options_are_refused(kwargs):
    with pytest.raises(ValueError, match="TensorBoard"):
        keras.callbacks.TensorBoard(**kwargs)


def test_defaults_match_keras(real_keras):
    ours, theirs = keras.callbacks.TensorBoard(), real_keras.callbacks.TensorBoard()
    assert ours.log_dir == theirs.log_dir and ours.update_freq == theirs.update_freq
    assert ours.write_graph == theirs.write_graph and ours.histogram_freq == theirs.histogram_freq
