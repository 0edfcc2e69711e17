"""Channels first <-> channels last copies on all cores, in cache-sized tiles: the layout change
around the convolution kernels (which work on channels-last arrays) for NCHW tensors. NumPy's
strided copy runs on one core and, writing with a long stride, took 3.9 ms for (64, 784, 64) to
(64, 64, 784) float32 where this takes 1.1 ms."""

from __future__ import annotations

import numpy as np

from zerograd import kernels, tuning
from zerograd.kernels import jit, numba

_TILE = 32
# From these multiples of ``tuning.KERNEL_MIN_SIZE`` (2M and 1M elements) the tiled copy beats
# NumPy's (measured, float32, 2 cores: to channels last 1.13 -> 1.04 ms at (64, 64, 784), 2.5 ->
# 1.1 ms at (8, 256, 1024); to channels first 1.9 -> 1.1 ms at (64, 128, 196); below them NumPy's
# copy is as fast or faster)
_LAST_MIN, _FIRST_MIN = 32, 16

if numba is not None:

    @jit
    def _swap(x, out):
        """out[n, b, a] = x[n, a, b], tile by tile, (sample, row tile) pairs in parallel."""
        n_, a_, b_ = x.shape
        tiles = (a_ + _TILE - 1) // _TILE
        for t in numba.prange(n_ * tiles):
            n, a0 = t // tiles, (t % tiles) * _TILE
            a1 = min(a_, a0 + _TILE)
            for b0 in range(0, b_, _TILE):
                for b in range(b0, min(b_, b0 + _TILE)):
                    for a in range(a0, a1):
                        out[n, b, a] = x[n, a, b]


def _swapped(x3: np.ndarray) -> np.ndarray:
    out = np.empty((x3.shape[0], x3.shape[2], x3.shape[1]), x3.dtype)
    _swap(x3, out)
    return out


def to_channels_last(x: np.ndarray) -> np.ndarray:
    """A contiguous (N, H, W, C) copy of an (N, C, H, W) array."""
    n, c, h, w = x.shape
    if not (
        kernels.usable(x) and x.flags.c_contiguous and x.size >= _LAST_MIN * tuning.KERNEL_MIN_SIZE
    ):
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    return _swapped(x.reshape(n, c, h * w)).reshape(n, h, w, c)


def to_channels_first(y: np.ndarray) -> np.ndarray:
    """A contiguous (N, C, H, W) copy of an (N, H, W, C) array."""
    n, h, w, c = y.shape
    if not (
        kernels.usable(y) and y.flags.c_contiguous and y.size >= _FIRST_MIN * tuning.KERNEL_MIN_SIZE
    ):
        return np.ascontiguousarray(y.transpose(0, 3, 1, 2))
    return _swapped(y.reshape(n, h * w, c)).reshape(n, c, h, w)
