"""Linear algebra: ``norm`` (vector and matrix norms; ``keras.ops.linalg.norm``)."""

from __future__ import annotations

import zerograd as zg
from zerograd import backend
from zerograd.keras.ops.core import tensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.tensor import Tensor

_MATRIX_ORDS = ("fro", 1, -1, float("inf"), float("-inf"))


def _vector_norm(x: Tensor, ord, axis, keepdims: bool) -> Tensor:  # noqa: A002
    a = zg.abs(x)
    if ord is None or ord == 2:
        return zg.sqrt(zg.sum(x * x, axis, keepdims))
    if ord == float("inf"):
        return zg.max(a, axis, keepdims)
    if ord == float("-inf"):
        return zg.min(a, axis, keepdims)
    if ord == 0:
        return zg.cast(zg.sum(zg.cast(a.detach() != 0, x.dtype), axis, keepdims), x.dtype)
    if ord == 1:
        return zg.sum(a, axis, keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: ord {ord!r} is for matrices; received a single axis {axis}")
    return zg.sum(a**ord, axis, keepdims) ** (1.0 / ord)


def _matrix_norm(x: Tensor, ord, axis, keepdims: bool) -> Tensor:  # noqa: A002
    row, col = (a % x.ndim for a in axis)
    if ord is None or ord == "fro":
        return zg.sqrt(zg.sum(x * x, (row, col), keepdims))
    if ord not in _MATRIX_ORDS:
        raise ValueError(
            f"norm: matrix ord must be one of None, 'fro', 1, -1, inf, -inf, received {ord!r} "
            "('nuc' and 2 need singular values, which are not supported)"
        )
    a = zg.abs(x)
    summed, over = (row, col) if ord in (1, -1) else (col, row)
    sums = zg.sum(a, summed, keepdims=True)
    out = (zg.max if ord > 0 else zg.min)(sums, over, keepdims=True)
    return out if keepdims else zg.squeeze(out, (row, col))


@symbolic
def norm(x, ord=None, axis=None, keepdims=False) -> Tensor:  # noqa: A002 - the Keras name
    """Vector norm (one axis, or all axes flattened) or matrix norm (two axes), as NumPy."""
    x = tensor(x)
    if x.dtype.kind != "f":
        x = zg.cast(x, backend.get_default_dtype())
    if axis is None:
        if ord is not None and x.ndim == 2:
            return _matrix_norm(x, ord, (0, 1), keepdims)
        if ord is not None and x.ndim != 1:
            raise ValueError(f"norm: ord {ord!r} needs a 1-D or 2-D input, received {x.shape}")
        flat = _vector_norm(zg.reshape(x, (-1,)), ord, 0, False)
        return zg.reshape(flat, (1,) * x.ndim) if keepdims else flat
    if isinstance(axis, int) or len(axis) == 1:
        return _vector_norm(x, ord, axis if isinstance(axis, int) else axis[0], keepdims)
    if len(axis) == 2:
        return _matrix_norm(x, ord, tuple(axis), keepdims)
    raise ValueError(f"norm: axis must be an int or a pair of ints, received {axis!r}")
