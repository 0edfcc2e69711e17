"""Batch norm in training mode and its gradient, over a (rows, channels) or a (batch, channels,
positions) array, on all cores.

Channels last (rows, C), as the Keras layers have it: the rows are cut into blocks, each block
sums its columns into its own row of partial sums (no two threads write one place), and the
partials are added at the end. Channels first (N, C, S), as PyTorch's: each channel is a separate
reduction, so the channels are shared among the threads. Sums are accumulated in float64, the
variance in a second pass around the mean (no cancellation). Forward: two reading passes and one
writing pass; backward: one reading pass and one writing pass (the normalised input is recomputed
from ``x``, the mean and 1 / std, not kept).
"""

from __future__ import annotations

import math

import numpy as np

from zerograd.kernels import jit, numba

_BLOCK_ROWS = 256  # rows per block of partial sums (channels last)

if numba is not None:

    @jit
    def _col_sums(x, mean, squares, n_blocks, out):
        """out[b, c] = sum over block b's rows of x[r, c] (``squares``: (x[r, c] - mean[c])**2)."""
        n_rows, n = x.shape
        for b in numba.prange(n_blocks):
            r0 = b * n_rows // n_blocks
            r1 = (b + 1) * n_rows // n_blocks
            for j in range(n):
                out[b, j] = 0.0
            for r in range(r0, r1):
                for j in range(n):
                    v = np.float64(x[r, j])
                    if squares:
                        d = v - mean[j]
                        out[b, j] += d * d
                    else:
                        out[b, j] += v

    @jit
    def _cl_apply(x, shift, scale, beta, out):
        """out = (x - shift) * scale + beta, row by row (scale = gamma / std)."""
        n_rows, n = x.shape
        for r in numba.prange(n_rows):
            for j in range(n):
                out[r, j] = (x[r, j] - shift[j]) * scale[j] + beta[j]

    @jit
    def _cl_grad_sums(x, g, mean, rstd, n_blocks, out):
        """out[b, 0, c] = sum of g, out[b, 1, c] = sum of g * xhat over block b's rows."""
        n_rows, n = x.shape
        for b in numba.prange(n_blocks):
            r0 = b * n_rows // n_blocks
            r1 = (b + 1) * n_rows // n_blocks
            for j in range(n):
                out[b, 0, j] = 0.0
                out[b, 1, j] = 0.0
            for r in range(r0, r1):
                for j in range(n):
                    gv = np.float64(g[r, j])
                    out[b, 0, j] += gv
                    out[b, 1, j] += gv * (x[r, j] - mean[j]) * rstd[j]

    @jit
    def _cl_grad_apply(x, g, mean, rstd, k, a, c, out):
        """out = k * (g - a - xhat * c) with xhat = (x - mean) * rstd (k = gamma * rstd; a, c the
        means of g and of g * xhat)."""
        n_rows, n = x.shape
        for r in numba.prange(n_rows):
            for j in range(n):
                xh = (x[r, j] - mean[j]) * rstd[j]
                out[r, j] = k[j] * (g[r, j] - a[j] - xh * c[j])

    @jit
    def _cf_forward(x, gamma, beta, eps, out, mean, var, rstd):
        """Channels first (N, C, S): each channel's statistics and output, channels in parallel."""
        n_b, n_c, n_s = x.shape
        m = n_b * n_s
        for ch in numba.prange(n_c):
            s = 0.0
            for i in range(n_b):
                for p in range(n_s):
                    s += np.float64(x[i, ch, p])
            mu = s / m
            v = 0.0
            for i in range(n_b):
                for p in range(n_s):
                    d = np.float64(x[i, ch, p]) - mu
                    v += d * d
            k = 1.0 / math.sqrt(v / m + eps)
            var[ch] = v / m
            mean[ch] = mu
            rstd[ch] = k
            sc = gamma[ch] * k
            for i in range(n_b):
                for p in range(n_s):
                    out[i, ch, p] = (x[i, ch, p] - mu) * sc + beta[ch]

    @jit
    def _cf_grad(x, g, gamma, mean, rstd, gx, gsum, gxhat_sum):
        n_b, n_c, n_s = x.shape
        m = n_b * n_s
        for ch in numba.prange(n_c):
            mu, k = mean[ch], rstd[ch]
            a = 0.0
            c = 0.0
            for i in range(n_b):
                for p in range(n_s):
                    gv = np.float64(g[i, ch, p])
                    a += gv
                    c += gv * (x[i, ch, p] - mu) * k
            gsum[ch] = a
            gxhat_sum[ch] = c
            a /= m
            c /= m
            kk = gamma[ch] * k
            for i in range(n_b):
                for p in range(n_s):
                    xh = (x[i, ch, p] - mu) * k
                    gx[i, ch, p] = kk * (g[i, ch, p] - a - xh * c)


def _blocks(n_rows: int) -> int:
    return max(1, min(n_rows // _BLOCK_ROWS, 4 * numba.get_num_threads()))


def _view(x: np.ndarray, axis: int):
    """``x`` (C-contiguous) as (rows, C) when ``axis`` is the last, else as (N, C, S)."""
    if axis == x.ndim - 1:
        return x.reshape(-1, x.shape[-1]), True
    return x.reshape(int(np.prod(x.shape[:axis])), x.shape[axis], -1), False


def _vec(a, n: int, dtype, fill: float) -> np.ndarray:
    return np.full(n, fill, dtype) if a is None else np.ascontiguousarray(a, dtype=dtype).ravel()


def forward(x: np.ndarray, axis: int, gamma, beta, eps: float):
    """(y, mean, rstd, biased var) of a training-mode batch norm of C-contiguous ``x`` over every
    axis but ``axis`` (the last, or with channels first); statistics float64 vectors (C,)."""
    xv, last = _view(x, axis)
    n = x.shape[axis]
    g, b = _vec(gamma, n, x.dtype, 1.0), _vec(beta, n, x.dtype, 0.0)
    out = np.empty_like(xv)
    if last:
        nb = _blocks(xv.shape[0])
        part = np.empty((nb, n), np.float64)
        _col_sums(xv, np.zeros(n), False, nb, part)
        mean = part.sum(axis=0) / xv.shape[0]
        _col_sums(xv, mean, True, nb, part)
        var = part.sum(axis=0) / xv.shape[0]
        rstd = 1.0 / np.sqrt(var + eps)
        _cl_apply(xv, mean.astype(x.dtype), (g * rstd).astype(x.dtype), b, out)
    else:
        mean, var, rstd = (np.empty(n, np.float64) for _ in range(3))
        _cf_forward(xv, g, b, eps, out, mean, var, rstd)
    return out.reshape(x.shape), mean, rstd, var


def backward(x: np.ndarray, g: np.ndarray, axis: int, gamma, mean, rstd):
    """(gx, dgamma, dbeta) of the batch norm above from the saved mean and 1 / std."""
    xv, last = _view(x, axis)
    gv = np.ascontiguousarray(g, dtype=x.dtype).reshape(xv.shape)
    n = x.shape[axis]
    gam = _vec(gamma, n, np.float64, 1.0)
    gx = np.empty_like(xv)
    if last:
        nb = _blocks(xv.shape[0])
        part = np.empty((nb, 2, n), np.float64)
        _cl_grad_sums(xv, gv, mean, rstd, nb, part)
        sums = part.sum(axis=0)
        m = xv.shape[0]
        gsum, gxhat_sum = sums[0], sums[1]
        dt = x.dtype
        _cl_grad_apply(
            xv,
            gv,
            mean.astype(dt),
            rstd.astype(dt),
            (gam * rstd).astype(dt),
            (gsum / m).astype(dt),
            (gxhat_sum / m).astype(dt),
            gx,
        )
    else:
        gsum, gxhat_sum = np.empty(n, np.float64), np.empty(n, np.float64)
        _cf_grad(xv, gv, gam, mean, rstd, gx, gsum, gxhat_sum)
    return gx.reshape(x.shape), gxhat_sum.astype(x.dtype), gsum.astype(x.dtype)
