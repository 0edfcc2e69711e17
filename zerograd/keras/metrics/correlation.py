"""Correlation metrics: means over the data of per-sample Pearson and concordance correlations."""

from __future__ import annotations

import numpy as np

from zerograd.keras.metrics.base import MeanMetricWrapper, same_rank, to_numpy
from zerograd.tensor import Tensor

EPSILON = 1e-7  # Keras's backend.epsilon()


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_pred = to_numpy(y_pred)
    y_pred = y_pred.astype(np.float32) if y_pred.dtype.kind in "iub" else y_pred
    return same_rank(to_numpy(y_true, y_pred.dtype), y_pred)


def pearson_correlation(y_true, y_pred, axis=-1) -> Tensor:
    """Pearson correlation of labels and predictions along ``axis``."""
    y_true, y_pred = _pair(y_true, y_pred)
    t = y_true - y_true.mean(axis=axis, keepdims=True)
    p = y_pred - y_pred.mean(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = t / t.std(axis=axis, keepdims=True)
        p = p / p.std(axis=axis, keepdims=True)
    return Tensor((t * p).mean(axis=axis))


def concordance_correlation(y_true, y_pred, axis=-1) -> Tensor:
    """Lin's concordance correlation of labels and predictions along ``axis`` (as Keras computes
    it: the covariance term centres both sides on the predictions' mean)."""
    y_true, y_pred = _pair(y_true, y_pred)
    t_mean = y_true.mean(axis=axis, keepdims=True)
    p_mean = y_pred.mean(axis=axis, keepdims=True)
    t_var = (y_true - t_mean).var(axis=axis, keepdims=True)
    p_var = (y_pred - p_mean).var(axis=axis, keepdims=True)
    covar = (y_true - p_mean) * (y_pred - p_mean)
    norm = t_var + p_var + (t_mean - p_mean) ** 2
    return Tensor((2 * covar / (norm + EPSILON)).mean(axis=axis))


class _CorrelationMean(MeanMetricWrapper):
    """The mean of a per-sample correlation; its config is name, dtype and axis."""

    def result(self) -> Tensor:
        """The mean so far as a float32 Tensor (Keras returns a tensor)."""
        return Tensor(np.float32(super().result()))

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}


class PearsonCorrelation(_CorrelationMean):
    """Mean over the data of the Pearson correlation along ``axis``."""

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis


class ConcordanceCorrelation(_CorrelationMean):
    """Mean over the data of the concordance correlation along ``axis``."""

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis
