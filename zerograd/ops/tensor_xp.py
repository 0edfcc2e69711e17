"""NumPy's names over Tensors: the ``xp`` a backward sees while the engine records it.

A backward is written once against an array namespace (``xp.exp(x)``, ``xp.where(m, a, b)``). On
arrays ``xp`` is NumPy or CuPy; under ``create_graph=True`` the engine hands it this module instead,
whose functions are the differentiable ops, so the same lines build a graph. Only what backwards
use is here; a name missing from it fails loudly, never silently falls back to arrays.
"""

from __future__ import annotations

from zerograd.ops.activation import erf  # noqa: F401 - re-exported for backwards
from zerograd.ops.elementwise import (  # noqa: F401 - the namespace is these names
    abs,
    cos,
    exp,
    log,
    maximum,
    minimum,
    sin,
    sqrt,
    tanh,
    where,
)
from zerograd.ops.index import take_along_axis  # noqa: F401
from zerograd.ops.linalg import matmul  # noqa: F401
from zerograd.ops.shape import broadcast_to, concat, expand_dims, repeat, stack  # noqa: F401
from zerograd.tensor import Tensor

concatenate = concat


def sign(x: Tensor) -> Tensor:
    """A constant: the derivative of sign is zero wherever it is defined."""
    return Tensor._make(x.xp.sign(x.data))


def zeros_like(x: Tensor, shape=None) -> Tensor:
    """A constant on ``x``'s device, with its dtype (and its shape unless ``shape`` is given)."""
    return Tensor._make(x.xp.zeros_like(x.data, shape=shape))


def ones_like(x: Tensor, shape=None) -> Tensor:
    return Tensor._make(x.xp.ones_like(x.data, shape=shape))
