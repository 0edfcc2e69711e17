"""Weight penalties added to the training loss: l1, l2, l1_l2 (Keras defaults 0.01)."""

from __future__ import annotations

import math


class Regularizer:
    def __call__(self, w):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}


class L1L2(Regularizer):
    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1, self.l2 = _factor(self, "l1", l1), _factor(self, "l2", l2)

    def __call__(self, w):
        out = 0.0
        if self.l1:
            out = out + self.l1 * w.abs().sum()
        if self.l2:
            out = out + self.l2 * (w * w).sum()
        return out

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def _factor(reg, name: str, value) -> float:
    """A penalty factor: a finite float >= 0 (as Keras checks), or an error naming it."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if isinstance(value, bool) or not math.isfinite(v) or v < 0:
        raise ValueError(
            f"{type(reg).__name__}: {name} must be a non-negative float, received {value!r}"
        )
    return v


l1, l2, l1_l2 = L1, L2, L1L2


def get(identifier):
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        classes = {"L1": L1, "L2": L2, "L1L2": L1L2}
        if identifier.get("class_name") not in classes:
            raise ValueError(
                f"unknown regularizer: expected a config dict with class_name one of "
                f"{sorted(classes)}, received {identifier!r}"
            )
        return classes[identifier["class_name"]](**identifier.get("config", {}))
    names = {"l1": L1, "l2": L2, "l1_l2": L1L2}
    if isinstance(identifier, str) and identifier in names:
        return names[identifier]()
    raise ValueError(
        f"unknown regularizer: expected 'l1', 'l2', 'l1_l2' or an object, received {identifier!r}"
    )


def serialize(r):
    return None if r is None else {"class_name": type(r).__name__, "config": r.get_config()}
