"""Preprocessing layers that are part of a model: Rescaling and Normalization (with ``adapt``).

Both are differentiable with respect to their input and cast integer inputs to floats.
"""

from __future__ import annotations

import numbers

import numpy as np

from zerograd import backend
from zerograd.keras.base import Layer
from zerograd.tensor import Tensor

_EPSILON = 1e-7  # Keras' backend.epsilon(): the smallest standard deviation Normalization uses


def _as_float(x: Tensor) -> Tensor:
    return x if x.dtype.kind == "f" else x.astype(backend.get_default_dtype())


def _constant(value, like: Tensor) -> Tensor:
    a = np.asarray(value, dtype=like.dtype)
    return Tensor(backend.to_device(a, like.device))


def _plain(value):
    """A config value as JSON-ready Python: arrays and tuples become lists."""
    if isinstance(value, (np.ndarray, np.generic, list, tuple)):
        return np.asarray(value).tolist()
    return value


class Rescaling(Layer):
    """outputs = inputs * scale + offset (scale and offset numbers, or per-channel lists).

    Example:
        >>> Rescaling(1 / 127.5, offset=-1)(np.array([0.0, 255.0])).numpy()
        array([-1.,  1.], dtype=float32)
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # the input's mask passes on (Keras)
        for arg, value in (("scale", scale), ("offset", offset)):
            a = np.asarray(value)
            if a.dtype.kind not in "iuf" or a.ndim > 1:
                raise TypeError(
                    f"Rescaling '{self.name}': {arg} must be a number or a list of numbers, "
                    f"received {value!r}"
                )
        self.scale, self.offset = scale, offset

    def call(self, inputs):
        x = _as_float(inputs)
        return x * _constant(self.scale, x) + _constant(self.offset, x)

    def get_config(self):
        return {**super().get_config(), "scale": _plain(self.scale), "offset": _plain(self.offset)}


def _batches(layer: str, data):
    """The arrays of ``data``: one array or tensor, or an iterable of batches (x or (x, y))."""
    if isinstance(data, (np.ndarray, Tensor)):
        yield np.asarray(backend.to_numpy(data.data if isinstance(data, Tensor) else data))
        return
    if isinstance(data, (str, bytes, dict)) or not hasattr(data, "__iter__"):
        if not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
            raise TypeError(
                f"{layer}: adapt expected an array, a tensor or an iterable of batches, "
                f"received {type(data).__name__}"
            )
        data = (data[i] for i in range(len(data)))  # a PyDataset-like sequence of batches
    empty = True
    for batch in data:
        if isinstance(batch, tuple):
            batch = batch[0]
        if isinstance(batch, Tensor):
            batch = batch.numpy()
        if not hasattr(batch, "shape"):
            raise TypeError(
                f"{layer}: adapt expected batches of arrays, received a {type(batch).__name__}"
            )
        empty = False
        yield np.asarray(batch)
    if empty:
        raise ValueError(f"{layer}: adapt received no data (an empty iterable of batches)")


class Normalization(Layer):
    """outputs = (inputs - mean) / sqrt(variance), per index of ``axis`` (the features).

    ``mean`` and ``variance`` are given, or learnt by ``adapt(data)`` (then stored as the
    non-trainable weights mean, variance, count as in Keras). ``invert=True`` maps back:
    outputs = mean + inputs * sqrt(variance).

    Example:
        >>> norm = Normalization(); norm.adapt(np.array([[0.0], [2.0]])); norm([[4.0]]).numpy()
        array([[3.]], dtype=float32)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # the input's mask passes on (Keras)
        if axis is None:
            axis = ()
        elif isinstance(axis, numbers.Integral):
            axis = (int(axis),)
        elif isinstance(axis, (tuple, list)) and all(isinstance(a, numbers.Integral) for a in axis):
            axis = tuple(int(a) for a in axis)
        else:
            raise TypeError(
                f"Normalization '{self.name}': axis must be an int, a tuple of ints or None, "
                f"received {axis!r}"
            )
        self.axis, self.invert = axis, bool(invert)
        if (mean is None) != (variance is None):
            raise ValueError(
                f"Normalization '{self.name}': give both mean and variance or neither, "
                f"received mean={mean!r} and variance={variance!r}"
            )
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(
                    f"Normalization '{self.name}': mean and variance must have the same shape, "
                    f"received {np.shape(mean)} and {np.shape(variance)}"
                )
            if np.ndim(mean) > len(self.axis):
                raise ValueError(
                    f"Normalization '{self.name}': mean may have at most {len(self.axis)} axes "
                    f"(one per entry of axis={self.axis}), received shape {np.shape(mean)}"
                )
        self.input_mean, self.input_variance = mean, variance
        self._build_shape = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(
                f"Normalization '{self.name}': axis {self.axis} is out of range for inputs of "
                f"rank {ndim} (shape {tuple(input_shape)})"
            )
        self._build_shape = tuple(input_shape)
        self._keep = tuple(sorted(a % ndim for a in self.axis))
        self._reduce = tuple(d for d in range(ndim) if d not in self._keep)
        self._broadcast = tuple(input_shape[d] if d in self._keep else 1 for d in range(ndim))
        stats_shape = tuple(input_shape[d] for d in self._keep)
        if self.input_mean is None:  # learnt by adapt(); Keras' weight names and order
            d = self.__dict__  # kept off Module attributes: add_weight registers each once
            d["_mean"] = self.add_weight(
                name="mean", shape=stats_shape, initializer="zeros", trainable=False
            )
            d["_variance"] = self.add_weight(
                name="variance", shape=stats_shape, initializer="ones", trainable=False
            )
            d["_count"] = self.add_weight(  # kept at 0, as Keras keeps it (old saved models)
                name="count", shape=(), dtype="int32", initializer="zeros", trainable=False
            )
        else:  # given values align with the kept axes from the right
            expanded = [1] * ndim
            for i in range(1, np.ndim(self.input_mean) + 1):
                expanded[self._keep[-i]] = np.shape(self.input_mean)[-i]
            try:
                mean = np.broadcast_to(np.reshape(self.input_mean, expanded), self._broadcast)
                var = np.broadcast_to(np.reshape(self.input_variance, expanded), self._broadcast)
            except ValueError:
                raise ValueError(
                    f"Normalization '{self.name}': mean of shape {np.shape(self.input_mean)} does "
                    f"not broadcast to the kept axes {self._keep} of inputs of shape "
                    f"{tuple(input_shape)}"
                ) from None
            self._fixed = (mean, var)
        self.built = True

    def _stats(self) -> tuple[np.ndarray, np.ndarray]:
        if self.input_mean is not None:
            return self._fixed
        mean = backend.to_numpy(self.__dict__["_mean"].data).reshape(self._broadcast)
        var = backend.to_numpy(self.__dict__["_variance"].data).reshape(self._broadcast)
        return mean, var

    def adapt(self, data) -> None:
        """Set mean and variance to those of ``data`` over every axis but ``axis``; ``data`` is an
        array or tensor, or an iterable of batches (merged with the parallel variance formula)."""
        what = f"Normalization '{self.name}'"
        if self.input_mean is not None:
            raise ValueError(f"{what}: adapt cannot change a mean and variance given to __init__")
        total = 0
        mean = var = None
        for batch in _batches(what, data):
            if not self.built:
                self.build(batch.shape)
            if batch.ndim != len(self._build_shape) or any(
                batch.shape[d] != self._build_shape[d] for d in self._keep
            ):
                raise ValueError(
                    f"{what} was built for inputs of shape {self._build_shape} (axis "
                    f"{self.axis}), adapt received a batch of shape {batch.shape}"
                )
            if batch.dtype.kind not in "biuf":
                raise TypeError(
                    f"{what}: adapt expected numeric data, received dtype {batch.dtype}"
                )
            batch = batch.astype(np.float64)
            n = int(np.prod([batch.shape[d] for d in self._reduce]))
            if n == 0:
                raise ValueError(
                    f"{what}: adapt received a batch of shape {batch.shape} with no samples"
                )
            b_mean, b_var = batch.mean(axis=self._reduce), batch.var(axis=self._reduce)
            if mean is None:
                total, mean, var = n, b_mean, b_var
                continue
            total += n
            w = n / total
            new_mean = mean * (1 - w) + b_mean * w
            var = (var + (mean - new_mean) ** 2) * (1 - w) + (b_var + (b_mean - new_mean) ** 2) * w
            mean = new_mean
        self.__dict__["_mean"].copy_(mean.astype(self.__dict__["_mean"].dtype))
        self.__dict__["_variance"].copy_(var.astype(self.__dict__["_variance"].dtype))

    def call(self, inputs):
        x = _as_float(inputs)
        if x.ndim != len(self._build_shape) or any(
            x.shape[d] != self._build_shape[d] for d in self._keep
        ):
            raise ValueError(
                f"Normalization '{self.name}' was built for inputs of shape {self._build_shape} "
                f"(axis {self.axis}), received shape {tuple(x.shape)}"
            )
        mean, var = self._stats()
        std = np.maximum(np.sqrt(var), _EPSILON)
        if self.invert:
            return x * _constant(std, x) + _constant(mean, x)
        return (x - _constant(mean, x)) / _constant(std, x)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": list(self.axis),
            "invert": self.invert,
            "mean": _plain(self.input_mean),
            "variance": _plain(self.input_variance),
        }
