"""Scaled dot-product attention, built from differentiable ops, and the one helper that turns
attention masks into an additive bias."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from zerograd import backend, tuning
from zerograd.amp import autocast_mode as _autocast
from zerograd.autograd import is_grad_enabled
from zerograd.backend import Array
from zerograd.kernels import attention as attention_kernels
from zerograd.ops import argcheck
from zerograd.ops.activation import Softmax, dropout
from zerograd.ops.blocked_attention import BlockedAttention
from zerograd.ops.flash_attention import flash_attention, flash_usable, repeat_heads
from zerograd.ops.linalg import matmul
from zerograd.tensor import Tensor


def attention_bias(
    xp,
    shape: tuple,
    dtype,
    *,
    causal: bool | str = False,
    allowed: Mapping | None = None,
    additive: Mapping | None = None,
    fill: float = -math.inf,
    op: str = "attention",
) -> Array | None:
    """The additive mask of attention scores of ``shape`` (..., L, S): 0 where a query may attend
    a key, ``fill`` where it may not, plus any additive masks; None when nothing is masked.

    Every attention in zerograd builds its mask here; each caller first turns its own convention
    (PyTorch's MultiheadAttention: True = masked; Keras: 1 = allowed) into ``allowed``.

    Args:
        xp: the array module (numpy or cupy) of the scores.
        shape: the shape of the scores, (..., L, S); every mask must broadcast to it.
        dtype: the scores' float dtype, which the bias takes.
        causal: True (or ``"upper_left"``) lets query i attend keys j <= i, as PyTorch's
            ``is_causal`` and Keras's ``use_causal_mask``; ``"lower_right"`` aligns the last query
            with the last key (query i attends keys j <= i + S - L), as decoding with a key/value
            cache needs.
        allowed: named boolean masks, True where a query may attend (the name is for errors).
        additive: named float masks, added to the scores.
        fill: the bias where a boolean or causal mask forbids: -inf (PyTorch) or a large
            negative number (Keras's -1e9, which keeps a fully masked row finite).
        op: the op or layer named in errors.

    Returns:
        An array broadcastable to ``shape`` (the caller's own array when it is the only, additive,
        mask of the right dtype), or None.

    Example:
        >>> keep = np.array([[True, True, False]])            # (B, S): the last key is padding
        >>> attention_bias(np, (1, 3, 3), np.float32, causal=True,
        ...                allowed={"padding": keep[:, None, :]})[0]
        array([[  0., -inf, -inf],
               [  0.,   0., -inf],
               [  0.,   0., -inf]], dtype=float32)
    """
    dtype = np.dtype(dtype)
    shape = tuple(shape)
    L, S = shape[-2:]
    keep = None  # boolean: True where every mask allows
    if causal:
        if causal not in (True, "upper_left", "lower_right"):
            raise ValueError(
                f"{op}: causal must be True, 'upper_left' or 'lower_right', received {causal!r}"
            )
        k = S - L if causal == "lower_right" else 0
        if k < S - 1:  # else the triangle covers every key: nothing is masked
            keep = xp.tri(L, S, k, dtype=bool)
    for name, m in (allowed or {}).items():
        _check_broadcast(xp, op, name, m, shape)
        if m.dtype != bool:
            raise TypeError(
                f"{op}: {name} must be boolean (True = may attend), received dtype {m.dtype}"
            )
        keep = m if keep is None else keep & m
    # one fill where any mask forbids, not one per mask: a fully masked row holds the scores plus
    # `fill`, which a float32 -1e9 absorbs (uniform weights, as Keras's where-fill gives)
    bias = None if keep is None else xp.where(keep, dtype.type(0), dtype.type(fill))
    for name, m in (additive or {}).items():
        _check_broadcast(xp, op, name, m, shape)
        if m.dtype.kind not in "fiu":
            raise TypeError(
                f"{op}: {name} must be an additive float mask, received dtype {m.dtype}"
            )
        m = m.astype(dtype, copy=False)
        bias = m if bias is None else bias + m
    return bias


def _check_broadcast(xp, op: str, name: str, m: Array, shape: tuple) -> None:
    try:
        ok = xp.broadcast_shapes(m.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{op}: {name} of shape {tuple(m.shape)} does not broadcast to the attention scores "
            f"of shape {shape}"
        )


def _as_array(xp, m):
    return m.data if isinstance(m, Tensor) else xp.asarray(m)


def _bias_and_offset(xp, shape, dtype, masks, is_causal, op):
    """The blocked paths' masks: one additive bias (or None) and the causal mask as an offset
    (query i sees keys j <= i + offset; None: not causal)."""
    if is_causal not in (False, True, "upper_left", "lower_right"):
        attention_bias(xp, shape, dtype, causal=is_causal, op=op)  # raises, naming it
    bias = attention_bias(
        xp,
        shape,
        dtype,
        allowed={n: m for n, m in masks.items() if m.dtype == bool},
        additive={n: m for n, m in masks.items() if m.dtype != bool},
        op=op,
    )
    L, S = shape[-2:]
    return bias, None if not is_causal else S - L if is_causal == "lower_right" else 0


def _blocked(q, k, v, shape, masks, is_causal, scale, op) -> Tensor:
    """``BlockedAttention`` with the masks as one additive bias and the causal mask as an offset."""
    bias, causal = _bias_and_offset(q.xp, shape, q.dtype, masks, is_causal, op)
    return BlockedAttention.apply(q, k, v, scale=scale, causal=causal, bias=bias)


@_autocast.lower_precision
def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_mask=None,
    dropout_p: float = 0.0,
    is_causal: bool | str = False,
    scale: float | None = None,
    training: bool = True,
    return_weights: bool = False,
    enable_gqa: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """softmax(q k^T * scale + mask) v over (..., L, E) queries and (..., S, E) keys.

    Args:
        q: (..., L, E) queries; the leading axes of q, k and v broadcast.
        k: (..., S, E) keys.
        v: (..., S, Ev) values.
        attn_mask: boolean (True = may attend, as PyTorch) or additive float, broadcastable to
            (..., L, S); ``attention_bias`` builds one from other conventions.
        dropout_p: dropout on the attention weights when ``training``.
        is_causal: adds the lower-triangular mask: True (or ``"upper_left"``): query i attends
            keys j <= i; ``"lower_right"``: j <= i + S - L (see ``attention_bias``).
        scale: multiplies the scores; 1/sqrt(E) by default.
        return_weights: also return the attention weights (the softmax, before dropout).
        enable_gqa: grouped-query attention, as PyTorch's: k and v may have fewer heads (axis
            -3) than q, a divisor of them; query head h reads key/value head h // (H / K). The
            blocked path reads the shared head in place; the plain one repeats it.

    Returns:
        The (..., L, Ev) output, or ``(output, weights)`` with (..., L, S) weights, both
        differentiable.

    Example:
        >>> q = zg.randn(2, 4, 5, 8)            # (B, heads, L, E)
        >>> F.scaled_dot_product_attention(q, q, q, is_causal=True).shape
        (2, 4, 5, 8)
    """
    op = "scaled_dot_product_attention"
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise ValueError(
            f"{op}: expected q, k and v with at least 2 dimensions (..., L, E), received shapes "
            f"{q.shape}, {k.shape}, {v.shape}"
        )
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(
            f"{op}: expected q, k and v of one dtype, received {q.dtype}, {k.dtype}, {v.dtype}"
        )
    mask_dtype = getattr(attn_mask, "dtype", None)
    if mask_dtype is not None and np.dtype(mask_dtype).kind not in "bf":
        raise TypeError(f"{op}: expected a bool or floating attn_mask, received dtype {mask_dtype}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"{op}: expected q (..., L, E), k (..., S, E), v (..., S, Ev), received shapes "
            f"{q.shape}, {k.shape}, {v.shape}"
        )
    L, S = q.shape[-2], k.shape[-2]
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    xp = q.xp
    rep = _gqa_groups(op, q, k, v) if enable_gqa else 1
    kv = (k, v)  # the key/value heads as given: the blocked path reads them shared
    if rep > 1 and backend.is_device_array(q.data):  # the GPU's blocks: each query head's copy
        k, v = repeat_heads(k, rep), repeat_heads(v, rep)
    lead = k.shape[:-2] if k is not kv[0] or rep == 1 else k.shape[:-3] + (k.shape[-3] * rep,)
    try:
        shape = xp.broadcast_shapes(q.shape[:-2], lead) + (L, S)
    except ValueError:
        raise ValueError(
            f"{op}: the leading (batch, head) axes of q {q.shape} and k {k.shape} do not broadcast"
        ) from None
    # a float mask that requires grad (a learned bias) is added to the scores as an op; every
    # other mask is a constant folded into the softmax
    learned = isinstance(attn_mask, Tensor) and attn_mask.requires_grad and is_grad_enabled()
    masks = {}
    if attn_mask is not None:
        masks["attn_mask"] = _as_array(xp, attn_mask)
        if learned and masks["attn_mask"].dtype.kind == "f":
            _check_broadcast(xp, op, "attn_mask", attn_mask.data, shape)
            masks.pop("attn_mask")
        else:
            learned = False
    drop = dropout_p > 0 and training
    if (
        backend.is_device_array(q.data)
        and not (learned or return_weights or drop)
        and q.shape[:-2] == k.shape[:-2] == v.shape[:-2]
    ):  # the GPU: blocks of query rows, never the whole (..., L, S) scores
        return _blocked(q, k, v, shape, masks, is_causal, scale, op)
    needs = q.requires_grad or k.requires_grad or v.requires_grad or learned
    no_grad = not (is_grad_enabled() and needs)
    if (
        not no_grad
        and not learned
        and not return_weights
        and S >= tuning.FLASH_ATTENTION_MIN_KEYS
        and flash_usable(q.data, kv[0].data, kv[1].data)
    ):  # blocks: memory linear in the context, causal blocks above the diagonal skipped
        mask, causal = _bias_and_offset(xp, shape, q.dtype, masks, is_causal, op)
        p = argcheck.probability(op, "dropout_p", dropout_p) if drop else 0.0
        return flash_attention(q, *kv, bias=mask, scale=scale, causal=causal, dropout_p=p)
    if k is kv[0] and rep > 1:  # the plain paths: each query head's own copy
        k, v = repeat_heads(k, rep), repeat_heads(v, rep)
    bias = attention_bias(
        xp,
        shape,
        np.result_type(q.dtype, k.dtype),
        causal=is_causal,
        allowed={n: m for n, m in masks.items() if m.dtype == bool},
        additive={n: m for n, m in masks.items() if m.dtype != bool},
        op=op,
    )
    if (
        no_grad
        and not drop
        and not return_weights
        and attention_kernels.attention_usable(q.data, k.data, v.data)
    ):
        y = attention_kernels.attention(q.data, k.data, v.data, bias, scale)  # fused, blocked
        return Tensor._make(y)
    scores = matmul(q, k.swapaxes(-1, -2))  # (..., L, S); scaled inside the softmax
    if learned:
        scores, scale = scores * scale + attn_mask, 1.0
    weights = Softmax.apply(scores, axis=-1, scale=scale, bias=bias)  # scaled and masked inside
    y = matmul(dropout(weights, dropout_p) if drop else weights, v)  # (..., L, Ev)
    return (y, weights) if return_weights else y


def _gqa_groups(op: str, q: Tensor, k: Tensor, v: Tensor) -> int:
    """H / K, the query heads that read each key/value head (1 when k and v have q's heads)."""
    if min(q.ndim, k.ndim) < 3:
        return 1
    H, K = q.shape[-3], k.shape[-3]
    if K == H:
        return 1
    if K == 0 or H % K or v.shape[-3] != K:
        raise ValueError(
            f"{op}: with enable_gqa the query heads (axis -3) must be a multiple of the key and "
            f"value heads, received q {q.shape}, k {k.shape}, v {v.shape}"
        )
    return H // K
