"""Inverse trigonometric ops: arcsin, arccos, arctan and the two-argument arctan2."""

from __future__ import annotations

from zerograd.autograd import Function
from zerograd.ops.elementwise import binary_operands, cast, float_operand
from zerograd.tensor import Tensor


class Arcsin(Function):
    """asin(x); d/dx = 1 / sqrt(1 - x^2) (infinite at |x| = 1, as PyTorch)."""

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.arcsin(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy / self.xp.sqrt(1 - x * x)


class Arccos(Function):
    """acos(x); d/dx = -1 / sqrt(1 - x^2)."""

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.arccos(x)

    def backward(self, gy):
        (x,) = self.saved
        return -gy / self.xp.sqrt(1 - x * x)


class Arctan(Function):
    """atan(x); d/dx = 1 / (1 + x^2)."""

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.arctan(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy / (1 + x * x)


class Arctan2(Function):
    """atan2(y, x), the angle of the point (x, y); d/dy = x / r^2, d/dx = -y / r^2."""

    def forward(self, y, x):
        self.save_for_backward(y, x)
        return self.xp.arctan2(y, x)

    def backward(self, gy):
        y, x = self.saved
        g = gy / (x * x + y * y)  # the engine un-broadcasts both gradients
        return g * x, -g * y


def arcsin(x) -> Tensor:
    """Inverse sine, in [-pi/2, pi/2]; ints become the default float dtype.

    >>> zg.arcsin(zg.tensor([0.0, 1.0]))  # [0, pi/2]
    """
    return Arcsin.apply(float_operand(x))


def arccos(x) -> Tensor:
    """Inverse cosine, in [0, pi]; ints become the default float dtype."""
    return Arccos.apply(float_operand(x))


def arctan(x) -> Tensor:
    """Inverse tangent, in (-pi/2, pi/2); ints become the default float dtype."""
    return Arctan.apply(float_operand(x))


def arctan2(y, x) -> Tensor:
    """Quadrant-aware inverse tangent of y / x, in [-pi, pi]; broadcasts as NumPy.

    >>> zg.arctan2(zg.tensor([1.0]), zg.tensor([-1.0]))  # [3 pi / 4]
    """
    y, x = binary_operands(y, x)
    if y.dtype.kind != "f":
        y = float_operand(y)
        x = cast(x, y.dtype)
    return Arctan2.apply(y, x)
