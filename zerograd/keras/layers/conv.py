"""Keras convolution layers over ``F``: Conv1D/2D and Conv1DTranspose/2DTranspose, Keras kernel
layouts (channels_last by default; data_format='channels_first' supported)."""

from __future__ import annotations

import zerograd.nn.functional as F
from zerograd.keras import activations, constraints, initializers, regularizers
from zerograd.keras.base import Layer
from zerograd.keras.layers._args import conv_geometry, int_tuple, padding_mode, same_pads
from zerograd.keras.layers._args import data_format as _data_format

# The pooling layers lived here; they are re-exported for code that imports them from this module.
from zerograd.keras.layers.pooling import (  # noqa: F401
    AveragePooling2D,
    GlobalAveragePooling2D,
    MaxPooling2D,
)


class _BaseConv(Layer):
    """What a convolution and a transposed convolution share: arguments, checks and config."""

    rank = 2
    transpose = False

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=1,
        padding: str = "valid",
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        me, r = f"{type(self).__name__} '{self.name}'", self.rank
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"{me}: filters must be a positive int, received filters={filters!r}")
        self.filters = filters
        self.kernel_size, self.strides, self.dilation_rate = conv_geometry(
            self, kernel_size, strides, dilation_rate, r
        )
        causal = r == 1 and not self.transpose and padding == "causal"
        self.padding = "causal" if causal else padding_mode(self, padding)
        self.data_format = _data_format(self, data_format)
        self.activation, self.use_bias = activations.get(activation), use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    @property
    def _channels_last(self) -> bool:
        return self.data_format == "channels_last"

    def _layout(self, c) -> str:
        spatial = "steps" if self.rank == 1 else "H, W"
        return f"(batch, {spatial}, {c})" if self._channels_last else f"(batch, {c}, {spatial})"

    def _check(self, x) -> None:
        c = x.shape[-1 if self._channels_last else 1] if x.ndim == self.rank + 2 else None
        if c != self.in_channels:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expected input of shape "
                f"{self._layout(self.in_channels)}, received shape {x.shape}"
            )

    def _build_weights(self, input_shape, kernel_shape) -> None:
        self.add_weight(
            "kernel",
            kernel_shape,
            self.kernel_initializer,
            self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.add_weight(
                "bias",
                (self.filters,),
                self.bias_initializer,
                self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def _spatial(self, x) -> tuple:
        return tuple(x.shape[1:-1] if self._channels_last else x.shape[2:])

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


class Conv2D(_BaseConv):
    """2-D convolution of (batch, H, W, channels); kernel (kh, kw, in / groups, filters) as Keras.

    Example:
        >>> Conv2D(32, 3, activation='relu')(zg.ones(8, 28, 28, 1)).shape
        (8, 26, 26, 32)
    """

    def __init__(self, filters: int, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups: int = 1, **kwargs):  # fmt: skip
        super().__init__(
            filters, kernel_size, strides, padding, data_format, dilation_rate, **kwargs
        )
        if not isinstance(groups, int) or groups <= 0 or filters % groups:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': groups must be a positive int dividing "
                f"filters={filters}, received groups={groups!r}"
            )
        self.groups = groups

    def build(self, input_shape):
        self.in_channels = input_shape[-1 if self._channels_last else 1]
        if self.in_channels % self.groups:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': the input's {self.in_channels} channels "
                f"are not divisible by groups={self.groups} (input shape {tuple(input_shape)})"
            )
        shape = (*self.kernel_size, self.in_channels // self.groups, self.filters)
        self._build_weights(input_shape, shape)

    def call(self, inputs):
        self._check(inputs)
        k, d, s = self.kernel_size, self.dilation_rate, self.strides
        if self.padding == "same":
            pads = tuple(same_pads(*a) for a in zip(self._spatial(inputs), k, s, d))
        elif self.padding == "causal":  # 1-D only: every step sees only the past
            pads = ((d[0] * (k[0] - 1), 0),)
        else:
            pads = ((0, 0),) * self.rank
        if any(n + sum(p) < d_ * (k_ - 1) + 1 for n, p, k_, d_ in zip(
                self._spatial(inputs), pads, k, d)):  # fmt: skip
            raise ValueError(
                f"{type(self).__name__} '{self.name}': kernel {k} (dilation {d}) is larger than "
                f"the padded input {self._spatial(inputs)}"
            )
        b = self.bias if self.use_bias else None
        cl, relu = self._channels_last, self.activation is activations.relu
        if self.rank == 1:
            W = self.kernel if cl else self.kernel.transpose((2, 1, 0))  # (filters, in, k)
            conv, geo = F.conv1d, (s[0], pads[0], d[0])
        else:
            W = self.kernel if cl else self.kernel.transpose((3, 2, 0, 1))
            conv, geo = F.conv2d, (s, pads, d)
        y = conv(inputs, W, b, *geo, self.groups, channels_last=cl, fuse_relu=relu)
        return y if relu else self.activation(y)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


class Conv1D(Conv2D):
    """1-D convolution of (batch, steps, channels); kernel (k, in / groups, filters);
    padding 'valid', 'same' or 'causal'."""

    rank = 1


class Conv2DTranspose(_BaseConv):
    """The transpose (adjoint) of a Conv2D: upsamples (batch, H, W, in); kernel
    (kh, kw, filters, in) as Keras. Output size per axis: (n - 1) * s + k ('valid') or n * s
    ('same'), both adjusted by ``output_padding`` (each less than the stride)."""

    transpose = True

    def __init__(self, filters: int, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, **kwargs):  # fmt: skip
        super().__init__(
            filters, kernel_size, strides, padding, data_format, dilation_rate, **kwargs
        )
        if output_padding is not None:
            output_padding = int_tuple(self, output_padding, self.rank, "output_padding", 0)
            if any(op >= s for op, s in zip(output_padding, self.strides)):
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': output_padding must be less than "
                    f"strides, received output_padding={output_padding}, strides={self.strides}"
                )
        self.output_padding = output_padding

    def build(self, input_shape):
        self.in_channels = input_shape[-1 if self._channels_last else 1]
        self._build_weights(input_shape, (*self.kernel_size, self.filters, self.in_channels))

    def _crops(self) -> tuple:
        """Per axis (before, after) crops of the full output (n - 1) * s + (k - 1) * d + 1; a
        negative 'after' adds zeros (Keras's padding and output_padding rules)."""
        out = []
        for i, (k, s, d) in enumerate(zip(self.kernel_size, self.strides, self.dilation_rate)):
            ek = (k - 1) * d + 1
            op = None if self.output_padding is None else self.output_padding[i]
            if self.padding == "valid":
                extra = max(ek, s) - ek if op is None else op
                out.append((0, -extra))
            else:
                total = s + ek - 2 if op is None else ek + ek % 2 - 2 + op
                before = min(total // 2 + total % 2, ek - 1)
                out.append((ek - 1 - before, ek - 1 - (total - before)))
        return tuple(out)

    def call(self, inputs):
        self._check(inputs)
        b = self.bias if self.use_bias else None
        x = inputs if self._channels_last else _move_channels(inputs, last=True)
        crops = self._crops()
        if self.rank == 1:
            x, W = x.expand_dims(1), self.kernel.expand_dims(0)
            st, dl, crops = (1, *self.strides), (1, *self.dilation_rate), ((0, 0), *crops)
        else:
            W, st, dl = self.kernel, self.strides, self.dilation_rate
        y = F.conv_transpose2d(x, W, b, st, crops, dilation=dl, channels_last=True)
        y = y.squeeze(1) if self.rank == 1 else y
        y = y if self._channels_last else _move_channels(y, last=False)
        return self.activation(y)

    def get_config(self):
        op = self.output_padding
        return {**super().get_config(), "output_padding": None if op is None else list(op)}


class Conv1DTranspose(Conv2DTranspose):
    """The transpose of a Conv1D: (batch, steps, in) -> (batch, longer steps, filters)."""

    rank = 1


def _move_channels(x, last: bool):
    """channels_first <-> channels_last."""
    n = x.ndim
    perm = (0, *range(2, n), 1) if last else (0, n - 1, *range(1, n - 1))
    return x.transpose(perm)


Convolution1D, Convolution2D = Conv1D, Conv2D
Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
