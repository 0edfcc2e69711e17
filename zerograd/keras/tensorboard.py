"""The TensorBoard callback: scalar logs in TensorBoard's event-file format, written by hand.

An event file is a sequence of TFRecords (``uint64 length``, ``uint32 masked crc32c(length)``,
``data``, ``uint32 masked crc32c(data)``, little-endian), each record one ``Event`` protobuf
message. The few fields used here are encoded directly:

    Event    {1: wall_time (double), 2: step (int64), 3: file_version (string), 5: summary}
    Summary  {1: repeated Value}
    Value    {1: tag (string), 2: simple_value (float)}
"""

from __future__ import annotations

import os
import socket
import struct
import time

from zerograd.keras.callback_base import Callback


def _crc32c_table() -> list:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1  # Castagnoli, reflected
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The TFRecord checksum: the CRC rotated right by 15 bits plus a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(data: bytes) -> bytes:
    """One TFRecord frame around ``data``."""
    header = struct.pack("<Q", len(data))
    return (
        header
        + struct.pack("<I", masked_crc32c(header))
        + data
        + struct.pack("<I", masked_crc32c(data))
    )


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 values take ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        bits, n = n & 0x7F, n >> 7
        out.append(bits | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire_type) + payload


def _bytes_field(number: int, data: bytes) -> bytes:
    return _field(number, 2, _varint(len(data)) + data)


def scalar_event(tag: str, value: float, step: int, wall_time: float | None = None) -> bytes:
    """An ``Event`` message holding one scalar summary value."""
    entry = _bytes_field(1, tag.encode()) + _field(2, 5, struct.pack("<f", float(value)))
    summary = _bytes_field(1, entry)
    return _event(step, wall_time) + _bytes_field(5, summary)


def _event(step: int, wall_time: float | None) -> bytes:
    wall_time = time.time() if wall_time is None else wall_time
    return _field(1, 1, struct.pack("<d", wall_time)) + _field(2, 0, _varint(int(step)))


class EventFileWriter:
    """Appends scalar events to a new event file in ``logdir`` (created if missing)."""

    _count = 0

    def __init__(self, logdir):
        os.makedirs(logdir, exist_ok=True)
        EventFileWriter._count += 1
        name = (
            f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}."
            f"{os.getpid()}.{EventFileWriter._count}.v2"
        )
        self.path = os.path.join(logdir, name)
        self._file = open(self.path, "ab")  # noqa: SIM115 - kept open across the run, closed in close()
        self._file.write(tfrecord(_event(0, None) + _bytes_field(3, b"brain.Event:2")))
        self._file.flush()

    def scalar(self, tag: str, value, step: int) -> None:
        """Record ``value`` (a number) under ``tag`` at ``step``."""
        self._file.write(tfrecord(scalar_event(tag, float(value), step)))

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def _scalars(logs) -> dict:
    """The numeric entries of ``logs`` as floats (other values are left out)."""
    out = {}
    for name, value in (logs or {}).items():
        try:
            out[name] = float(value)
        except (TypeError, ValueError):
            continue
    return out


class TensorBoard(Callback):
    """Write the loss, metrics and learning rate of ``fit`` as TensorBoard scalars:
    ``log_dir/train`` gets ``epoch_<name>`` for the training logs, ``log_dir/validation``
    ``epoch_<name>`` for the ``val_`` logs (and ``evaluation_<name>_vs_iterations``); with
    ``update_freq="batch"`` or N, ``batch_<name>`` every N training batches.

    Histograms, images, embeddings, profiling and the model graph are not written by zerograd:
    ``histogram_freq``, ``write_images``, ``profile_batch``, ``embeddings_freq`` and
    ``embeddings_metadata`` raise ValueError when set; ``write_graph`` (True by default, as in
    Keras) writes nothing.

    Example:
        >>> model.fit(x, y, epochs=5, callbacks=[keras.callbacks.TensorBoard(log_dir="logs")])
    """

    def __init__(
        self,
        log_dir="logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq: int = 0,
        embeddings_metadata=None,
    ):
        super().__init__()
        unsupported = {
            "histogram_freq": (histogram_freq, 0),
            "write_images": (write_images, False),
            "profile_batch": (profile_batch, 0),
            "embeddings_freq": (embeddings_freq, 0),
            "embeddings_metadata": (embeddings_metadata, None),
        }
        for name, (value, default) in unsupported.items():
            if value != default:
                raise ValueError(
                    f"TensorBoard: {name}={value!r} is not supported by zerograd (only scalars "
                    f"are written); leave it at {default!r}"
                )
        if update_freq != "epoch" and update_freq != "batch":
            if not isinstance(update_freq, int) or isinstance(update_freq, bool) or update_freq < 1:
                raise ValueError(
                    "TensorBoard: expected update_freq 'epoch', 'batch' or an integer >= 1, "
                    f"received {update_freq!r}"
                )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq, self.write_graph, self.write_images = 0, write_graph, False
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.profile_batch, self.embeddings_freq, self.embeddings_metadata = 0, 0, None
        self._writers: dict = {}
        self._global_train_batch = 0
        self._epoch_start = self._batch_start = 0.0
        self._epoch_start_iterations = 0

    # --- writers ---------------------------------------------------------------------------------
    def _writer(self, which: str) -> EventFileWriter:
        if which not in self._writers:
            sub = "train" if which == "train" else "validation"
            self._writers[which] = EventFileWriter(os.path.join(self.log_dir, sub))
        return self._writers[which]

    def _iterations(self) -> int:
        return int(getattr(getattr(self.model, "optimizer", None), "iterations", 0) or 0)

    def _close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # --- hooks -----------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._writer("train")

    def on_train_end(self, logs=None):
        self._close()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()
        self._epoch_start_iterations = self._iterations()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        writer, step = self._writer("train"), self._global_train_batch
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._batch_start, 1e-9)
            writer.scalar("batch_steps_per_second", 1.0 / elapsed, step)
        for name, value in _scalars(logs).items():
            writer.scalar(f"batch_{name}", value, step)

    def on_test_end(self, logs=None):
        if self.model is None or getattr(self.model, "optimizer", None) is None:
            return
        writer, step = self._writer("val"), self._iterations()
        for name, value in _scalars(logs).items():
            writer.scalar(f"evaluation_{name}_vs_iterations", value, step)
        writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        values = _scalars(logs)
        train = {k: v for k, v in values.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in values.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and "learning_rate" not in train:
            try:
                train["learning_rate"] = float(optimizer.learning_rate)
            except (AttributeError, TypeError, ValueError):
                pass
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._epoch_start, 1e-9)
            train["steps_per_second"] = (
                self._iterations() - self._epoch_start_iterations
            ) / elapsed
        for which, scalars in (("train", train), ("val", val)):
            if scalars:
                writer = self._writer(which)
                for name, value in scalars.items():
                    writer.scalar(f"epoch_{name}", value, epoch)
                writer.flush()

    def get_config(self) -> dict:
        return {
            "log_dir": self.log_dir,
            "histogram_freq": 0,
            "write_graph": self.write_graph,
            "write_images": False,
            "write_steps_per_second": self.write_steps_per_second,
            "update_freq": "epoch" if self.update_freq == "epoch" else self.update_freq,
            "profile_batch": 0,
            "embeddings_freq": 0,
            "embeddings_metadata": None,
        }
