"""Comparisons, logic, rounding and finiteness tests: results that carry no gradient."""

from __future__ import annotations

import numpy as np

import zerograd as zg
from zerograd.keras.ops.core import binary_operands, const, float_tensor, tensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.tensor import Tensor

__all__ = [
    "floor",
    "ceil",
    "trunc",
    "round",
    "nan_to_num",
    "equal",
    "not_equal",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "logical_and",
    "logical_or",
    "logical_xor",
    "logical_not",
    "isnan",
    "isinf",
    "isfinite",
    "isclose",
    "allclose",
    "isneginf",
    "isposinf",
    "signbit",
    "heaviside",
    "gcd",
    "lcm",
    "nextafter",
    "real",
    "conjugate",
    "conj",
    "imag",
    "isreal",
    "angle",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_left_shift",
    "left_shift",
    "bitwise_right_shift",
    "right_shift",
    "bitwise_invert",
    "bitwise_not",
]


# --- rounding ------------------------------------------------------------------------------------


def _rounded(fn, x) -> Tensor:
    x = tensor(x)
    if x.dtype.kind != "f":
        return x
    return const(fn(x.data))


@symbolic
def floor(x) -> Tensor:
    """Largest integer <= x (no gradient)."""
    x = float_tensor(x)
    return const(x.xp.floor(x.data))


@symbolic
def ceil(x) -> Tensor:
    """Smallest integer >= x (no gradient)."""
    x = float_tensor(x)
    return const(x.xp.ceil(x.data))


@symbolic
def trunc(x) -> Tensor:
    """Rounded towards zero (no gradient)."""
    return _rounded(lambda a: np.trunc(a), x)


@symbolic
def round(x, decimals: int = 0) -> Tensor:  # noqa: A001 - the Keras name
    """Rounded half to even (no gradient)."""
    return _rounded(lambda a: a.round(decimals), x)


@symbolic
def nan_to_num(x, nan=0.0, posinf=None, neginf=None) -> Tensor:
    """NaN and infinities replaced by finite numbers."""
    x = tensor(x)
    a = x.data
    return zg.where(
        np.isfinite(a), x, const(np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf))
    )


# --- comparisons and logic (no gradient) ---------------------------------------------------------


def _compare(name: str, fn):
    def compare(x1, x2) -> Tensor:
        x1, x2 = binary_operands(x1, x2)
        a, b = (t.data if isinstance(t, Tensor) else t for t in (x1, x2))
        return const(fn(a, b))

    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = f"Elementwise {name} (bool)."
    return symbolic(compare)


equal = _compare("equal", lambda a, b: a == b)
not_equal = _compare("not_equal", lambda a, b: a != b)
greater = _compare("greater", lambda a, b: a > b)
greater_equal = _compare("greater_equal", lambda a, b: a >= b)
less = _compare("less", lambda a, b: a < b)
less_equal = _compare("less_equal", lambda a, b: a <= b)
logical_and = _compare("logical_and", lambda a, b: np.logical_and(a, b))
logical_or = _compare("logical_or", lambda a, b: np.logical_or(a, b))
logical_xor = _compare("logical_xor", lambda a, b: np.logical_xor(a, b))


@symbolic
def logical_not(x) -> Tensor:
    """Elementwise not (bool)."""
    return const(np.logical_not(tensor(x).data))


@symbolic
def isnan(x) -> Tensor:
    """True where x is NaN."""
    return const(np.isnan(tensor(x).data))


@symbolic
def isinf(x) -> Tensor:
    """True where x is +-inf."""
    return const(np.isinf(tensor(x).data))


@symbolic
def isfinite(x) -> Tensor:
    """True where x is finite."""
    return const(np.isfinite(tensor(x).data))


@symbolic
def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False) -> Tensor:
    """True where |x1 - x2| <= atol + rtol |x2|."""
    a, b = tensor(x1).data, tensor(x2).data
    return const(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


# --- more tests, and the parts of (real) numbers ---------------------------------------------------


@symbolic
def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False) -> Tensor:
    """True when every |x1 - x2| <= atol + rtol |x2|."""
    a, b = tensor(x1).data, tensor(x2).data
    return const(np.asarray(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)))


@symbolic
def isneginf(x) -> Tensor:
    """True where x is -inf."""
    return const(np.isneginf(tensor(x).data))


@symbolic
def isposinf(x) -> Tensor:
    """True where x is +inf."""
    return const(np.isposinf(tensor(x).data))


@symbolic
def signbit(x) -> Tensor:
    """True where the sign bit is set (negative numbers and -0.0)."""
    return const(np.signbit(tensor(x).data))


@symbolic
def heaviside(x1, x2) -> Tensor:
    """0 for x1 < 0, 1 for x1 > 0, x2 at 0 (no gradient)."""
    a, b = float_tensor(x1), float_tensor(x2)
    return const(np.heaviside(a.data, b.data).astype(np.result_type(a.dtype, b.dtype)))


@symbolic
def gcd(x1, x2) -> Tensor:
    """Greatest common divisor."""
    return const(np.gcd(tensor(x1).data, tensor(x2).data))


@symbolic
def lcm(x1, x2) -> Tensor:
    """Least common multiple."""
    return const(np.lcm(tensor(x1).data, tensor(x2).data))


@symbolic
def nextafter(x1, x2) -> Tensor:
    """The next float after x1 towards x2."""
    a, b = float_tensor(x1), float_tensor(x2)
    return const(np.nextafter(a.data, b.data.astype(a.dtype)))


@symbolic
def real(x) -> Tensor:
    """The real part: x itself (zerograd has no complex tensors)."""
    return tensor(x)


@symbolic
def conjugate(x) -> Tensor:
    """The complex conjugate: x itself for real tensors."""
    return tensor(x)


conj = conjugate


@symbolic
def imag(x) -> Tensor:
    """The imaginary part: zeros for real tensors."""
    x = tensor(x)
    return zg.mul(x, 0)


@symbolic
def isreal(x) -> Tensor:
    """True everywhere for real tensors."""
    return const(np.ones(tensor(x).shape, dtype=bool))


@symbolic
def angle(x) -> Tensor:
    """The argument of a real number: pi for negatives, else 0."""
    x = float_tensor(x)
    return const(np.where(x.data < 0, np.pi, 0.0).astype(x.dtype))


# --- bitwise (integers and bools) -------------------------------------------------------------------


def _bitwise(name: str, fn):
    def bitwise(x, y) -> Tensor:
        return const(fn(tensor(x).data, tensor(y).data))

    bitwise.__name__ = bitwise.__qualname__ = name
    bitwise.__doc__ = f"Elementwise {name.replace('_', ' ')} of integers."
    return symbolic(bitwise)


bitwise_and = _bitwise("bitwise_and", np.bitwise_and)
bitwise_or = _bitwise("bitwise_or", np.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", np.bitwise_xor)
bitwise_left_shift = left_shift = _bitwise("bitwise_left_shift", np.left_shift)
bitwise_right_shift = right_shift = _bitwise("bitwise_right_shift", np.right_shift)


@symbolic
def bitwise_invert(x) -> Tensor:
    """Elementwise bitwise not."""
    return const(np.invert(tensor(x).data))


bitwise_not = bitwise_invert
