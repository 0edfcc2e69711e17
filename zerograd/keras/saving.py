"""Saving Keras models: one zip holding config.json (architecture) and model.weights.safetensors.

Loading reads JSON and safetensors only, so a model file can never run code. Writes go to a
temporary file in the same directory, then replace the target: a failed save leaves the old file.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from zerograd.io.atomic import atomic_path


def _weights_bytes(model) -> bytes:
    from safetensors.numpy import save

    return save({k: np.ascontiguousarray(v.numpy()) for k, v in model.state_dict().items()})


def save_model(model, filepath) -> None:
    """Write ``model`` (Sequential or functional) to ``filepath`` (any name; '.keras' is usual)."""
    config = {
        "class_name": "Sequential" if type(model).__name__ == "Sequential" else "Functional",
        "config": model.get_config(),
        "format": "zerograd-keras-1",
    }
    if getattr(model, "compiled", False):
        config["compile"] = {
            "optimizer": type(model.optimizer).__name__.lower(),
            "loss": [getattr(f, "name", None) for f in model.loss_fns],
            "metrics": [
                m if isinstance(m, str) else getattr(m, "name", None) for m in model._metric_specs
            ],
        }
    data = _weights_bytes(model)

    with atomic_path(filepath) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", json.dumps(config, indent=1))
        z.writestr("model.weights.safetensors", data)


def load_model(filepath, compile: bool = True):  # noqa: A002 - Keras's name
    """Rebuild a model saved by ``model.save``: architecture from JSON, weights from safetensors."""
    from safetensors.numpy import load

    from zerograd.keras.models import Model, Sequential

    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"load_model: no file at {filepath!r}")
    try:
        with zipfile.ZipFile(filepath) as z:
            config = json.loads(z.read("config.json"))
            weights = load(z.read("model.weights.safetensors"))
    except (zipfile.BadZipFile, KeyError) as e:
        raise ValueError(
            f"load_model: {filepath!r} is not a model saved by zerograd.keras ({e})"
        ) from None
    cls = {"Sequential": Sequential, "Functional": Model}.get(config.get("class_name"))
    if cls is None:
        raise ValueError(
            f"load_model: unknown model class {config.get('class_name')!r} in {filepath!r}"
        )
    model = cls.from_config(config["config"])
    model.load_state_dict(weights)
    spec = config.get("compile")
    if compile and spec and all(spec["loss"]):
        model.compile(
            optimizer=spec["optimizer"],
            loss=spec["loss"][0] if len(spec["loss"]) == 1 else spec["loss"],
            metrics=[m for m in spec["metrics"] if m],
        )
    return model


def save_weights(model, filepath) -> None:
    """All weights of ``model`` (any kind, subclassed too) in one safetensors file."""
    data = _weights_bytes(model)
    with atomic_path(filepath) as tmp:
        tmp.write_bytes(data)


def load_weights(model, filepath) -> None:
    from safetensors.numpy import load_file

    model.load_state_dict(load_file(os.fspath(filepath)))
