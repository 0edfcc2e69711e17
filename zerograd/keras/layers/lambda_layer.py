"""``Lambda``: a Python function as a layer."""

from __future__ import annotations

import inspect

from zerograd.keras.base import Layer


class Lambda(Layer):
    """Wrap ``function(inputs, **arguments)`` as a layer without weights.

    ``mask=`` is the output mask: a callable ``mask(inputs, previous_mask)`` or a fixed value.
    The function gets ``mask=`` and ``training=`` when its signature takes them, as in Keras.
    Saving a model keeps a named function that is built in or registered with
    ``keras.saving.register_keras_serializable``; a lambda cannot be saved (loading a file never
    runs code), so ``get_config`` says so.

    Example:
        >>> layer = Lambda(lambda x: x * 2)
        >>> layer(zg.ones(2, 3)).numpy()[0, 0]
        2.0
    """

    _accepts_strings = True  # the function decides

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(
                f"Lambda '{self.name}': function must be callable, received "
                f"{type(function).__name__}"
            )
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(
                f"Lambda '{self.name}': arguments must be a dict of keyword arguments, received "
                f"{type(arguments).__name__}"
            )
        self.function, self.arguments = function, dict(arguments or {})
        self.output_shape_arg = output_shape  # shapes come from running the function on zeros
        self.mask = mask
        params = inspect.signature(function).parameters
        self._takes = {name for name in ("mask", "training") if name in params}
        self.supports_masking = mask is not None or "mask" in self._takes

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if "mask" in self._takes:
            kwargs["mask"] = mask
        if "training" in self._takes:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask if self.mask is not None else None

    def get_config(self) -> dict:
        from zerograd.keras.saving import serialize_keras_object

        if getattr(self.function, "__name__", None) == "<lambda>":
            raise ValueError(
                f"Lambda '{self.name}' wraps a lambda, which cannot be saved (loading a file never "
                "runs code): use a named function registered with "
                "@keras.saving.register_keras_serializable()"
            )
        if callable(self.mask):
            raise ValueError(
                f"Lambda '{self.name}': a callable mask= cannot be saved; give a fixed mask or "
                "rebuild the layer in code after loading"
            )
        return {
            **super().get_config(),
            "function": serialize_keras_object(self.function),
            "output_shape": self.output_shape_arg,
            "arguments": self.arguments,
            "mask": self.mask,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        from zerograd.keras.saving import deserialize_keras_object

        config = dict(config)
        if isinstance(config.get("function"), dict):
            config["function"] = deserialize_keras_object(config["function"], custom_objects)
        return cls(**config)
