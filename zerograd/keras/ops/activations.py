"""Activation functions: relu, sigmoid, softplus, gelu, silu, elu, selu, and their relatives."""

from __future__ import annotations

import numpy as np

import zerograd as zg
import zerograd.nn.functional as F
from zerograd.keras.ops.core import float_tensor, tensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.tensor import Tensor

__all__ = [
    "relu",
    "relu6",
    "sigmoid",
    "tanh",
    "softplus",
    "softsign",
    "silu",
    "swish",
    "log_sigmoid",
    "leaky_relu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "elu",
    "selu",
    "celu",
    "gelu",
    "glu",
    "tanh_shrink",
    "soft_shrink",
    "hard_shrink",
    "threshold",
    "squareplus",
    "sparse_plus",
]


# --- activations ---------------------------------------------------------------------------------


@symbolic
def relu(x) -> Tensor:
    """max(x, 0)."""
    return zg.relu(tensor(x))


@symbolic
def relu6(x) -> Tensor:
    """min(max(x, 0), 6)."""
    return zg.minimum(zg.relu(tensor(x)), 6)


@symbolic
def sigmoid(x) -> Tensor:
    """1 / (1 + exp(-x))."""
    return zg.sigmoid(tensor(x))


@symbolic
def tanh(x) -> Tensor:
    """Hyperbolic tangent."""
    return zg.tanh(tensor(x))


@symbolic
def softplus(x) -> Tensor:
    """log(1 + exp(x)) without overflow."""
    x = float_tensor(x)
    positive = x.data > 0
    neg_abs = zg.where(positive, -x, x)  # -|x|, with the gradient 1/2 at 0 kept by log1p(exp)
    return zg.where(positive, x, 0.0) + zg.log(zg.exp(neg_abs) + 1)


@symbolic
def softsign(x) -> Tensor:
    """x / (1 + |x|)."""
    x = float_tensor(x)
    return zg.div(x, zg.abs(x) + 1)


@symbolic
def silu(x) -> Tensor:
    """x * sigmoid(x)."""
    return F.silu(tensor(x))


swish = silu


@symbolic
def log_sigmoid(x) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x)."""
    return -softplus.eager(-float_tensor(x))


@symbolic
def leaky_relu(x, negative_slope=0.2) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    return F.leaky_relu(float_tensor(x), negative_slope)


@symbolic
def hard_sigmoid(x) -> Tensor:
    """relu6(x + 3) / 6."""
    return relu6.eager(float_tensor(x) + 3) / 6


@symbolic
def hard_silu(x) -> Tensor:
    """x * hard_sigmoid(x)."""
    x = float_tensor(x)
    return x * hard_sigmoid.eager(x)


hard_swish = hard_silu


@symbolic
def hard_tanh(x) -> Tensor:
    """x clipped to [-1, 1]."""
    return zg.clip(float_tensor(x), -1.0, 1.0)


@symbolic
def elu(x, alpha=1.0) -> Tensor:
    """x for x > 0, else alpha * (exp(x) - 1)."""
    return F.elu(float_tensor(x), alpha)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


@symbolic
def selu(x) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants."""
    return F.elu(float_tensor(x), _SELU_ALPHA) * _SELU_SCALE


@symbolic
def celu(x, alpha=1.0) -> Tensor:
    """max(x, 0) + min(alpha * (exp(x / alpha) - 1), 0)."""
    x = float_tensor(x)
    return zg.relu(x) + zg.minimum(zg.exp(x / alpha) * alpha - alpha, 0.0)


@symbolic
def gelu(x, approximate=True) -> Tensor:
    """Gaussian error linear unit (the tanh approximation by default, as Keras)."""
    return F.gelu(float_tensor(x), "tanh" if approximate else "none")


@symbolic
def glu(x, axis=-1) -> Tensor:
    """a * sigmoid(b), with a and b the two halves of x along ``axis``."""
    a, b = zg.split(float_tensor(x), 2, axis)
    return a * zg.sigmoid(b)


@symbolic
def tanh_shrink(x) -> Tensor:
    """x - tanh(x)."""
    x = float_tensor(x)
    return x - zg.tanh(x)


@symbolic
def soft_shrink(x, threshold=0.5) -> Tensor:
    """x - threshold above it, x + threshold below -threshold, else 0."""
    x = float_tensor(x)
    return zg.where(
        x.data > threshold, x - threshold, zg.where(x.data < -threshold, x + threshold, 0.0)
    )


@symbolic
def hard_shrink(x, threshold=0.5) -> Tensor:
    """x where |x| > threshold, else 0."""
    x = float_tensor(x)
    return zg.where(np.abs(x.data) > threshold, x, 0.0)


@symbolic
def threshold(x, threshold, default_value) -> Tensor:
    """x where x > threshold, else default_value."""
    x = float_tensor(x)
    return zg.where(x.data > threshold, x, default_value)


@symbolic
def squareplus(x, b=4) -> Tensor:
    """(x + sqrt(x^2 + b)) / 2."""
    x = float_tensor(x)
    return (x + zg.sqrt(x * x + b)) / 2


@symbolic
def sparse_plus(x) -> Tensor:
    """0 for x <= -1, x for x >= 1, (x + 1)^2 / 4 between."""
    x = float_tensor(x)
    return zg.where(x.data <= -1, 0.0, zg.where(x.data >= 1, x, (x + 1) * (x + 1) / 4))
