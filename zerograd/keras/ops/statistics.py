"""Statistics: quantiles and percentiles, NaN-skipping reductions, ptp, trapezoid, corrcoef."""

from __future__ import annotations

import numpy as np

import zerograd as zg
from zerograd.keras.ops.core import const, float_tensor, tensor
from zerograd.keras.ops.reduction import _keep, _to_last, cumprod, cumsum, prod, sum
from zerograd.keras.ops.symbolic import symbolic
from zerograd.tensor import Tensor

__all__ = [
    "histogram",
    "quantile",
    "percentile",
    "nanquantile",
    "nanpercentile",
    "nanmedian",
    "nansum",
    "nanprod",
    "nanmean",
    "nanvar",
    "nanstd",
    "nanmax",
    "nanmin",
    "nanargmax",
    "nanargmin",
    "nancumsum",
    "nancumprod",
    "ptp",
    "trapezoid",
    "corrcoef",
]

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(x, q, axis, method, keepdims, op: str, skip_nan: bool) -> Tensor:
    """Quantiles from the sorted values (NaN sorts last, so skipping NaNs shortens each row);
    differentiable in x through the sort, and in q through the interpolation weight."""
    x = float_tensor(x)
    q = zg.cast(float_tensor(q), x.dtype)
    qv = q.numpy().astype(np.float64)
    if method not in _METHODS:
        raise ValueError(f"{op}: method must be one of {_METHODS}, received {method!r}")
    if qv.size and (qv.min() < 0 or qv.max() > 1):
        raise ValueError(f"{op}: expected quantiles in [0, 1], received {qv.tolist()}")
    flat = _to_last(x, axis)  # (..., n)
    data = flat.data
    nan = np.isnan(data)
    n = (
        (~nan).sum(-1, keepdims=True)
        if skip_nan
        else np.full(data.shape[:-1] + (1,), data.shape[-1])
    )
    ordered = zg.take_along_axis(flat, np.argsort(data, axis=-1, kind="stable"), -1)
    last = const(np.maximum(n - 1, 0).astype(x.dtype))
    pos = zg.reshape(q, (-1,)) * last  # (..., q)
    lo, hi = np.floor(pos.data), np.ceil(pos.data)
    if method == "nearest":
        lo = hi = np.round(pos.data)
    elif method == "lower":
        hi = lo
    elif method == "higher":
        lo = hi

    def at(i):
        return zg.take_along_axis(ordered, i.astype(np.int64), -1)

    if method == "midpoint":
        out = (at(lo) + at(hi)) * 0.5
    else:
        out = at(lo) + (at(hi) - at(lo)) * (pos - const(lo.astype(x.dtype)))
    undefined = (n == 0) if skip_nan else nan.any(-1, keepdims=True)
    if undefined.any():
        out = zg.where(np.broadcast_to(undefined, out.shape), float("nan"), out)
    out = zg.transpose(out, (out.ndim - 1, *range(out.ndim - 1)))  # the quantile axis first
    if keepdims:
        out = zg.reshape(out, (out.shape[0], *_keep(out[0], x, axis, True).shape))
    return out[0] if qv.ndim == 0 else out


@symbolic
def quantile(x, q, axis=None, method="linear", keepdims=False) -> Tensor:
    """The ``q``-th quantiles (q in [0, 1]) over ``axis``; differentiable through the sort."""
    return _quantile(x, q, axis, method, keepdims, "quantile", False)


@symbolic
def percentile(x, q, axis=None, method="linear", keepdims=False) -> Tensor:
    """The ``q``-th percentiles (q in [0, 100]) over ``axis``."""
    return _quantile(x, zg.div(float_tensor(q), 100.0), axis, method, keepdims, "percentile", False)


@symbolic
def nanquantile(x, q, axis=None, method="linear", keepdims=False) -> Tensor:
    """Quantiles ignoring NaNs."""
    return _quantile(x, q, axis, method, keepdims, "nanquantile", True)


@symbolic
def nanpercentile(x, q, axis=None, method="linear", keepdims=False) -> Tensor:
    """Percentiles ignoring NaNs."""
    return _quantile(
        x, zg.div(float_tensor(q), 100.0), axis, method, keepdims, "nanpercentile", True
    )


@symbolic
def nanmedian(x, axis=None, keepdims=False) -> Tensor:
    """Median ignoring NaNs."""
    return _quantile(x, 0.5, axis, "linear", keepdims, "nanmedian", True)


def _filled(x, value) -> Tensor:
    x = tensor(x)
    if x.dtype.kind != "f":
        return x
    return zg.where(np.isnan(x.data), value, x)


@symbolic
def nansum(x, axis=None, keepdims=False) -> Tensor:
    """Sum, NaNs counted as zero."""
    return sum.eager(_filled(x, 0.0), axis, keepdims)


@symbolic
def nanprod(x, axis=None, keepdims=False) -> Tensor:
    """Product, NaNs counted as one."""
    return prod.eager(_filled(x, 1.0), axis, keepdims)


def _count(x: Tensor, axis, keepdims) -> Tensor:
    valid = ~np.isnan(x.data) if x.dtype.kind == "f" else np.ones(x.shape, bool)
    return const(valid.sum(axis=axis, keepdims=keepdims), x.dtype)


@symbolic
def nanmean(x, axis=None, keepdims=False) -> Tensor:
    """Mean of the non-NaN entries."""
    x = float_tensor(x)
    return zg.sum(_filled(x, 0.0), axis, keepdims) / _count(x, axis, keepdims)


@symbolic
def nanvar(x, axis=None, keepdims=False) -> Tensor:
    """Variance of the non-NaN entries."""
    x = float_tensor(x)
    d = _filled(x - nanmean.eager(x, axis, True), 0.0)
    return zg.sum(d * d, axis, keepdims) / _count(x, axis, keepdims)


@symbolic
def nanstd(x, axis=None, keepdims=False) -> Tensor:
    """Standard deviation of the non-NaN entries."""
    return zg.sqrt(nanvar.eager(x, axis, keepdims))


@symbolic
def nanmax(x, axis=None, keepdims=False) -> Tensor:
    """Largest non-NaN entry."""
    return zg.max(_filled(x, float("-inf")), axis, keepdims)


@symbolic
def nanmin(x, axis=None, keepdims=False) -> Tensor:
    """Smallest non-NaN entry."""
    return zg.min(_filled(x, float("inf")), axis, keepdims)


@symbolic
def nanargmax(x, axis=None, keepdims=False) -> Tensor:
    """Index of the largest non-NaN entry, int32."""
    from zerograd.keras.ops.reduction import argmax

    return argmax.eager(_filled(x, float("-inf")), axis, keepdims)


@symbolic
def nanargmin(x, axis=None, keepdims=False) -> Tensor:
    """Index of the smallest non-NaN entry, int32."""
    from zerograd.keras.ops.reduction import argmin

    return argmin.eager(_filled(x, float("inf")), axis, keepdims)


@symbolic
def nancumsum(x, axis=None, dtype=None) -> Tensor:
    """Running sum, NaNs counted as zero."""
    return cumsum.eager(_filled(x, 0.0), axis, dtype)


@symbolic
def nancumprod(x, axis=None, dtype=None) -> Tensor:
    """Running product, NaNs counted as one."""
    return cumprod.eager(_filled(x, 1.0), axis, dtype)


@symbolic
def ptp(x, axis=None, keepdims=False) -> Tensor:
    """max - min over ``axis``."""
    x = tensor(x)
    return zg.max(x, axis, keepdims) - zg.min(x, axis, keepdims)


@symbolic
def trapezoid(y, x=None, dx=1.0, axis=-1) -> Tensor:
    """The integral of ``y`` by the trapezoidal rule (at ``x``, or spaced ``dx``)."""
    y = float_tensor(y)
    axis %= y.ndim
    lead = (slice(None),) * axis
    mids = (y[lead + (slice(1, None),)] + y[lead + (slice(None, -1),)]) * 0.5
    if x is None:
        return zg.sum(mids, axis) * dx
    x = float_tensor(x)
    steps = (
        x[1:] - x[:-1]
        if x.ndim == 1
        else x[lead + (slice(1, None),)] - x[lead + (slice(None, -1),)]
    )
    if x.ndim == 1:
        shape = [1] * y.ndim
        shape[axis] = len(steps)
        steps = zg.reshape(steps, tuple(shape))
    return zg.sum(mids * steps, axis)


@symbolic
def corrcoef(x) -> Tensor:
    """Pearson correlation coefficients of the rows of ``x`` (variables by observations)."""
    x = float_tensor(x)
    if x.ndim == 1:
        x = zg.reshape(x, (1, -1))
    d = x - zg.mean(x, 1, keepdims=True)
    cov = zg.matmul(d, zg.transpose(d))
    s = zg.sqrt(zg.sum(d * d, 1))
    return cov / (zg.reshape(s, (-1, 1)) * zg.reshape(s, (1, -1)))


@symbolic
def histogram(x, bins=10, range=None) -> tuple:  # noqa: A002 - the Keras name
    """(counts, edges): ``bins`` equal bins over ``range`` (default: x's min and max), the last
    bin closed as NumPy; counts in x's float dtype, as Keras on torch. Not differentiable."""
    if not isinstance(bins, int) or isinstance(bins, bool) or bins < 1:
        raise ValueError(f"histogram: bins must be a positive int, received {bins!r}")
    if range is not None and (len(range) != 2 or range[1] < range[0]):
        raise ValueError(f"histogram: range must be a pair (low, high), received {range!r}")
    x = float_tensor(x)
    if x.ndim != 1:
        raise ValueError(f"histogram: expected a 1-D input, received shape {x.shape}")
    counts, edges = x.xp.histogram(x.data, bins=bins, range=range)
    return const(counts.astype(x.dtype)), const(edges.astype(x.dtype))
