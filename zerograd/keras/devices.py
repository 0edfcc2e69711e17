"""Where the Keras facade puts its tensors: ``keras.device("gpu")`` as a scope, otherwise the GPU
when CuPy sees one (as Keras does), or the CPU. ``ZEROGRAD_KERAS_DEVICE=cpu`` in the environment
keeps Keras on the CPU of a machine that has a GPU. Variables are created on the current device;
``fit``/``evaluate``/``predict`` move each batch to the device of the model's weights."""

from __future__ import annotations

import contextlib
import os
import threading

from zerograd import backend

_local = threading.local()


def normalize(name) -> str:
    """Keras's device names ('cpu', 'gpu', 'gpu:1', 'cuda:0') as zerograd's ('cpu', 'cuda:N')."""
    text = str(name).lower()
    if text.startswith("gpu"):
        text = "cuda" + text[3:]
    try:
        return backend.normalize_device(text)
    except ValueError:
        raise ValueError(
            f"keras.device: expected 'cpu', 'gpu', 'gpu:N' or 'cuda:N', received {name!r}"
        ) from None


def current() -> str:
    """The device new Keras tensors and variables go to."""
    scoped = getattr(_local, "device", None)
    if scoped is not None:
        return scoped
    chosen = os.environ.get("ZEROGRAD_KERAS_DEVICE")
    if chosen:
        return normalize(chosen)
    return "cuda:0" if backend.cuda_available() else "cpu"


@contextlib.contextmanager
def device(device_name):
    """``with keras.device("gpu:0"):`` creates variables and tensors on that device.

    Example:
        >>> with keras.device("cpu"):
        ...     layer = keras.layers.Dense(2)
    """
    name = normalize(device_name)
    previous = getattr(_local, "device", None)
    _local.device = name
    try:
        yield name
    finally:
        _local.device = previous
