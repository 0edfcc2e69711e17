"""Softmax over the last axis, softmax(x * scale + bias) with an additive mask folded in, and its
gradient: one pass per row, rows on all cores (or, for attention blocks, on the caller's thread)."""

from __future__ import annotations

import numpy as np

from zerograd.kernels import jit, jit_nogil, jit_serial, numba, rows

if numba is not None:
    from zerograd.kernels.typed import cast, exp_of

    # softmax(x * scale + bias) over the last axis of 4-D C-contiguous arrays, for float32 (in
    # float32, with the vectorised exp32_neg) and float64 (exp_neg): module-level functions, the
    # float type's pieces from ``typed``, so numba's disk cache holds them (see ``typed``).
    # ``bias`` has size 1 or x's size on each leading axis (broadcast by index, never copied to
    # x's size) and x's size on the last. A row that is all -inf, or has a NaN or +inf, gives
    # NaN (as the NumPy path and PyTorch).

    @jit_serial
    def _row(xr, br, sc, orow):
        n = xr.size
        m = cast(xr, -np.inf)
        for c in range(n):
            m = max(m, xr[c] * sc + br[c])
        t = cast(xr, 0.0)
        for c in range(n):
            e = exp_of(xr, xr[c] * sc + br[c] - m)
            orow[c] = e
            t += e
        inv = cast(xr, 1.0) / t
        for c in range(n):
            orow[c] *= inv

    @jit_serial
    def _row_at(x, bias, r, sc, out):  # row r of the 4-D x, with its row of the bias
        d1, d2 = x.shape[1], x.shape[2]
        i, j, k = r // (d1 * d2), (r // d2) % d1, r % d2
        b0, b1, b2 = bias.shape[0] > 1, bias.shape[1] > 1, bias.shape[2] > 1
        _row(x[i, j, k], bias[i if b0 else 0, j if b1 else 0, k if b2 else 0], sc, out[i, j, k])

    # Two functions, not one decorated twice: numba's disk cache keys a function by its code
    # and closure, not by `parallel`, so one would load the other's machine code (a parallel
    # kernel on a worker thread then crashes the workqueue layer).
    @jit
    def _softmax_parallel(x, bias, scale, out):  # on all cores
        for r in numba.prange(x.shape[0] * x.shape[1] * x.shape[2]):
            _row_at(x, bias, r, cast(x, scale), out)

    @jit_nogil
    def _softmax_serial(x, bias, scale, out):  # one block of attention, on a worker thread
        for r in range(x.shape[0] * x.shape[1] * x.shape[2]):
            _row_at(x, bias, r, cast(x, scale), out)

    @jit
    def _softmax_grad_rows(p, g, scale, out):
        """out = scale * p * (g - sum(g * p)) row by row: the softmax backward (with the scale of
        the scores folded in)."""
        n_rows, n = p.shape
        for r in numba.prange(n_rows):
            d = 0.0
            for j in range(n):
                d += g[r, j] * p[r, j]
            for j in range(n):
                out[r, j] = scale * p[r, j] * (g[r, j] - d)


def softmax_block(x4: np.ndarray, bias, scale: float, out: np.ndarray) -> None:
    """``out`` = the softmax of one 4-D block on the calling thread (an attention block on a
    worker thread); ``bias`` as ``bias4`` gives it."""
    _softmax_serial(x4, bias, scale, out)


def as4d(a: np.ndarray) -> np.ndarray:
    """Leading size-1 axes up to 4-D, or leading axes merged down to 4-D (contiguous input)."""
    if a.ndim <= 4:
        return a.reshape((1,) * (4 - a.ndim) + a.shape)
    return a.reshape(-1, *a.shape[-3:])


def bias4(bias, shape, dtype) -> np.ndarray:
    """An additive mask as the kernels take it: 4-D, last axis full, leading axes of size 1 or as
    ``shape``'s (leading axes merged when ``shape`` has more than 4)."""
    n = shape[-1]
    if bias is None:
        return np.zeros((1, 1, 1, n), dtype)
    b = bias.astype(dtype, copy=False)
    b = b.reshape((1,) * (len(shape) - b.ndim) + b.shape)
    if b.shape[-1] != n or b.ndim > 4:  # broadcast along the row, or merged axes: copy
        b = np.broadcast_to(b, shape)
    return np.ascontiguousarray(as4d(b) if b.ndim <= 4 else b.reshape(-1, *shape[-3:]))


def softmax_last(x: np.ndarray, scale: float = 1.0, bias: np.ndarray | None = None) -> np.ndarray:
    """softmax(x * scale + bias) over the last axis; ``bias`` broadcasts to ``x`` (not copied)."""
    out = np.empty(x.shape, dtype=x.dtype)
    x4 = as4d(np.ascontiguousarray(x))
    _softmax_parallel(x4, bias4(bias, x.shape, x.dtype), float(scale), out.reshape(x4.shape))
    return out


def softmax_grad(p: np.ndarray, g: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The gradient of ``softmax_last`` given its output ``p`` and the output's gradient ``g``."""
    out = np.empty(p.shape, dtype=p.dtype)
    gr = rows(np.broadcast_to(g, p.shape))
    _softmax_grad_rows(rows(p), gr, p.dtype.type(scale), out.reshape(gr.shape))
    return out
