"""Argument checks of ``zerograd.autograd.grad``, kept out of the engine's file: the inputs must be
tensors that require grad, and an input the output does not depend on is an error unless
``allow_unused`` (then its gradient is None), as in PyTorch."""

from __future__ import annotations

from zerograd.ops import argcheck
from zerograd.tensor import Tensor


def grad_inputs(outputs, inputs) -> list:
    """``inputs`` (a Tensor or any iterable of them: a list, ``model.parameters()``) as a list,
    each a Tensor that requires grad; ``outputs`` must be a Tensor."""
    if not isinstance(outputs, Tensor):
        raise TypeError(f"grad: outputs must be a Tensor, received {type(outputs).__name__}")
    if isinstance(inputs, Tensor):
        items = [inputs]
    else:
        try:
            items = list(inputs)
        except TypeError:
            raise TypeError(
                f"grad: inputs must be a Tensor or an iterable of Tensors, received "
                f"{type(inputs).__name__}"
            ) from None
    for i, x in enumerate(items):
        if not isinstance(x, Tensor):
            raise TypeError(f"grad: inputs[{i}] must be a Tensor, received {type(x).__name__}")
        if not x.requires_grad:
            raise ValueError(
                f"grad: inputs[{i}] (shape {x.shape}) does not require grad; create it with "
                "requires_grad=True or call .requires_grad_()"
            )
    return items


def unused(result: list, inputs: list, allow_unused, error: type) -> None:
    """Raise ``error`` naming the first input with no gradient, unless ``allow_unused``."""
    if argcheck.flag("grad", "allow_unused", allow_unused):
        return
    for i, (g, x) in enumerate(zip(result, inputs)):
        if g is None:
            raise error(
                f"grad: inputs[{i}] (shape {x.shape}) was not used to compute the output; pass "
                "allow_unused=True to get None for it"
            )
