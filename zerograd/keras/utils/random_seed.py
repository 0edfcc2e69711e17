"""``set_random_seed``: one call that makes a run repeatable."""

from __future__ import annotations

import random

import numpy as np

from zerograd import backend

_state = {"seed": None}


def set_random_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and zerograd's generator (weights,
    dropout, shuffling) with ``seed``.

    Example:
        >>> keras.utils.set_random_seed(812)
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(
            f"set_random_seed: expected an integer seed, received {seed!r} "
            f"(of type {type(seed).__name__})"
        )
    _state["seed"] = seed
    random.seed(seed)
    np.random.seed(seed)
    backend.manual_seed(seed)


def get_random_seed() -> int | None:
    """The seed last given to ``set_random_seed`` (None if never called)."""
    return _state["seed"]
