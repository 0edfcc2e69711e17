"""Regression metrics: means of per-sample errors over the last axis (NumPy arithmetic)."""

from __future__ import annotations

import math

import numpy as np

from zerograd.keras.metrics.base import Mean, _ValuesMean, same_rank, to_numpy

EPSILON = 1e-7  # Keras's backend.epsilon()


class _Error(_ValuesMean):
    """Mean over the data of ``error(y_true, y_pred)`` averaged over the last axis."""

    default_name = ""

    def __init__(self, name: str | None = None, dtype=None):
        super().__init__(name=name or self.default_name, dtype=dtype)

    def values(self, y_true, y_pred):
        y_true, y_pred = same_rank(y_true.astype(np.float64), y_pred.astype(np.float64))
        return self.error(y_true, y_pred).mean(axis=-1)

    def error(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class MeanSquaredError(_Error):
    """Mean of ``(y_true - y_pred) ** 2``."""

    default_name = "mean_squared_error"

    def error(self, y_true, y_pred):
        return (y_pred - y_true) ** 2


class MeanAbsoluteError(_Error):
    """Mean of ``|y_true - y_pred|``."""

    default_name = "mean_absolute_error"

    def error(self, y_true, y_pred):
        return np.abs(y_pred - y_true)


class MeanAbsolutePercentageError(_Error):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, epsilon))``."""

    default_name = "mean_absolute_percentage_error"

    def error(self, y_true, y_pred):
        return 100.0 * np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), EPSILON))


class MeanSquaredLogarithmicError(_Error):
    """Mean of ``(log(1 + y_pred) - log(1 + y_true)) ** 2`` (values floored at epsilon)."""

    default_name = "mean_squared_logarithmic_error"

    def error(self, y_true, y_pred):
        first = np.log(np.maximum(y_pred, EPSILON) + 1.0)
        second = np.log(np.maximum(y_true, EPSILON) + 1.0)
        return (first - second) ** 2


class LogCoshError(_Error):
    """Mean of ``log(cosh(y_pred - y_true))``."""

    default_name = "logcosh"

    def error(self, y_true, y_pred):
        x = y_pred - y_true
        return x + np.logaddexp(0.0, -2.0 * x) - math.log(2.0)


class RootMeanSquaredError(Mean):
    """Square root of the (weighted) mean of ``(y_true - y_pred) ** 2``."""

    def __init__(self, name: str = "root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = same_rank(to_numpy(y_true, np.float64), to_numpy(y_pred, np.float64))
        super().update_state((y_pred - y_true) ** 2, sample_weight)

    def result(self) -> float:
        return math.sqrt(super().result())


def _l2_normalize(x: np.ndarray, axis: int) -> np.ndarray:
    inv = 1.0 / np.sqrt(np.maximum((x * x).sum(axis=axis, keepdims=True), 1e-300))
    return x * np.minimum(inv, 1.0 / EPSILON)


class CosineSimilarity(_ValuesMean):
    """Mean cosine similarity between labels and predictions along ``axis``."""

    def __init__(self, name: str = "cosine_similarity", dtype=None, axis: int = -1):
        super().__init__(name=name, dtype=dtype)
        self.axis = axis

    def values(self, y_true, y_pred):
        y_true, y_pred = same_rank(y_true.astype(np.float64), y_pred.astype(np.float64))
        return (_l2_normalize(y_true, self.axis) * _l2_normalize(y_pred, self.axis)).sum(
            axis=self.axis
        )

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
