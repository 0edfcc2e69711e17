"""Keras depthwise and separable convolutions over ``F``'s grouped convolution: DepthwiseConv1D/2D
and SeparableConv1D/2D, with Keras's kernel layouts (depthwise (k..., in, depth_multiplier),
pointwise (1..., in * depth_multiplier, filters))."""

from __future__ import annotations

import zerograd.nn.functional as F
from zerograd.keras import activations, constraints, initializers, regularizers
from zerograd.keras.base import Layer
from zerograd.keras.layers._args import conv_geometry, padding_mode, same_pads
from zerograd.keras.layers._args import data_format as _data_format


class _Depthwise(Layer):
    """What the depthwise and separable convolutions share: arguments, checks, the depthwise pass."""

    rank = 2

    def __init__(
        self,
        kernel_size,
        strides=1,
        padding: str = "valid",
        depth_multiplier: int = 1,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias: bool = True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        me, r = self._me, self.rank
        if (
            isinstance(depth_multiplier, bool)
            or not isinstance(depth_multiplier, int)
            or (depth_multiplier <= 0)
        ):
            raise ValueError(
                f"{me}: depth_multiplier must be a positive int, received "
                f"depth_multiplier={depth_multiplier!r}"
            )
        self.depth_multiplier = depth_multiplier
        self.kernel_size, self.strides, self.dilation_rate = conv_geometry(
            self, kernel_size, strides, dilation_rate, r
        )
        self.padding = padding_mode(self, padding)
        self.data_format = _data_format(self, data_format)
        self.activation, self.use_bias = activations.get(activation), bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    @property
    def _me(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    @property
    def _channels_last(self) -> bool:
        return self.data_format == "channels_last"

    def _build_depthwise(self, input_shape) -> None:
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{self._me} expected inputs of rank {self.rank + 2}, received shape "
                f"{tuple(input_shape)}"
            )
        self.in_channels = input_shape[-1 if self._channels_last else 1]
        shape = (*self.kernel_size, self.in_channels, self.depth_multiplier)
        self.add_weight(
            "depthwise_kernel",
            shape,
            self.depthwise_initializer,
            self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )

    def _add_bias(self, n: int) -> None:
        self.add_weight(
            "bias", (n,), self.bias_initializer, self.bias_regularizer,
            constraint=self.bias_constraint,
        )  # fmt: skip

    def _depthwise(self, x):
        """The depthwise pass on channels-last ``x``: (B, *spatial, in * depth_multiplier)."""
        c = x.shape[-1] if x.ndim == self.rank + 2 else None
        if c != self.in_channels:
            spatial = "steps" if self.rank == 1 else "H, W"
            raise ValueError(
                f"{self._me} expected input of shape (batch, {spatial}, {self.in_channels}) "
                f"({self.data_format}), received shape {x.shape}"
            )
        k, s, d = self.kernel_size, self.strides, self.dilation_rate
        size = tuple(x.shape[1:-1])
        if self.padding == "same":
            pads = tuple(same_pads(*a) for a in zip(size, k, s, d))
        else:
            pads = ((0, 0),) * self.rank
        if any(n + sum(p) < d_ * (k_ - 1) + 1 for n, p, k_, d_ in zip(size, pads, k, d)):
            raise ValueError(
                f"{self._me}: kernel {k} (dilation {d}) is larger than the padded input {size}"
            )
        W = self.depthwise_kernel  # (*k, in, m) -> (*k, 1, in * m): group c makes channels c*m..
        W = W.reshape((*k, 1, self.in_channels * self.depth_multiplier))
        if self.rank == 1:
            return F.conv1d(x, W, None, s[0], pads[0], d[0], self.in_channels, channels_last=True)
        return F.conv2d(x, W, None, s, pads, d, self.in_channels, channels_last=True)

    def _to_last(self, x):
        return x if self._channels_last else x.transpose((0, *range(2, x.ndim), 1))

    def _from_last(self, y):
        n = y.ndim
        return y if self._channels_last else y.transpose((0, n - 1, *range(1, n - 1)))

    def get_config(self):
        return {
            **super().get_config(),
            "depth_multiplier": self.depth_multiplier,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


class DepthwiseConv2D(_Depthwise):
    """Each input channel convolved with its own ``depth_multiplier`` filters; kernel
    (kh, kw, in, depth_multiplier) as Keras, output channels in * depth_multiplier.

    Example:
        >>> DepthwiseConv2D(3, depth_multiplier=2)(zg.ones(1, 8, 8, 4)).shape
        (1, 6, 6, 8)
    """

    def build(self, input_shape):
        self._build_depthwise(input_shape)
        if self.use_bias:
            n = self.in_channels * self.depth_multiplier
            self._add_bias(n)

    def call(self, inputs):
        y = self._depthwise(self._to_last(inputs))
        if self.use_bias:
            y = y + self.bias
        return self.activation(self._from_last(y))


class DepthwiseConv1D(DepthwiseConv2D):
    """DepthwiseConv2D's 1-D twin on (batch, steps, channels); kernel (k, in, depth_multiplier)."""

    rank = 1


class SeparableConv2D(_Depthwise):
    """A depthwise convolution, then a 1x1 convolution to ``filters`` channels; kernels
    depthwise (kh, kw, in, depth_multiplier) and pointwise (1, 1, in * depth_multiplier, filters).

    Example:
        >>> SeparableConv2D(16, 3, padding='same')(zg.ones(1, 8, 8, 4)).shape
        (1, 8, 8, 16)
    """

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=1,
        padding: str = "valid",
        data_format=None,
        dilation_rate=1,
        depth_multiplier: int = 1,
        activation=None,
        use_bias: bool = True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(
            kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate,
            activation, use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
            bias_regularizer, activity_regularizer, depthwise_constraint, bias_constraint,
            **kwargs,
        )  # fmt: skip
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"{self._me}: filters must be a positive int, received {filters!r}")
        self.filters = filters
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape):
        self._build_depthwise(input_shape)
        shape = (*(1,) * self.rank, self.in_channels * self.depth_multiplier, self.filters)
        self.add_weight(
            "pointwise_kernel",
            shape,
            self.pointwise_initializer,
            self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
        )
        if self.use_bias:
            self._add_bias(self.filters)

    def call(self, inputs):
        y = self._depthwise(self._to_last(inputs))  # (B, *spatial, in * m)
        P = self.pointwise_kernel
        y = y @ P.reshape(P.shape[-2:])  # a 1x1 convolution is a matmul over channels
        if self.use_bias:
            y = y + self.bias
        return self.activation(self._from_last(y))

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
            "pointwise_constraint": constraints.serialize(self.pointwise_constraint),
        }


class SeparableConv1D(SeparableConv2D):
    """SeparableConv2D's 1-D twin on (batch, steps, channels)."""

    rank = 1


SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
