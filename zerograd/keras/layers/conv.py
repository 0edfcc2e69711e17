"""Keras convolution and pooling layers, channels_last, over zerograd's NCHW ops."""

from __future__ import annotations

import math

from zerograd.keras import activations, initializers, regularizers
from zerograd.keras.base import Layer
from zerograd.ops import conv as C
from zerograd.ops import pool as P


def _tuple(v, n: int) -> tuple:
    return (v,) * n if isinstance(v, int) else tuple(v)


def _same_pads(size: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """Keras/TensorFlow 'same': output ceil(size / s), the odd pixel of padding on the right."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


class Conv2D(Layer):
    """2-D convolution of (batch, H, W, channels); kernel (kh, kw, in, filters) as Keras.

    Example:
        >>> Conv2D(32, 3, activation='relu')(zg.ones(8, 28, 28, 1)).shape
        (8, 26, 26, 32)
    """

    rank = 2

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=1,
        padding: str = "valid",
        data_format=None,
        dilation_rate=1,
        groups: int = 1,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': only data_format='channels_last' is supported, received {data_format!r}"
            )
        if padding not in ("valid", "same"):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': padding must be 'valid' or 'same', received {padding!r}"
            )
        r = self.rank
        self.filters, self.kernel_size = filters, _tuple(kernel_size, r)
        self.strides, self.padding, self.dilation_rate, self.groups = (
            _tuple(strides, r),
            padding,
            _tuple(dilation_rate, r),
            groups,
        )
        self.activation, self.use_bias = activations.get(activation), use_bias
        self.kernel_initializer, self.bias_initializer = (
            initializers.get(kernel_initializer),
            initializers.get(bias_initializer),
        )
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, input_shape):
        self.in_channels = input_shape[-1]
        self.add_weight(
            "kernel",
            (*self.kernel_size, self.in_channels // self.groups, self.filters),
            self.kernel_initializer,
            self.kernel_regularizer,
        )
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer)

    def _check(self, x):
        if x.ndim != self.rank + 2 or x.shape[-1] != self.in_channels:
            layout = "(batch, H, W, {c})" if self.rank == 2 else "(batch, steps, {c})"
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expected input of shape {layout.format(c=self.in_channels)}, received shape {x.shape}"
            )

    def call(self, inputs, training=None):
        self._check(inputs)
        x = inputs if self.rank == 2 else inputs.expand_dims(1)  # (B, 1, L, C) for 1-D
        k = self.kernel if self.rank == 2 else self.kernel.expand_dims(0)
        ks, st, dl = (
            ((1, *self.kernel_size), (1, *self.strides), (1, *self.dilation_rate))
            if self.rank == 1
            else (self.kernel_size, self.strides, self.dilation_rate)
        )
        if self.padding == "same":
            pads = tuple(_same_pads(x.shape[1 + i], ks[i], st[i], dl[i]) for i in range(2))
        else:
            pads = ((0, 0), (0, 0))
        h = x.shape[1] + sum(pads[0]) - dl[0] * (k.shape[0] - 1)
        w = x.shape[2] + sum(pads[1]) - dl[1] * (k.shape[1] - 1)
        if h <= 0 or w <= 0:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': kernel {tuple(k.shape[:2])} is larger than the "
                f"(padded) input {tuple(x.shape[1:3])}"
            )
        if self.groups == 1:  # channels-last all the way: no layout transposes
            b = (self.bias,) if self.use_bias else ()
            relu = self.activation is activations.relu  # fused into the op
            y = C.Conv2d.apply(
                x,
                k,
                *b,
                stride=st,
                padding=pads,
                dilation=dl,
                groups=1,
                channels_last=True,
                relu=relu,
            )
            y = y if self.rank == 2 else y.squeeze(1)
            return y if relu else self.activation(y)
        W = k.transpose((3, 2, 0, 1))  # (kh, kw, in, out) -> (out, in, kh, kw)
        y = C.conv2d(
            x.transpose((0, 3, 1, 2)),
            W,
            self.bias if self.use_bias else None,
            st,
            pads,
            dl,
            self.groups,
        )
        y = y.transpose((0, 2, 3, 1))
        if self.rank == 1:
            y = y.squeeze(1)
        return self.activation(y)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
        }


class Conv1D(Conv2D):
    """1-D convolution of (batch, steps, channels); kernel (k, in, filters)."""

    rank = 1


class _Pooling2D(Layer):
    def __init__(
        self, pool_size=(2, 2), strides=None, padding: str = "valid", data_format=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.pool_size = _tuple(pool_size, 2)
        self.strides = _tuple(strides, 2) if strides is not None else self.pool_size
        if padding not in ("valid", "same"):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': padding must be 'valid' or 'same', received {padding!r}"
            )
        self.padding = padding

    def _args(self, x) -> dict:
        if x.ndim != 4:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expected input of shape (batch, H, W, channels), received shape {x.shape}"
            )
        if self.padding == "same":
            pads = tuple(
                _same_pads(x.shape[1 + i], self.pool_size[i], self.strides[i]) for i in range(2)
            )
        else:
            pads = ((0, 0), (0, 0))
        return dict(
            kernel=self.pool_size, stride=self.strides, dilation=(1, 1), pads=pads, padding=(0, 0)
        )

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
        }


class MaxPooling2D(_Pooling2D):
    def call(self, inputs, training=None):
        return P.MaxPool2d.apply(inputs, channels_last=True, **self._args(inputs))


class AveragePooling2D(_Pooling2D):
    """Average over windows; with padding='same' only real pixels count (as Keras)."""

    def call(self, inputs, training=None):
        y = P.AvgPool2d.apply(
            inputs.transpose((0, 3, 1, 2)),
            count_include_pad=False,
            dtype=inputs.dtype,
            **self._args(inputs),
        )
        return y.transpose((0, 2, 3, 1))


class GlobalAveragePooling2D(Layer):
    def __init__(self, data_format=None, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.keepdims = keepdims

    def call(self, inputs, training=None):
        return inputs.mean(axis=(1, 2), keepdims=self.keepdims)

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}
