"""Scaled dot-product attention, built from differentiable ops."""

from __future__ import annotations

import math

import numpy as np

from zerograd.ops.activation import dropout, softmax
from zerograd.ops.elementwise import where
from zerograd.ops.linalg import matmul
from zerograd.tensor import Tensor


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
    scores = matmul(q, k.swapaxes(-1, -2)) * scale  # (..., L, S)
    xp = q.xp
    if is_causal:
        scores = where(causal_mask(xp, L, S), scores, -np.inf)
    if attn_mask is not None:
        m = attn_mask.data if isinstance(attn_mask, Tensor) else xp.asarray(attn_mask)
        if m.dtype == bool:
            scores = where(m, scores, -np.inf)
        else:
            scores = scores + Tensor._make(m.astype(scores.dtype))
    weights = softmax(scores, axis=-1)
    if dropout_p > 0 and training:
        weights = dropout(weights, dropout_p)
    return matmul(weights, v)
