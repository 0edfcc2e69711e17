"""Array utilities: ``pad_sequences``, ``to_categorical``, ``normalize`` (Keras semantics)."""

from __future__ import annotations

import numpy as np

from zerograd.tensor import Tensor


def pad_sequences(
    sequences,
    maxlen: int | None = None,
    dtype="int32",
    padding: str = "pre",
    truncating: str = "pre",
    value=0.0,
) -> np.ndarray:
    """Pad (or truncate) a list of sequences to one length: an array ``(len(sequences), maxlen,
    *item_shape)``.

    Args:
        sequences: a list of sequences (lists or arrays; items may themselves be arrays).
        maxlen: the length to pad to; the longest sequence's length when None.
        dtype: the output dtype (``object`` for strings of varying length).
        padding: ``"pre"`` or ``"post"``: where the padding goes.
        truncating: ``"pre"`` or ``"post"``: which end of a long sequence is cut.
        value: the padding value.

    Example:
        >>> pad_sequences([[1, 2], [3]], padding="post")
        array([[1, 2], [3, 0]], dtype=int32)
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError(
            f"pad_sequences: expected `sequences` to be a list of sequences, "
            f"received {type(sequences).__name__}"
        )
    if padding not in ("pre", "post"):
        raise ValueError(f"pad_sequences: expected padding 'pre' or 'post', received {padding!r}")
    if truncating not in ("pre", "post"):
        raise ValueError(
            f"pad_sequences: expected truncating 'pre' or 'post', received {truncating!r}"
        )
    if maxlen is not None and (
        isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0
    ):
        raise ValueError(
            f"pad_sequences: maxlen must be None or a non-negative integer, received "
            f"{type(maxlen).__name__} {maxlen!r}"
        )
    try:
        np.dtype(dtype)
    except TypeError:
        raise ValueError(
            f"pad_sequences: invalid dtype {dtype!r}; expected a NumPy dtype such as 'int32', "
            "'float32' or object"
        ) from None
    lengths, item_shape = [], None
    for s in sequences:
        try:
            lengths.append(len(s))
        except TypeError:
            raise ValueError(
                f"pad_sequences: expected every item of `sequences` to be a sequence, "
                f"received {s!r}"
            ) from None
        if item_shape is None and len(s):
            item_shape = np.asarray(s).shape[1:]
    item_shape = item_shape or ()
    if maxlen is None:
        if not lengths:
            raise ValueError(
                "pad_sequences: received no sequences and no maxlen; give maxlen to pad an "
                "empty list"
            )
        maxlen = int(np.max(lengths))
    is_text = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_text:
        raise ValueError(
            f"pad_sequences: dtype {dtype} cannot hold the string padding value {value!r}; "
            "use dtype=object for strings of varying length"
        )
    out = np.full((len(sequences), maxlen, *item_shape), value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s) or maxlen == 0:
            continue
        part = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        try:
            kept = np.asarray(part, dtype=dtype)
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"pad_sequences: sequence {i} cannot be stored as dtype {np.dtype(dtype)} ({e}); "
                "for strings use dtype=object"
            ) from None
        if kept.shape[1:] != item_shape:
            raise ValueError(
                f"pad_sequences: sequence {i} has items of shape {kept.shape[1:]}, "
                f"expected {item_shape} (the shape of the first non-empty sequence's items)"
            )
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, -len(kept) :] = kept
    return out


def to_categorical(x, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    """Integer class labels -> one-hot rows: shape ``x.shape + (num_classes,)``, a trailing axis
    of 1 dropped first (so ``(n, 1)`` labels give ``(n, num_classes)``), as Keras.

    Unlike Keras (float64), the result is ``dtype`` (float32 by default), zerograd's float type.

    Example:
        >>> to_categorical([0, 2], 3)
        array([[1., 0., 0.], [0., 0., 1.]], dtype=float32)
    """
    labels = np.asarray(x.numpy() if isinstance(x, Tensor) else x)
    if num_classes is not None and (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or num_classes < 0
    ):
        raise ValueError(
            f"to_categorical: num_classes must be None or a positive integer, received "
            f"{type(num_classes).__name__} {num_classes!r}"
        )
    if labels.dtype.kind not in "biuf":
        raise TypeError(
            f"to_categorical: expected integer class labels, received an array of dtype "
            f"{labels.dtype}"
        )
    if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
        raise ValueError("to_categorical: expected integer class labels, received fractions")
    labels = labels.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    if not num_classes and not flat.size:
        raise ValueError("to_categorical: received no labels; give num_classes")
    n = int(flat.max()) + 1 if not num_classes else int(num_classes)
    if flat.size and (flat.min() < 0 or flat.max() >= n):
        raise ValueError(
            f"to_categorical: expected labels in [0, {n}), received min {flat.min()} "
            f"max {flat.max()}"
        )
    out = np.zeros((flat.size, n), dtype=dtype)
    out[np.arange(flat.size), flat] = 1
    return out.reshape(*shape, n)


def normalize(x, axis: int = -1, order: int = 2) -> np.ndarray:
    """``x`` divided by its ``order``-norm along ``axis`` (zero vectors stay zero)."""
    a = np.asarray(x.numpy() if isinstance(x, Tensor) else x)
    if isinstance(order, (str, bool)) or not isinstance(order, (int, float, np.number)):
        raise ValueError(
            f"normalize: order must be a number (such as 1, 2 or np.inf), received "
            f"{type(order).__name__} {order!r}"
        )
    if not isinstance(axis, (int, np.integer)) or not -a.ndim <= axis < a.ndim:
        raise ValueError(
            f"normalize: axis {axis!r} is out of range for an array of shape {a.shape}"
        )
    norm = np.linalg.norm(a, ord=order, axis=axis, keepdims=True)
    return a / np.where(norm == 0, 1, norm)
