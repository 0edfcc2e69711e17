"""Keras reshaping layers: RepeatVector, Permute, UpSampling1D/2D, ZeroPadding1D/2D,
Cropping1D/2D (channels_last by default; data_format='channels_first' moves the channel axis)."""

from __future__ import annotations

import numpy as np

from zerograd.keras.base import Layer
from zerograd.keras.layers._args import data_format as _data_format
from zerograd.keras.layers._args import int_tuple, padding_pairs
from zerograd.ops.linalg import matmul
from zerograd.ops.shape import pad
from zerograd.tensor import Tensor


def _check_ndim(layer: Layer, x, ndim: int, layout: str) -> None:
    if x.ndim != ndim:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}' expected input of shape {layout}, "
            f"received shape {x.shape}"
        )


def _spatial_axes(layer) -> tuple[int, int]:
    return (1, 2) if layer.data_format == "channels_last" else (2, 3)


def _layout2d(layer) -> str:
    return "(batch, H, W, C)" if layer.data_format == "channels_last" else "(batch, C, H, W)"


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features)."""

    def __init__(self, n: int, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, int) or n < 1:
            raise ValueError(
                f"RepeatVector '{self.name}': n must be a positive int, received {n!r}"
            )
        self.n = n

    def call(self, inputs):
        _check_ndim(self, inputs, 2, "(batch, features)")
        return inputs.expand_dims(1).repeat(self.n, axis=1)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Permute(Layer):
    """Reorders the axes after the batch axis: ``dims`` is a permutation of 1..rank."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(
                f"Permute '{self.name}': dims must be a permutation of 1..{len(dims)} (the batch "
                f"axis stays first), received dims={dims}"
            )
        self.dims = dims

    def call(self, inputs):
        _check_ndim(self, inputs, len(self.dims) + 1, f"(batch, {len(self.dims)} axes)")
        return inputs.transpose((0, *self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class UpSampling1D(Layer):
    """Repeats each step ``size`` times: (batch, steps, C) -> (batch, steps * size, C)."""

    def __init__(self, size: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.size = int_tuple(self, size, 1, "size")[0]

    def call(self, inputs):
        _check_ndim(self, inputs, 3, "(batch, steps, channels)")
        return inputs.repeat(self.size, axis=1)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def _bilinear_matrix(n_in: int, n_out: int, dtype) -> np.ndarray:
    """(n_out, n_in) interpolation weights with half-pixel centres (align_corners=False)."""
    m = np.zeros((n_out, n_in), dtype=np.float64)
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w = src - i0
    np.add.at(m, (np.arange(n_out), i0), 1 - w)
    np.add.at(m, (np.arange(n_out), i1), w)
    return m.astype(dtype)


class UpSampling2D(Layer):
    """Scales H and W by ``size``: 'nearest' repeats pixels, 'bilinear' interpolates."""

    def __init__(self, size=(2, 2), data_format=None, interpolation: str = "nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = int_tuple(self, size, 2, "size")
        self.data_format = _data_format(self, data_format)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(
                f"UpSampling2D '{self.name}': interpolation must be 'nearest' or 'bilinear', "
                f"received {interpolation!r}"
            )
        self.interpolation = interpolation

    def call(self, inputs):
        _check_ndim(self, inputs, 4, _layout2d(self))
        ah, aw = _spatial_axes(self)
        if self.interpolation == "nearest":
            return inputs.repeat(self.size[0], axis=ah).repeat(self.size[1], axis=aw)
        x = inputs if self.data_format == "channels_first" else inputs.transpose((0, 3, 1, 2))
        h, w = x.shape[2:]
        mh = Tensor._make(x.xp.asarray(_bilinear_matrix(h, h * self.size[0], x.dtype)))
        mw = Tensor._make(x.xp.asarray(_bilinear_matrix(w, w * self.size[1], x.dtype).T))
        y = matmul(matmul(mh, x), mw)  # (B, C, H', W')
        return y if self.data_format == "channels_first" else y.transpose((0, 2, 3, 1))

    def get_config(self):
        return {
            **super().get_config(),
            "size": list(self.size),
            "data_format": self.data_format,
            "interpolation": self.interpolation,
        }


class ZeroPadding1D(Layer):
    """Zeros before and after the steps axis: ``padding`` an int or (before, after)."""

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = padding_pairs(self, padding, 1, "padding")[0]
        self.data_format = _data_format(self, data_format)

    def call(self, inputs):
        if self.data_format == "channels_last":
            _check_ndim(self, inputs, 3, "(batch, steps, channels)")
            return pad(inputs, ((0, 0), self.padding, (0, 0)))
        _check_ndim(self, inputs, 3, "(batch, channels, steps)")
        return pad(inputs, ((0, 0), (0, 0), self.padding))

    def get_config(self):
        cfg = {"padding": list(self.padding), "data_format": self.data_format}
        return {**super().get_config(), **cfg}


class ZeroPadding2D(Layer):
    """Zeros around H and W: an int, (h, w) symmetric, or ((top, bottom), (left, right))."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = padding_pairs(self, padding, 2, "padding")
        self.data_format = _data_format(self, data_format)

    def call(self, inputs):
        _check_ndim(self, inputs, 4, _layout2d(self))
        widths = [(0, 0)] * 4
        for axis, p in zip(_spatial_axes(self), self.padding):
            widths[axis] = p
        return pad(inputs, tuple(widths))

    def get_config(self):
        return {
            **super().get_config(),
            "padding": [list(p) for p in self.padding],
            "data_format": self.data_format,
        }


def _crop(layer, x, axes, pairs):
    index = [slice(None)] * x.ndim
    for axis, (a, b) in zip(axes, pairs):
        if a + b >= x.shape[axis]:
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}': cropping {pairs} removes all of axis "
                f"{axis} of input shape {x.shape}"
            )
        index[axis] = slice(a, x.shape[axis] - b)
    return x[tuple(index)]


class Cropping1D(Layer):
    """Drops steps at the start and end: ``cropping`` an int or (start, end)."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = padding_pairs(self, cropping, 1, "cropping")[0]

    def call(self, inputs):
        _check_ndim(self, inputs, 3, "(batch, steps, channels)")
        return _crop(self, inputs, (1,), (self.cropping,))

    def get_config(self):
        return {**super().get_config(), "cropping": list(self.cropping)}


class Cropping2D(Layer):
    """Drops rows and columns: an int, (h, w) symmetric, or ((top, bottom), (left, right))."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = padding_pairs(self, cropping, 2, "cropping")
        self.data_format = _data_format(self, data_format)

    def call(self, inputs):
        _check_ndim(self, inputs, 4, _layout2d(self))
        return _crop(self, inputs, _spatial_axes(self), self.cropping)

    def get_config(self):
        return {
            **super().get_config(),
            "cropping": [list(p) for p in self.cropping],
            "data_format": self.data_format,
        }
