"""Keras activation layers: ReLU, LeakyReLU, PReLU, ELU, Softmax."""

from __future__ import annotations

import numpy as np

import zerograd.nn.functional as F
from zerograd.keras import constraints, initializers, regularizers
from zerograd.keras.base import Layer
from zerograd.ops.elementwise import minimum, where
from zerograd.ops.reduce import logsumexp
from zerograd.tensor import Tensor


def _check_non_negative(layer: Layer, **values) -> None:
    for name, v in values.items():
        if isinstance(v, (str, bytes, bool)) or (
            v is not None and not isinstance(v, (int, float, np.number))
        ):
            raise TypeError(
                f"{type(layer).__name__} '{layer.name}': {name} must be a number, received "
                f"{type(v).__name__} {v!r}"
            )
        if v is None or v < 0:
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}': {name} must be a non-negative number, "
                f"received {name}={v!r}"
            )


class ReLU(Layer):
    """max_value if x >= max_value; x if x > threshold; negative_slope * (x - threshold) otherwise.

    Example:
        >>> ReLU(max_value=6.0)(zg.tensor([[-1.0, 3.0, 9.0]])).tolist()
        [[0.0, 3.0, 6.0]]
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # the input's mask passes through
        if max_value is not None:
            _check_non_negative(self, max_value=max_value)
        _check_non_negative(self, negative_slope=negative_slope, threshold=threshold)
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, inputs):
        if self.threshold == 0 and self.negative_slope == 0:
            y = F.relu(inputs)
        elif self.threshold == 0 and self.max_value is None:
            y = F.leaky_relu(inputs, self.negative_slope)
        else:
            below = (inputs - self.threshold) * self.negative_slope
            y = where(inputs > self.threshold, inputs, below)
        return y if self.max_value is None else minimum(y, float(self.max_value))

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(Layer):
    """x if x > 0 else negative_slope * x (Keras 3 default slope 0.3)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # the Keras 2 name
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.supports_masking = True  # the input's mask passes through
        _check_non_negative(self, negative_slope=negative_slope)
        self.negative_slope = negative_slope

    def call(self, inputs):
        return F.leaky_relu(inputs, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """Leaky ReLU with a learned slope ``alpha`` per input element (shared along ``shared_axes``)."""

    def __init__(
        self,
        alpha_initializer="Zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.supports_masking = True  # the input's mask passes through
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if any(not isinstance(a, (int, np.integer)) or a < 1 for a in axes):
                raise ValueError(
                    f"PReLU '{self.name}': shared_axes must be positive axes (1 is the first "
                    f"axis after the batch), received shared_axes={shared_axes!r}"
                )
            self.shared_axes = [int(a) for a in axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for a in self.shared_axes or ():
            if a > len(shape):
                raise ValueError(
                    f"PReLU '{self.name}': shared axis {a} is out of range for input of shape "
                    f"{tuple(input_shape)}"
                )
            shape[a - 1] = 1
        self.add_weight(
            "alpha", tuple(shape), self.alpha_initializer, self.alpha_regularizer,
            constraint=self.alpha_constraint,
        )  # fmt: skip

    def call(self, inputs):
        ok = inputs.ndim == self.alpha.ndim + 1 and all(
            a in (1, n) for a, n in zip(self.alpha.shape, inputs.shape[1:])
        )
        if not ok:
            raise ValueError(
                f"PReLU '{self.name}' expected input of shape (batch, *{self.alpha.shape}) "
                f"(1: shared), received shape {inputs.shape}"
            )
        return F.relu(inputs) - self.alpha * F.relu(-inputs)

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": constraints.serialize(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        }


class ELU(Layer):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # the input's mask passes through
        self.alpha = alpha

    def call(self, inputs):
        return F.elu(inputs, self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax along ``axis`` (an int or a tuple of axes); masked positions (mask False) get 0."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # the input's mask passes through
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis

    def call(self, inputs, mask=None):
        x = inputs
        if mask is not None:
            mask = _broadcastable_mask(self, inputs, mask)
            x = where(mask, inputs, _large_negative(inputs.dtype))
        if isinstance(self.axis, list) and len(self.axis) > 1:
            y = (x - logsumexp(x, axis=tuple(self.axis), keepdims=True)).exp()
        else:
            axis = self.axis[0] if isinstance(self.axis, list) else self.axis
            y = F.softmax(x, axis)
        return y if mask is None else where(mask, y, 0.0)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _large_negative(dtype) -> float:
    """What Keras puts in masked logits: a large negative number the dtype can hold."""
    return -3e4 if np.dtype(dtype) == np.float16 else -1e9


def _broadcastable_mask(layer: Layer, inputs: Tensor, mask) -> Tensor:
    m = mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask))
    ok = m.ndim <= inputs.ndim and all(
        a in (1, b) for a, b in zip(m.shape[::-1], inputs.shape[::-1])
    )
    if not ok:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': the mask must broadcast to the inputs, "
            f"received inputs of shape {inputs.shape} and a mask of shape {m.shape}"
        )
    if m.dtype != np.bool_:
        m = m > 0.5
    return m
