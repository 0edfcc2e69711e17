"""Convolution and pooling ops in Keras layouts (channels_last by default), 1-D and 2-D, over
``F.conv2d`` / ``F.max_pool2d`` / ``F.avg_pool2d``; 'same' pads as Keras (the extra at the end)."""

from __future__ import annotations

import zerograd as zg
import zerograd.nn.functional as F
from zerograd.keras.ops.core import float_tensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.tensor import Tensor

__all__ = ["average_pool", "conv", "depthwise_conv", "max_pool", "separable_conv"]


def _tuple(v, n: int, name: str, op: str) -> tuple:
    t = (int(v),) * n if isinstance(v, int) else tuple(int(i) for i in v)
    if len(t) != n:
        raise ValueError(f"{op}: expected {name} of {n} ints, received {v!r}")
    return t


def _same(sizes, kernel, strides, dilation) -> tuple:
    """Keras's 'same' padding: output ceil(n / stride), the odd pixel padded at the end."""
    pads = []
    for n, k, s, d in zip(sizes, kernel, strides, dilation):
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def _prepare(inputs, data_format, op: str):
    """(N, [H,] W, C) as 4-D (N, H, W, C) plus how to undo it."""
    x = float_tensor(inputs)
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(
            f"{op}: data_format must be 'channels_last' or 'channels_first', received "
            f"{data_format!r}"
        )
    first = data_format == "channels_first"
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected a 3-D or 4-D input (1-D or 2-D data), received {x.shape}")
    if first:
        x = zg.transpose(x, (0, *range(2, x.ndim), 1))
    one_d = x.ndim == 3
    if one_d:
        x = zg.expand_dims(x, 1)

    def undo(y: Tensor) -> Tensor:
        if one_d:
            y = zg.squeeze(y, 1)
        return zg.transpose(y, (0, y.ndim - 1, *range(1, y.ndim - 1))) if first else y

    return x, one_d, undo


def _geometry(x, one_d, kernel, strides, padding, dilation, op: str):
    n = 1 if one_d else 2
    k = _tuple(kernel, n, "kernel size", op)
    s = _tuple(strides, n, "strides", op)
    d = _tuple(dilation, n, "dilation_rate", op)
    if one_d:
        k, s, d = (1, *k), (1, *s), (1, *d)
    if padding == "valid":
        pads = ((0, 0), (0, 0))
    elif padding == "same":
        pads = _same(x.shape[1:3], k, s, d)
    else:
        raise ValueError(f"{op}: padding must be 'valid' or 'same', received {padding!r}")
    return k, s, d, pads


@symbolic
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1) -> Tensor:
    """1-D or 2-D convolution; ``kernel`` of shape (*window, in_channels / groups, filters)."""
    x, one_d, undo = _prepare(inputs, data_format, "conv")
    w = float_tensor(kernel)
    window = w.shape[:-2]
    if one_d:
        w = zg.expand_dims(w, 0)
    k, s, d, pads = _geometry(x, one_d, window, strides, padding, dilation_rate, "conv")
    if x.shape[-1] % w.shape[2]:
        raise ValueError(
            f"conv: input channels {x.shape[-1]} are not a multiple of the kernel's "
            f"{w.shape[2]} (kernel shape {tuple(w.shape)})"
        )
    groups = x.shape[-1] // w.shape[2]
    return undo(F.conv2d(x, w, None, s, pads, d, groups, channels_last=True))


@symbolic
def depthwise_conv(
    inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1
) -> Tensor:
    """Each channel convolved with its own filters; ``kernel`` (*window, channels, multiplier)."""
    w = float_tensor(kernel)
    window, (c, m) = w.shape[:-2], w.shape[-2:]
    w = zg.reshape(w, (*window, 1, c * m))
    return conv.eager(inputs, w, strides, padding, data_format, dilation_rate)


@symbolic
def separable_conv(
    inputs,
    depthwise_kernel,
    pointwise_kernel,
    strides=1,
    padding="valid",
    data_format=None,
    dilation_rate=1,
) -> Tensor:
    """A depthwise convolution followed by a 1x1 convolution mixing the channels."""
    y = depthwise_conv.eager(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv.eager(y, pointwise_kernel, 1, "valid", data_format, 1)


def _edge_pad(x: Tensor, pads) -> Tensor:
    from zerograd.keras.ops.array import pad

    return pad.eager(x, ((0, 0), *pads, (0, 0)), mode="edge")


def _pool(fn, inputs, pool_size, strides, padding, data_format, op: str) -> Tensor:
    x, one_d, undo = _prepare(inputs, data_format, op)
    strides = pool_size if strides is None else strides
    k, s, _, pads = _geometry(x, one_d, pool_size, strides, padding, 1, op)
    if fn is F.avg_pool2d:
        if any(lo != hi for lo, hi in pads):
            # as Keras on torch: an uneven 'same' pads by repeating the edge, which is averaged
            x = _edge_pad(x, pads)
            pads = ((0, 0), (0, 0))
        return undo(fn(x, k, s, pads, count_include_pad=False, channels_last=True))
    return undo(fn(x, k, s, pads, channels_last=True))


@symbolic
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None) -> Tensor:
    """Max over windows of ``pool_size`` (1-D or 2-D)."""
    return _pool(F.max_pool2d, inputs, pool_size, strides, padding, data_format, "max_pool")


@symbolic
def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None) -> Tensor:
    """Mean over windows of ``pool_size`` (1-D or 2-D)."""
    return _pool(F.avg_pool2d, inputs, pool_size, strides, padding, data_format, "average_pool")
