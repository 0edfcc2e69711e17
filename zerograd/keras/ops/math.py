"""Math ops: top_k, in_top_k, logsumexp, erf, erfinv, cdist, segment sums."""

from __future__ import annotations

import numpy as np

import zerograd as zg
from zerograd.keras.ops.core import const, scatter, tensor
from zerograd.keras.ops.elementwise import rsqrt  # noqa: F401 - keras.ops.math.rsqrt
from zerograd.keras.ops.symbolic import symbolic
from zerograd.tensor import Tensor

__all__ = [
    "top_k",
    "in_top_k",
    "logsumexp",
    "erf",
    "erfc",
    "segment_sum",
    "segment_min",
    "segment_prod",
    "segment_max",
    "erfinv",
    "cdist",
]


@symbolic
def top_k(x, k, sorted=True) -> tuple:  # noqa: A002 - the Keras name
    """(values, indices) of the ``k`` largest entries along the last axis; indices int64 (as
    Keras on torch)."""
    return zg.topk(tensor(x), int(k), -1)


@symbolic
def in_top_k(targets, predictions, k) -> Tensor:
    """True where the target class is among the ``k`` highest predictions of its row."""
    p, t = tensor(predictions).data, tensor(targets).data.astype(np.int64)
    score = np.take_along_axis(p, t[:, None], axis=1)
    return const((p > score).sum(axis=1) < k)


@symbolic
def logsumexp(x, axis=None, keepdims=False) -> Tensor:
    """log(sum(exp(x))) over ``axis`` without overflow."""
    return zg.logsumexp(tensor(x), axis, keepdims)


@symbolic
def erf(x) -> Tensor:
    """The error function."""
    return zg.erf(tensor(x))


@symbolic
def erfc(x) -> Tensor:
    """1 - erf(x)."""
    return 1 - zg.erf(tensor(x))


def _segments(data, segment_ids, num_segments, op):
    ids = tensor(segment_ids).data
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer segment_ids, received {ids.dtype}")
    if num_segments is not None and (
        isinstance(num_segments, bool)
        or not isinstance(num_segments, (int, np.integer))
        or num_segments < 0
    ):
        raise ValueError(
            f"{op}: num_segments must be None or a non-negative integer, received {num_segments!r}"
        )
    n = (int(ids.max()) + 1 if ids.size else 0) if num_segments is None else int(num_segments)
    return tensor(data), ids, n


@symbolic
def segment_sum(data, segment_ids, num_segments=None, sorted=False) -> Tensor:  # noqa: A002
    """Sums of the rows of ``data`` that share a segment id."""
    x, ids, n = _segments(data, segment_ids, num_segments, "segment_sum")
    keep = (ids >= 0) & (ids < n)  # ids out of range are dropped, as Keras
    return scatter.eager(ids[keep][:, None], x[keep], (n, *x.shape[1:]))


def _segment_reduce(reduce, data, segment_ids, num_segments, op, empty):
    x, ids, n = _segments(data, segment_ids, num_segments, op)
    rows = [
        reduce(x[ids == s], 0) if (ids == s).any() else zg.full(x.shape[1:], empty(x), x.dtype)
        for s in range(n)
    ]
    return zg.stack(rows)


def _lowest(x):
    return -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min


def _highest(x):
    return np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).max


@symbolic
def segment_min(data, segment_ids, num_segments=None, sorted=False) -> Tensor:  # noqa: A002
    """Minima of the rows of ``data`` that share a segment id (+inf if empty)."""
    return _segment_reduce(zg.min, data, segment_ids, num_segments, "segment_min", _highest)


@symbolic
def segment_prod(data, segment_ids, num_segments=None, sorted=False) -> Tensor:  # noqa: A002
    """Products of the rows of ``data`` that share a segment id (1 if empty)."""
    from zerograd.keras.ops.reduction import prod

    return _segment_reduce(
        lambda t, a: prod.eager(t, a), data, segment_ids, num_segments, "segment_prod", lambda x: 1
    )


@symbolic
def segment_max(data, segment_ids, num_segments=None, sorted=False) -> Tensor:  # noqa: A002
    """Maxima of the rows of ``data`` that share a segment id (-inf if empty)."""
    return _segment_reduce(zg.max, data, segment_ids, num_segments, "segment_max", _lowest)


@symbolic
def erfinv(x) -> Tensor:
    """Inverse error function, differentiable."""
    return zg.erfinv(tensor(x))


@symbolic
def cdist(x, y) -> Tensor:
    """Euclidean distances (..., m, n) between rows of x (..., m, d) and y (..., n, d)."""
    x, y = tensor(x), tensor(y)
    if x.ndim < 2 or y.ndim < 2 or x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"cdist: expected x (..., m, d) and y (..., n, d) with one d, received shapes "
            f"{x.shape} and {y.shape}"
        )
    diff = zg.expand_dims(x, -2) - zg.expand_dims(y, -3)  # (..., m, n, d)
    return zg.sqrt(zg.sum(diff * diff, -1))
