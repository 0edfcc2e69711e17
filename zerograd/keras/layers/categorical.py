"""Keras categorical preprocessing layers: CategoryEncoding (integer tokens -> one-hot, multi-hot or
count vectors) and Discretization (floats -> bucket indices). They hold no weights and pass no
gradient: their outputs are new constants."""

from __future__ import annotations

import numbers

import numpy as np

from zerograd import backend
from zerograd.keras.base import Layer
from zerograd.tensor import Tensor

_MODES = ("one_hot", "multi_hot", "count")


def encode(layer, indices, depth: int, output_mode: str, dtype, count_weights=None,
           skip_negative: bool = False):  # fmt: skip
    """Integer ``indices`` (an array) as Keras encodes categories: ``one_hot`` adds an axis of
    ``depth`` (a trailing axis of 1 is replaced); ``multi_hot``/``count`` reduce axis 1 (axis 0
    of a rank-1 input) to ``depth`` indicators or counts. ``skip_negative``: -1 counts nowhere
    (a lookup's mask token)."""
    xp = np if isinstance(indices, np.ndarray) else backend.namespace(indices)
    low = -1 if skip_negative else 0
    if indices.size and (indices.min() < low or indices.max() >= depth):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': token indices must be in [0, {depth}), "
            f"received values from {int(indices.min())} to {int(indices.max())}"
        )
    if indices.ndim == 0:
        indices = indices[None]
    if output_mode == "one_hot" and indices.ndim > 1 and indices.shape[-1] == 1:
        indices = indices[..., 0]
    hot = (indices[..., None] == xp.arange(depth)).astype(dtype)  # (..., depth)
    if output_mode == "one_hot":
        return hot
    if count_weights is not None:
        hot = hot * count_weights[..., None]
    axis = 1 if indices.ndim > 1 else 0
    return hot.max(axis=axis) if output_mode == "multi_hot" else hot.sum(axis=axis)


def _array(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _check_mode(layer, output_mode, allowed) -> str:
    if output_mode not in allowed:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': output_mode must be one of {allowed}, "
            f"received output_mode={output_mode!r}"
        )
    return output_mode


def _no_sparse(layer, sparse) -> None:
    if sparse:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': sparse outputs are not supported, "
            f"received sparse={sparse!r}"
        )


class CategoryEncoding(Layer):
    """Integer tokens in [0, num_tokens) as one-hot, multi-hot (default) or count vectors.

    Example:
        >>> CategoryEncoding(4, output_mode='count')(np.array([[0, 1, 1], [3, 3, 2]])).numpy()
        array([[1., 2., 0., 0.],
               [0., 0., 1., 2.]], dtype=float32)
    """

    def __init__(self, num_tokens=None, output_mode: str = "multi_hot", sparse: bool = False,
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        me = f"CategoryEncoding '{self.name}'"
        output_mode = "multi_hot" if output_mode == "binary" else output_mode
        self.output_mode = _check_mode(self, output_mode, _MODES)
        if (
            isinstance(num_tokens, bool)
            or not isinstance(num_tokens, numbers.Integral)
            or (num_tokens < 1)
        ):
            raise ValueError(f"{me}: num_tokens must be a positive int, received {num_tokens!r}")
        _no_sparse(self, sparse)
        self.num_tokens, self.sparse = int(num_tokens), False

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(
                f"CategoryEncoding '{self.name}': count_weights needs output_mode='count', "
                f"received output_mode={self.output_mode!r}"
            )
        x = _array(inputs)
        x = x.astype("int64") if x.dtype.kind == "f" else x
        w = None if count_weights is None else _array(count_weights).astype(self.compute_dtype)
        if w is not None and w.shape != x.shape:
            raise ValueError(
                f"CategoryEncoding '{self.name}': count_weights must have the inputs' shape "
                f"{tuple(x.shape)}, received shape {tuple(w.shape)}"
            )
        y = encode(self, x, self.num_tokens, self.output_mode, self.compute_dtype, w)
        return Tensor(y)

    def get_config(self):
        return {
            **super().get_config(),
            "num_tokens": self.num_tokens,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
        }


class Discretization(Layer):
    """Floats as the index of their bucket: ``bin_boundaries`` [b0, b1, ...] make buckets
    (-inf, b0), [b0, b1), ..., [bn, inf); or ``num_bins`` quantile buckets learned by ``adapt``.

    Example:
        >>> Discretization([0.0, 1.0])(np.array([[-0.5, 0.5, 2.0]])).numpy()
        array([[0, 1, 2]], dtype=int32)
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon: float = 0.01,
                 output_mode: str = "int", sparse: bool = False, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        me = f"Discretization '{self.name}'"
        self.output_mode = _check_mode(self, output_mode, ("int", *_MODES))
        _no_sparse(self, sparse)
        if (bin_boundaries is None) == (num_bins is None):
            raise ValueError(
                f"{me}: give exactly one of bin_boundaries and num_bins, received "
                f"bin_boundaries={bin_boundaries!r} and num_bins={num_bins!r}"
            )
        if num_bins is not None and (
            isinstance(num_bins, bool) or not isinstance(num_bins, numbers.Integral) or num_bins < 1
        ):
            raise ValueError(f"{me}: num_bins must be a positive int, received {num_bins!r}")
        if bin_boundaries is not None:
            try:
                b = [float(v) for v in bin_boundaries]
            except (TypeError, ValueError):
                raise TypeError(
                    f"{me}: bin_boundaries must be a list of numbers, received {bin_boundaries!r}"
                ) from None
            if any(x > y for x, y in zip(b, b[1:])):
                raise ValueError(
                    f"{me}: bin_boundaries must be sorted, received {list(bin_boundaries)!r}"
                )
            bin_boundaries = b
        self.bin_boundaries, self.num_bins, self.epsilon = bin_boundaries, num_bins, epsilon
        self.sparse = False

    def adapt(self, data, steps=None) -> None:
        """Learn ``num_bins`` buckets of about equal counts from ``data`` (an array, or an iterable
        of batches): the boundaries are the data's quantiles."""
        if self.num_bins is None:
            raise ValueError(
                f"Discretization '{self.name}': adapt needs num_bins; this layer was given "
                "bin_boundaries"
            )
        if isinstance(data, (np.ndarray, Tensor)):
            batches = [data]
        else:
            batches = [b for i, b in enumerate(data) if steps is None or i < steps]
        values = np.concatenate([np.asarray(_array(b), "float64").reshape(-1) for b in batches])
        if values.size == 0:
            raise ValueError(f"Discretization '{self.name}': adapt received no data")
        q = np.arange(1, self.num_bins) / self.num_bins
        self.bin_boundaries = np.quantile(values, q).astype("float32").tolist()

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError(
                f"Discretization '{self.name}': call adapt(data) (or give bin_boundaries) before "
                "using the layer"
            )
        x = _array(inputs)
        x = x if x.dtype.kind == "f" else x.astype("float32")
        xp = np if isinstance(x, np.ndarray) else backend.namespace(x)
        idx = xp.searchsorted(xp.asarray(self.bin_boundaries, x.dtype), x, side="right")
        if self.output_mode == "int":
            return Tensor(idx.astype("int32"))
        depth = len(self.bin_boundaries) + 1
        return Tensor(encode(self, idx, depth, self.output_mode, self.compute_dtype))

    def get_config(self):
        return {
            **super().get_config(),
            "bin_boundaries": self.bin_boundaries,
            "num_bins": self.num_bins,
            "epsilon": self.epsilon,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
        }

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        learned = config.get("bin_boundaries") if config.get("num_bins") is not None else None
        if learned is not None:  # an adapted layer: rebuild from num_bins, then restore the buckets
            config.pop("bin_boundaries")
        layer = cls(**config)
        if learned is not None:
            layer.bin_boundaries = list(learned)
        return layer
