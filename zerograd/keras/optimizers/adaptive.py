"""Per-coordinate step sizes as Keras 3 computes them: RMSprop, Adagrad, Adadelta and Ftrl.

Keras adds epsilon under the square root: ``lr * g / sqrt(v + epsilon)``.
"""

from __future__ import annotations

from zerograd import backend
from zerograd.keras.optimizers.base import Optimizer
from zerograd.ops import argcheck


class RMSprop(Optimizer):
    """RMSprop: divide by a running root mean square of the gradient (centered: its variance).

    Example:
        >>> opt = keras.optimizers.RMSprop(learning_rate=1e-3, momentum=0.9, centered=True)
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        argcheck.number("RMSprop", "rho", rho, 0.0, 1.0, high_open=True, finite=True)
        argcheck.number("RMSprop", "momentum", momentum, 0.0, 1.0, high_open=True, finite=True)
        argcheck.number("RMSprop", "epsilon", epsilon, 0.0, finite=True)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def slot_groups(self) -> list:
        groups = [("velocity",)]
        groups += [("momentum",)] if self.momentum > 0 else []
        return groups + ([("average_gradient",)] if self.centered else [])

    def update_variable(self, g, p, lr, slots):
        xp = backend.namespace(p.data)
        v = slots["velocity"]
        v *= self.rho
        v += (1 - self.rho) * (g * g)
        denominator = v + self.epsilon
        if self.centered:
            a = slots["average_gradient"]
            a *= self.rho
            a += (1 - self.rho) * g
            denominator -= a * a
        increment = (g * lr) / xp.sqrt(denominator)
        if self.momentum > 0:
            m = slots["momentum"]
            m *= self.momentum
            m += increment
            p.data -= m
        else:
            p.data -= increment


class Adagrad(Optimizer):
    """Adagrad: divide by the root of the sum of all squared gradients so far."""

    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        argcheck.number(
            "Adagrad", "initial_accumulator_value", initial_accumulator_value, 0.0, finite=True
        )
        argcheck.number("Adagrad", "epsilon", epsilon, 0.0, finite=True)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def slot_groups(self) -> list:
        return [("accumulator",)]

    def slot_initial_value(self, name: str) -> float:
        return self.initial_accumulator_value if name == "accumulator" else 0.0

    def update_variable(self, g, p, lr, slots):
        xp = backend.namespace(p.data)
        acc = slots["accumulator"]
        acc += g * g
        p.data -= (g * lr) / xp.sqrt(acc + self.epsilon)


class Adadelta(Optimizer):
    """Adadelta: the step is the ratio of running RMS of past updates to that of gradients."""

    def __init__(self, learning_rate=0.001, rho: float = 0.95, epsilon: float = 1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        argcheck.number("Adadelta", "rho", rho, 0.0, 1.0, high_open=True, finite=True)
        argcheck.number("Adadelta", "epsilon", epsilon, 0.0, finite=True)
        self.rho, self.epsilon = rho, epsilon

    def slot_groups(self) -> list:
        return [("accumulated_grad", "accumulated_delta_var")]

    def update_variable(self, g, p, lr, slots):
        xp = backend.namespace(p.data)
        acc_g, acc_delta = slots["accumulated_grad"], slots["accumulated_delta_var"]
        acc_g *= self.rho
        acc_g += (1 - self.rho) * (g * g)
        delta = -((xp.sqrt(acc_delta + self.epsilon) * g) / xp.sqrt(acc_g + self.epsilon))
        acc_delta *= self.rho
        acc_delta += (1 - self.rho) * (delta * delta)
        p.data += lr * delta


class Ftrl(Optimizer):
    """FTRL-Proximal (McMahan et al., 2013) with L1, L2 and L2-shrinkage regularization."""

    def __init__(
        self,
        learning_rate=0.001,
        learning_rate_power: float = -0.5,
        initial_accumulator_value: float = 0.1,
        l1_regularization_strength: float = 0.0,
        l2_regularization_strength: float = 0.0,
        l2_shrinkage_regularization_strength: float = 0.0,
        beta: float = 0.0,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        for key, value, sign in (
            ("initial_accumulator_value", initial_accumulator_value, 1),
            ("learning_rate_power", learning_rate_power, -1),
            ("l1_regularization_strength", l1_regularization_strength, 1),
            ("l2_regularization_strength", l2_regularization_strength, 1),
            ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength, 1),
        ):
            if argcheck.number("Ftrl", key, value, finite=True) * sign < 0:
                want = "positive or zero" if sign > 0 else "negative or zero"
                raise ValueError(f"Ftrl: {key} must be {want}, received {key}={value}")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def slot_groups(self) -> list:
        return [("accumulator", "linear")]

    def slot_initial_value(self, name: str) -> float:
        return self.initial_accumulator_value if name == "accumulator" else 0.0

    def update_variable(self, g, p, lr, slots):
        xp = backend.namespace(p.data)
        acc, linear = slots["accumulator"], slots["linear"]
        power = -self.learning_rate_power
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        g_shrunk = g + (2 * self.l2_shrinkage_regularization_strength) * p.data
        new_acc = acc + g * g
        new_acc_power = xp.power(new_acc, power)
        linear += g_shrunk - ((new_acc_power - xp.power(acc, power)) / lr) * p.data
        quadratic = new_acc_power / lr + 2 * l2
        l1 = self.l1_regularization_strength
        p.data[...] = (xp.clip(linear, -l1, l1) - linear) / quadratic
        acc[...] = new_acc
