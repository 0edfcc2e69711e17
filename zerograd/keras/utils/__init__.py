"""Keras utilities: sequences and labels, PyDataset, seeding, model and history plots."""

from zerograd.keras.saving.registry import (  # keras.utils.* aliases, as Keras
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from zerograd.keras.saving.serialization import (
    deserialize_keras_object,
    serialize_keras_object,
)
from zerograd.keras.utils.dataset import PyDataset
from zerograd.keras.utils.history_plot import plot_history
from zerograd.keras.utils.model_plot import model_to_dot, plot_model
from zerograd.keras.utils.random_seed import get_random_seed, set_random_seed
from zerograd.keras.utils.sequences import normalize, pad_sequences, to_categorical

Sequence = PyDataset  # the Keras 2 name

__all__ = [
    "CustomObjectScope",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "register_keras_serializable",
    "serialize_keras_object",
    "PyDataset",
    "Sequence",
    "get_random_seed",
    "model_to_dot",
    "normalize",
    "pad_sequences",
    "plot_history",
    "plot_model",
    "set_random_seed",
    "to_categorical",
]
