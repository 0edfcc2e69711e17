"""A bound on the weight memory a model rebuilt from a file may allocate.

Building a model from config.json creates its weights before the file's weights are read, so a
tiny file declaring ``Dense(2**20)`` on 2**20 inputs would allocate 4 TB. While ``load_model``
rebuilds a model, ``add_weight`` charges each new weight here first: all weights together may
take at most twice the bytes of the file's weights member plus 64 MiB (a real model's weights
are stored byte for byte, optimizer variables included), else the rebuild stops with an error
naming the layer and the bound.
"""

from __future__ import annotations

import contextlib
import contextvars
import math

import numpy as np

SLACK = 64 * 2**20  # weights a file may create beyond what it stores (unsaved buffers, metadata)
_budget: contextvars.ContextVar = contextvars.ContextVar(
    "zerograd_keras_weight_budget", default=None
)


@contextlib.contextmanager
def weight_budget(stored_bytes: int):
    """While inside, ``add_weight`` may allocate at most ``2 * stored_bytes + SLACK`` bytes."""
    limit = 2 * stored_bytes + SLACK
    token = _budget.set({"left": limit, "limit": limit, "stored": stored_bytes})
    try:
        yield
    finally:
        _budget.reset(token)


def charge_weight(owner: str, shape: tuple, dtype) -> None:
    """Count a weight about to be created against the current budget (none: no limit)."""
    state = _budget.get()
    if state is None:
        return
    try:
        itemsize = np.dtype(dtype or "float32").itemsize
    except TypeError:  # a name NumPy does not know ('bfloat16'): count it as float32
        itemsize = 4
    state["left"] -= math.prod(shape) * itemsize
    if state["left"] < 0:
        raise ValueError(
            f"{owner}: a weight of shape {shape} takes the model past {state['limit']} bytes of "
            f"weights, more than the {state['stored']} bytes of weights in the file being loaded "
            "allow; refusing to allocate it"
        )
