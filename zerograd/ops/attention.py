"""Scaled dot-product attention, built from differentiable ops."""

from __future__ import annotations

import math

import numpy as np

from zerograd import kernels
from zerograd.autograd import Function, is_grad_enabled
from zerograd.kernels import attention as attention_kernels
from zerograd.kernels import softmax as softmax_kernels
from zerograd.ops.activation import dropout
from zerograd.ops.linalg import matmul
from zerograd.tensor import Tensor


class ScaledMaskedSoftmax(Function):
    """softmax(x * scale + bias) over the last axis in one op; ``bias`` is a constant additive mask
    (0 where allowed, -inf where masked) broadcastable to x, or None. Saves the scale multiply and
    the masking pass of the attention scores, and runs as fused kernels where numba is present."""

    scale: float
    bias: object  # additive mask (0 / -inf) or None

    def forward(self, x):
        bias = self.bias
        if kernels.usable(x, *(() if bias is None else (bias,))):  # size: of x alone
            p = softmax_kernels.softmax_last(x, self.scale, bias)
            self.save_for_backward(p)
            return p
        xp = self.xp
        z = x * x.dtype.type(self.scale)
        if bias is not None:
            z += bias
        z -= z.max(axis=-1, keepdims=True)
        xp.exp(z, out=z)
        z /= z.sum(axis=-1, keepdims=True)
        self.save_for_backward(z)
        return z

    def backward(self, gy):
        (p,) = self.saved
        if kernels.usable(p, gy):  # arrays: one pass, the same derivative
            return softmax_kernels.softmax_grad(p, gy, self.scale)
        return (p * (gy - (gy * p).sum(axis=-1, keepdims=True))) * self.scale


def causal_mask(xp, L: int, S: int):
    """Boolean (L, S) mask, True where query i may attend to key j (j <= i)."""
    return xp.tril(xp.ones((L, S), dtype=bool))


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_mask=None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    training: bool = True,
) -> Tensor:
    """softmax(q k^T * scale + mask) v over (..., L, E) queries and (..., S, E) keys.

    ``attn_mask``: boolean (True = may attend, as PyTorch) or additive float, broadcastable to
    (..., L, S). ``is_causal`` adds the lower-triangular mask.

    Example:
        >>> q = zg.randn(2, 4, 5, 8)            # (B, heads, L, E)
        >>> F.scaled_dot_product_attention(q, q, q, is_causal=True).shape
        (2, 4, 5, 8)
    """
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"scaled_dot_product_attention: expected q (..., L, E), k (..., S, E), v (..., S, Ev), received shapes {q.shape}, {k.shape}, {v.shape}"
        )
    L, S = q.shape[-2], k.shape[-2]
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    xp = q.xp
    dtype = np.result_type(q.dtype, k.dtype)
    try:
        shape = xp.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (L, S)
    except ValueError:
        raise ValueError(
            f"scaled_dot_product_attention: the leading (batch, head) axes of q {q.shape} and k {k.shape} do not broadcast"
        ) from None
    bias = None  # additive mask: 0 where allowed, -inf where masked
    if is_causal:
        bias = xp.where(causal_mask(xp, L, S), dtype.type(0), dtype.type(-np.inf))
    if attn_mask is not None:
        m = attn_mask.data if isinstance(attn_mask, Tensor) else xp.asarray(attn_mask)
        if m.dtype == bool:
            m = xp.where(m, dtype.type(0), dtype.type(-np.inf))
        else:
            m = m.astype(dtype)
        bias = m if bias is None else bias + m
    if bias is not None:
        try:
            ok = xp.broadcast_shapes(bias.shape, shape) == shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"scaled_dot_product_attention: attn_mask of shape {bias.shape} does not broadcast "
                f"to the attention scores of shape {shape}"
            ) from None
    no_grad = not (is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad))
    if (
        no_grad
        and not (dropout_p > 0 and training)
        and attention_kernels.attention_usable(q.data, k.data, v.data)
    ):
        y = attention_kernels.attention(q.data, k.data, v.data, bias, scale)  # fused, blocked
        return Tensor._make(y)
    scores = matmul(q, k.swapaxes(-1, -2))  # (..., L, S); scaled inside the softmax
    weights = ScaledMaskedSoftmax.apply(scores, scale=scale, bias=bias)
    if dropout_p > 0 and training:
        weights = dropout(weights, dropout_p)
    return matmul(weights, v)
