"""Reductions: sum, mean, max, min, var, std, logsumexp, argmax, argmin."""

from __future__ import annotations

import math

from zerograd import backend
from zerograd.autograd import Function
from zerograd.ops.elementwise import float_operand, sqrt
from zerograd.tensor import Tensor


def normalize_axis(axis, ndim: int, op: str) -> tuple:
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < (ndim or 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


class _Reduce(Function):
    """Base of reductions: ``self.axes`` (tuple) and ``keepdims``; helpers to undo them."""

    def keep(self, t: Tensor) -> Tensor:
        """``t`` with the reduced axes put back as size-1 axes."""
        if self.keepdims:
            return t
        shape = list(self.inputs[0].shape)
        for a in self.axes:
            shape[a] = 1
        return t.reshape(tuple(shape))

    def spread(self, gy: Tensor) -> Tensor:
        return self.keep(gy).broadcast_to(self.inputs[0].shape)

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
        return x.max(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        return _extremum_grad(self, gy)


class Min(_Reduce):
    def forward(self, x):
        return x.min(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        return _extremum_grad(self, gy)


def _extremum_grad(fn: _Reduce, gy: Tensor) -> Tensor:
    x = fn.inputs[0]
    y = fn.keep(fn.output).data
    mask = x.data == y
    weight = mask / mask.sum(axis=fn.axes, keepdims=True)
    return fn.spread(gy) * Tensor._make(weight.astype(x.dtype, copy=False))


class Var(_Reduce):
    def forward(self, x):
        return x.var(axis=self.axes, ddof=self.ddof, keepdims=self.keepdims)

    def backward(self, gy):
        x = self.inputs[0]
        centered = x - x.mean(axis=self.axes, keepdims=True)
        return self.spread(gy) * centered * (2.0 / (self.count(x.shape) - self.ddof))


class LogSumExp(_Reduce):
    def forward(self, x):
        xp = self.xp
        m = x.max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # all -inf (or inf) rows: no shift
        y = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        return y if self.keepdims else y.squeeze(self.axes)

    def backward(self, gy):
        x = self.inputs[0]
        return self.spread(gy) * (x - self.keep(self.output)).exp()


def _reduce(cls, x, axis, keepdims, op, **params) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    return cls.apply(x, axes=normalize_axis(axis, x.ndim, op), keepdims=keepdims, **params)


def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (None: all axes; an int; or a tuple)."""
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


def _arg(x: Tensor, axis, keepdims: bool, which: str) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if axis is None:
        out = getattr(x.data.reshape(-1), which)()
        out = x.xp.asarray(out).reshape((1,) * x.ndim if keepdims else ())
    else:
        out = getattr(x.data, which)(axis=axis, keepdims=keepdims)
    return Tensor._make(x.xp.asarray(out, dtype="int64"))


def argmax(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the largest value (first one on ties); no gradient."""
    return _arg(x, axis, keepdims, "argmax")


def argmin(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return _arg(x, axis, keepdims, "argmin")
