"""The Keras Metric protocol: state variables made by ``add_variable``, ``update_state``, ``result``,
``reset_state``; and the reducing metrics ``Sum``, ``Mean`` and ``MeanMetricWrapper``."""

from __future__ import annotations

import numpy as np

from zerograd.keras.base import snake_case
from zerograd.tensor import Tensor


def to_numpy(x, dtype=None) -> np.ndarray:
    """A NumPy array of ``x`` (Tensor, array or number)."""
    a = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    return a if dtype is None else a.astype(dtype, copy=False)


def same_rank(a: np.ndarray, b: np.ndarray, expand_rank_1: bool = True):
    """Squeeze (or, for rank 1, expand) a trailing axis of 1 when the ranks differ by one."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        if b.ndim == 1 and expand_rank_1:
            b = b[:, None]
        else:
            a = a[..., 0]
    elif b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        if a.ndim == 1 and expand_rank_1:
            a = a[:, None]
        else:
            b = b[..., 0]
    return a, b


class MetricVariable(Tensor):
    """A metric's state: a Tensor changed in place by ``assign``, ``assign_add``, ``assign_sub``."""

    def __init__(self, value, name: str | None = None, aggregation: str = "sum"):
        super().__init__(np.asarray(value))
        self.name, self.aggregation, self.trainable = name, aggregation, False

    def _coerce(self, value) -> np.ndarray:
        a = to_numpy(value)
        try:
            return np.broadcast_to(a, self.shape).astype(self.dtype)
        except ValueError:
            raise ValueError(
                f"MetricVariable '{self.name}': expected a value of shape {self.shape}, "
                f"received shape {a.shape}"
            ) from None

    def assign(self, value) -> MetricVariable:
        """Replace the value (the old array is left alone, so earlier results keep theirs)."""
        self.data = self._coerce(value)
        return self

    def assign_add(self, value) -> MetricVariable:
        self.data = (self.data + self._coerce(value)).astype(self.dtype)
        return self

    def assign_sub(self, value) -> MetricVariable:
        self.data = (self.data - self._coerce(value)).astype(self.dtype)
        return self

    @property
    def value(self) -> Tensor:
        """The current value as a plain Tensor."""
        return Tensor._make(self.data)

    def __repr__(self) -> str:
        return f"<MetricVariable name={self.name}, shape={self.shape}, value={self.numpy()}>"


class Metric:
    """Base of Keras metrics: create state with ``add_variable`` in ``__init__``; define
    ``update_state(y_true, y_pred, sample_weight=None)`` and ``result()``.

    Example:
        >>> class Count(keras.metrics.Metric):
        ...     def __init__(self, name="count"):
        ...         super().__init__(name=name)
        ...         self.n = self.add_variable(shape=(), initializer="zeros", name="n")
        ...     def update_state(self, y_true, y_pred, sample_weight=None):
        ...         self.n.assign_add(len(y_true))
        ...     def result(self):
        ...         return self.n.value
    """

    def __init__(self, dtype=None, name: str | None = None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: name must be a string, received {name!r}")
        self.name = name or snake_case(type(self).__name__)
        self._dtype = np.dtype(dtype or "float32").name
        self._variables: list[MetricVariable] = []

    @property
    def dtype(self) -> str:
        return self._dtype

    def add_variable(
        self, shape, initializer, dtype=None, aggregation: str = "sum", name: str | None = None
    ) -> MetricVariable:
        """A new state variable of ``shape`` filled by ``initializer`` (tracked in ``variables``)."""
        from zerograd.keras import initializers

        if "_variables" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}: call super().__init__() before add_variable()"
            )
        if aggregation not in ("none", "mean", "sum", "only_first_replica"):
            raise ValueError(
                f"{type(self).__name__}.add_variable: expected aggregation in 'none', 'mean', "
                f"'sum', 'only_first_replica', received {aggregation!r}"
            )
        shape = (
            tuple(shape) if isinstance(shape, (list, tuple)) else (() if shape is None else shape)
        )
        dtype = np.dtype(dtype or self._dtype)
        value = np.asarray(to_numpy(initializers.get(initializer)(shape, dtype=dtype)), dtype)
        variable = MetricVariable(value, name=name, aggregation=aggregation)
        self._variables.append(variable)
        return variable

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None) -> MetricVariable:
        """``add_variable`` with zeros by default (older Keras name)."""
        return self.add_variable(shape, initializer or "zeros", dtype=dtype, name=name)

    @property
    def variables(self) -> list:
        """This metric's state variables, then those of the metrics held in its attributes."""
        out = list(self.__dict__.get("_variables", []))
        for value in self.__dict__.values():
            if isinstance(value, Metric) and value is not self:
                out.extend(value.variables)
        return out

    def reset_state(self) -> None:
        """Set every state variable back to zeros."""
        for v in self.variables:
            v.assign(np.zeros(v.shape, v.dtype))

    def update_state(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not define update_state()")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} does not define result()")

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        """Rebuild the metric from ``get_config()``."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def samplewise(values: np.ndarray, sample_weight, reduce, owner: str = "Metric"):
    """Weighted per-sample values and the per-sample weights (None when unweighted), as Keras's
    reducing metrics compute them."""
    values = np.asarray(values, dtype=np.float64)
    weight = None
    if sample_weight is not None:
        weight = to_numpy(sample_weight, np.float64)
        values, weight = same_rank(values, weight)
        if values.ndim > weight.ndim:
            values = reduce(values, axis=tuple(range(weight.ndim, values.ndim)))
        try:
            weight = np.broadcast_to(weight, values.shape)
        except ValueError:
            raise ValueError(
                f"{owner}: sample_weight of shape {np.shape(sample_weight)} does not broadcast "
                f"against the per-sample values of shape {values.shape}"
            ) from None
        values = values * weight
        if weight.ndim > 1:
            weight = reduce(weight, axis=tuple(range(1, weight.ndim)))
    if values.ndim > 1:
        values = reduce(values, axis=tuple(range(1, values.ndim)))
    return values, weight


class Sum(Metric):
    """The (weighted) sum of the values seen."""

    def __init__(self, name: str = "sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", name="total")

    def update_state(self, values, sample_weight=None) -> None:
        v, _ = samplewise(to_numpy(values), sample_weight, np.sum, type(self).__name__)
        self.total.assign_add(v.sum())

    def result(self) -> float:
        return float(self.total.item())


class Mean(Metric):
    """The (weighted) mean of the values seen."""

    def __init__(self, name: str = "mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", name="total")
        self.count = self.add_variable((), "zeros", name="count")

    def update_state(self, values, sample_weight=None) -> None:
        v, w = samplewise(to_numpy(values), sample_weight, np.mean, type(self).__name__)
        self.total.assign_add(v.sum())
        self.count.assign_add(w.sum() if w is not None else (v.shape[0] if v.ndim else 1))

    def result(self) -> float:
        count = float(self.count.item())
        return float(self.total.item()) / count if count else 0.0


class _ValuesMean(Mean):
    """A Mean over per-sample values ``values(y_true, y_pred)`` computed with NumPy."""

    def values(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = to_numpy(y_true), to_numpy(y_pred)
        try:
            values = np.asarray(self.values(y_true, y_pred))
        except ValueError as e:
            if "broadcast" not in str(e):
                raise
            raise ValueError(
                f"{type(self).__name__} '{self.name}': y_true of shape {np.shape(y_true)} and "
                f"y_pred of shape {np.shape(y_pred)} do not match ({e})"
            ) from None
        weight = self._mask_weight(y_true, sample_weight)
        Mean.update_state(self, values, weight)

    def _mask_weight(self, y_true, sample_weight):
        return sample_weight

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}


class MeanMetricWrapper(_ValuesMean):
    """The mean of ``fn(y_true, y_pred, **kwargs)`` (per-sample values) over the data seen."""

    def __init__(self, fn, name: str | None = None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(
                f"MeanMetricWrapper: fn must be callable f(y_true, y_pred), received {fn!r}"
            )
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)
        self._fn, self._fn_kwargs = fn, kwargs

    def values(self, y_true, y_pred):
        out = self._fn(Tensor(y_true), Tensor(y_pred), **self._fn_kwargs)
        return to_numpy(out)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "fn": self._fn, **self._fn_kwargs}
