"""Core Keras layers over zerograd.nn.functional: Dense, Activation, Dropout, Flatten, Reshape,
Embedding, BatchNormalization, LayerNormalization, Add, Concatenate."""

from __future__ import annotations

import numpy as np

import zerograd.nn.functional as F
from zerograd.keras import activations, initializers, regularizers
from zerograd.keras.base import Layer
from zerograd.keras.layers.merging import Add, Concatenate  # noqa: F401 - moved there
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units, self.use_bias = int(units), use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, input_shape):
        self.input_dim = input_shape[-1]
        self.add_weight(
            "kernel", (self.input_dim, self.units), self.kernel_initializer, self.kernel_regularizer
        )
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer)

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
    def call(self, inputs, training=None):
        return inputs.reshape((inputs.shape[0], -1))


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)

    def call(self, inputs, training=None):
        if (
            np.prod(inputs.shape[1:]) != np.prod([d for d in self.target_shape if d != -1])
            and -1 not in self.target_shape
        ):
            raise ValueError(
                f"Reshape '{self.name}' cannot reshape input of shape {inputs.shape} to (batch, *{self.target_shape})"
            )
        return inputs.reshape((inputs.shape[0], *self.target_shape))

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
        mask_zero: bool = False,
        **kwargs,
    ):
        kwargs.pop("input_length", None)
        super().__init__(**kwargs)
        self.input_dim, self.output_dim, self.mask_zero = input_dim, output_dim, mask_zero
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.add_weight(
            "embeddings",
            (input_dim, output_dim),
            self.embeddings_initializer,
            embeddings_regularizer,
        )
        self.built = True

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
            "mask_zero": self.mask_zero,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
        }


def _channels_to_axis1(x: Tensor, axis: int) -> tuple[Tensor, tuple | None]:
    axis %= x.ndim
    if axis == 1:
        return x, None
    perm = (0, axis, *[i for i in range(1, x.ndim) if i != axis])
    return x.transpose(perm), tuple(np.argsort(perm))


class BatchNormalization(Layer):
    """Keras batch norm: moving = moving * momentum + batch * (1 - momentum); epsilon 1e-3."""

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis, self.momentum, self.epsilon, self.center, self.scale = (
            axis,
            momentum,
            epsilon,
            center,
            scale,
        )
        self.beta_initializer, self.gamma_initializer = (
            initializers.get(beta_initializer),
            initializers.get(gamma_initializer),
        )

    def build(self, input_shape):
        n = input_shape[self.axis]
        if self.scale:
            self.add_weight("gamma", (n,), self.gamma_initializer)
        if self.center:
            self.add_weight("beta", (n,), self.beta_initializer)
        self.add_weight("moving_mean", (n,), "zeros", trainable=False)
        self.add_weight("moving_variance", (n,), "ones", trainable=False)

    def call(self, inputs, training=None):
        # a frozen BatchNormalization runs in inference mode even in training, as Keras 3's
        training = bool(training) and self.trainable
        x, inverse = _channels_to_axis1(inputs, self.axis)
        y = F.batch_norm(
            x,
            self.moving_mean,
            self.moving_variance,
            getattr(self, "gamma", None),
            getattr(self, "beta", None),
            bool(training),
            1 - self.momentum,
            self.epsilon,
            unbiased_running_var=False,
        )
        return y if inverse is None else y.transpose(inverse)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }


class LayerNormalization(Layer):
    supports_masking = True  # the input's mask passes on (Keras)

    def __init__(
        self, axis=-1, epsilon: float = 1e-3, center: bool = True, scale: bool = True, **kwargs
    ):
        super().__init__(**kwargs)
        if axis not in (-1, [-1], (-1,)):
            raise ValueError(
                f"LayerNormalization '{self.name}': only axis=-1 is supported, received {axis}"
            )
        self.axis, self.epsilon, self.center, self.scale = -1, epsilon, center, scale

    def build(self, input_shape):
        n = input_shape[-1]
        if self.scale:
            self.add_weight("gamma", (n,), "ones")
        if self.center:
            self.add_weight("beta", (n,), "zeros")

    def call(self, inputs, training=None):
        return F.layer_norm(
            inputs,
            (inputs.shape[-1],),
            getattr(self, "gamma", None),
            getattr(self, "beta", None),
            self.epsilon,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }
