"""NumPy-style reductions, sorting and cumulative ops."""

from __future__ import annotations

import builtins

import numpy as np

import zerograd as zg
from zerograd import backend
from zerograd.keras.ops.core import const, graph_needed, tensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.ops import argcheck
from zerograd.tensor import Tensor

__all__ = [
    "sum",
    "mean",
    "average",
    "max",
    "min",
    "amax",
    "amin",
    "prod",
    "var",
    "std",
    "median",
    "argmax",
    "argmin",
    "argsort",
    "sort",
    "cumsum",
    "cumprod",
    "all",
    "any",
    "count_nonzero",
    "nonzero",
]


_SMALL_INTS = ("b", np.dtype("int8"), np.dtype("int16"), np.dtype("uint8"), np.dtype("uint16"))


def _axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(a % ndim for a in ((axis,) if isinstance(axis, int) else axis)))


def _int_result(x: Tensor, out: Tensor) -> Tensor:
    """Integer sums keep the input's dtype (bool and small ints: int32), as Keras does."""
    if x.dtype.kind in "biu":
        small = x.dtype.kind == "b" or x.dtype in _SMALL_INTS
        return zg.cast(out, backend.int32 if small else x.dtype)
    return out


def _to_last(x: Tensor, axis) -> Tensor:
    """x with the reduced axes moved to the end and merged into one: (..., n)."""
    axes = _axes(axis, x.ndim)
    keep = [a for a in range(x.ndim) if a not in axes]
    x = zg.transpose(x, (*keep, *axes)) if axes != tuple(range(len(keep), x.ndim)) else x
    return zg.reshape(x, (*[x.shape[i] for i in range(len(keep))], -1))


def _keep(out: Tensor, x: Tensor, axis, keepdims: bool) -> Tensor:
    if not keepdims:
        return out
    axes = _axes(axis, x.ndim)
    return zg.reshape(out, tuple(1 if i in axes else n for i, n in enumerate(x.shape)))


@symbolic
def sum(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001 - the Keras name
    """Sum over ``axis`` (all axes when None)."""
    x = tensor(x)
    return _int_result(x, zg.sum(x, axis, keepdims))


@symbolic
def mean(x, axis=None, keepdims=False) -> Tensor:
    """Mean over ``axis`` (floats)."""
    return zg.mean(tensor(x), axis, keepdims)


@symbolic
def average(x, axis=None, weights=None) -> Tensor:
    """Mean, weighted by ``weights`` (1-D along ``axis``, or of x's shape) when given."""
    x = tensor(x)
    if weights is None:
        return zg.mean(x, axis)
    w = tensor(weights)
    if axis is None and w.shape != x.shape:
        # as Keras (torch backend): sum(x * weights) over everything / sum(weights), broadcast
        try:
            np.broadcast_shapes(x.shape, w.shape)
        except ValueError:
            raise ValueError(
                f"average: weights must broadcast against x when axis is None: x has shape "
                f"{x.shape}, received weights of shape {w.shape}"
            ) from None
        return zg.div(zg.sum(zg.mul(x, w)), zg.sum(w))
    if w.ndim == 1 and x.ndim > 1:
        axis = argcheck.axis("average", axis, x.ndim)
        if len(w) != x.shape[axis]:
            raise ValueError(
                f"average: 1-D weights must have the length of axis {axis} of x (shape "
                f"{x.shape}), received weights of shape {w.shape}"
            )
        shape = [1] * x.ndim
        shape[axis] = len(w)
        w = zg.reshape(w, tuple(shape))
    return zg.div(zg.sum(zg.mul(x, w), axis), zg.sum(zg.broadcast_to(w, x.shape), axis))


def _extremum(fn, pick, x, axis, keepdims, initial) -> Tensor:
    x = tensor(x)
    out = fn(x, axis, keepdims) if x.size else const(pick(x.data, axis=axis, keepdims=keepdims))
    return out if initial is None else (zg.maximum if fn is zg.max else zg.minimum)(out, initial)


@symbolic
def max(x, axis=None, keepdims=False, initial=None) -> Tensor:  # noqa: A001
    """Largest value over ``axis``; ties share the gradient."""
    return _extremum(zg.max, np.max, x, axis, keepdims, initial)


@symbolic
def min(x, axis=None, keepdims=False, initial=None) -> Tensor:  # noqa: A001
    """Smallest value over ``axis``."""
    return _extremum(zg.min, np.min, x, axis, keepdims, initial)


@symbolic
def amax(x, axis=None, keepdims=False) -> Tensor:
    """Largest value over ``axis``."""
    return _extremum(zg.max, np.max, x, axis, keepdims, None)


@symbolic
def amin(x, axis=None, keepdims=False) -> Tensor:
    """Smallest value over ``axis``."""
    return _extremum(zg.min, np.min, x, axis, keepdims, None)


@symbolic
def prod(x, axis=None, keepdims=False, dtype=None) -> Tensor:
    """Product over ``axis``; differentiable (zeros included) as a chain of products."""
    x = tensor(x, dtype)
    if not graph_needed(x):
        out = np.prod(x.data, axis=None if axis is None else _axes(axis, x.ndim), keepdims=keepdims)
        return _int_result(x, const(out, x.dtype))
    flat = _to_last(x, axis)
    out = flat[..., 0] if flat.shape[-1] else zg.sum(flat, -1) + 1
    for i in range(1, flat.shape[-1]):
        out = out * flat[..., i]
    return _keep(out, x, axis, keepdims)


@symbolic
def var(x, axis=None, keepdims=False) -> Tensor:
    """Variance (ddof 0)."""
    return zg.var(tensor(x), axis, keepdims)


@symbolic
def std(x, axis=None, keepdims=False) -> Tensor:
    """Standard deviation (ddof 0)."""
    return zg.std(tensor(x), axis, keepdims)


@symbolic
def median(x, axis=None, keepdims=False) -> Tensor:
    """Median over ``axis``: the mean of the two middle sorted values for even counts."""
    x = tensor(x)
    flat = sort.eager(
        _to_last(zg.cast(x, backend.get_default_dtype()) if x.dtype.kind != "f" else x, axis), -1
    )
    n = flat.shape[-1]
    out = (flat[..., (n - 1) // 2] + flat[..., n // 2]) * 0.5
    return _keep(out, x, axis, keepdims)


def _arg(which, x, axis, keepdims) -> Tensor:
    x = tensor(x)
    if axis is not None:
        axis = argcheck.axis(which.__name__, axis, x.ndim)
    out = (
        which(x, axis, keepdims)
        if axis is not None or not keepdims
        else which(x).reshape((1,) * x.ndim)
    )
    return zg.cast(out, backend.int32)


@symbolic
def argmax(x, axis=None, keepdims=False) -> Tensor:
    """Index of the largest value (flattened when ``axis`` is None), int32."""
    return _arg(zg.argmax, x, axis, keepdims)


@symbolic
def argmin(x, axis=None, keepdims=False) -> Tensor:
    """Index of the smallest value, int32."""
    return _arg(zg.argmin, x, axis, keepdims)


@symbolic
def argsort(x, axis=-1) -> Tensor:
    """Indices that sort ``x`` along ``axis`` (stable), int32."""
    x = tensor(x)
    if axis is None:
        x, axis = zg.reshape(x, (-1,)), -1
    axis = argcheck.axis("argsort", axis, x.ndim)
    return const(x.xp.argsort(x.data, axis=axis, kind="stable").astype(np.int32))


@symbolic
def sort(x, axis=-1) -> Tensor:
    """Values sorted along ``axis``; the gradient goes back to where each value came from."""
    x = tensor(x)
    if axis is None:
        x, axis = zg.reshape(x, (-1,)), -1
    if x.ndim == 0:
        return x
    axis = argcheck.axis("sort", axis, x.ndim)
    idx = x.xp.argsort(x.data, axis=axis, kind="stable")
    return zg.take_along_axis(x, idx, axis)


def _cumulative(x, axis, dtype, op: str = "cumsum"):
    x = tensor(x, dtype)
    if x.dtype.kind == "b":
        x = zg.cast(x, backend.int32)
    if axis is None:
        return zg.reshape(x, (-1,)), 0
    return x, argcheck.axis(op, axis, x.ndim)


@symbolic
def cumsum(x, axis=None, dtype=None) -> Tensor:
    """Running sum along ``axis`` (flattened when None); differentiable as a triangular matmul."""
    x, axis = _cumulative(x, axis, dtype)
    if not graph_needed(x):
        return const(x.xp.cumsum(x.data, axis=axis).astype(x.dtype))
    n = x.shape[axis]
    upper = np.triu(np.ones((n, n), dtype=x.dtype))  # y_j = sum_{i <= j} x_i
    moved = zg.swapaxes(x, axis, -1)
    return zg.swapaxes(zg.matmul(moved, upper), axis, -1)


@symbolic
def cumprod(x, axis=None, dtype=None) -> Tensor:
    """Running product along ``axis``; differentiable as a chain of products."""
    x, axis = _cumulative(x, axis, dtype, "cumprod")
    if not graph_needed(x):
        return const(x.xp.cumprod(x.data, axis=axis).astype(x.dtype))
    lead = (builtins.slice(None),) * axis
    outs = [x[lead + (0,)]]
    for i in range(1, x.shape[axis]):
        outs.append(outs[-1] * x[lead + (i,)])
    return zg.stack(outs, axis)


@symbolic
def all(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001
    """True where every entry over ``axis`` is nonzero."""
    x = tensor(x)
    return const(
        x.xp.asarray(
            x.data.astype(bool).all(
                axis=axis if axis is None else _axes(axis, x.ndim), keepdims=keepdims
            )
        )
    )


@symbolic
def any(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001
    """True where some entry over ``axis`` is nonzero."""
    x = tensor(x)
    return const(
        x.xp.asarray(
            x.data.astype(bool).any(
                axis=axis if axis is None else _axes(axis, x.ndim), keepdims=keepdims
            )
        )
    )


@symbolic
def count_nonzero(x, axis=None) -> Tensor:
    """The number of nonzero entries over ``axis``, int32."""
    x = tensor(x)
    return const(np.count_nonzero(x.data, axis=axis), np.int32)


@symbolic
def nonzero(x) -> tuple:
    """The indices of the nonzero entries, one int32 tensor per axis."""
    x = tensor(x)
    return tuple(const(i.astype(np.int32)) for i in x.xp.nonzero(x.data))
