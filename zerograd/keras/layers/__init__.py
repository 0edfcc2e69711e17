"""Keras layers (``zerograd.keras.layers``)."""

from zerograd.keras.base import Input, InputLayer, Layer
from zerograd.keras.layers.attention import MultiHeadAttention
from zerograd.keras.layers.conv import (
    AveragePooling2D,
    Conv1D,
    Conv2D,
    GlobalAveragePooling2D,
    MaxPooling2D,
)
from zerograd.keras.layers.core import (
    Activation,
    Add,
    BatchNormalization,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    LayerNormalization,
    Reshape,
)
from zerograd.keras.layers.recurrent import GRU, LSTM, Bidirectional, SimpleRNN

MaxPool2D, AvgPool2D, GlobalAvgPool2D = MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D


def deserialize(config: dict) -> Layer:
    """A layer from {'class_name': ..., 'config': {...}} (names of this module only: no code runs)."""
    name = config["class_name"]
    cls = globals().get(name)
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ValueError(f"unknown layer class {name!r} in the saved config")
    return cls.from_config(config["config"])
