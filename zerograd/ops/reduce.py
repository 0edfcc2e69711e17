"""Reductions: sum, mean, max, min, var, std, logsumexp, argmax, argmin."""

from __future__ import annotations

import math
import numbers

from zerograd import backend
from zerograd.amp import autocast_mode as _autocast
from zerograd.autograd import Function
from zerograd.ops import argcheck
from zerograd.ops.elementwise import float_operand, sqrt
from zerograd.tensor import Tensor


def normalize_axis(axis, ndim: int, op: str) -> tuple:
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, numbers.Integral) else axis
    if not isinstance(axes, (tuple, list)) or any(
        isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in axes
    ):
        raise TypeError(f"{op}: axis must be an integer or a tuple of integers, received {axis!r}")
    out = []
    for a in axes:
        if not -ndim <= a < (ndim or 1):  # a 0-d tensor takes axis 0 (the whole of it)
            argcheck.axis(op, a, ndim)  # raises, in the one wording
        out.append(int(a) % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


class _Reduce(Function):
    """Base of reductions: ``self.axes`` (tuple) and ``keepdims``; helpers to undo them."""

    axes: tuple
    keepdims: bool

    def keep(self, t):
        """``t`` with the reduced axes put back as size-1 axes."""
        if self.keepdims:
            return t
        shape = list(self.inputs[0].shape)
        for a in self.axes:
            shape[a] = 1
        return t.reshape(tuple(shape))

    def spread(self, gy):
        return self.xp.broadcast_to(self.keep(gy), self.inputs[0].shape)

    def count(self, shape) -> int:
        return math.prod(shape[a] for a in self.axes)


class Sum(_Reduce):
    def forward(self, x):
        return backend.sum_axes(self.xp, x, self.axes, self.keepdims)

    def backward(self, gy):
        return self.spread(gy)


class Mean(_Reduce):
    def forward(self, x):
        return x.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        return self.spread(gy) / self.count(self.inputs[0].shape)


class Max(_Reduce):
    """Max over axes; ties share the gradient evenly (as PyTorch's amax and full max)."""

    def forward(self, x):
        y = x.max(axis=self.axes, keepdims=self.keepdims)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        return _extremum_grad(self, gy)


class Min(_Reduce):
    def forward(self, x):
        y = x.min(axis=self.axes, keepdims=self.keepdims)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        return _extremum_grad(self, gy)


def _extremum_grad(fn: _Reduce, gy):
    x, y = fn.saved
    mask = x == fn.keep(y)  # the winners: a constant, as is the count of ties
    ties = mask.sum(axis=fn.axes, keepdims=True).astype(gy.dtype)
    return fn.spread(gy) * mask / ties


class Var(_Reduce):
    ddof: int

    def forward(self, x):
        self.save_for_backward(x)
        return x.var(axis=self.axes, ddof=self.ddof, keepdims=self.keepdims)

    def backward(self, gy):
        (x,) = self.saved
        centered = x - x.mean(axis=self.axes, keepdims=True)
        return self.spread(gy) * centered * (2.0 / (self.count(x.shape) - self.ddof))


class LogSumExp(_Reduce):
    def forward(self, x):
        xp = self.xp
        m = x.max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # all -inf (or inf) rows: no shift
        y = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        y = y if self.keepdims else y.squeeze(self.axes)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved
        return self.spread(gy) * self.xp.exp(x - self.keep(y))


def _reduce(cls, x, axis, keepdims, op, **params) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    return cls.apply(x, axes=normalize_axis(axis, x.ndim, op), keepdims=keepdims, **params)


def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (None: all axes; an int; or a tuple)."""
    if _autocast._ACTIVE:  # in an autocast region: a half input is summed in float32
        (x,) = _autocast.cast_inputs("fp32", x)
    return _reduce(Sum, x, axis, keepdims, "sum")


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return _reduce(Mean, float_operand(x), axis, keepdims, "mean")


def max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Largest value over ``axis``; the gradient is shared evenly among ties."""
    return _reduce(Max, x, axis, keepdims, "max")


def min(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _reduce(Min, x, axis, keepdims, "min")


def var(x: Tensor, axis=None, keepdims: bool = False, ddof: int = 0, correction=None) -> Tensor:
    """Variance with NumPy's ``ddof`` (0 by default); ``correction`` is PyTorch's name for it."""
    ddof = ddof if correction is None else correction
    return _reduce(Var, float_operand(x), axis, keepdims, "var", ddof=ddof)


def std(x: Tensor, axis=None, keepdims: bool = False, ddof: int = 0, correction=None) -> Tensor:
    return sqrt(var(x, axis, keepdims, ddof, correction))


def logsumexp(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, shifted by the max so it never overflows."""
    return _reduce(LogSumExp, float_operand(x), axis, keepdims, "logsumexp")


class TopK(Function):
    """The ``k`` largest (or smallest) values along ``axis`` and their indices: two outputs. The
    gradient of the values goes to the positions they came from; the indices have none."""

    k: int
    axis: int
    largest: bool
    indices: object  # set by forward: where the values came from

    def forward(self, x):
        xp = self.xp
        if self.k == 1:  # max/min: the first of equal values, as argmax
            idx = (x.argmax if self.largest else x.argmin)(axis=self.axis, keepdims=True)
        else:
            key = x.astype(xp.int64) if x.dtype.kind == "b" else x
            if self.largest:  # descending, ties in order; no negation of unsigned values
                key = key.max() - key if key.dtype.kind == "u" else -key
            idx = xp.argsort(key, axis=self.axis, kind="stable")
            idx = xp.take(idx, xp.arange(self.k), axis=self.axis)
        self.indices = idx
        return xp.take_along_axis(x, idx, axis=self.axis), idx.astype(xp.int64, copy=False)

    def backward(self, g_values, g_indices=None):
        from zerograd.ops.index import PutAlongAxisAdd

        shape = self.inputs[0].shape
        return PutAlongAxisAdd.call(g_values, indices=self.indices, axis=self.axis, shape=shape)


def topk(x: Tensor, k: int, axis: int = -1, largest: bool = True) -> tuple:
    """(values, indices) of the ``k`` largest (``largest=False``: smallest) entries along
    ``axis``, sorted, as PyTorch's ``topk``; ties keep their order.

    Example:
        >>> values, indices = zg.topk(zg.tensor([1.0, 5.0, 3.0]), 2)   # [5, 3], [1, 2]
    """
    if not isinstance(x, Tensor):
        x = Tensor(x)
    (axis,) = normalize_axis(axis, x.ndim, "topk")
    n = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(
            f"topk: k must be in [0, {n}] for axis {axis} of shape {x.shape}, received {k}"
        )
    return TopK.apply(x, k=k, axis=axis, largest=largest)


def max_with_indices(x: Tensor, axis: int, keepdims: bool = False) -> tuple:
    """(values, indices) of the maximum along ``axis``, as PyTorch's ``max(x, dim)``; the gradient
    goes to the first maximum only (``max`` shares it among ties)."""
    return _extremum_with_indices(x, axis, keepdims, True)


def min_with_indices(x: Tensor, axis: int, keepdims: bool = False) -> tuple:
    """(values, indices) of the minimum along ``axis``, as PyTorch's ``min(x, dim)``."""
    return _extremum_with_indices(x, axis, keepdims, False)


def _extremum_with_indices(x, axis: int, keepdims: bool, largest: bool) -> tuple:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.ndim == 0 or x.shape[axis] == 0:
        raise ValueError(
            f"max/min with indices: expected a non-empty axis {axis}, received shape {x.shape}"
        )
    values, indices = topk(x, 1, axis, largest)
    if keepdims:
        return values, indices
    return values.squeeze(axis), indices.squeeze(axis)


def _arg(x: Tensor, axis, keepdims: bool, which: str) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if axis is None:
        out = getattr(x.data.reshape(-1), which)()
        out = x.xp.asarray(out).reshape((1,) * x.ndim if keepdims else ())
    else:
        if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
            raise TypeError(f"{which}: axis must be an integer or None, received {axis!r}")
        (axis,) = normalize_axis(axis, x.ndim, which)
        out = getattr(x.data, which)(axis=axis, keepdims=keepdims)
    return Tensor._make(x.xp.asarray(out, dtype="int64"))


def argmax(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the largest value (first one on ties); no gradient."""
    return _arg(x, axis, keepdims, "argmax")


def argmin(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return _arg(x, axis, keepdims, "argmin")
