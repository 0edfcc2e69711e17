"""The rotary position embedding (rotate-half layout) and its gradient, one pass on all cores over
(batch, head) pairs, for 4-D inputs (B, H, T, d) of any strides with cos/sin tables (B or 1, 1, T,
d). NumPy's path takes five passes (a product, two sliced products, two in-place updates) on one
core: on llama_train's queries and keys, 23 ms of a 600 ms step on one thread."""

from __future__ import annotations

import numpy as np

from zerograd.kernels import jit, numba

if numba is not None:

    @jit
    def _rotate(x, cos, sin, out, sign):
        """out1 = x1 c1 - sign x2 s_a, out2 = x2 c2 + sign x1 s_b, with (a, b) = (1, 2) for the
        forward (sign 1) and (2, 1) for the backward (sign -1: the inverse rotation)."""
        B, H, T, d = x.shape
        h = d // 2
        for p in numba.prange(B * H):
            b, k = p // H, p % H
            c = b if cos.shape[0] > 1 else 0
            for t in range(T):
                if sign > 0:
                    for j in range(h):
                        x1, x2 = x[b, k, t, j], x[b, k, t, j + h]
                        out[b, k, t, j] = x1 * cos[c, 0, t, j] - x2 * sin[c, 0, t, j]
                        out[b, k, t, j + h] = x2 * cos[c, 0, t, j + h] + x1 * sin[c, 0, t, j + h]
                else:
                    for j in range(h):
                        x1, x2 = x[b, k, t, j], x[b, k, t, j + h]
                        out[b, k, t, j] = x1 * cos[c, 0, t, j] + x2 * sin[c, 0, t, j + h]
                        out[b, k, t, j + h] = x2 * cos[c, 0, t, j + h] - x1 * sin[c, 0, t, j]


def usable(x: np.ndarray, cos: np.ndarray) -> bool:
    """The kernel's shapes: x (B, H, T, d), cos/sin (B or 1, 1, T, d) of x's dtype."""
    return (
        x.ndim == 4
        and cos.ndim == 4
        and cos.shape[0] in (1, x.shape[0])
        and cos.shape[1:] == (1,) + x.shape[2:]
        and cos.dtype == x.dtype
    )


def rotate(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, inverse: bool = False) -> np.ndarray:
    """x rotated by the angles of (cos, sin), or by their negatives (``inverse``: the gradient);
    the result laid out in memory as x is."""
    out = np.empty_like(x)
    _rotate(x, cos, sin, out, -1 if inverse else 1)
    return out
