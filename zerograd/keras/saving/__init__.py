"""Saving and loading Keras models: ``model.save``, ``load_model``, weights files, the registry of
custom objects and Keras 3's serialization format.

Formats: a path ending in ``.keras`` is Keras 3's zip (config.json + model.weights.h5), readable by
real Keras; ``.weights.h5`` / ``.h5`` weights are Keras's h5 layout. Any other name gets zerograd's
variant (the same config, weights in safetensors). Loading detects the format from the contents,
including zerograd's first format, and never runs code from a file.
"""

from __future__ import annotations

import json
import os

import numpy as np

from zerograd.keras.saving.archive import read_archive, write_archive
from zerograd.keras.saving.registry import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from zerograd.keras.saving.serialization import deserialize_keras_object, serialize_keras_object
from zerograd.keras.saving.structure import assign

__all__ = [
    "CustomObjectScope",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "load_model",
    "load_weights",
    "register_keras_serializable",
    "save_model",
    "save_weights",
    "serialize_keras_object",
]


def _is_keras_name(path: str) -> bool:
    return path.endswith(".keras")


def _is_h5_name(path: str) -> bool:
    return path.endswith(".h5") or path.endswith(".hdf5")


def _weights_bytes(model, fmt: str = "h5", include_optimizer: bool = True) -> bytes:
    """The weights of ``model`` keyed by structure, as h5 (Keras) or safetensors bytes."""
    if fmt == "h5":
        from zerograd.keras.saving.h5io import h5_bytes

        return h5_bytes(model, include_optimizer)
    from safetensors.numpy import save

    from zerograd.keras.saving.h5io import entries_with_optimizer

    flat = {}
    for group, _, arrays in entries_with_optimizer(model, include_optimizer):
        for i, a in enumerate(arrays):
            flat[f"{group}/{i}"] = np.ascontiguousarray(np.asarray(a))
    return save(flat)


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Write ``model`` (architecture, weights, compiled state) to ``filepath``.

    Example:
        >>> model.save("model.keras")  # Keras 3's format; real Keras reads it
    """
    path = os.fspath(filepath)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save_model: {path!r} exists and overwrite=False")
    if _is_h5_name(path):
        raise ValueError(
            f"save_model: {path!r}: the legacy HDF5 whole-model format is not supported; "
            "save to a '.keras' file (or use save_weights for '.weights.h5')"
        )
    config = serialize_keras_object(model)
    if not include_optimizer:
        config.pop("compile_config", None)
    if _is_keras_name(path):
        data = _weights_bytes(model)
        write_archive(path, config, "model.weights.h5", data)
    else:
        data = _weights_bytes(model, "safetensors", include_optimizer)
        write_archive(path, config, "model.weights.safetensors", data)


def _read_weights(member: str, data: bytes, source: str) -> dict:
    if member.endswith(".h5"):
        from zerograd.keras.saving.h5io import read_h5

        return read_h5(data, source)
    from safetensors.numpy import load

    try:
        return load(data)
    except Exception as e:  # safetensors raises its own error type
        raise ValueError(f"{source!r}: the weights are not valid safetensors ({e})") from None


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):  # noqa: A002
    """Rebuild a model saved by ``model.save`` (by zerograd or by real Keras 3).

    Only built-in, registered or ``custom_objects=`` names resolve; no code from the file runs
    (a saved lambda is refused whatever ``safe_mode`` says: it is kept for Keras's signature).

    Example:
        >>> model = keras.models.load_model("model.keras", custom_objects={"Scale": Scale})
    """
    path = os.fspath(filepath)
    config, member, data = read_archive(path)
    if config.get("format") == "zerograd-keras-1":
        from zerograd.keras.saving.legacy import load_legacy

        return load_legacy(config, data, compile)
    if not compile:
        config = {k: v for k, v in config.items() if k != "compile_config"}
    with custom_object_scope(custom_objects or {}):
        model = deserialize_keras_object(config, custom_objects)
    if not member:
        return model
    arrays = _read_weights(member, data, path)
    assign(model, arrays, f"{path}/{member}")
    if compile and getattr(model, "compiled", False):
        from zerograd.keras.saving.h5io import optimizer_list
        from zerograd.keras.saving.optimizer_state import restore_optimizer

        restore_optimizer(model.optimizer, model, optimizer_list(arrays), path)
    return model


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """The weights of ``model`` (and of its optimizer, once compiled, as Keras) keyed by the
    model's structure: Keras h5 for '.h5' names, else safetensors."""
    from zerograd.io.atomic import atomic_path

    path = os.fspath(filepath)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save_weights: {path!r} exists and overwrite=False")
    if _is_keras_name(path):
        raise ValueError(
            f"save_weights: {path!r}: a '.keras' file holds a whole model; use model.save(), "
            "or name the weights file '*.weights.h5'"
        )
    if not getattr(model, "built", True):
        raise ValueError(
            f"save_weights: model '{model.name}' is not built, so it has no weights to save; "
            "call it on a batch, or build(input_shape), first"
        )
    data = _weights_bytes(model, "h5" if _is_h5_name(path) else "safetensors")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load weights saved by ``save_weights`` (zerograd or Keras), a '.keras' file's weights, or
    an older zerograd state-dict safetensors file."""
    if skip_mismatch:
        raise ValueError("load_weights: skip_mismatch=True is not supported by zerograd")
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_weights: no file at {path!r}")
    if _is_keras_name(path):
        _, member, data = read_archive(path)
    else:
        with open(path, "rb") as f:
            data = f.read()
        member = ".h5" if data[:8] == b"\x89HDF\r\n\x1a\n" else ".safetensors"
    arrays = _read_weights(member, data, path)
    if arrays and not any("/vars/" in k for k in arrays):  # zerograd's state_dict names
        model.load_state_dict(arrays)
        return
    assign(model, arrays, path)
    if getattr(model, "compiled", False) and getattr(model, "optimizer", None) is not None:
        _restore_optimizer_leniently(model, arrays, path)


def _restore_optimizer_leniently(model, arrays: dict, path: str) -> None:
    """As Keras's load_weights: the optimizer's state when it fits, else a warning."""
    import logging

    from zerograd.keras.saving.h5io import optimizer_list
    from zerograd.keras.saving.optimizer_state import restore_optimizer

    try:
        restore_optimizer(model.optimizer, model, optimizer_list(arrays), path)
    except ValueError as e:
        logging.getLogger("zerograd.keras").warning("load_weights: optimizer state skipped: %s", e)


def model_from_json(json_string: str, custom_objects=None):
    """A model (fresh weights) from ``model.to_json()``."""
    try:
        config = json.loads(json_string)
    except json.JSONDecodeError as e:
        raise ValueError(f"model_from_json: the string is not valid JSON ({e})") from None
    with custom_object_scope(custom_objects or {}):
        return deserialize_keras_object(config, custom_objects)
