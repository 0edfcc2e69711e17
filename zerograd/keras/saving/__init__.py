"""Saving and loading Keras models: ``model.save``, ``load_model``, weights files, the registry of
custom objects and Keras 3's serialization format.

Formats: a path ending in ``.keras`` is Keras 3's zip (config.json + model.weights.h5), readable by
real Keras; ``.weights.h5`` / ``.h5`` weights are Keras's h5 layout. Any other name gets zerograd's
variant (the same config, weights in safetensors). Loading detects the format from the contents,
including zerograd's first format, and never runs code from a file. A file that cannot be read
raises ``zerograd.io.FileFormatError`` naming it and what is wrong (archive.py: the zip and its
zip-bomb limits; file_checks.py: config.json; h5io.py: the HDF5 weights; budget.py: the weight
memory a config may allocate while the model is rebuilt).
"""

from __future__ import annotations

import json
import os

import numpy as np

from zerograd.io.errors import FileFormatError
from zerograd.keras.saving.archive import HDF5_SIGNATURE, read_archive, write_archive
from zerograd.keras.saving.budget import weight_budget
from zerograd.keras.saving.file_checks import check_model_config, file_errors
from zerograd.keras.saving.registry import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from zerograd.keras.saving.serialization import deserialize_keras_object, serialize_keras_object
from zerograd.keras.saving.structure import assign, weights_by_path

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
    """Write ``model`` (architecture, weights, compiled state) to ``filepath``; with
    ``overwrite=False`` an existing file is never replaced (FileExistsError), even by a race.

    Example:
        >>> model.save("model.keras")  # Keras 3's format; real Keras reads it
    """
    path = os.fspath(filepath)
    if not overwrite and os.path.lexists(path):
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
        member, data = "model.weights.h5", _weights_bytes(model)
    else:
        member = "model.weights.safetensors"
        data = _weights_bytes(model, "safetensors", include_optimizer)
    try:
        write_archive(path, config, member, data, overwrite=overwrite)
    except FileExistsError:  # appeared while this save was writing: it is left as it was
        raise FileExistsError(f"save_model: {path!r} exists and overwrite=False") from None


def _read_weights(member: str, data: bytes, source: str, loader: str) -> dict:
    if member.endswith(".h5"):
        from zerograd.keras.saving.h5io import read_h5

        return read_h5(data, source, loader)
    from safetensors.numpy import load

    try:
        arrays = load(data)
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise FileFormatError(
            source, f"the weights are not valid safetensors ({type(e).__name__}: {e})", loader
        ) from None
    bad = [f"{k}: {a.dtype}" for k, a in arrays.items() if a.dtype.kind not in "biuf"]
    if bad:
        raise FileFormatError(source, f"weights of non-numeric dtypes: {bad[:5]}", loader)
    return arrays


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):  # noqa: A002
    """Rebuild a model saved by ``model.save`` (by zerograd or by real Keras 3).

    Only built-in, registered or ``custom_objects=`` names resolve; no code from the file runs
    (a saved lambda is refused whatever ``safe_mode`` says: it is kept for Keras's signature).
    A file that cannot be read (truncated, not a zip, corrupt JSON, a config of the wrong shape,
    weights that do not fit it, a zip bomb) raises ``zerograd.io.FileFormatError`` naming the file
    and what is wrong.

    Example:
        >>> model = keras.models.load_model("model.keras", custom_objects={"Scale": Scale})
    """
    path = os.fspath(filepath)
    config, member, data = read_archive(path, "load_model")
    if config.get("format") == "zerograd-keras-1":
        from zerograd.keras.saving.legacy import load_legacy

        with file_errors(path, "load_model", "zerograd's first model format"):
            arrays = _read_weights(member, data, path, "load_model")
            with weight_budget(len(data)):
                return load_legacy(config, arrays, compile)
    check_model_config(config, path, "load_model")
    if not compile:
        config = {k: v for k, v in config.items() if k != "compile_config"}
    with file_errors(path, "load_model", "could not rebuild the model from config.json"):
        with custom_object_scope(custom_objects or {}), weight_budget(len(data)):
            model = deserialize_keras_object(config, custom_objects)
    if not member:
        return model
    arrays = _read_weights(member, data, f"{path}/{member}", "load_model")
    with file_errors(path, "load_model", f"the weights in {member} do not fit its config.json"):
        assign(model, arrays, f"{path}/{member}", loader="load_model")
        if compile and getattr(model, "compiled", False):
            from zerograd.keras.saving.h5io import optimizer_list
            from zerograd.keras.saving.optimizer_state import restore_optimizer

            group = "optimizer/vars"
            if not hasattr(model.optimizer, "inner_optimizer") and any(
                k.startswith("optimizer/inner_optimizer/vars/") for k in arrays
            ):  # a LossScaleOptimizer's file, loaded without one: its inner optimizer's state
                group = "optimizer/inner_optimizer/vars"
            opt = optimizer_list(arrays, f"{path}/{member}", group=group)
            restore_optimizer(model.optimizer, model, opt, f"{path}/{member}")
    return model


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """The weights of ``model`` (and of its optimizer, once compiled, as Keras) keyed by the
    model's structure: Keras h5 for '.h5' names, else safetensors. With ``overwrite=False`` an
    existing file is never replaced (FileExistsError), even by a save racing with this one."""
    from zerograd.io.atomic import atomic_path

    path = os.fspath(filepath)
    if not overwrite and os.path.lexists(path):
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
    try:
        with atomic_path(path, overwrite=overwrite) as tmp:
            tmp.write_bytes(data)
    except FileExistsError:  # appeared while this save was writing: it is left as it was
        raise FileExistsError(f"save_weights: {path!r} exists and overwrite=False") from None


def _read_weights_file(path: str) -> dict:
    """{key: array} of a weights file of any format zerograd reads (named by its contents)."""
    if os.path.isdir(path):
        raise FileFormatError(path, "is a directory, not a weights file", "load_weights")
    with open(path, "rb") as f:
        head = f.read(8)
        data = b"" if head[:4] == b"PK\x03\x04" else head + f.read()
    if _is_keras_name(path) or head[:4] == b"PK\x03\x04":  # a .keras archive, whatever its name
        _, member, data = read_archive(path, "load_weights")
        if not member:
            raise FileFormatError(path, "the model file holds no weights member", "load_weights")
        return _read_weights(member, data, f"{path}/{member}", "load_weights")
    if data[:8] == HDF5_SIGNATURE:
        return _read_weights(".h5", data, path, "load_weights")
    try:
        return _read_weights(".safetensors", data, path, "load_weights")
    except FileFormatError as e:
        if path.endswith(".safetensors"):
            raise
        raise FileFormatError(
            path, f"neither an HDF5 weights file nor safetensors: {e.problem}", "load_weights"
        ) from None


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load weights saved by ``save_weights`` (zerograd or Keras), a '.keras' file's weights, or
    an older zerograd state-dict safetensors file. A file that cannot be read, or whose weights
    do not fit the model, raises ``zerograd.io.FileFormatError`` naming the file."""
    if skip_mismatch:
        raise ValueError("load_weights: skip_mismatch=True is not supported by zerograd")
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_weights: no file at {path!r}")
    arrays = _read_weights_file(path)
    if arrays and not getattr(model, "built", True) and not weights_by_path(model):
        raise ValueError(
            f"load_weights: model '{model.name}' is not built, so it has no weights yet but "
            f"{path!r} holds {len(arrays)}; call the model on a batch, or build(input_shape), first"
        )
    if arrays and not any("/vars/" in k for k in arrays):  # zerograd's state_dict names
        with file_errors(path, "load_weights", "the weights do not fit the model"):
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
        opt = optimizer_list(arrays, path, "load_weights")
        restore_optimizer(model.optimizer, model, opt, path, "load_weights")
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
