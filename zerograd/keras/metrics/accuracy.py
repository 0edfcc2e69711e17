"""Accuracy metrics: exact match, thresholded, arg-max and top-k (NumPy arithmetic)."""

from __future__ import annotations

import numpy as np

from zerograd.keras.metrics.base import _ValuesMean, same_rank


def _in_top_k(labels: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Whether each label's score is among the ``k`` largest of its row (ties count as in)."""
    scores = scores.reshape(-1, scores.shape[-1])
    labels = labels.reshape(-1).astype(np.int64)
    kth = -np.sort(-scores, axis=-1)[:, min(k, scores.shape[-1]) - 1]
    return np.take_along_axis(scores, labels[:, None], axis=-1)[:, 0] >= kth


class Accuracy(_ValuesMean):
    """How often predictions equal the labels exactly."""

    def __init__(self, name: str = "accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def values(self, y_true, y_pred):
        y_true, y_pred = same_rank(y_true.astype(y_pred.dtype), y_pred)
        return (y_true == y_pred).astype(np.float32)


class BinaryAccuracy(_ValuesMean):
    """How often ``y_pred > threshold`` equals the binary label."""

    def __init__(self, name: str = "binary_accuracy", dtype=None, threshold: float = 0.5):
        super().__init__(name=name, dtype=dtype)
        self.threshold = threshold

    def values(self, y_true, y_pred):
        y_true, y_pred = same_rank(y_true, y_pred)
        return (y_true == (y_pred > self.threshold).astype(y_true.dtype)).astype(np.float32)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(_ValuesMean):
    """How often the arg-max of the prediction equals the arg-max of the one-hot label."""

    def __init__(self, name: str = "categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def values(self, y_true, y_pred):
        return (y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)).astype(np.float32)


class SparseCategoricalAccuracy(_ValuesMean):
    """How often the arg-max of the prediction equals the integer label."""

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def values(self, y_true, y_pred):
        if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
            y_true = y_true[..., 0]
        return (y_true.astype(np.int64) == y_pred.argmax(axis=-1)).astype(np.float32)


def _positive_k(metric, k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{type(metric).__name__}: k must be a positive integer, received {k!r}")
    return int(k)


class TopKCategoricalAccuracy(_ValuesMean):
    """How often the one-hot label's class is among the ``k`` highest predictions."""

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.k = _positive_k(self, k)

    def values(self, y_true, y_pred):
        labels = y_true.argmax(axis=-1)
        return _in_top_k(labels, y_pred, self.k).reshape(labels.shape).astype(np.float32)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


class SparseTopKCategoricalAccuracy(_ValuesMean):
    """How often the integer label is among the ``k`` highest predictions (or, with
    ``from_sorted_ids``, among the first ``k`` ids of ``y_pred``)."""

    def __init__(
        self,
        k: int = 5,
        name: str = "sparse_top_k_categorical_accuracy",
        dtype=None,
        from_sorted_ids: bool = False,
    ):
        super().__init__(name=name, dtype=dtype)
        self.k, self.from_sorted_ids = _positive_k(self, k), from_sorted_ids

    def values(self, y_true, y_pred):
        shape = y_true.shape
        if self.from_sorted_ids:
            ids = y_pred.reshape(-1, y_pred.shape[-1])[:, : self.k]
            hit = (ids == y_true.reshape(-1, 1)).any(axis=-1)
        else:
            hit = _in_top_k(y_true, y_pred, self.k)
        return hit.reshape(shape).astype(np.float32)

    def get_config(self):
        config = {**super().get_config(), "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config
