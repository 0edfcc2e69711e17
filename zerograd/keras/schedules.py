"""Learning-rate schedules (``keras.optimizers.schedules``): callables of the optimizer's step.

An optimizer given a schedule as ``learning_rate`` evaluates it on its iteration count (the number
of updates already applied) before each update.

Example:
    >>> lr = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96)
    >>> opt = keras.optimizers.SGD(learning_rate=lr)
"""

from __future__ import annotations

import math
import sys

# ``from keras.optimizers.schedules import ExponentialDecay`` works after the import swap
sys.modules.setdefault("zerograd.keras.optimizers.schedules", sys.modules[__name__])


def _positive(cls: str, name: str, value) -> None:
    if value <= 0:
        raise ValueError(f"{cls}: argument `{name}` must be > 0, received {name}={value}")


class LearningRateSchedule:
    """Base class: subclasses define ``__call__(step) -> learning rate`` and ``get_config()``."""

    def __call__(self, step) -> float:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override __call__(self, step)"
        )

    def get_config(self) -> dict:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override get_config() "
            "to be serializable"
        )

    @classmethod
    def from_config(cls, config: dict):
        """Rebuild a schedule from ``get_config()``."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _RateDecay(LearningRateSchedule):
    """The schedules of ``initial_learning_rate``, ``decay_steps``, ``decay_rate`` and
    ``staircase``: ``_decay(p)`` maps the progress ``p = step / decay_steps`` (floored when
    ``staircase``) to the learning rate."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        decay_rate: float,
        staircase: bool = False,
        name: str | None = None,
    ):
        _positive(type(self).__name__, "decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase = decay_rate, staircase
        self.name = type(self).__name__ if name is None else name

    def _decay(self, p: float) -> float:
        raise NotImplementedError

    def __call__(self, step) -> float:
        p = float(step) / self.decay_steps
        return self._decay(math.floor(p) if self.staircase else p)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (integer division when
    ``staircase``)."""

    def _decay(self, p: float) -> float:
        return self.initial_learning_rate * self.decay_rate**p


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[1]`` while ``step <= boundaries[1]``,
    ..., ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name: str = "PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                f"PiecewiseConstantDecay: expected one more value than boundaries, received "
                f"boundaries={boundaries} of length {len(boundaries)} and values={values} "
                f"of length {len(values)}"
            )
        if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError(
                f"PiecewiseConstantDecay: boundaries must increase strictly, received {boundaries}"
            )
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def __call__(self, step) -> float:
        step = float(step)
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """From ``initial_learning_rate`` to ``end_learning_rate`` along ``(1 - step/decay_steps)**power``;
    with ``cycle`` the decay restarts with ``decay_steps`` stretched to the next multiple."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: str = "PolynomialDecay",
    ):
        _positive(type(self).__name__, "decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.end_learning_rate, self.power, self.cycle = end_learning_rate, power, cycle
        self.name = name

    def __call__(self, step) -> float:
        step, steps = float(step), float(self.decay_steps)
        if self.cycle:
            steps *= 1.0 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, steps)
        span = self.initial_learning_rate - self.end_learning_rate
        return span * (1 - step / steps) ** self.power + self.end_learning_rate

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (floored when
    ``staircase``)."""

    def _decay(self, p: float) -> float:
        return self.initial_learning_rate / (1 + self.decay_rate * p)


def _cosine(fraction: float, alpha: float) -> float:
    return (1 - alpha) * 0.5 * (1.0 + math.cos(math.pi * fraction)) + alpha


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup from ``initial_learning_rate`` to ``warmup_target`` over
    ``warmup_steps``, then a cosine decay to ``alpha`` times the peak over ``decay_steps``."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ):
        _positive(type(self).__name__, "decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps, self.alpha = (
            initial_learning_rate,
            decay_steps,
            alpha,
        )
        self.name, self.warmup_target, self.warmup_steps = name, warmup_target, warmup_steps

    def __call__(self, step) -> float:
        step = float(step)
        if self.warmup_target is None:
            step = min(step, self.decay_steps)
            return self.initial_learning_rate * _cosine(step / self.decay_steps, self.alpha)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * step / self.warmup_steps + self.initial_learning_rate
        fraction = (step - self.warmup_steps) / self.decay_steps
        return self.warmup_target * _cosine(fraction, self.alpha)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): period ``i`` lasts ``first_decay_steps * t_mul**i``
    steps and starts at ``initial_learning_rate * m_mul**i``."""

    def __init__(
        self,
        initial_learning_rate: float,
        first_decay_steps: int,
        t_mul: float = 2.0,
        m_mul: float = 1.0,
        alpha: float = 0.0,
        name: str = "SGDRDecay",
    ):
        _positive(type(self).__name__, "first_decay_steps", first_decay_steps)
        self.initial_learning_rate, self.first_decay_steps = (
            initial_learning_rate,
            first_decay_steps,
        )
        self.t_mul, self.m_mul, self.alpha, self.name = t_mul, m_mul, alpha, name

    def __call__(self, step) -> float:
        fraction = float(step) / self.first_decay_steps
        if self.t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            restart = math.floor(
                math.log(1.0 - fraction * (1.0 - self.t_mul)) / math.log(self.t_mul)
            )
            done = (1.0 - self.t_mul**restart) / (1.0 - self.t_mul)
            fraction = (fraction - done) / self.t_mul**restart
        cosine = 0.5 * self.m_mul**restart * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


_SCHEDULES = {
    c.__name__: c
    for c in (
        ExponentialDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        InverseTimeDecay,
        CosineDecay,
        CosineDecayRestarts,
    )
}


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{"class_name": ..., "config": ...}`` of a schedule, as Keras writes it."""
    return {
        "module": "keras.optimizers.schedules",
        "class_name": type(schedule).__name__,
        "config": schedule.get_config(),
        "registered_name": None,
    }


def deserialize(config: dict, custom_objects: dict | None = None) -> LearningRateSchedule:
    """The schedule described by ``serialize()``'s output."""
    name = config.get("class_name") if isinstance(config, dict) else None
    known = {**_SCHEDULES, **(custom_objects or {})}
    if name not in known:
        raise ValueError(
            f"schedules.deserialize: expected a config with class_name in {sorted(known)}, "
            f"received {config!r}"
        )
    return known[name].from_config(config["config"])
