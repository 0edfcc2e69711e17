"""Attention with gradients in blocks (FlashAttention): the scores are never kept whole; the
backward recomputes them block by block from the row log-sum-exp (``kernels.flash_attention``)."""

from __future__ import annotations

import numpy as np

from zerograd import backend, kernels
from zerograd.autograd import Function
from zerograd.backend import Array
from zerograd.kernels import flash_attention as flash_kernels
from zerograd.ops.activation import Softmax
from zerograd.ops.linalg import matmul
from zerograd.tensor import Tensor


def flash_usable(q: Array, k: Array, v: Array) -> bool:
    """True when ``FlashAttention`` may run: NumPy float32/float64 arrays of one dtype, 3-D or 4-D,
    with the same leading (batch, head) shape (no broadcasting between them), except that k and v
    may have fewer heads than q, a divisor of them (grouped-query attention)."""
    d = q.dtype
    if d not in kernels.FLOATS or not all(
        type(a) is np.ndarray and a.dtype == d for a in (q, k, v)
    ):
        return False
    if not (q.ndim in (3, 4) and k.ndim == v.ndim == q.ndim and k.shape[:-2] == v.shape[:-2]):
        return False
    if q.shape[:-2] == k.shape[:-2]:
        return True
    return (
        q.ndim == 4 and q.shape[0] == k.shape[0] and 0 < k.shape[1] and q.shape[1] % k.shape[1] == 0
    )


class FlashAttention(Function):
    """softmax(q k^T * scale + bias, causal-masked) v, keeping only q, k, v, the output and the row
    log-sum-exp for the backward (memory linear in the context)."""

    scale: float
    causal: int | None  # query i attends keys j <= i + causal; None: no causal mask
    bias: object = None  # an additive float mask broadcastable to the scores, or None
    dropout_p: float = 0.0  # dropout on the weights, its mask regenerated from ``seed``
    seed: int = 0

    @property
    def _dropout(self):
        return (self.dropout_p, self.seed) if self.dropout_p > 0 else None

    def forward(self, q, k, v):
        four = q.ndim == 4
        q4, k4, v4 = (q, k, v) if four else (q[:, None], k[:, None], v[:, None])
        b4 = flash_kernels.as_bias4(self.bias, q.ndim, q.dtype)
        y, lse = flash_kernels.forward(q4, k4, v4, b4, self.scale, self.causal, self._dropout)
        y = y if four else y[:, 0]
        self.save_for_backward(q, k, v, y, lse)
        return y

    def backward(self, gy):
        if self.recording:  # create_graph: the same derivative from differentiable ops
            return self._backward_ops(gy)
        q, k, v, y, lse = self.saved
        if q.ndim == 4:
            b4 = flash_kernels.as_bias4(self.bias, 4, q.dtype)
            return flash_kernels.backward(
                q, k, v, y, lse, gy, b4, self.scale, self.causal, self._dropout
            )
        b4 = flash_kernels.as_bias4(self.bias, 3, q.dtype)
        q4, k4, v4, y4, gy4 = q[:, None], k[:, None], v[:, None], y[:, None], gy[:, None]
        grads = flash_kernels.backward(
            q4, k4, v4, y4, lse, gy4, b4, self.scale, self.causal, self._dropout
        )
        return tuple(g[:, 0] for g in grads)

    def _backward_ops(self, gy):
        """The backward on Tensors, with the whole (..., L, S) weights (the plain path's memory):
        recorded, so it can be differentiated again."""
        q, k, v = self.saved[:3]
        L, S = q.shape[-2], k.shape[-2]
        rep = q.shape[1] // k.shape[1] if q.ndim == 4 else 1
        if rep > 1:  # grouped-query: each query head's copy, the gradient summed over the copies
            k, v = repeat_heads(k, rep), repeat_heads(v, rep)
        bias = self.bias
        if self.causal is not None:
            keep = np.tri(L, S, self.causal, dtype=bool)
            tri = np.where(keep, q.dtype.type(0), q.dtype.type(-np.inf))
            bias = tri if bias is None else bias + tri
        p = Softmax.apply(matmul(q, k.swapaxes(-1, -2)), axis=-1, scale=self.scale, bias=bias)
        dp = matmul(gy, v.swapaxes(-1, -2))
        pz = p
        if self._dropout is not None:  # the forward's mask, regenerated whole
            shape = (q.shape[0], q.shape[1] if q.ndim == 4 else 1, L, S)
            z = flash_kernels.dropout_mask(shape, *self._dropout, q.dtype).reshape(p.shape)
            dp, pz = dp * Tensor(z), p * Tensor(z)
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * self.scale
        gk, gv = matmul(ds.swapaxes(-1, -2), q), matmul(pz.swapaxes(-1, -2), gy)
        if rep > 1:  # (B, H, S, E) -> (B, K, S, E): summed over each head's copies
            B, H = gk.shape[:2]
            gk = gk.reshape((B, H // rep, rep) + gk.shape[2:]).sum(axis=2)
            gv = gv.reshape((B, H // rep, rep) + gv.shape[2:]).sum(axis=2)
        return matmul(ds, k), gk, gv


def flash_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    bias: Array | None = None,
    scale: float = 1.0,
    causal: int | None = None,
    dropout_p: float = 0.0,
    seed: int | None = None,
) -> Tensor:
    """softmax(q k^T * scale + bias) v in blocks, differentiable in q, k and v.

    ``scaled_dot_product_attention`` calls it when gradients are needed and the context is long
    enough (``tuning.FLASH_ATTENTION_MIN_KEYS``); inputs as ``flash_usable`` accepts them.

    Args:
        q, k, v: (B, H, L, E) queries, (B, K, S, E) keys and (B, K, S, Ev) values (or 3-D,
            without heads), NumPy float32/float64 of one dtype; K = H, or a divisor of H
            (grouped-query attention: query head h reads key/value head h // (H / K)).
        bias: an additive float mask broadcastable to (B, H, L, S) (-inf where masked), a constant.
        scale: multiplies q k^T.
        causal: None, or the offset of a causal mask: query i attends keys j <= i + causal (0 as
            PyTorch's ``is_causal``; S - L aligns the last query with the last key).
        dropout_p: drops each attention weight with this probability (the rest scaled by
            1 / (1 - p)); the mask is a hash of ``seed`` and the position, made again block by
            block in the backward, never stored.
        seed: the dropout mask's seed; None draws one from zerograd's generator.

    Returns:
        The (B, H, L, Ev) output.

    Example:
        >>> q = zg.randn(1, 2, 300, 16, requires_grad=True)
        >>> flash_attention(q, q, q, scale=0.25, causal=0).sum().backward()
    """
    if dropout_p > 0 and seed is None:
        seed = int(backend.rng().integers(1 << 63))
    return FlashAttention.apply(
        q, k, v, scale=float(scale), causal=causal, bias=bias, dropout_p=dropout_p, seed=seed or 0
    )


def repeat_heads(t: Tensor, rep: int) -> Tensor:
    """(..., K, S, E) -> (..., K * rep, S, E), each key/value head repeated for its ``rep`` query
    heads in a row (PyTorch's repeat_interleave on axis -3); the gradient sums the copies.

    Example:
        >>> repeat_heads(zg.randn(2, 2, 5, 8), 4).shape
        (2, 8, 5, 8)
    """
    if rep == 1:
        return t
    *lead, K, S, E = t.shape
    t = t.reshape((*lead, K, 1, S, E)).broadcast_to((*lead, K, rep, S, E))
    return t.reshape((*lead, K * rep, S, E))
