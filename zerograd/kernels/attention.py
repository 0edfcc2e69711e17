"""Attention without gradients, block by block on a thread pool.

One block's scores and weights stay in a core's cache between the two matrix products, and the
blocks run on a pool of threads (one per core: the per-head products are below OpenBLAS's
threshold for using more than one thread, and NumPy releases the GIL in them; the softmax kernel
is serial and releases it too). Block sizes: ``tuning.ATTENTION_BLOCK``, ``ATTENTION_MAX_HEAD``.
"""

from __future__ import annotations

import numpy as np

from zerograd import tuning
from zerograd.kernels import parallel_parts, serial_usable
from zerograd.kernels.softmax import bias4, softmax_block


def attention_usable(q, k, v) -> bool:
    """True when ``attention`` may run: float32/float64 NumPy arrays of one dtype, 3-D or 4-D
    with the same leading shape, enough work for threads and heads small enough for one thread."""
    if not serial_usable(q, k, v):  # numba enabled, NumPy float arrays of one dtype
        return False
    if q.ndim not in (3, 4) or k.ndim != q.ndim or v.ndim != q.ndim:
        return False
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]) or k.shape[-2] != v.shape[-2]:
        return False
    L, E, S = q.shape[-2], q.shape[-1], k.shape[-2]
    return q.size // E * S >= tuning.KERNEL_MIN_SIZE and L * S * E <= tuning.ATTENTION_MAX_HEAD


def attention(q, k, v, bias, scale: float) -> np.ndarray:
    """softmax(q k^T * scale + bias) v for (B, H, L, E) queries, (B, H, S, E) keys and
    (B, H, S, Ev) values (or 3-D, without H) of any strides; ``bias`` broadcasts to (B, H, L, S)
    or is None. The result is a (B, H, L, Ev) view of a (B, L, H, Ev) array, so that merging the
    heads back is free."""
    if q.ndim == 3:
        return attention(q[None], k[None], v[None], bias, scale)[0]
    B, H, L, _ = q.shape
    S, Ev = k.shape[2], v.shape[3]
    y = np.empty((B, L, H, Ev), q.dtype)
    yh = y.transpose(0, 2, 1, 3)
    b4 = bias4(bias, (B, H, L, S), q.dtype)
    per_sample = H * L * S
    block = tuning.ATTENTION_BLOCK
    if per_sample <= block:  # whole samples per block
        n = max(1, block // per_sample)
        blocks = [(b, min(b + n, B), 0, H) for b in range(0, B, n)]
    else:  # groups of heads of one sample per block
        n = max(1, block // (L * S))
        blocks = [(b, b + 1, h, min(h + n, H)) for b in range(B) for h in range(0, H, n)]
    kt = k.swapaxes(2, 3)
    size = max((b1 - b0) * (h1 - h0) for b0, b1, h0, h1 in blocks) * L * S

    def run(part):
        sbuf, pbuf = np.empty(size, q.dtype), np.empty(size, q.dtype)
        for b0, b1, h0, h1 in part:
            shape = (b1 - b0, h1 - h0, L, S)
            used = shape[0] * shape[1] * L * S
            s, p = sbuf[:used].reshape(shape), pbuf[:used].reshape(shape)
            np.matmul(q[b0:b1, h0:h1], kt[b0:b1, h0:h1], out=s)
            bb = b4[b0:b1] if b4.shape[0] > 1 else b4
            softmax_block(s, bb[:, h0:h1] if bb.shape[1] > 1 else bb, scale, p)
            np.matmul(p, v[b0:b1, h0:h1], out=yh[b0:b1, h0:h1])

    parallel_parts(run, blocks)
    return yh
