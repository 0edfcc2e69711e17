"""Searching, selecting and counting: get_item, select, searchsorted, digitize, unique, bincount."""

from __future__ import annotations

import builtins

import numpy as np

import zerograd as zg
from zerograd.keras.ops.core import const, scatter, tensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.ops import argcheck
from zerograd.tensor import Tensor

__all__ = [
    "get_item",
    "select",
    "searchsorted",
    "digitize",
    "unravel_index",
    "argpartition",
    "unique",
    "bincount",
    "isin",
    "extract_sequences",
]


@symbolic
def get_item(x, key) -> Tensor:
    """``x[key]`` (NumPy indexing); the gradient scatters back."""
    return tensor(x)[key]


@symbolic
def select(condlist, choicelist, default=0) -> Tensor:
    """From the first true condition's choice at each position, else ``default``."""
    if len(condlist) != len(choicelist):
        raise ValueError(
            f"select: expected as many conditions as choices, received {len(condlist)} and "
            f"{len(choicelist)}"
        )
    out = default
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = zg.where(tensor(cond).data.astype(bool), tensor(choice), out)
    return out if isinstance(out, Tensor) else tensor(out)


@symbolic
def searchsorted(sorted_sequence, values, side="left") -> Tensor:
    """Where ``values`` would be inserted in the 1-D ``sorted_sequence`` to keep it sorted."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', received {side!r}")
    seq = tensor(sorted_sequence).numpy()
    if seq.ndim != 1:
        raise ValueError(f"searchsorted: expected a 1-D sorted_sequence, received {seq.shape}")
    out = np.searchsorted(seq, tensor(values).numpy(), side=side)
    return const(np.asarray(out, dtype=np.int32 if len(seq) < 2**31 else np.int64))


@symbolic
def digitize(x, bins) -> Tensor:
    """The index of the bin of each value (bins increasing), int32."""
    return const(np.digitize(tensor(x).numpy(), tensor(bins).numpy()).astype(np.int32))


@symbolic
def unravel_index(indices, shape) -> tuple:
    """Flat indices as a tuple of int32 coordinate tensors for ``shape``."""
    idx = tensor(indices).numpy()
    return tuple(const(a.astype(np.int32)) for a in np.unravel_index(idx, tuple(shape)))


@symbolic
def argpartition(x, kth, axis=-1) -> Tensor:
    """Indices that put the ``kth`` element in its sorted place (smaller ones before), int32."""
    a = tensor(x).numpy()
    n = a.shape[argcheck.axis("argpartition", axis, a.ndim)]
    if not -n <= kth < n:
        raise ValueError(
            f"argpartition: kth must be in [{-n}, {n}) for axis {axis}, received {kth}"
        )
    return const(np.argpartition(a, kth, axis=axis).astype(np.int32))


@symbolic
def unique(
    x,
    sorted=True,  # noqa: A002 - the Keras name
    return_index=False,
    return_inverse=False,
    return_counts=False,
    axis=None,
    size=None,
    fill_value=None,
):
    """The distinct values (sorted), optionally with first indices, inverse and counts."""
    a = tensor(x).numpy()
    out = np.unique(a, True, return_inverse, return_counts, axis=axis)
    values, index, rest = out[0], out[1], list(out[2:])
    if size is not None:  # a fixed length: padded with fill_value (the smallest value by default)
        fill = values.min() if fill_value is None and values.size else (fill_value or 0)
        pad = builtins.max(size - len(values), 0)
        values = np.concatenate([values[:size], np.full(pad, fill, values.dtype)])
        index = np.concatenate([index[:size], np.zeros(pad, index.dtype)])
        if return_counts:
            rest[-1] = np.concatenate([rest[-1][:size], np.zeros(pad, rest[-1].dtype)])
    if not sorted:
        order = np.argsort(index[: len(values)], kind="stable")
        values = values[order]
    results = [values] + ([index] if return_index else []) + rest
    results = [const(np.asarray(r)) for r in results]
    return results[0] if len(results) == 1 else tuple(results)


@symbolic
def bincount(x, weights=None, minlength=0, sparse=False) -> Tensor:
    """Counts (or summed ``weights``) of each non-negative integer in ``x``; a batch of rows for
    2-D ``x``."""
    if sparse:
        raise ValueError("bincount: sparse=True is not supported")
    idx = tensor(x).numpy()
    if idx.dtype.kind not in "iu":
        raise TypeError(f"bincount: expected integer values, received {idx.dtype}")
    n = builtins.max(int(idx.max()) + 1 if idx.size else 0, int(minlength))
    if weights is None:
        w = const(np.ones(idx.shape, dtype=np.int32))
    else:
        w = tensor(weights)
    if idx.ndim == 1:
        return scatter.eager(idx[:, None], w, (n,))
    rows = np.broadcast_to(np.arange(idx.shape[0])[:, None], idx.shape)
    where = np.stack([rows.reshape(-1), idx.reshape(-1)], -1)
    return scatter.eager(where, zg.reshape(w, (-1,)), (idx.shape[0], n))


@symbolic
def isin(x1, x2, assume_unique=False, invert=False) -> Tensor:
    """True where an entry of ``x1`` is among those of ``x2``."""
    a, b = tensor(x1).numpy(), tensor(x2).numpy()
    return const(np.isin(a, b, assume_unique=assume_unique, invert=invert))


@symbolic
def extract_sequences(x, sequence_length, sequence_stride) -> Tensor:
    """Frames of ``sequence_length`` along the last axis, ``sequence_stride`` apart."""
    x = tensor(x)
    n = (x.shape[-1] - sequence_length) // sequence_stride + 1
    idx = np.arange(n)[:, None] * sequence_stride + np.arange(sequence_length)[None, :]
    return x[(Ellipsis, idx)]
