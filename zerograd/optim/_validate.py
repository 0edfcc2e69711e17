"""Checks of optimizer hyper-parameters, run once per parameter group (never per step).

The primitives are ``zerograd.ops.argcheck``'s; this module only knows which argument of a group
takes which range: ``Adam: lr must be a finite number in [0, inf), received nan``.
"""

from __future__ import annotations

from zerograd.ops import argcheck

# argument -> (low, high, high_open); every one is a finite number, None: unbounded
RANGES = {
    "lr": (0.0, None, False),
    "eps": (0.0, None, False),
    "weight_decay": (0.0, None, False),
    "momentum": (0.0, None, False),
    "dampening": (None, None, False),
    "alpha": (0.0, None, False),
    "rho": (0.0, 1.0, False),
    "lr_decay": (0.0, None, False),
    "initial_accumulator_value": (0.0, None, False),
}
FLAGS = ("amsgrad", "maximize", "nesterov", "centered")


def check_group(name: str, group: dict) -> None:
    """Validate the hyper-parameters of one parameter group of optimizer ``name``."""
    for arg, (low, high, high_open) in RANGES.items():
        if arg in group:
            argcheck.number(name, arg, group[arg], low, high, high_open=high_open, finite=True)
    if "betas" in group:
        betas = group["betas"]
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise TypeError(
                f"{name}: betas must be a pair of numbers, received {argcheck.show(betas)}"
            )
        for i, b in enumerate(betas):
            argcheck.number(name, f"betas[{i}]", b, 0.0, 1.0, high_open=True, finite=True)
    for arg in FLAGS:
        if arg in group:
            argcheck.flag(name, arg, group[arg])
