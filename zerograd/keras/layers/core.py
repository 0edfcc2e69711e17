"""Core Keras layers over zerograd.nn.functional: Dense, Activation, Dropout, Flatten, Reshape,
Embedding, BatchNormalization, LayerNormalization, Add, Concatenate."""

from __future__ import annotations

import warnings

import numpy as np

import zerograd.nn.functional as F
from zerograd.keras import activations, constraints, initializers, regularizers
from zerograd.keras.base import Layer
from zerograd.keras.layers._weight_options import (
    constraint_get,
    constraint_serialize,
    only_neutral,
)
from zerograd.keras.layers.merging import Add, Concatenate  # noqa: F401 - moved there
from zerograd.keras.layers.normalization import (  # noqa: F401 - moved there
    BatchNormalization,
    LayerNormalization,
)
from zerograd.keras.layers.regularization import Dropout  # noqa: F401 - moved there
from zerograd.tensor import Tensor


class Dense(Layer):
    """outputs = activation(inputs @ kernel + bias); kernel (in, units) as Keras stores it.

    Example:
        >>> Dense(10, activation='softmax')(zg.ones(32, 784)).shape
        (32, 10)
    """

    supports_masking = True  # the input's mask passes on (Keras)

    def __init__(
        self,
        units: int,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(
                f"Dense '{self.name}': units must be a positive integer, received {units!r}"
            )
        self.units, self.use_bias = int(units), use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def build(self, input_shape):
        if isinstance(input_shape, dict):
            raise ValueError(
                f"Dense '{self.name}' expects 1 input, received a dict with keys "
                f"{sorted(input_shape)}"
            )
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], tuple):
            raise ValueError(
                f"Dense '{self.name}' expects 1 input, received {len(input_shape)}: "
                f"shapes {input_shape}"
            )
        if len(input_shape) < 2:
            raise ValueError(
                f"Dense '{self.name}' expected input of rank >= 2 (batch, ..., features), "
                f"received shape {tuple(input_shape)}"
            )
        self.input_dim = input_shape[-1]
        self.add_weight(
            "kernel",
            (self.input_dim, self.units),
            self.kernel_initializer,
            self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.add_weight(
                "bias",
                (self.units,),
                self.bias_initializer,
                self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def call(self, inputs, training=None):
        if inputs.ndim < 1 or inputs.shape[-1] != self.input_dim:
            raise ValueError(
                f"Dense '{self.name}' expected input with last axis {self.input_dim}, received shape {inputs.shape}"
            )
        y = inputs @ self.kernel
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


class Activation(Layer):
    supports_masking = True  # the input's mask passes on (Keras)

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs, training=None):
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Flatten(Layer):
    """Flatten all axes but the batch; ``data_format="channels_first"`` inputs are moved to
    channels last first, so the order of the features is the same in both formats (Keras)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(
                f"Flatten '{self.name}': data_format must be 'channels_last' or 'channels_first', "
                f"received {data_format!r}"
            )
        self.data_format = data_format or "channels_last"

    def call(self, inputs, training=None):
        if inputs.ndim < 1:
            raise ValueError(
                f"Flatten '{self.name}' expected input of rank >= 1 (batch, ...), received shape "
                f"{tuple(inputs.shape)}"
            )
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = inputs.transpose(0, *range(2, inputs.ndim), 1)
        return inputs.reshape((inputs.shape[0], -1))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (the batch axis stays); one entry may be -1 (or
    None), inferred from the input's size."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(target_shape, (tuple, list)):
            raise TypeError(
                f"Reshape '{self.name}': target_shape must be a tuple of ints (without the batch "
                f"axis), received {target_shape!r} of type {type(target_shape).__name__}"
            )
        dims = [-1 if d is None else d for d in target_shape]
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in dims):
            raise TypeError(
                f"Reshape '{self.name}': target_shape must hold ints (one may be -1 or None), "
                f"received {tuple(target_shape)!r}"
            )
        if any(d < 1 and d != -1 for d in dims) or dims.count(-1) > 1:
            raise ValueError(
                f"Reshape '{self.name}': target_shape entries must be positive ints, with at most "
                f"one -1 (or None) inferred from the input, received {tuple(target_shape)!r}"
            )
        self.target_shape = tuple(target_shape)
        self._dims = tuple(int(d) for d in dims)

    def call(self, inputs, training=None):
        size = int(np.prod(inputs.shape[1:]))
        known = int(np.prod([d for d in self._dims if d != -1]))
        if size % known if -1 in self._dims else size != known:
            raise ValueError(
                f"Reshape '{self.name}' cannot reshape input of shape {tuple(inputs.shape)} "
                f"({size} values per sample) to (batch, *{self.target_shape})"
            )
        return inputs.reshape((inputs.shape[0], *self._dims))

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Embedding(Layer):
    """Integer indices -> vectors; weights start U(-0.05, 0.05) as Keras."""

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero: bool = False,
        weights=None,
        lora_rank=None,
        lora_alpha=None,
        quantization_config=None,
        **kwargs,
    ):
        if kwargs.pop("input_length", None) is not None:  # as Keras 3: deprecated, no effect
            warnings.warn(
                "Embedding: the argument input_length is deprecated and has no effect (as in "
                "Keras 3); remove it",
                DeprecationWarning,
                stacklevel=2,
            )
        super().__init__(**kwargs)
        for arg, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(
                    f"Embedding '{self.name}': {arg} must be a positive integer, received {v!r}"
                )
        only_neutral(
            self,
            lora_rank=lora_rank,
            lora_alpha=lora_alpha,
            quantization_config=quantization_config,
        )
        self.input_dim, self.output_dim, self.mask_zero = int(input_dim), int(output_dim), mask_zero
        self.supports_masking = bool(mask_zero)  # as Keras: only mask_zero makes a mask
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraint_get(
            self, "embeddings_constraint", embeddings_constraint
        )
        self.add_weight(
            name="embeddings",
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            **_constraint_kw(self.embeddings_constraint),
        )
        self.built = True
        if weights is not None:  # Keras: one array, or a list holding it
            self.set_weights(weights if isinstance(weights, list) else [weights])

    def call(self, inputs, training=None):
        idx = inputs if inputs.dtype.kind in "iu" else inputs.astype("int64")
        return F.embedding(idx, self.embeddings)

    def compute_mask(self, inputs, mask=None):
        """With mask_zero=True, index 0 is padding: the mask is ``inputs != 0``."""
        if not self.mask_zero:
            return None
        inputs = inputs if isinstance(inputs, Tensor) else Tensor(np.asarray(inputs))
        return (inputs != 0).detach()

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "embeddings_constraint": constraint_serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
            "quantization_config": None,
        }


def _constraint_kw(constraint) -> dict:
    """``constraint=`` for add_weight only when one is set (so the layer builds without one)."""
    return {} if constraint is None else {"constraint": constraint}
