"""Pooling over (N, C, H, W): max, average, adaptive average."""

from __future__ import annotations

import math

import numpy as np

from zerograd import backend, kernels
from zerograd.autograd import Function
from zerograd.kernels import pool as pool_kernels
from zerograd.ops import argcheck
from zerograd.ops.conv import col2im, pair, windows
from zerograd.ops.linalg import matmul
from zerograd.tensor import Tensor


def _pool_padding(h: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> tuple[int, int, int]:
    """Output size and (left, right) padding, with PyTorch's ceil_mode rule."""
    span = h + 2 * p - d * (k - 1) - 1
    out = (math.ceil(span / s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= h + p:  # the last window must start inside the input
        out -= 1
    right = max((out - 1) * s + d * (k - 1) + 1 - h - p, 0)
    return out, p, right


def _offset_view(a, i: int, j: int, out_hw, stride, dilation, channels_last: bool):
    """The strided view of ``a`` (padded input or its gradient) that kernel offset (i, j) reads for
    every output pixel: shape (N, Ho, Wo, C) when channels_last, else (N, C, Ho, Wo)."""
    (ho, wo), (sh, sw), (dh, dw) = out_hw, stride, dilation
    rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
    cols = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
    return a[:, rows, cols] if channels_last else a[:, :, rows, cols]


class _MaxPool(Function):
    """What max pooling and the two ops of its gradient share: the windows' geometry, and the
    input and output arrays that locate each window's first maximum (constants for every order of
    gradient). The gradient ops get their own copy of it, so they outlive the pooling op's graph."""

    channels_last = False  # (N, H, W, C) arrays, as the Keras layers
    kernel: tuple
    stride: tuple
    dilation: tuple
    pads: tuple  # ((top, bottom), (left, right))
    out_hw: tuple  # set by the pooling's forward, as are the three below
    padded_shape: tuple
    x: object
    y: object
    arg: object = None  # each window's first maximum, when the channels-last kernel found it

    def geometry(self) -> dict:
        names = ("channels_last", "kernel", "stride", "dilation", "pads", "out_hw", "padded_shape")
        return {n: getattr(self, n) for n in names} | {"x": self.x, "y": self.y, "arg": self.arg}

    def view(self, a, i: int, j: int):
        return _offset_view(a, i, j, self.out_hw, self.stride, self.dilation, self.channels_last)

    def pad(self, a, value: float):
        (ph, pw), cl = self.pads, self.channels_last
        if not sum(ph) + sum(pw):
            return a
        return backend.namespace(a).pad(
            a, ((0, 0), ph, pw, (0, 0)) if cl else ((0, 0), (0, 0), ph, pw), constant_values=value
        )

    def unpad(self, a):
        (ph, pw), cl = self.pads, self.channels_last
        h1, w1 = a.shape[1 + (not cl)] - ph[1], a.shape[2 + (not cl)] - pw[1]
        return a[:, ph[0] : h1, pw[0] : w1] if cl else a[:, :, ph[0] : h1, pw[0] : w1]

    def winners(self):
        """(i, j, mask) per kernel offset: the windows whose first maximum sits at that offset."""
        xp, x, y = backend.namespace(self.y), self.pad(self.x, -np.inf), self.y
        taken = xp.zeros(y.shape, dtype=bool)
        for k in range(self.kernel[0] * self.kernel[1]):
            i, j = divmod(k, self.kernel[1])
            hit = self.view(x, i, j) == y
            yield i, j, xp.greater(hit, taken)  # hit and not taken (NumPy's where= is slow)
            taken |= hit


class MaxPool2d(_MaxPool):
    """Max over windows as a running ``maximum`` over the kh*kw offset views (NaN propagates, as
    PyTorch); the gradient goes to the first maximum of each window (a window whose maximum is NaN
    passes none). Channels-last NumPy arrays take one compiled pass that also records each
    window's first maximum, from which the gradient is scattered without reading the input.

    ``channels_last=True`` pools (N, H, W, C) arrays in place of (N, C, H, W): the Keras layers use
    it, so no layout transposes are needed on either side. The gradient is the op
    ``MaxPool2dScatter``, linear in ``gy``; its own gradient gathers at the same maxima
    (``MaxPool2dGather``), and the two are each other's gradients."""

    def forward(self, x):
        xp = self.xp
        (kh, kw), (ph, pw) = self.kernel, self.pads
        cl = self.channels_last
        h, w = x.shape[1:3] if cl else x.shape[2:4]
        hw = (h + sum(ph), w + sum(pw))
        self.out_hw = tuple(
            (n - d * (k - 1) - 1) // s + 1
            for n, k, s, d in zip(hw, self.kernel, self.stride, self.dilation)
        )
        self.padded_shape = (x.shape[0], *hw, x.shape[3]) if cl else (*x.shape[:2], *hw)
        if cl and kernels.usable(x):  # one pass, recording each window's first maximum
            args = (self.kernel, self.stride, self.dilation, self.pads, self.out_hw)
            y, self.arg = pool_kernels.max_pool_nhwc(x, *args)
            self.x, self.y = x, y
            return y
        pads = ((0, 0), ph, pw, (0, 0)) if cl else ((0, 0), (0, 0), ph, pw)
        xpad = xp.pad(x, pads, constant_values=-np.inf) if sum(ph) + sum(pw) else x
        y = self.view(xpad, 0, 0).copy()
        for k in range(1, kh * kw):
            xp.maximum(y, self.view(xpad, *divmod(k, kw)), out=y)
        self.x, self.y = x, y
        return y

    def backward(self, gy):
        return MaxPool2dScatter.call(gy, **self.geometry())


class MaxPool2dScatter(_MaxPool):
    """Each window's gradient added at its first maximum (the max-pool's input gradient)."""

    def forward(self, g):
        xp = self.xp
        if self.arg is not None and kernels.usable(g):  # from the forward's record of the maxima
            args = (self.kernel, self.stride, self.dilation, self.pads)
            return pool_kernels.max_pool_grad_from_arg(g, self.arg, self.x.shape, *args)
        if self.channels_last and kernels.usable(g, self.x, self.y):  # one pass, in parallel
            x = self.pad(self.x, -np.inf)
            args = (self.kernel, self.stride, self.dilation)
            return self.unpad(pool_kernels.max_pool_grad_nhwc(x, self.y, g, *args))
        overlap = any(k > s for k, s in zip(self.kernel, self.stride)) or self.dilation != (1, 1)
        hw = self.padded_shape[1:3] if self.channels_last else self.padded_shape[2:4]
        tiles = not overlap and self.kernel == self.stride and self.padded_shape == self.x.shape
        tiles = tiles and all(o * k == n for o, k, n in zip(self.out_hw, self.kernel, hw))
        gx = (xp.empty if tiles else xp.zeros)(self.padded_shape, g.dtype)  # tiles: all written
        for i, j, first in self.winners():
            gv = self.view(gx, i, j)
            if overlap:
                gv += g * first
            else:
                xp.multiply(g, first, out=gv)
        return self.unpad(gx)

    def backward(self, ggx):
        return MaxPool2dGather.call(ggx, **self.geometry())


class MaxPool2dGather(_MaxPool):
    """The value at each window's first maximum (the gradient of ``MaxPool2dScatter``)."""

    def forward(self, gx):
        gpad = self.pad(gx, 0)
        out = self.xp.zeros(self.y.shape, dtype=gx.dtype)
        for i, j, first in self.winners():
            out += self.view(gpad, i, j) * first
        return out

    def backward(self, gg):
        return MaxPool2dScatter.call(gg, **self.geometry())


class _AvgPool(Function):
    """What average pooling and its gradient share: the windows and how each is counted."""

    kernel: tuple
    stride: tuple
    pads: tuple  # ((top, bottom), (left, right)), with what ceil_mode adds
    padding: tuple
    count_include_pad: bool
    dtype: object

    def params(self) -> dict:
        names = ("kernel", "stride", "pads", "padding", "count_include_pad", "dtype")
        return {n: getattr(self, n) for n in names}


class AvgPool2d(_AvgPool):
    """Mean over windows; its gradient is ``AvgPool2dGrad``, whose gradient is this op again."""

    padded_shape: tuple  # set by forward, with the divisor of each window
    div: object

    def forward(self, x):
        xp = self.xp
        (kh, kw), (ph, pw) = self.kernel, self.pads
        xpad = xp.pad(x, ((0, 0), (0, 0), ph, pw)) if sum(ph) + sum(pw) else x
        self.padded_shape = xpad.shape
        s = windows(xp, xpad, kh, kw, self.stride, (1, 1)).sum(axis=(4, 5))
        self.div = self._divisor(x.shape, s.shape)
        return s / self.div

    def _divisor(self, shape, out_shape):
        """Elements counted per window: the whole kernel, or the part not in padding (count_include_pad=False),
        where padding added by ceil_mode past the (explicitly padded) edge never counts."""
        xp = self.xp
        (kh, kw), (ph, pw) = self.kernel, self.pads
        p = self.padding
        ones = xp.ones((1, 1, shape[2], shape[3]), dtype=np.float64)
        if self.count_include_pad:
            inner = ((0, 0), (0, 0), (p[0], min(ph[1], p[0])), (p[1], min(pw[1], p[1])))
            ones = xp.pad(ones, inner, constant_values=1)
            ones = xp.pad(
                ones, ((0, 0), (0, 0), (0, max(ph[1] - p[0], 0)), (0, max(pw[1] - p[1], 0)))
            )
        else:
            ones = xp.pad(ones, ((0, 0), (0, 0), ph, pw))
        return windows(xp, ones, kh, kw, self.stride, (1, 1)).sum(axis=(4, 5)).astype(self.dtype)

    def backward(self, gy):
        shapes = dict(padded_shape=self.padded_shape, div=self.div)
        return AvgPool2dGrad.call(gy, **shapes, **self.params())


class AvgPool2dGrad(_AvgPool):
    """Each window's gradient spread evenly over the pixels it averaged."""

    padded_shape: tuple
    div: object

    def forward(self, g):
        xp = self.xp
        kh, kw = self.kernel
        g = g / self.div
        cols = xp.broadcast_to(g[..., None, None], (*g.shape, kh, kw))
        gx = col2im(xp, cols, self.padded_shape, self.stride, (1, 1), g.dtype)
        (ph, pw) = self.pads
        return gx[:, :, ph[0] : gx.shape[2] - ph[1], pw[0] : gx.shape[3] - pw[1]]

    def backward(self, ggx):
        return AvgPool2d.call(ggx, **self.params())


def _pool_args(
    x: Tensor, kernel_size, stride, padding, dilation, ceil_mode, op: str, channels_last=False
) -> dict:
    layout = "(N, H, W, C)" if channels_last else "(N, C, H, W)"
    if x.ndim != 4:
        raise ValueError(f"{op}: expected input of shape {layout}, received shape {x.shape}")
    k = argcheck.ints(op, "kernel_size", kernel_size, 2, 1)
    s = k if stride is None or stride == () else argcheck.ints(op, "stride", stride, 2, 1)
    d = argcheck.ints(op, "dilation", dilation, 2, 1)
    hw = x.shape[1:3] if channels_last else x.shape[2:]
    if isinstance(padding, (tuple, list)) and not isinstance(padding[0], int):
        # explicit ((top, bottom), (left, right)), as Keras's 'same' needs (no ceil_mode)
        pads = tuple(tuple(int(v) for v in p) for p in padding)
        if ceil_mode or any(min(p) < 0 or max(p) >= kk * dd for p, kk, dd in zip(pads, k, d)):
            raise ValueError(
                f"{op}: explicit padding {pads} must be non-negative, smaller than the kernel "
                f"{k}, and without ceil_mode"
            )
        p = tuple(max(q) for q in pads)
        out = [
            (n + sum(q) - dd * (kk - 1) - 1) // ss + 1
            for n, q, kk, ss, dd in zip(hw, pads, k, s, d)
        ]
    else:
        p = pair(padding, "padding")
        if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
            raise ValueError(f"{op}: padding {p} should be at most half the kernel size {k}")
        oh, *ph = _pool_padding(hw[0], k[0], s[0], p[0], d[0], ceil_mode)
        ow, *pw = _pool_padding(hw[1], k[1], s[1], p[1], d[1], ceil_mode)
        out, pads = [oh, ow], (tuple(ph), tuple(pw))
    if min(out) <= 0:
        raise ValueError(f"{op}: kernel {k} is larger than the input {hw} (padding {padding})")
    return dict(kernel=k, stride=s, dilation=d, pads=pads, padding=p)


def max_pool2d(
    x: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    channels_last: bool = False,
) -> Tensor:
    """Max over windows; the gradient goes to the first maximum of each window.

    ``padding`` is an int, a pair, or explicit ((top, bottom), (left, right)) (padded with -inf);
    ``channels_last=True`` pools (N, H, W, C) in place of (N, C, H, W), without layout copies.
    """
    if x.ndim == 3 and not channels_last:  # unbatched (C, H, W), as PyTorch
        y = max_pool2d(x.expand_dims(0), kernel_size, stride, padding, dilation, ceil_mode)
        return y.squeeze(0)
    args = _pool_args(
        x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d", channels_last
    )
    return MaxPool2d.apply(x, channels_last=channels_last, **args)


def avg_pool2d(
    x: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    channels_last: bool = False,
) -> Tensor:
    """Mean over windows (zero padding counted unless ``count_include_pad=False``).

    ``padding`` is an int, a pair, or explicit ((top, bottom), (left, right)) (then
    ``count_include_pad`` must be False); ``channels_last=True`` pools (N, H, W, C).
    """
    if x.ndim == 3 and not channels_last:  # unbatched (C, H, W), as PyTorch
        y = avg_pool2d(x.expand_dims(0), kernel_size, stride, padding, ceil_mode, count_include_pad)
        return y.squeeze(0)
    args = _pool_args(x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d", channels_last)
    explicit = isinstance(padding, (tuple, list)) and not isinstance(padding[0], int)
    if explicit and count_include_pad:
        raise ValueError(
            "avg_pool2d: explicit ((top, bottom), (left, right)) padding needs "
            "count_include_pad=False"
        )
    if channels_last:  # the average kernel is channels-first: two layout copies
        y = AvgPool2d.apply(
            x.transpose((0, 3, 1, 2)), count_include_pad=count_include_pad, dtype=x.dtype, **args
        )
        return y.transpose((0, 2, 3, 1))
    return AvgPool2d.apply(x, count_include_pad=count_include_pad, dtype=x.dtype, **args)


def _as_2d(x: Tensor, kernel_size, stride, padding, channels_last: bool, op: str):
    """A 1-D pooling's input and arguments as a height-1 2-D pooling's."""
    layout = "(N, L, C)" if channels_last else "(N, C, L)"
    if x.ndim != 3:
        raise ValueError(f"{op}: expected input of shape {layout}, received shape {x.shape}")
    one = lambda v: v if isinstance(v, int) else tuple(v)[0]  # noqa: E731
    k = (1, argcheck.positive(op, "kernel_size", one(kernel_size)))
    s = None if stride is None else (1, argcheck.positive(op, "stride", one(stride)))
    if isinstance(padding, int):
        p = (0, padding)
        n = x.shape[1 if channels_last else 2]
        if n + 2 * padding < k[1]:
            raise ValueError(
                f"{op}: kernel_size {k[1]} is larger than the input length {n} (padding {padding})"
            )
    else:
        p = ((0, 0), (padding[0], padding[-1]))
    return x.expand_dims(1 if channels_last else 2), k, s, p


def max_pool1d(
    x: Tensor, kernel_size, stride=None, padding=0, channels_last: bool = False
) -> Tensor:
    """Max over windows of (N, C, L) (or (N, L, C) when channels_last); ``padding`` an int or an
    explicit (left, right) pair."""
    if x.ndim == 2 and not channels_last:  # unbatched (C, L), as PyTorch
        return max_pool1d(x.expand_dims(0), kernel_size, stride, padding).squeeze(0)
    x2, k, s, p = _as_2d(x, kernel_size, stride, padding, channels_last, "max_pool1d")
    return max_pool2d(x2, k, s, p, channels_last=channels_last).squeeze(1 if channels_last else 2)


def avg_pool1d(
    x: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    count_include_pad: bool = True,
    channels_last: bool = False,
) -> Tensor:
    """Mean over windows of (N, C, L) (or (N, L, C) when channels_last)."""
    if x.ndim == 2 and not channels_last:  # unbatched (C, L), as PyTorch
        y = avg_pool1d(x.expand_dims(0), kernel_size, stride, padding, count_include_pad)
        return y.squeeze(0)
    x2, k, s, p = _as_2d(x, kernel_size, stride, padding, channels_last, "avg_pool1d")
    y = avg_pool2d(x2, k, s, p, count_include_pad=count_include_pad, channels_last=channels_last)
    return y.squeeze(1 if channels_last else 2)


def _adaptive_matrix(n_in: int, n_out: int, dtype) -> np.ndarray:
    """(n_out, n_in) averaging matrix over PyTorch's adaptive bins [floor(i n/o), ceil((i+1) n/o))."""
    m = np.zeros((n_out, n_in), dtype=dtype)
    for i in range(n_out):
        a, b = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        m[i, a:b] = 1.0 / (b - a)
    return m


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    """Average into a fixed (oh, ow) grid: two small matrix products, so it is differentiable."""
    if x.ndim == 3:  # unbatched (C, H, W), as PyTorch
        return adaptive_avg_pool2d(x.expand_dims(0), output_size).squeeze(0)
    if x.ndim != 4:
        raise ValueError(
            f"adaptive_avg_pool2d: expected input of shape (N, C, H, W) or (C, H, W), received "
            f"shape {x.shape}"
        )
    sizes = pair(output_size, "output_size")
    for v in sizes:  # None keeps the input's size
        if v is not None:
            argcheck.positive("adaptive_avg_pool2d", "output_size", v)
    oh, ow = (x.shape[2 + i] if v is None else v for i, v in enumerate(sizes))
    Ah = Tensor._make(x.xp.asarray(_adaptive_matrix(x.shape[2], oh, x.dtype)))
    Aw = Tensor._make(x.xp.asarray(_adaptive_matrix(x.shape[3], ow, x.dtype).T))
    return matmul(matmul(Ah, x), Aw)
