"""Keras metrics: stateful objects with update_state / result / reset_state (NumPy arithmetic)."""

from __future__ import annotations

import numpy as np

from zerograd.tensor import Tensor


def _np(x) -> np.ndarray:
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


class Metric:
    def __init__(self, name: str | None = None, dtype=None):
        self.name = name or "".join(
            "_" + c.lower() if c.isupper() else c for c in type(self).__name__
        ).lstrip("_")
        self.reset_state()

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0.0

    def values(self, y_true, y_pred) -> np.ndarray:
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        v = np.asarray(self.values(_np(y_true), _np(y_pred)), dtype=np.float64)
        w = (
            np.ones_like(v)
            if sample_weight is None
            else np.broadcast_to(
                _np(sample_weight).reshape(v.shape[:1] + (1,) * (v.ndim - 1)), v.shape
            )
        )
        self.total += float((v * w).sum())
        self.count += float(w.sum())

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()


class Mean(Metric):
    def update_state(self, values, sample_weight=None) -> None:  # noqa: D102
        v = np.asarray(_np(values), dtype=np.float64).reshape(-1)
        w = (
            np.ones_like(v)
            if sample_weight is None
            else np.asarray(_np(sample_weight), dtype=np.float64).reshape(-1)
        )
        self.total += float((v * w).sum())
        self.count += float(w.sum())


class BinaryAccuracy(Metric):
    def __init__(self, name: str = "binary_accuracy", threshold: float = 0.5, **kw):
        self.threshold = threshold
        super().__init__(name, **kw)

    def values(self, y_true, y_pred):
        y_true = y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true
        return (
            ((y_pred > self.threshold) == (y_true > 0.5)).mean(axis=-1)
            if y_pred.ndim > 1
            else ((y_pred > self.threshold) == (y_true > 0.5))
        )


class CategoricalAccuracy(Metric):
    def __init__(self, name: str = "categorical_accuracy", **kw):
        super().__init__(name, **kw)

    def values(self, y_true, y_pred):
        return y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)


class SparseCategoricalAccuracy(Metric):
    def __init__(self, name: str = "sparse_categorical_accuracy", **kw):
        super().__init__(name, **kw)

    def values(self, y_true, y_pred):
        return y_true.reshape(y_pred.shape[:-1]).astype(np.int64) == y_pred.argmax(axis=-1)


class TopKCategoricalAccuracy(Metric):
    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", **kw):
        self.k = k
        super().__init__(name, **kw)

    def values(self, y_true, y_pred):
        top = np.argsort(-y_pred, axis=-1, kind="stable")[..., : self.k]
        return (top == y_true.argmax(axis=-1)[..., None]).any(axis=-1)


class MeanAbsoluteError(Metric):
    def values(self, y_true, y_pred):
        return np.abs(y_pred - y_true.reshape(y_pred.shape)).mean(axis=-1)


class MeanSquaredError(Metric):
    def values(self, y_true, y_pred):
        return ((y_pred - y_true.reshape(y_pred.shape)) ** 2).mean(axis=-1)


class _Confusion(Metric):
    """Counts of true/false positives at ``thresholds`` over all elements (binary problems)."""

    def __init__(self, thresholds=0.5, name=None, **kw):
        self.thresholds = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
        super().__init__(name, **kw)

    def reset_state(self):
        n = len(self.thresholds)
        self.tp, self.fp, self.fn, self.tn = (np.zeros(n) for _ in range(4))

    def update_state(self, y_true, y_pred, sample_weight=None):
        t = _np(y_true).reshape(-1) > 0.5
        p = _np(y_pred).reshape(-1)
        w = (
            np.ones_like(p, dtype=np.float64)
            if sample_weight is None
            else np.broadcast_to(_np(sample_weight).reshape(-1, 1), _np(y_pred).shape).reshape(-1)
        )
        pred = p[None, :] > self.thresholds[:, None]
        self.tp += (pred & t) @ w
        self.fp += (pred & ~t) @ w
        self.fn += (~pred & t) @ w
        self.tn += (~pred & ~t) @ w


class Precision(_Confusion):
    def result(self):
        d = self.tp + self.fp
        return float(np.where(d > 0, self.tp / np.maximum(d, 1e-12), 0.0)[0])


class Recall(_Confusion):
    def result(self):
        d = self.tp + self.fn
        return float(np.where(d > 0, self.tp / np.maximum(d, 1e-12), 0.0)[0])


class AUC(_Confusion):
    """ROC AUC by the trapezoid rule over ``num_thresholds`` evenly spaced thresholds (as Keras)."""

    def __init__(self, num_thresholds: int = 200, name: str = "auc", **kw):
        eps = 1e-7
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        super().__init__([-eps, *inner, 1 + eps], name, **kw)

    def result(self):
        tpr = self.tp / np.maximum(self.tp + self.fn, 1e-12)
        fpr = self.fp / np.maximum(self.fp + self.tn, 1e-12)
        return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))


NAMES = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "precision": Precision,
    "recall": Recall,
    "auc": AUC,
}


def get(identifier, loss=None, y_true=None, y_pred=None) -> Metric:
    """Resolve a metric; 'accuracy' picks binary/categorical/sparse from the loss or shapes (as Keras)."""
    if isinstance(identifier, Metric):
        return identifier
    if identifier in ("accuracy", "acc"):
        lname = getattr(loss, "name", "") or ""
        if "sparse_categorical" in lname:
            cls = SparseCategoricalAccuracy
        elif "categorical" in lname:
            cls = CategoricalAccuracy
        elif "binary" in lname:
            cls = BinaryAccuracy
        elif y_pred is not None and (y_pred.shape[-1] == 1 or y_pred.ndim == 1):
            cls = BinaryAccuracy
        elif (
            y_true is not None
            and y_pred is not None
            and tuple(np.shape(y_true)) == tuple(y_pred.shape)
        ):
            cls = CategoricalAccuracy
        else:
            cls = SparseCategoricalAccuracy
        return cls(name=identifier)
    if isinstance(identifier, str) and identifier in NAMES:
        return NAMES[identifier](name=identifier)
    if callable(identifier):
        fn = identifier

        class _FnMetric(Metric):
            def values(self, y_true, y_pred):
                return _np(fn(Tensor(y_true), Tensor(y_pred)))

        return _FnMetric(getattr(fn, "__name__", "metric"))
    raise ValueError(
        f"unknown metric: expected 'accuracy', one of {sorted(NAMES)} or a Metric, received {identifier!r}"
    )
