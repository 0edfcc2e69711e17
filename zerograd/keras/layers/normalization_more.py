"""Keras normalization layers beyond Batch/LayerNormalization: GroupNormalization,
UnitNormalization, RMSNormalization; and Identity."""

from __future__ import annotations

import numbers

import zerograd.nn.functional as F
from zerograd.keras import constraints, initializers, regularizers
from zerograd.keras.base import Layer


def _axes(layer, axis, ndim: int) -> tuple:
    """``axis`` (an int or ints) as sorted non-negative axes of a rank-``ndim`` input."""
    axes = [axis] if isinstance(axis, int) else list(axis)
    if not axes or any(isinstance(a, bool) or not -ndim <= a < ndim for a in axes):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': axis {axis!r} is out of bounds for inputs "
            f"of rank {ndim}"
        )
    return tuple(sorted(a % ndim for a in axes))


def _check_axis_arg(layer, axis):
    if isinstance(axis, bool) or not (
        isinstance(axis, int)
        or (isinstance(axis, (list, tuple)) and all(isinstance(a, int) for a in axis))
    ):
        raise TypeError(
            f"{type(layer).__name__} '{layer.name}': axis must be an int or a list of ints, "
            f"received axis={axis!r}"
        )
    return list(axis) if isinstance(axis, (list, tuple)) else axis


def _check_epsilon(layer, epsilon) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or epsilon < 0:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': epsilon must be a non-negative float, "
            f"received epsilon={epsilon!r}"
        )
    return float(epsilon)


class GroupNormalization(Layer):
    """Normalise each group of ``groups`` consecutive channels (along ``axis``) of each sample by
    its mean and variance, then a per-channel gamma and beta; ``groups=-1`` normalises each
    channel alone (instance normalization).

    Example:
        >>> GroupNormalization(groups=2)(zg.randn(2, 5, 4)).shape
        (2, 5, 4)
    """

    def __init__(self, groups: int = 32, axis: int = -1, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        me = f"GroupNormalization '{self.name}'"
        if (
            isinstance(groups, bool)
            or not isinstance(groups, int)
            or (groups <= 0 and groups != -1)
        ):
            raise ValueError(
                f"{me}: groups must be a positive int (or -1 for instance normalization), "
                f"received groups={groups!r}"
            )
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"{me}: axis must be an int, received axis={axis!r}")
        self.supports_masking = True
        self.groups, self.axis, self.epsilon = groups, axis, _check_epsilon(self, epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)

    def build(self, input_shape):
        (axis,) = _axes(self, self.axis, len(input_shape))
        dim = input_shape[axis]
        groups = dim if self.groups == -1 else self.groups
        if dim % groups:
            raise ValueError(
                f"GroupNormalization '{self.name}': the {dim} channels of axis {self.axis} do not "
                f"split into groups={self.groups} (input shape {tuple(input_shape)})"
            )
        self._channel_axis, self._groups, self._dim = axis, groups, dim
        if self.scale:
            self.add_weight(
                "gamma", (dim,), self.gamma_initializer, self.gamma_regularizer,
                constraint=self.gamma_constraint, autocast=False,
            )  # fmt: skip
        if self.center:
            self.add_weight(
                "beta", (dim,), self.beta_initializer, self.beta_regularizer,
                constraint=self.beta_constraint, autocast=False,
            )  # fmt: skip

    def call(self, inputs):
        if inputs.dtype == "float16" and self.variable_dtype == "float32":  # Keras: in float32
            return self.call(inputs.astype("float32")).astype(self.compute_dtype)
        a = self._channel_axis
        if inputs.ndim <= a or inputs.shape[a] != self._dim:
            raise ValueError(
                f"GroupNormalization '{self.name}' expected {self._dim} channels on axis "
                f"{self.axis}, received shape {inputs.shape}"
            )
        order = (0, a, *(i for i in range(1, inputs.ndim) if i != a))  # channels to axis 1
        x = inputs.transpose(order) if a != 1 else inputs
        gamma = self.gamma if self.scale else None
        beta = self.beta if self.center else None
        y = F.group_norm(x, self._groups, gamma, beta, eps=self.epsilon)
        if a == 1:
            return y
        back = [0] * inputs.ndim
        for i, o in enumerate(order):
            back[o] = i
        return y.transpose(tuple(back))

    def get_config(self):
        return {
            **super().get_config(),
            "groups": self.groups,
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }


class UnitNormalization(Layer):
    """Scale each sample to unit L2 norm along ``axis`` (an int or ints).

    Example:
        >>> UnitNormalization()(zg.Tensor([[3.0, 4.0]])).numpy()
        array([[0.6, 0.8]], dtype=float32)
    """

    _EPS = 1e-12  # Keras's floor on the norm

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.axis = _check_axis_arg(self, axis)

    def call(self, inputs):
        axes = _axes(self, self.axis, inputs.ndim)
        norm = (inputs * inputs).sum(axis=axes, keepdims=True).sqrt()
        return inputs / norm.maximum(self._EPS)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class RMSNormalization(Layer):
    """x / sqrt(mean(x^2 over ``axis``) + epsilon) * scale, with a learned ``scale`` of the
    normalised axes' shape (ones at first).

    Example:
        >>> RMSNormalization()(zg.randn(2, 3, 8)).shape
        (2, 3, 8)
    """

    def __init__(self, axis=-1, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis = _check_axis_arg(self, axis)
        self.epsilon = _check_epsilon(self, epsilon)

    def build(self, input_shape):
        self._axes = _axes(self, self.axis, len(input_shape))
        self._shape = tuple(input_shape[a] for a in self._axes)
        self.add_weight("scale", self._shape, "ones")

    def call(self, inputs):
        if inputs.ndim <= self._axes[-1] or tuple(inputs.shape[a] for a in self._axes) != (
            self._shape
        ):
            raise ValueError(
                f"RMSNormalization '{self.name}' expected sizes {self._shape} on axes "
                f"{self._axes}, received shape {inputs.shape}"
            )
        ms = (inputs * inputs).mean(axis=self._axes, keepdims=True)
        shape = [inputs.shape[i] if i in self._axes else 1 for i in range(inputs.ndim)]
        return inputs / (ms + self.epsilon).sqrt() * self.scale.reshape(tuple(shape))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


class Identity(Layer):
    """Returns its inputs unchanged (masks pass on)."""

    _accepts_strings = True  # passes anything through

    supports_masking = True

    def __init__(self, **kwargs):  # keyword arguments only, as Keras
        super().__init__(**kwargs)

    def call(self, inputs):
        return inputs
