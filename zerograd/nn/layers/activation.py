"""Activation modules (wrappers of the functions in zerograd.ops)."""

from __future__ import annotations

from zerograd.nn.module import Module
from zerograd.ops import activation as A
from zerograd.ops import argcheck
from zerograd.ops.elementwise import relu, sigmoid, tanh


class ReLU(Module):
    def forward(self, x):
        return relu(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = argcheck.number("LeakyReLU", "negative_slope", negative_slope)

    def forward(self, x):
        return A.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = argcheck.number("ELU", "alpha", alpha)

    def forward(self, x):
        return A.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = argcheck.choice("GELU", "approximate", approximate, ("none", "tanh"))

    def forward(self, x):
        return A.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    def forward(self, x):
        return A.silu(x)


class Sigmoid(Module):
    def forward(self, x):
        return sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return tanh(x)


class Softmax(Module):
    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis if axis is None else argcheck.integer(type(self).__name__, "axis", axis)

    def forward(self, x):
        return A.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return A.log_softmax(x, self.axis)


class Dropout(Module):
    """Zero elements with probability ``p`` in training; identity in eval."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = argcheck.probability("Dropout", "p", p)

    def forward(self, x):
        return A.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
