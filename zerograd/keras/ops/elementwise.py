"""Elementwise NumPy-style ops: arithmetic, unary math, comparisons and logic."""

from __future__ import annotations

import math

import numpy as np

import zerograd as zg
from zerograd import backend
from zerograd.keras.ops.core import binary_operands, const, float_tensor, tensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.tensor import Tensor

__all__ = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "true_divide",
    "divide_no_nan",
    "negative",
    "power",
    "square",
    "sqrt",
    "rsqrt",
    "reciprocal",
    "abs",
    "absolute",
    "sign",
    "maximum",
    "minimum",
    "clip",
    "where",
    "mod",
    "floor_divide",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log1p",
    "log2",
    "log10",
    "logaddexp",
    "copy",
    "fabs",
    "cbrt",
    "logaddexp2",
    "fmod",
    "fmax",
    "fmin",
    "ldexp",
]


def _in_float64(fn, x) -> Tensor:
    """``fn`` computed in float64 and cast back: full precision for log1p/expm1 near zero."""
    x = float_tensor(x)
    return zg.cast(fn(zg.cast(x, backend.float64)), x.dtype)


# --- arithmetic ----------------------------------------------------------------------------------


@symbolic
def add(x1, x2) -> Tensor:
    """x1 + x2 with broadcasting."""
    return zg.add(*binary_operands(x1, x2))


@symbolic
def subtract(x1, x2) -> Tensor:
    """x1 - x2."""
    return zg.sub(*binary_operands(x1, x2))


@symbolic
def multiply(x1, x2) -> Tensor:
    """x1 * x2."""
    return zg.mul(*binary_operands(x1, x2))


@symbolic
def divide(x1, x2) -> Tensor:
    """x1 / x2 (true division; integers give floats)."""
    return zg.div(*binary_operands(x1, x2))


true_divide = divide


@symbolic
def divide_no_nan(x1, x2) -> Tensor:
    """x1 / x2, and 0 where x2 is 0."""
    x1, x2 = binary_operands(x1, x2)
    x2 = tensor(x2) if not isinstance(x2, Tensor) else x2
    zero = x2.data == 0
    return zg.where(zero, 0.0, zg.div(x1, zg.where(zero, 1, x2)))


@symbolic
def negative(x) -> Tensor:
    """-x."""
    return zg.neg(tensor(x))


@symbolic
def power(x1, x2) -> Tensor:
    """x1 ** x2."""
    return zg.pow(*binary_operands(x1, x2))


@symbolic
def square(x) -> Tensor:
    """x * x."""
    x = tensor(x)
    return zg.mul(x, x)


@symbolic
def sqrt(x) -> Tensor:
    """Square root (float)."""
    return zg.sqrt(tensor(x))


@symbolic
def rsqrt(x) -> Tensor:
    """1 / sqrt(x)."""
    return zg.div(1.0, zg.sqrt(tensor(x)))


@symbolic
def reciprocal(x) -> Tensor:
    """1 / x."""
    return zg.div(1.0, float_tensor(x))


@symbolic
def abs(x) -> Tensor:  # noqa: A001 - the Keras name
    """|x|."""
    return zg.abs(tensor(x))


absolute = abs


@symbolic
def sign(x) -> Tensor:
    """-1, 0 or 1 (no gradient)."""
    return zg.sign(tensor(x))


@symbolic
def maximum(x1, x2) -> Tensor:
    """Elementwise maximum; ties share the gradient."""
    return zg.maximum(*binary_operands(x1, x2))


@symbolic
def minimum(x1, x2) -> Tensor:
    """Elementwise minimum."""
    return zg.minimum(*binary_operands(x1, x2))


@symbolic
def clip(x, x_min, x_max) -> Tensor:
    """Values limited to [x_min, x_max]."""
    x = tensor(x)
    lo = x_min.data if isinstance(x_min, Tensor) else x_min
    hi = x_max.data if isinstance(x_max, Tensor) else x_max
    for name, v in (("x_min", lo), ("x_max", hi)):
        if isinstance(v, (str, bytes)) or np.asarray(v).dtype.kind not in "biuf":
            raise TypeError(f"clip: {name} must be a number or a tensor, received {v!r}")
    if x.dtype.kind == "b":
        x = zg.cast(x, backend.int32)
    return zg.clip(x, lo, hi)


@symbolic
def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2``; with neither, the indices of true entries."""
    cond = tensor(condition)
    if x1 is None and x2 is None:
        return tuple(const(i.astype(np.int32)) for i in cond.xp.nonzero(cond.data))
    if x1 is None or x2 is None:
        raise ValueError("where: expected both x1 and x2, or neither; received only one")
    return zg.where(cond.data.astype(bool), *binary_operands(x1, x2))


@symbolic
def mod(x1, x2) -> Tensor:
    """Remainder with the sign of the divisor, as NumPy; differentiable in x1 and x2."""
    x1, x2 = binary_operands(x1, x2)
    a, b = (t.data if isinstance(t, Tensor) else t for t in (x1, x2))
    if np.result_type(a, b).kind != "f":
        return const(np.mod(a, b))
    return zg.sub(x1, zg.mul(x2, const(np.floor_divide(a, b))))


@symbolic
def floor_divide(x1, x2) -> Tensor:
    """floor(x1 / x2) (no gradient)."""
    x1, x2 = binary_operands(x1, x2)
    a, b = (t.data if isinstance(t, Tensor) else t for t in (x1, x2))
    return const(np.floor_divide(a, b))


# --- unary math ----------------------------------------------------------------------------------


@symbolic
def exp(x) -> Tensor:
    """e ** x."""
    return zg.exp(tensor(x))


@symbolic
def exp2(x) -> Tensor:
    """2 ** x."""
    return zg.exp(zg.mul(float_tensor(x), math.log(2)))


@symbolic
def expm1(x) -> Tensor:
    """exp(x) - 1, accurate near 0."""
    return _in_float64(lambda t: zg.exp(t) - 1, x)


@symbolic
def log(x) -> Tensor:
    """Natural logarithm."""
    return zg.log(tensor(x))


@symbolic
def log1p(x) -> Tensor:
    """log(1 + x), accurate near 0."""
    return _in_float64(lambda t: zg.log(t + 1), x)


@symbolic
def log2(x) -> Tensor:
    """Base-2 logarithm."""
    return zg.div(zg.log(tensor(x)), math.log(2))


@symbolic
def log10(x) -> Tensor:
    """Base-10 logarithm."""
    return zg.div(zg.log(tensor(x)), math.log(10))


@symbolic
def logaddexp(x1, x2) -> Tensor:
    """log(exp(x1) + exp(x2)) without overflow."""
    x1, x2 = binary_operands(x1, x2)
    m = zg.maximum(x1, x2).detach()
    return m + zg.log(zg.exp(zg.sub(x1, m)) + zg.exp(zg.sub(x2, m)))


# --- more NumPy math ---------------------------------------------------------------------------


@symbolic
def copy(x) -> Tensor:
    """A copy of x."""
    return zg.copy(tensor(x))


@symbolic
def fabs(x) -> Tensor:
    """|x| as a float."""
    return zg.abs(float_tensor(x))


@symbolic
def cbrt(x) -> Tensor:
    """The real cube root."""
    x = float_tensor(x)
    return zg.sign(x) * zg.abs(x) ** (1 / 3)


@symbolic
def logaddexp2(x1, x2) -> Tensor:
    """log2(2^x1 + 2^x2) without overflow."""
    ln2 = math.log(2)
    return logaddexp.eager(zg.mul(float_tensor(x1), ln2), zg.mul(float_tensor(x2), ln2)) / ln2


@symbolic
def fmod(x1, x2) -> Tensor:
    """Remainder with the sign of the dividend (C's fmod)."""
    x1, x2 = binary_operands(x1, x2)
    a, b = (t.data if isinstance(t, Tensor) else t for t in (x1, x2))
    if np.result_type(a, b).kind != "f":
        return const(np.fmod(a, b))
    return zg.sub(x1, zg.mul(x2, const(np.trunc(np.asarray(a) / b))))


@symbolic
def fmax(x1, x2) -> Tensor:
    """Elementwise maximum ignoring NaNs (NaN only where both are)."""
    a, b = binary_operands(x1, x2)
    a, b = tensor(a), tensor(b)
    return zg.where(np.isnan(a.data), b, zg.where(np.isnan(b.data), a, zg.maximum(a, b)))


@symbolic
def fmin(x1, x2) -> Tensor:
    """Elementwise minimum ignoring NaNs."""
    a, b = binary_operands(x1, x2)
    a, b = tensor(a), tensor(b)
    return zg.where(np.isnan(a.data), b, zg.where(np.isnan(b.data), a, zg.minimum(a, b)))


@symbolic
def ldexp(x1, x2) -> Tensor:
    """x1 * 2 ** x2."""
    x1 = float_tensor(x1)
    return zg.mul(x1, const(np.ldexp(np.ones((), x1.dtype), tensor(x2).numpy()).astype(x1.dtype)))
