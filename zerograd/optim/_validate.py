"""Checks of optimizer hyper-parameters, run once per parameter group (never per step).

Each rule names the optimizer and the argument, says what was expected and what was received:
``Adam: expected lr to be finite, received nan``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

# argument -> (lowest, lowest allowed?, highest, highest allowed?); None: unbounded
RANGES = {
    "lr": (0.0, True, None, False),
    "eps": (0.0, True, None, False),
    "weight_decay": (0.0, True, None, False),
    "momentum": (0.0, True, None, False),
    "dampening": (None, False, None, False),
    "alpha": (0.0, True, None, False),
    "rho": (0.0, True, 1.0, True),
    "lr_decay": (0.0, True, None, False),
    "initial_accumulator_value": (0.0, True, None, False),
}
FLAGS = ("amsgrad", "maximize", "nesterov", "centered")


def _describe(v) -> str:
    return f"{type(v).__name__} {v!r}"


def check_number(name: str, arg: str, v) -> float:
    """``v`` as a float if it is a finite real number (not a bool), else TypeError/ValueError."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: expected {arg} to be a number, received {_describe(v)}")
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected {arg} to be finite, received {v}")
    return float(v)


def _check_range(name: str, arg: str, v, rule) -> None:
    check_number(name, arg, v)
    lo, lo_in, hi, hi_in = rule
    if lo is not None and (v < lo or (v == lo and not lo_in)):
        raise ValueError(f"{name}: expected {arg} {'>=' if lo_in else '>'} {lo:g}, received {v}")
    if hi is not None and (v > hi or (v == hi and not hi_in)):
        raise ValueError(f"{name}: expected {arg} {'<=' if hi_in else '<'} {hi:g}, received {v}")


def check_group(name: str, group: dict) -> None:
    """Validate the hyper-parameters of one parameter group of optimizer ``name``."""
    for arg, rule in RANGES.items():
        if arg in group:
            _check_range(name, arg, group[arg], rule)
    if "betas" in group:
        betas = group["betas"]
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise TypeError(
                f"{name}: expected betas to be a pair of numbers, received {_describe(betas)}"
            )
        for i, b in enumerate(betas):
            check_number(name, f"betas[{i}]", b)
            if not 0 <= b < 1:
                raise ValueError(f"{name}: expected betas[{i}] in [0, 1), received {b}")
    for flag in FLAGS:
        if flag in group and not isinstance(group[flag], (bool, np.bool_)):
            raise TypeError(
                f"{name}: expected {flag} to be True or False, received {_describe(group[flag])}"
            )


def check_int(name: str, arg: str, v, low: int = 1) -> int:
    """``v`` as an int if it is an integer (not a bool) >= ``low``, else TypeError/ValueError."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name}: expected {arg} to be an integer, received {_describe(v)}")
    if v < low:
        raise ValueError(f"{name}: expected {arg} >= {low}, received {v}")
    return int(v)
