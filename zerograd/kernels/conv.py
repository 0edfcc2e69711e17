"""The end of a convolution (or a Linear) in one pass on all cores: bias add and ReLU on the GEMM
output, and the ReLU's gradient from the output."""

from __future__ import annotations

import numpy as np

from zerograd.kernels import jit, numba

if numba is not None:

    @jit
    def _bias_act_rows(y, b, relu):
        """y = y + b, then max(y, 0) when ``relu``, in place over rows: one pass for the end of a
        convolution (its GEMM output)."""
        n_rows, n = y.shape
        for r in numba.prange(n_rows):
            for c in range(n):
                v = y[r, c] + b[c]
                y[r, c] = (0 if v < 0 else v) if relu else v  # NaN stays NaN

    @jit
    def _relu_grad_flat(g, y, out):
        """out = g where y > 0, else 0: the gradient through a ReLU from its output."""
        for i in numba.prange(g.size):
            out[i] = g[i] if y[i] > 0 else 0


def bias_act(y: np.ndarray, b: np.ndarray, relu: bool) -> np.ndarray:
    """In place on a C-contiguous (..., n) ``y``: y + b, then max(y, 0) when ``relu``."""
    _bias_act_rows(y.reshape(-1, y.shape[-1]), np.ascontiguousarray(b, dtype=y.dtype), relu)
    return y


def relu_grad(g: np.ndarray, y: np.ndarray) -> np.ndarray:
    """g where y > 0, else 0 (``y`` the ReLU's output)."""
    out = np.empty(y.shape, dtype=g.dtype)
    gf = np.ascontiguousarray(np.broadcast_to(g, y.shape), dtype=g.dtype).reshape(-1)
    _relu_grad_flat(gf, np.ascontiguousarray(y).reshape(-1), out.reshape(-1))
    return out
