"""Trigonometric and hyperbolic functions, angle conversions, hypot and sinc."""

from __future__ import annotations

import math

import zerograd as zg
from zerograd.keras.ops.core import float_tensor, tensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.tensor import Tensor

__all__ = [
    "sin",
    "cos",
    "tan",
    "sinh",
    "cosh",
    "tanh",
    "sinc",
    "deg2rad",
    "rad2deg",
    "hypot",
    "arcsinh",
    "arccosh",
    "arctanh",
    "arcsin",
    "arccos",
    "arctan",
    "arctan2",
]


@symbolic
def sin(x) -> Tensor:
    """Sine."""
    return zg.sin(tensor(x))


@symbolic
def cos(x) -> Tensor:
    """Cosine."""
    return zg.cos(tensor(x))


@symbolic
def tan(x) -> Tensor:
    """Tangent."""
    x = tensor(x)
    return zg.div(zg.sin(x), zg.cos(x))


@symbolic
def sinh(x) -> Tensor:
    """Hyperbolic sine."""
    x = float_tensor(x)
    return (zg.exp(x) - zg.exp(-x)) * 0.5


@symbolic
def cosh(x) -> Tensor:
    """Hyperbolic cosine."""
    x = float_tensor(x)
    return (zg.exp(x) + zg.exp(-x)) * 0.5


@symbolic
def tanh(x) -> Tensor:
    """Hyperbolic tangent."""
    return zg.tanh(tensor(x))


@symbolic
def sinc(x) -> Tensor:
    """sin(pi x) / (pi x), 1 at 0."""
    x = float_tensor(x)
    zero = x.data == 0
    t = zg.where(zero, 1.0, x) * math.pi
    return zg.where(zero, 1.0, zg.sin(t) / t)


@symbolic
def deg2rad(x) -> Tensor:
    """Degrees to radians."""
    return zg.mul(float_tensor(x), math.pi / 180)


@symbolic
def rad2deg(x) -> Tensor:
    """Radians to degrees."""
    return zg.mul(float_tensor(x), 180 / math.pi)


@symbolic
def hypot(x1, x2) -> Tensor:
    """sqrt(x1^2 + x2^2)."""
    a, b = float_tensor(x1), float_tensor(x2)
    return zg.sqrt(a * a + b * b)


@symbolic
def arcsinh(x) -> Tensor:
    """Inverse hyperbolic sine: sign(x) log(|x| + sqrt(x^2 + 1))."""
    x = float_tensor(x)
    a = zg.abs(x)
    return zg.sign(x) * zg.log(a + zg.sqrt(a * a + 1))


@symbolic
def arccosh(x) -> Tensor:
    """Inverse hyperbolic cosine: log(x + sqrt(x^2 - 1)), for x >= 1."""
    x = float_tensor(x)
    return zg.log(x + zg.sqrt(x * x - 1))


@symbolic
def arctanh(x) -> Tensor:
    """Inverse hyperbolic tangent: log((1 + x) / (1 - x)) / 2."""
    x = float_tensor(x)
    return (zg.log(1 + x) - zg.log(1 - x)) * 0.5


@symbolic
def arcsin(x) -> Tensor:
    """Inverse sine."""
    return zg.arcsin(tensor(x))


@symbolic
def arccos(x) -> Tensor:
    """Inverse cosine."""
    return zg.arccos(tensor(x))


@symbolic
def arctan(x) -> Tensor:
    """Inverse tangent."""
    return zg.arctan(tensor(x))


@symbolic
def arctan2(x1, x2) -> Tensor:
    """Quadrant-aware inverse tangent of x1 / x2."""
    return zg.arctan2(tensor(x1), tensor(x2))
