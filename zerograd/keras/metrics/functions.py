"""Keras's metric functions: per-sample accuracy values as Tensors (``keras.metrics.*_accuracy``)."""

from __future__ import annotations

from zerograd.keras.metrics.accuracy import (
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
)
from zerograd.keras.metrics.base import to_numpy
from zerograd.tensor import Tensor


def _values(metric, y_true, y_pred) -> Tensor:
    return Tensor(metric.values(to_numpy(y_true), to_numpy(y_pred)))


def binary_accuracy(y_true, y_pred, threshold=0.5) -> Tensor:
    """1.0 where ``y_pred > threshold`` matches the binary label, else 0.0 (per element)."""
    return _values(BinaryAccuracy(threshold=threshold), y_true, y_pred)


def categorical_accuracy(y_true, y_pred) -> Tensor:
    """1.0 where the prediction's arg-max is the one-hot label's arg-max (per sample)."""
    return _values(CategoricalAccuracy(), y_true, y_pred)


def sparse_categorical_accuracy(y_true, y_pred) -> Tensor:
    """1.0 where the prediction's arg-max is the integer label (per sample)."""
    return _values(SparseCategoricalAccuracy(), y_true, y_pred)


def top_k_categorical_accuracy(y_true, y_pred, k=5) -> Tensor:
    """1.0 where the one-hot label's class is among the ``k`` highest predictions."""
    return _values(TopKCategoricalAccuracy(k=k), y_true, y_pred)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False) -> Tensor:
    """1.0 where the integer label is among the ``k`` highest predictions (or first ``k`` ids)."""
    return _values(
        SparseTopKCategoricalAccuracy(k=k, from_sorted_ids=from_sorted_ids), y_true, y_pred
    )
