"""A Keras-compatible API over zerograd.nn and zerograd.optim: ``from zerograd import keras``."""

from zerograd.keras import (
    activations,
    backend,
    callbacks,
    config,
    constraints,
    distribution,
    dtype_policies,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    ops,
    optimizers,
    random,
    regularizers,
)
from zerograd.keras.base import Input, Layer
from zerograd.keras.devices import device
from zerograd.keras.dtype_policies import DTypePolicy
from zerograd.keras.models import Model, Sequential
from zerograd.keras.saving import load_model
from zerograd.keras.variables import Variable


def __getattr__(name):
    # datasets and utils load lazily: they pull in matplotlib and file access only when used
    if name in ("datasets", "utils"):
        import importlib

        return importlib.import_module(f"zerograd.keras.{name}")
    raise AttributeError(f"module 'zerograd.keras' has no attribute {name!r}")
