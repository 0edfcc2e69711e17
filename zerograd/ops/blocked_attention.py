"""Attention by blocks of query rows in array code, for the GPU (CuPy) and as a NumPy reference.

FlashAttention's algorithm with each block's work done by batched matmuls: the forward keeps the
output and the per-row log-sum-exp, the backward recomputes each block's probabilities from them.
At most one block of scores, ``(..., rows, S)``, exists at a time in the forward and two in the
backward (the probabilities and their gradient), never the whole ``(..., L, S)`` matrix; rows are
chosen so a block stays within ``BLOCK_BYTES``. With a causal mask a block of rows reads only the
keys some row of it may see. Half-precision inputs (autocast) have their scores, the softmax,
the log-sum-exp and the gradient sums in float32, as PyTorch's fused attention does. The CPU uses
the numba kernel of ``flash_attention`` instead.
"""

from __future__ import annotations

import math

import numpy as np

from zerograd.autograd import Function

BLOCK_BYTES = 64 << 20  # the size of one block of scores


def _acc(dtype):
    """The dtype the softmax runs in: float32 for half inputs, otherwise the inputs' own."""
    return np.dtype(np.float32) if dtype.itemsize < 4 else dtype


def block_rows(lead: int, keys: int, itemsize: int, budget: int | None = None) -> int:
    """Query rows per block: as many as fit ``budget`` bytes of scores (``BLOCK_BYTES``), at
    least 16."""
    budget = BLOCK_BYTES if budget is None else budget
    return max(16, budget // max(1, lead * keys * itemsize))


class BlockedAttention(Function):
    """softmax(q k^T * scale + bias, causal-masked) v with q (..., L, E), k (..., S, E),
    v (..., S, Ev) of one leading shape; the saved state is q, k, v, the output and the row
    log-sum-exp. A fully masked row gives NaN, as the plain softmax does."""

    scale: float
    causal: int | None  # query i attends keys j <= i + causal; None: no causal mask
    bias: object = None  # an additive float mask broadcastable to (..., L, S), or None
    rows: int = 0  # rows per block (0: from BLOCK_BYTES)
    differentiable_backward = False  # the backward works on arrays

    def _blocks(self, L: int, S: int, lead: int, itemsize: int):
        rows = self.rows or block_rows(lead, S, itemsize)
        for i0 in range(0, L, rows):
            i1 = min(L, i0 + rows)
            end = S if self.causal is None else max(0, min(S, i1 - 1 + self.causal + 1))
            yield i0, i1, end

    def _scores(self, q, kT, i0: int, i1: int, end: int):
        """(..., i1 - i0, end): the block's scaled and masked scores, in a fresh buffer."""
        xp = self.xp
        s = (q[..., i0:i1, :] @ kT[..., :end]).astype(_acc(q.dtype), copy=False)
        s *= s.dtype.type(self.scale)
        b = self.bias
        if b is not None:
            rows = slice(None) if b.shape[-2] == 1 else slice(i0, i1)
            cols = slice(None) if b.shape[-1] == 1 else slice(0, end)
            s += b[..., rows, cols]
        if self.causal is not None and i0 + self.causal < end:  # some key above the diagonal
            above = xp.arange(end)[None, :] > (xp.arange(i0, i1) + self.causal)[:, None]
            s += xp.where(above, s.dtype.type(-math.inf), s.dtype.type(0))
        return s

    def forward(self, q, k, v):
        xp = self.xp
        L, S = q.shape[-2], k.shape[-2]
        lead = math.prod(q.shape[:-2])
        y = xp.empty(q.shape[:-1] + (v.shape[-1],), dtype=q.dtype)
        lse = xp.empty(q.shape[:-1], dtype=_acc(q.dtype))
        kT = xp.swapaxes(k, -1, -2)
        for i0, i1, end in self._blocks(L, S, lead, q.dtype.itemsize):
            if end == 0:  # no key for any row of the block
                y[..., i0:i1, :] = math.nan
                lse[..., i0:i1] = math.nan
                continue
            p = self._scores(q, kT, i0, i1, end)
            m = p.max(axis=-1, keepdims=True)
            p -= m
            xp.exp(p, out=p)
            total = p.sum(axis=-1, keepdims=True)
            y[..., i0:i1, :] = (p.astype(v.dtype, copy=False) @ v[..., :end, :]) / total
            lse[..., i0:i1] = (m + xp.log(total))[..., 0]
        self.save_for_backward(q, k, v, y, lse)
        return y

    def backward(self, gy):
        q, k, v, y, lse = self.saved
        xp = self.xp
        L, S = q.shape[-2], k.shape[-2]
        lead = math.prod(q.shape[:-2])
        acc = _acc(q.dtype)
        scale = acc.type(self.scale)
        gq, gk, gv = (xp.zeros(a.shape, acc) for a in (q, k, v))
        kT = xp.swapaxes(k, -1, -2)
        vT = xp.swapaxes(v, -1, -2)
        row_dot = (gy.astype(acc) * y).sum(axis=-1)  # (..., L): sum_j p_ij dp_ij, from the output
        for i0, i1, end in self._blocks(L, S, lead, q.dtype.itemsize):
            if end == 0:
                continue
            p = self._scores(q, kT, i0, i1, end)
            p -= lse[..., i0:i1, None]
            xp.exp(p, out=p)  # the block's probabilities
            g = gy[..., i0:i1, :]
            gv[..., :end, :] += xp.swapaxes(p.astype(q.dtype, copy=False), -1, -2) @ g
            ds = (g @ vT[..., :end]).astype(acc, copy=False)  # dP, then dS in place
            ds -= row_dot[..., i0:i1, None]
            ds *= p
            ds *= scale
            ds = ds.astype(q.dtype, copy=False)
            gq[..., i0:i1, :] = ds @ k[..., :end, :]
            gk[..., :end, :] += xp.swapaxes(ds, -1, -2) @ q[..., i0:i1, :]
        return tuple(a.astype(q.dtype, copy=False) for a in (gq, gk, gv))
