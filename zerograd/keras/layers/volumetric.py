"""Keras 3-D (volumetric) layers on (batch, D, H, W, C): Conv3D, Max/AveragePooling3D,
GlobalAverage/GlobalMaxPooling3D, UpSampling3D, ZeroPadding3D, Cropping3D. The convolution is a sum
of ``F.conv2d`` over the kernel's depth; pooling reduces strided slices."""

from __future__ import annotations

import itertools

import numpy as np

import zerograd.nn.functional as F
from zerograd import backend
from zerograd.keras.base import Layer
from zerograd.keras.layers._args import data_format as _data_format
from zerograd.keras.layers._args import int_tuple, padding_pairs, same_pads
from zerograd.keras.layers.conv import Conv2D, Conv2DTranspose
from zerograd.keras.layers.pooling import _GlobalPooling, _Pooling
from zerograd.ops.shape import pad
from zerograd.tensor import Tensor


def _to_last(layer, x):
    """channels_first (B, C, D, H, W) -> (B, D, H, W, C); checks the rank."""
    if x.ndim != 5:
        layout = (
            "(batch, D, H, W, C)"
            if layer.data_format == "channels_last"
            else ("(batch, C, D, H, W)")
        )
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}' expected input of shape {layout}, received "
            f"shape {x.shape}"
        )
    return x if layer.data_format == "channels_last" else x.transpose((0, 2, 3, 4, 1))


def _from_last(layer, y):
    return y if layer.data_format == "channels_last" else y.transpose((0, 4, 1, 2, 3))


def _window_slices(x, k, s, d, out):
    """Per kernel offset, the strided slice of channels-last ``x`` that it meets at every output
    position: the windows of a pooling or convolution without im2col."""
    for offsets in itertools.product(*(range(n) for n in k)):
        index = [slice(None)]
        for o, s_, d_, n in zip(offsets, s, d, out):
            index.append(slice(o * d_, o * d_ + (n - 1) * s_ + 1, s_))
        yield offsets, x[tuple(index)]


class Conv3D(Conv2D):
    """3-D convolution of (batch, D, H, W, channels); kernel (kd, kh, kw, in / groups, filters) as
    Keras.

    Example:
        >>> Conv3D(8, 3, padding='same')(zg.ones(1, 4, 6, 6, 2)).shape
        (1, 4, 6, 6, 8)
    """

    rank = 3

    def call(self, inputs):
        self._check(inputs)
        x = _to_last(self, inputs)
        k, d, s = self.kernel_size, self.dilation_rate, self.strides
        size = tuple(x.shape[1:4])
        if self.padding == "same":
            pads = tuple(same_pads(*a) for a in zip(size, k, s, d))
        else:
            pads = ((0, 0),) * 3
        if any(n + sum(p) < d_ * (k_ - 1) + 1 for n, p, k_, d_ in zip(size, pads, k, d)):
            raise ValueError(
                f"Conv3D '{self.name}': kernel {k} (dilation {d}) is larger than the padded "
                f"input {size}"
            )
        if pads[0] != (0, 0):
            x = pad(x, ((0, 0), pads[0], (0, 0), (0, 0), (0, 0)))
        B, D, H, W, C = x.shape
        Do = (D - d[0] * (k[0] - 1) - 1) // s[0] + 1
        y = None
        for i in range(k[0]):  # each depth tap of the kernel: one 2-D convolution of Do slices
            xs = x[:, i * d[0] : i * d[0] + (Do - 1) * s[0] + 1 : s[0]].reshape((B * Do, H, W, C))
            t = F.conv2d(xs, self.kernel[i], None, s[1:], pads[1:], d[1:], self.groups,
                         channels_last=True)  # fmt: skip
            y = t if y is None else y + t
        y = y.reshape((B, Do, *y.shape[1:]))
        if self.use_bias:
            y = y + self.bias
        return self.activation(_from_last(self, y))


class Conv3DTranspose(Conv2DTranspose):
    """The transpose of a Conv3D: upsamples (batch, D, H, W, in); kernel (kd, kh, kw, filters, in)
    as Keras. Each depth tap of the kernel is one ``F.conv_transpose2d`` of every depth slice,
    spread ``strides`` apart and shifted by the tap before the taps are summed."""

    rank = 3

    def call(self, inputs):
        self._check(inputs)
        x = _to_last(self, inputs)
        (crop_d, *crops_hw), k, s, d = (
            self._crops(),
            self.kernel_size,
            self.strides,
            self.dilation_rate,
        )
        B, D, H, W, C = x.shape
        spread = (D - 1) * s[0] + 1  # the depth slices, s[0] apart
        full = spread + (k[0] - 1) * d[0]
        xs = x.reshape((B * D, H, W, C))
        y = None
        for j in range(k[0]):
            t = F.conv_transpose2d(xs, self.kernel[j], None, s[1:], tuple(crops_hw),
                                   dilation=d[1:], channels_last=True)  # fmt: skip
            t = t.reshape((B, D, 1, *t.shape[1:]))
            t = pad(t, ((0, 0), (0, 0), (0, s[0] - 1), (0, 0), (0, 0), (0, 0)))
            t = t.reshape((B, D * s[0], *t.shape[3:]))[:, :spread]
            t = pad(t, ((0, 0), (j * d[0], full - spread - j * d[0]), (0, 0), (0, 0), (0, 0)))
            y = t if y is None else y + t
        before, after = crop_d
        y = y[:, before : full - max(after, 0)]
        if after < 0:
            y = pad(y, ((0, 0), (0, -after), (0, 0), (0, 0), (0, 0)))
        if self.use_bias:
            y = y + self.bias
        return self.activation(_from_last(self, y))


Convolution3D, Convolution3DTranspose = Conv3D, Conv3DTranspose


class _Pooling3D(_Pooling):
    rank = 3
    _max = True

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):  # fmt: skip
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

    def call(self, inputs):
        pads = self._pads(inputs)
        x = _to_last(self, inputs)
        k, s = self.pool_size, self.strides
        width = ((0, 0), *pads, (0, 0))
        if any(p != (0, 0) for p in pads):
            x = pad(x, width, constant_values=-np.inf if self._max else 0.0)
        out = [(n - k_) // s_ + 1 for n, k_, s_ in zip(x.shape[1:4], k, s)]
        acc = None
        for _, t in _window_slices(x, k, s, (1, 1, 1), out):
            acc = t if acc is None else (acc.maximum(t) if self._max else acc + t)
        if not self._max:  # divide by the number of real (unpadded) cells in each window
            ones = np.pad(np.ones((1, *_spatial_shape(inputs, self), 1), "float64"), width)
            counts = sum(c for _, c in _window_slices(ones, k, s, (1, 1, 1), out))
            acc = acc / Tensor(backend.to_device(counts.astype(acc.dtype), acc.device))
        return _from_last(self, acc)


def _spatial_shape(x, layer) -> tuple:
    """The (D, H, W) of an input in the layer's data format."""
    return tuple(x.shape[1:4] if layer.data_format == "channels_last" else x.shape[2:5])


class MaxPooling3D(_Pooling3D):
    """Max over (pd, ph, pw) windows of (batch, D, H, W, C); strides default to pool_size."""


class AveragePooling3D(_Pooling3D):
    """Mean over (pd, ph, pw) windows (padding cells not counted with padding='same')."""

    _max = False

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


MaxPool3D, AvgPool3D = MaxPooling3D, AveragePooling3D


class GlobalAveragePooling3D(_GlobalPooling):
    """(batch, D, H, W, C) -> (batch, C): the mean over D, H and W."""

    rank = 3

    def call(self, inputs):
        return inputs.mean(axis=self._axes(inputs), keepdims=self.keepdims)


class GlobalMaxPooling3D(_GlobalPooling):
    """(batch, D, H, W, C) -> (batch, C): the max over D, H and W."""

    rank = 3

    def call(self, inputs):
        return inputs.max(axis=self._axes(inputs), keepdims=self.keepdims)


GlobalAvgPool3D, GlobalMaxPool3D = GlobalAveragePooling3D, GlobalMaxPooling3D


class UpSampling3D(Layer):
    """Repeats each cell ``size`` = (sd, sh, sw) times along D, H and W."""

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.size = int_tuple(self, size, 3, "size")
        self.data_format = _data_format(self, data_format)

    def call(self, inputs):
        x = _to_last(self, inputs)
        for axis, n in zip((1, 2, 3), self.size):
            x = x.repeat(n, axis=axis) if n > 1 else x
        return _from_last(self, x)

    def get_config(self):
        cfg = {"size": list(self.size), "data_format": self.data_format}
        return {**super().get_config(), **cfg}


class ZeroPadding3D(Layer):
    """Zeros around D, H and W: an int, 3 ints (symmetric) or 3 (before, after) pairs."""

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = padding_pairs(self, padding, 3, "padding")
        self.data_format = _data_format(self, data_format)

    def call(self, inputs):
        x = _to_last(self, inputs)
        return _from_last(self, pad(x, ((0, 0), *self.padding, (0, 0))))

    def get_config(self):
        cfg = {"padding": [list(p) for p in self.padding], "data_format": self.data_format}
        return {**super().get_config(), **cfg}


class Cropping3D(Layer):
    """Drops cells at both ends of D, H and W: an int, 3 ints or 3 (start, end) pairs."""

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = padding_pairs(self, cropping, 3, "cropping")
        self.data_format = _data_format(self, data_format)

    def call(self, inputs):
        x = _to_last(self, inputs)
        index = [slice(None)]
        for axis, (a, b) in zip((1, 2, 3), self.cropping):
            if a + b >= x.shape[axis]:
                raise ValueError(
                    f"Cropping3D '{self.name}': cropping {self.cropping} removes all of a spatial "
                    f"axis of input shape {inputs.shape}"
                )
            index.append(slice(a, x.shape[axis] - b))
        return _from_last(self, x[tuple(index)])

    def get_config(self):
        cfg = {"cropping": [list(p) for p in self.cropping], "data_format": self.data_format}
        return {**super().get_config(), **cfg}
