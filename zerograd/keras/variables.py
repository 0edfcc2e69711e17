"""Keras weights: a Parameter with Keras's name, path, string dtype and ``assign`` methods."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from zerograd import backend, versions
from zerograd.keras import devices as keras_device
from zerograd.nn.parameter import Parameter
from zerograd.tensor import Tensor

_AGGREGATIONS = (None, "none", "mean", "sum", "only_first_replica")
_auto_names: dict = defaultdict(int)


def _auto_name(base: str) -> str:
    n = _auto_names[base]
    _auto_names[base] += 1
    return base if n == 0 else f"{base}_{n}"


class DTypeName(str):
    """A dtype spelled as Keras spells it (``"float32"``) that also answers as a NumPy dtype
    (``.kind``, ``.itemsize``, ``== np.float32``), so zerograd's internals accept it."""

    def __new__(cls, dtype):
        return super().__new__(cls, np.dtype(dtype).name)

    def __eq__(self, other):
        if isinstance(other, str):
            return str.__eq__(self, other)
        try:
            return np.dtype(str(self)) == other
        except TypeError:
            return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = str.__hash__

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(np.dtype(str(self)), attr)


class Variable(Parameter):
    """A Keras weight (``keras.Variable``): trainable weights require gradients.

    Args:
        initializer: an initializer (name, object or callable taking ``(shape, dtype)``) or the
            initial value (array or Tensor).
        shape: the shape, needed with an initializer; read from a value otherwise.
        dtype: e.g. ``"float32"`` (default: the value's, else the default float dtype).
        trainable: whether optimisers update it (``fit`` trains only trainable weights).
        name: the weight's name (``"kernel"``); ``"variable"``, ``"variable_1"``... when absent.

    Example:
        >>> v = keras.Variable("zeros", shape=(2,), name="total")
        >>> v.assign_add(np.ones(2)).numpy()
        array([1., 1.], dtype=float32)
    """

    def __init__(
        self,
        initializer,
        shape=None,
        dtype=None,
        trainable: bool = True,
        autocast: bool = True,
        aggregation="none",
        name: str | None = None,
    ):
        if aggregation not in _AGGREGATIONS:
            raise ValueError(
                f"Variable: aggregation must be one of {_AGGREGATIONS}, received {aggregation!r}"
            )
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(f"Variable: name must be a string without '/', received {name!r}")
        value = _initial_value(initializer, shape, dtype)
        super().__init__(backend.to_device(value, keras_device.current()), requires_grad=False)
        self.name = name or _auto_name("variable")
        self.path = self.name
        self.autocast, self.aggregation = autocast, aggregation
        self.regularizer = None
        self.constraint = None
        self.trainable = trainable

    # --- Keras attributes ------------------------------------------------------------------------
    @property
    def dtype(self) -> DTypeName:
        return DTypeName(self.data.dtype)

    @property
    def trainable(self) -> bool:
        return self.requires_grad if self.data.dtype.kind in "fc" else self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        # only float weights take gradients: an int counter stays trainable=False to autograd
        self.requires_grad = self._trainable and self.data.dtype.kind in "fc"

    @property
    def value(self) -> Tensor:
        """The current value (this variable, usable in any op)."""
        return self

    # --- updates (in place, outside the graph, as Keras's assign) --------------------------------
    def assign(self, value) -> Variable:
        """Overwrite the value; the shape must match."""
        array = value.data if isinstance(value, Tensor) else self.xp.asarray(value)
        if tuple(array.shape) != tuple(self.shape):
            raise ValueError(
                f"Variable '{self.path}'.assign: expected a value of shape {tuple(self.shape)}, "
                f"received shape {tuple(array.shape)}"
            )
        self.data[...] = backend.to_device(array.astype(self.data.dtype, copy=False), self.device)
        versions.bump(self.data)  # a graph that saved the variable sees the change
        return self

    def assign_add(self, value) -> Variable:
        """``variable += value``, in place."""
        array = value.data if isinstance(value, Tensor) else self.xp.asarray(value)
        return self.assign(self.data + array)

    def assign_sub(self, value) -> Variable:
        """``variable -= value``, in place."""
        array = value.data if isinstance(value, Tensor) else self.xp.asarray(value)
        return self.assign(self.data - array)

    def __repr__(self) -> str:
        return (
            f"<Variable path={self.path}, shape={tuple(self.shape)}, dtype={self.dtype}, "
            f"value={np.array2string(np.asarray(self.numpy()), threshold=6)}>"
        )


def _initial_value(initializer, shape, dtype):
    """The initial array: a given value, or ``initializer(shape, dtype)``."""
    from zerograd.keras import initializers

    dtype = backend.as_dtype(dtype)
    if isinstance(initializer, (Tensor, np.ndarray, list, float, int)) or backend.is_device_array(
        initializer
    ):
        value = initializer.data if isinstance(initializer, Tensor) else np.asarray(initializer)
        if dtype is None and value.dtype == np.float64:
            dtype = backend.get_default_dtype()
        value = value if dtype is None else value.astype(dtype)
        if shape is not None and tuple(shape) != tuple(value.shape):
            raise ValueError(
                f"Variable: the initial value has shape {tuple(value.shape)}, but shape={shape}"
            )
        return value
    if shape is None:
        raise ValueError("Variable: shape is required when the initializer is not a value")
    shape = tuple(int(d) for d in shape)
    dtype = dtype or backend.get_default_dtype()
    value = initializers.get(initializer)(shape, dtype=dtype)
    value = value.data if isinstance(value, Tensor) else np.asarray(value)
    return value.astype(dtype, copy=False)
