"""``keras.models.clone_model``: the same architecture with freshly initialised weights."""

from __future__ import annotations

from zerograd.keras.saving.registry import custom_object_scope, get_registered_name
from zerograd.keras.saving.serialization import deserialize_keras_object, serialize_keras_object


def _classes_in(model) -> dict:
    """The classes of ``model`` and its layers by name, so unregistered custom layers defined in
    this process resolve while cloning."""
    out = {}
    for m in model.modules():
        cls = type(m)
        out[cls.__name__] = cls
        out[get_registered_name(cls)] = cls
    return out


def clone_model(model, input_tensors=None, clone_function=None, **kwargs):
    """A new model of the same architecture (Sequential, functional, or subclassed with
    get_config) with new weights; nothing is shared with ``model``. ``clone_function(layer)``
    (Sequential and functional models) makes each new layer; by default
    ``type(layer).from_config(layer.get_config())``.

    Example:
        >>> copy = keras.models.clone_model(model)
    """
    from zerograd.keras.base import Layer
    from zerograd.keras.saving.model_config import model_from_keras_config

    if input_tensors is not None or kwargs:
        given = ["input_tensors"] * (input_tensors is not None) + sorted(kwargs)
        raise ValueError(f"clone_model: {given} are not supported by zerograd")
    if clone_function is not None and not callable(clone_function):
        raise TypeError(
            f"clone_model: clone_function must be callable, received {type(clone_function).__name__}"
        )
    config = serialize_keras_object(model)
    config.pop("compile_config", None)
    graph = model.__dict__.get("_functional") or type(model).__name__ == "Sequential"
    if clone_function is None or not graph:
        if clone_function is not None:
            raise ValueError(
                f"clone_model: clone_function needs a Sequential or functional model, received "
                f"the subclassed {type(model).__name__}"
            )
        with custom_object_scope(_classes_in(model)):
            return deserialize_keras_object(config)
    originals = {layer.name: layer for layer in model._graph_layers()}

    def make_layer(entry):
        layer = clone_function(originals[entry.get("name") or entry["config"]["name"]])
        if not isinstance(layer, Layer):
            raise TypeError(
                f"clone_model: clone_function must return a layer, returned {type(layer).__name__}"
            )
        return layer

    with custom_object_scope(_classes_in(model)):
        return model_from_keras_config(type(model), config["config"], None, make_layer)
