"""Keras optimizers (``keras.optimizers``): Keras 3's update rules, names, defaults and state
layout, on zerograd's arrays."""

from __future__ import annotations

from zerograd.keras import schedules  # noqa: F401 - keras.optimizers.schedules
from zerograd.keras.optimizers.adam import Adam, Adamax, AdamW, Nadam
from zerograd.keras.optimizers.adaptive import Adadelta, Adagrad, Ftrl, RMSprop
from zerograd.keras.optimizers.base import Optimizer
from zerograd.keras.optimizers.loss_scale_optimizer import LossScaleOptimizer
from zerograd.keras.optimizers.sgd import SGD, Lion

NAMES = {
    cls.__name__.lower(): cls
    for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, Lion, Ftrl)
}

__all__ = [
    "LossScaleOptimizer",
    "Optimizer",
    "get",
    "schedules",
    *(cls.__name__ for cls in NAMES.values()),
]


def get(identifier) -> Optimizer | None:
    """An optimizer from a name (``"adam"``), a config dict, or an Optimizer (returned as is)."""
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in NAMES:
        return NAMES[identifier.lower()]()
    if isinstance(identifier, dict):
        from zerograd.keras.saving.serialization import deserialize_keras_object

        config = dict(identifier)
        name = config.get("class_name")
        if isinstance(name, str) and name.lower() in NAMES:
            config["class_name"] = NAMES[name.lower()].__name__
        obj = deserialize_keras_object(config)
        if isinstance(obj, Optimizer):
            return obj
    raise ValueError(
        f"unknown optimizer: expected one of {sorted(NAMES)}, a config dict or an Optimizer, "
        f"received {identifier!r}"
    )
