"""Neural-network ops: activations, softmax, one-hot, cross-entropies, moments, normalisation."""

from __future__ import annotations

import math

import numpy as np

import zerograd as zg
import zerograd.nn.functional as F
from zerograd import backend
from zerograd.keras.ops.activations import *  # noqa: F403 - keras.ops.nn.relu ...
from zerograd.keras.ops.blocks import *  # noqa: F403 - keras.ops.nn.unfold ...
from zerograd.keras.ops.conv import *  # noqa: F403 - keras.ops.nn.conv ...
from zerograd.keras.ops.core import (
    EPSILON,
    const,
    float_tensor,
    standardize_dtype,
    tensor,
)
from zerograd.keras.ops.symbolic import symbolic
from zerograd.ops import argcheck
from zerograd.tensor import Tensor

__all__ = [
    "softmax",
    "log_softmax",
    "one_hot",
    "multi_hot",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "moments",
    "normalize",
    "batch_normalization",
    "rms_normalization",
    "layer_normalization",
    "dot_product_attention",
    "psnr",
    "sparse_sigmoid",
    "sparsemax",
    "polar",
]


# --- softmax ---------------------------------------------------------------------------------------


@symbolic
def softmax(x, axis=-1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis`` (an int or a tuple)."""
    x = float_tensor(x)
    if isinstance(axis, int):
        return zg.softmax(x, axis)
    e = zg.exp(x - zg.max(x, axis, keepdims=True).detach())
    return e / zg.sum(e, axis, keepdims=True)


@symbolic
def log_softmax(x, axis=-1) -> Tensor:
    """x - logsumexp(x) along ``axis``."""
    x = float_tensor(x)
    if isinstance(axis, int):
        return zg.log_softmax(x, axis)
    return x - zg.logsumexp(x, axis, keepdims=True)


# --- encodings -----------------------------------------------------------------------------------


def _hot(x, num_classes, axis, dtype, sparse, op):
    if sparse:
        raise ValueError(f"{op}: sparse=True is not supported")
    if isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(
            f"{op}: num_classes must be an int, received {type(num_classes).__name__} "
            f"{num_classes!r}"
        )
    if num_classes < 0:
        raise ValueError(f"{op}: num_classes must be >= 0, received {num_classes}")
    idx = tensor(x).data
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer class indices, received {idx.dtype}")
    hot = idx[..., None] == np.arange(int(num_classes))  # out-of-range indices: all zeros
    return hot, standardize_dtype(dtype, op) or backend.get_default_dtype()


@symbolic
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False) -> Tensor:
    """Integer labels as indicator vectors along a new ``axis`` (float32 by default)."""
    hot, dt = _hot(x, num_classes, axis, dtype, sparse, "one_hot")
    axis = argcheck.axis("one_hot", axis, hot.ndim)
    return const(np.moveaxis(hot, -1, axis).astype(dt))


@symbolic
def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False) -> Tensor:
    """Indicators of the labels of each row (the last axis of ``inputs`` reduced)."""
    if num_classes is None:
        raise ValueError("multi_hot: expected num_classes (an int), received None")
    hot, dt = _hot(inputs, num_classes, axis, dtype, sparse, "multi_hot")
    return const(np.moveaxis(hot.any(axis=-2), -1, axis).astype(dt))


# --- losses (per sample, no reduction) -----------------------------------------------------------


def _same_shape(target: Tensor, output: Tensor, op: str) -> None:
    if target.shape != output.shape:
        raise ValueError(
            f"{op}: expected target and output of the same shape, received target.shape="
            f"{target.shape} and output.shape={output.shape}"
        )


@symbolic
def binary_crossentropy(target, output, from_logits=False) -> Tensor:
    """Elementwise -(t log p + (1 - t) log(1 - p)); p clipped to [eps, 1 - eps]."""
    t, o = float_tensor(target), float_tensor(output)
    _same_shape(t, o, "binary_crossentropy")
    if from_logits:
        return F.binary_cross_entropy_with_logits(o, t, reduction="none")
    o = zg.clip(o, EPSILON, 1 - EPSILON)
    return -(t * zg.log(o) + (1 - t) * zg.log(1 - o))


@symbolic
def categorical_crossentropy(target, output, from_logits=False, axis=-1) -> Tensor:
    """-sum(t log p) along ``axis``; probabilities renormalised and clipped to [eps, 1 - eps]."""
    t, o = float_tensor(target), float_tensor(output)
    _same_shape(t, o, "categorical_crossentropy")
    axis = argcheck.axis("categorical_crossentropy", axis, o.ndim)
    if from_logits:
        log_p = zg.log_softmax(o, axis)
    else:
        o = o / zg.sum(o, axis, keepdims=True)
        log_p = zg.log(zg.clip(o, EPSILON, 1 - EPSILON))
    return -zg.sum(t * log_p, axis)


@symbolic
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1) -> Tensor:
    """-log p[target] with integer targets; the class axis of ``output`` is ``axis``."""
    t, o = tensor(target), float_tensor(output)
    axis = axis % o.ndim
    if t.ndim == o.ndim and t.shape[axis] == 1:
        t = zg.squeeze(t, axis)
    expected = o.shape[:axis] + o.shape[axis + 1 :]
    if t.shape != expected:
        raise ValueError(
            "sparse_categorical_crossentropy: expected target of the output's shape without the "
            f"class axis {expected}, received target.shape={t.shape}, output.shape={o.shape}"
        )
    if from_logits:
        log_p = zg.log_softmax(o, axis)
    else:
        o = o / zg.sum(o, axis, keepdims=True)
        log_p = zg.log(zg.clip(o, EPSILON, 1 - EPSILON))
    idx = np.expand_dims(t.data.astype(np.int64), axis)
    if idx.size and (idx.min() < 0 or idx.max() >= o.shape[axis]):
        raise ValueError(
            f"sparse_categorical_crossentropy: expected target class ids in [0, "
            f"{o.shape[axis]}), received values from {idx.min()} to {idx.max()}"
        )
    return -zg.squeeze(zg.take_along_axis(log_p, idx, axis), axis)


# --- statistics and normalisation ----------------------------------------------------------------


@symbolic
def moments(x, axes, keepdims=False, synchronized=False) -> tuple:
    """(mean, variance) over ``axes``."""
    if synchronized:
        raise ValueError("moments: synchronized=True (cross-device statistics) is not supported")
    x = float_tensor(x)
    return zg.mean(x, axes, keepdims), zg.var(x, axes, keepdims)


@symbolic
def normalize(x, axis=-1, order=2, epsilon=None) -> Tensor:
    """x / max(norm(x), epsilon) along ``axis``."""
    from zerograd.keras.ops.linalg import norm

    if not isinstance(order, int) or order < 1:
        raise ValueError(f"normalize: order must be an int >= 1, received {order!r}")
    x = float_tensor(x)
    eps = EPSILON if epsilon is None else epsilon
    if order == 2:
        inv = zg.div(1.0, zg.sqrt(zg.sum(x * x, axis, keepdims=True)))
        return x * zg.minimum(inv, 1.0 / eps)
    return x / zg.maximum(norm.eager(x, order, axis, keepdims=True), eps)


@symbolic
def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3) -> Tensor:
    """(x - mean) / sqrt(variance + epsilon) * scale + offset, the statistics along ``axis``."""
    x = float_tensor(x)
    axis = axis % x.ndim
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]

    def along(v):
        return None if v is None else zg.reshape(tensor(v), tuple(shape))

    y = (x - along(mean)) / zg.sqrt(along(variance) + epsilon)
    if scale is not None:
        y = y * along(scale)
    return y if offset is None else y + along(offset)


@symbolic
def rms_normalization(x, scale=None, axis=-1, epsilon=None) -> Tensor:
    """x / sqrt(mean(x^2) + epsilon) * scale."""
    x = float_tensor(x)
    eps = EPSILON if epsilon is None else epsilon
    y = x / zg.sqrt(zg.mean(x * x, axis, keepdims=True) + eps)
    return y if scale is None else y * tensor(scale)


@symbolic
def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None) -> Tensor:
    """(x - mean) / sqrt(var + epsilon) along ``axis``, then * gamma + beta."""
    x = float_tensor(x)
    eps = 1e-3 if epsilon is None else epsilon
    y = (x - zg.mean(x, axis, keepdims=True)) / zg.sqrt(zg.var(x, axis, keepdims=True) + eps)
    if gamma is not None:
        y = y * tensor(gamma)
    return y if beta is None else y + tensor(beta)


@symbolic
def dot_product_attention(
    query,
    key,
    value,
    bias=None,
    mask=None,
    scale=None,
    is_causal=False,
    flash_attention=None,
    attn_logits_soft_cap=None,
):
    """softmax(q k^T * scale + bias, masked) v over (batch, seq, heads, dim) tensors; the logits
    capped softly at ``attn_logits_soft_cap`` (cap * tanh(logits / cap)) when given."""
    if flash_attention:
        raise ValueError("dot_product_attention: flash_attention=True is not supported")
    q, k, v = float_tensor(query), float_tensor(key), float_tensor(value)
    if (
        q.ndim != 4
        or k.ndim != 4
        or v.ndim != 4
        or q.shape[-1] != k.shape[-1]
        or k.shape[:3] != v.shape[:3]
        or q.shape[0] != k.shape[0]
    ):
        raise ValueError(
            "dot_product_attention: expected query (B, T, N, H), key (B, S, N, H) and value "
            f"(B, S, N, Hv), received shapes {q.shape}, {k.shape} and {v.shape}"
        )
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    logits = zg.matmul(zg.transpose(q, (0, 2, 1, 3)), zg.transpose(k, (0, 2, 3, 1))) * scale
    if attn_logits_soft_cap is not None:
        logits = zg.tanh(logits / attn_logits_soft_cap) * attn_logits_soft_cap
    if bias is not None:
        logits = logits + tensor(bias)
    allowed = np.ones(logits.shape, dtype=bool)
    if mask is not None:
        allowed = allowed & tensor(mask).data.astype(bool)
    if is_causal:
        allowed = allowed & np.tri(logits.shape[-2], logits.shape[-1], dtype=bool)
    logits = zg.where(allowed, logits, float(np.finfo(logits.dtype).min))
    out = zg.matmul(zg.softmax(logits, -1), zg.transpose(v, (0, 2, 1, 3)))
    return zg.transpose(out, (0, 2, 1, 3))


@symbolic
def psnr(x1, x2, max_val) -> Tensor:
    """Peak signal-to-noise ratio in dB: 20 log10(max_val) - 10 log10(mse)."""
    a, b = float_tensor(x1), float_tensor(x2)
    mse = zg.mean((a - b) * (a - b))
    return 20 * math.log10(max_val) - 10 * zg.log(mse) / math.log(10)


@symbolic
def sparse_sigmoid(x) -> Tensor:
    """0 for x <= -1, 1 for x >= 1, (x + 1) / 2 between."""
    return zg.clip((float_tensor(x) + 1) * 0.5, 0.0, 1.0)


@symbolic
def sparsemax(x, axis=-1) -> Tensor:
    """The Euclidean projection of x onto the probability simplex along ``axis``."""
    x = float_tensor(x)
    z = zg.swapaxes(x, axis, -1)
    srt = -np.sort(-z.data, axis=-1)  # descending
    k = np.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    support = 1 + k * srt > np.cumsum(srt, axis=-1)
    k_z = support.sum(-1, keepdims=True)
    mask = z.data >= np.take_along_axis(srt, k_z - 1, -1)  # the entries in the support
    tau = (zg.sum(zg.where(mask, z, 0.0), -1, keepdims=True) - 1) / const(k_z.astype(z.dtype))
    return zg.swapaxes(zg.relu(z - tau), axis, -1)


@symbolic
def polar(abs_, angle) -> Tensor:
    """The complex tensor abs_ * (cos(angle) + i sin(angle)); complex dtypes have no gradients."""
    r, a = float_tensor(abs_), float_tensor(angle)
    if r.requires_grad or a.requires_grad:
        raise ValueError(
            "polar: complex results are not differentiable in zerograd; detach the inputs"
        )
    cdtype = "complex128" if r.dtype == np.float64 or a.dtype == np.float64 else "complex64"
    return const((r.data * r.xp.exp(1j * a.data)).astype(cdtype))
