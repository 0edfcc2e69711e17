"""RMS norm over the last axis and its gradient, row by row on all cores.

The forward returns the rows' 1 / rms too (one number a row), which the backward reuses; sums of
squares are accumulated in float64 for float32 rows as well.
"""

from __future__ import annotations

import math

import numpy as np

from zerograd.kernels import jit, numba, rows

_BLOCK = 64  # rows per partial sum of the weight gradient (fixed: the same sums on any number of
# threads)

if numba is not None:
    from zerograd.kernels.typed import cast

    # module-level, for both float types (``kernels.typed``): numba caches them on disk

    @jit
    def _fwd(x, w, eps, out, rstd):
        n_rows, n = x.shape
        for r in numba.prange(n_rows):
            s = 0.0
            for j in range(n):
                v = np.float64(x[r, j])
                s += v * v
            k = cast(x, 1.0 / math.sqrt(s / n + eps))
            rstd[r] = k
            for j in range(n):
                out[r, j] = x[r, j] * k * w[j]

    @jit
    def _grad(x, g, w, rstd, gx, pw):
        """gx = k (g w - xhat mean(g w xhat)) with xhat = x k, and per block of ``_BLOCK`` rows
        the sum of g * xhat (the weight's gradient, in float64; the caller adds the blocks)."""
        n_rows, n = x.shape
        for blk in numba.prange(pw.shape[0]):
            for r in range(blk * _BLOCK, min(n_rows, (blk + 1) * _BLOCK)):
                k = rstd[r]
                b = 0.0  # mean of g * w * xhat
                for j in range(n):
                    xh = x[r, j] * k
                    pw[blk, j] += g[r, j] * xh
                    b += np.float64(g[r, j] * w[j] * xh)
                kb = k * cast(x, b / n)
                for j in range(n):
                    gx[r, j] = k * (g[r, j] * w[j] - x[r, j] * kb)


def _weight(w, x: np.ndarray) -> np.ndarray:
    n = x.shape[-1]
    return np.ones(n, x.dtype) if w is None else np.ascontiguousarray(w, x.dtype).reshape(n)


def rms_norm(x: np.ndarray, w, eps: float) -> tuple:
    """(y, rstd): x / rms(x) * w over the last axis, and each row's 1 / rms of shape
    x.shape[:-1] + (1,)."""
    xr = rows(x)
    out = np.empty(xr.shape, x.dtype)
    rstd = np.empty(xr.shape[0], x.dtype)
    _fwd(xr, _weight(w, x), float(eps), out, rstd)
    return out.reshape(x.shape), rstd.reshape(*x.shape[:-1], 1)


def rms_norm_grad(x: np.ndarray, g: np.ndarray, w, rstd: np.ndarray) -> tuple:
    """(gx, gw) of ``rms_norm`` given the output's gradient ``g``; gw summed over all rows (None
    when there is no weight)."""
    xr = rows(x)
    gr = rows(np.broadcast_to(g, x.shape).astype(x.dtype, copy=False))
    gx = np.empty(xr.shape, x.dtype)
    pw = np.zeros((-(-xr.shape[0] // _BLOCK), xr.shape[1]))
    _grad(xr, gr, _weight(w, x), rstd.reshape(-1), gx, pw)
    gw = None if w is None else pw.sum(axis=0).astype(x.dtype)
    return gx.reshape(x.shape), gw
