"""Keras pooling layers over ``F``: Max/AveragePooling1D/2D and the global poolings, channels_last
by default (data_format='channels_first' supported)."""

from __future__ import annotations

import numpy as np

import zerograd.nn.functional as F
from zerograd.keras.base import Layer
from zerograd.keras.layers._args import data_format as _data_format
from zerograd.keras.layers._args import int_tuple, padding_mode, same_pads
from zerograd.tensor import Tensor


class _Pooling(Layer):
    """Windows of ``pool_size`` every ``strides`` (default: pool_size) over the spatial axes."""

    rank = 2

    def __init__(
        self, pool_size=2, strides=None, padding: str = "valid", data_format=None, **kwargs
    ):
        super().__init__(**kwargs)
        r = self.rank
        self.pool_size = int_tuple(self, pool_size, r, "pool_size")
        self.strides = self.pool_size if strides is None else int_tuple(self, strides, r, "strides")
        self.padding = padding_mode(self, padding)
        self.data_format = _data_format(self, data_format)

    def _pads(self, x) -> tuple:
        """Explicit (before, after) pads per spatial axis: Keras's 'same' or none."""
        cl = self.data_format == "channels_last"
        spatial = x.shape[1:-1] if cl else x.shape[2:]
        if x.ndim != self.rank + 2:
            layout = "(batch, steps, C)" if self.rank == 1 else "(batch, H, W, C)"
            if not cl:
                layout = "(batch, C, steps)" if self.rank == 1 else "(batch, C, H, W)"
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expected input of shape {layout}, "
                f"received shape {x.shape}"
            )
        if self.padding == "valid":
            if any(n < k for n, k in zip(spatial, self.pool_size)):
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': pool_size {self.pool_size} is larger "
                    f"than the input's spatial shape {tuple(spatial)} (padding='valid')"
                )
            return tuple((0, 0) for _ in spatial)
        return tuple(same_pads(n, k, s) for n, k, s in zip(spatial, self.pool_size, self.strides))

    def call(self, inputs):
        pads = self._pads(inputs)
        cl = self.data_format == "channels_last"
        if self.rank == 1:
            return self.pool1d(inputs, self.pool_size[0], self.strides[0], pads[0], cl)
        return self.pool2d(inputs, self.pool_size, self.strides, pads, cl)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
        }


class _Max:
    @staticmethod
    def pool1d(x, k, s, pads, cl):
        return F.max_pool1d(x, k, s, pads, channels_last=cl)

    @staticmethod
    def pool2d(x, k, s, pads, cl):
        return F.max_pool2d(x, k, s, pads, channels_last=cl)


class _Average:
    """Only real pixels count in a window's mean (Keras's 'same' padding)."""

    @staticmethod
    def pool1d(x, k, s, pads, cl):
        return F.avg_pool1d(x, k, s, pads, count_include_pad=False, channels_last=cl)

    @staticmethod
    def pool2d(x, k, s, pads, cl):
        return F.avg_pool2d(x, k, s, pads, count_include_pad=False, channels_last=cl)


class MaxPooling1D(_Max, _Pooling):
    """Max over windows of (batch, steps, channels)."""

    rank = 1


class AveragePooling1D(_Average, _Pooling):
    """Mean over windows of (batch, steps, channels)."""

    rank = 1


class MaxPooling2D(_Max, _Pooling):
    """Max over windows of (batch, H, W, channels).

    Example:
        >>> MaxPooling2D()(zg.ones(8, 28, 28, 3)).shape
        (8, 14, 14, 3)
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kw):
        super().__init__(pool_size, strides, padding, data_format, **kw)


class AveragePooling2D(_Average, _Pooling):
    """Mean over windows of (batch, H, W, channels); with padding='same' only real pixels count."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kw):
        super().__init__(pool_size, strides, padding, data_format, **kw)


class _GlobalPooling(Layer):
    """A reduction over every spatial axis: (batch, *spatial, C) -> (batch, C)."""

    rank = 2

    def __init__(self, data_format=None, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(self, data_format)
        if not isinstance(keepdims, (bool, np.bool_)):
            raise TypeError(
                f"{type(self).__name__} '{self.name}': keepdims must be a bool, received "
                f"{type(keepdims).__name__} {keepdims!r}"
            )
        self.keepdims = bool(keepdims)

    def _axes(self, x) -> tuple:
        if x.ndim != self.rank + 2:
            spatial = "steps" if self.rank == 1 else "H, W"
            layout = (
                f"(batch, {spatial}, C)"
                if self.data_format == "channels_last"
                else f"(batch, C, {spatial})"
            )
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expected input of shape {layout}, "
                f"received shape {x.shape}"
            )
        first = 1 if self.data_format == "channels_last" else 2
        return tuple(range(first, first + self.rank))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over steps; with a ``mask`` (batch, steps), the mean of the unmasked steps only."""

    rank = 1

    def call(self, inputs, mask=None):
        axes = self._axes(inputs)
        if mask is None:
            return inputs.mean(axis=axes, keepdims=self.keepdims)
        m = mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask))
        steps = inputs.shape[axes[0]]
        if m.shape != (inputs.shape[0], steps):
            raise ValueError(
                f"GlobalAveragePooling1D '{self.name}' expected a mask of shape (batch, steps) = "
                f"{(inputs.shape[0], steps)}, received shape {m.shape}"
            )
        m = m.astype(inputs.dtype).expand_dims(2 if self.data_format == "channels_last" else 1)
        total = (inputs * m).sum(axis=axes, keepdims=self.keepdims)
        return total / m.sum(axis=axes, keepdims=self.keepdims)

    def compute_mask(self, inputs, mask=None):
        """No output mask: the masked steps are averaged away (Keras: supports_masking)."""
        return None


class GlobalMaxPooling1D(_GlobalPooling):
    """Max over steps."""

    rank = 1

    def call(self, inputs):
        return inputs.max(axis=self._axes(inputs), keepdims=self.keepdims)


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over H and W."""

    def call(self, inputs):
        return inputs.mean(axis=self._axes(inputs), keepdims=self.keepdims)


class GlobalMaxPooling2D(_GlobalPooling):
    """Max over H and W."""

    def call(self, inputs):
        return inputs.max(axis=self._axes(inputs), keepdims=self.keepdims)


MaxPool1D, AvgPool1D, MaxPool2D, AvgPool2D = (
    MaxPooling1D,
    AveragePooling1D,
    MaxPooling2D,
    AveragePooling2D,
)
GlobalAvgPool1D, GlobalMaxPool1D = GlobalAveragePooling1D, GlobalMaxPooling1D
GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D
