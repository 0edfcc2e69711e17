"""Momentum methods as Keras 3 computes them: SGD (momentum, Nesterov) and Lion.

Keras's SGD keeps the velocity in parameter units, ``m = momentum * m - lr * g; var += m``,
so a changed learning rate scales only the new gradient (PyTorch's buffer scales the whole step).
"""

from __future__ import annotations

from zerograd import backend
from zerograd.keras.optimizers.base import Optimizer
from zerograd.ops import argcheck


class SGD(Optimizer):
    """Gradient descent, with (Nesterov) momentum.

    Example:
        >>> opt = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True)
    """

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        argcheck.number("SGD", "momentum", momentum, 0.0, 1.0, finite=True)
        self.momentum, self.nesterov = momentum, nesterov

    def slot_groups(self) -> list:
        return [("momentum",)] if self.momentum != 0 else []

    def update_variable(self, g, p, lr, slots):
        step = -lr * g
        if self.momentum == 0:
            p.data += step
            return
        m = slots["momentum"]
        m *= self.momentum
        m += step
        if self.nesterov:
            p.data += step
            p.data += self.momentum * m
        else:
            p.data += m


class Lion(Optimizer):
    """Lion: the sign of an interpolation of momentum and gradient (Chen et al., 2023)."""

    def __init__(self, learning_rate=0.001, beta_1: float = 0.9, beta_2: float = 0.99, **kwargs):
        super().__init__(learning_rate, **kwargs)
        argcheck.number("Lion", "beta_2", beta_2, 0.0, 1.0, high_open=True, finite=True)
        if not 0 < argcheck.number("Lion", "beta_1", beta_1, finite=True) <= 1:
            raise ValueError(
                f"Lion: beta_1 must be in (0, 1] (else Lion degenerates to SignSGD), received "
                f"beta_1={beta_1}"
            )
        self.beta_1, self.beta_2 = beta_1, beta_2

    def slot_groups(self) -> list:
        return [("momentum",)]

    def update_variable(self, g, p, lr, slots):
        xp = backend.namespace(p.data)
        m = slots["momentum"]
        p.data -= xp.sign(m * self.beta_1 + (1 - self.beta_1) * g) * lr
        m *= self.beta_2
        m += (1 - self.beta_2) * g
