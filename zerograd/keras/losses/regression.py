"""Regression losses: squared, absolute, percentage, logarithmic, cosine, Huber and log-cosh."""

from __future__ import annotations

import math

import zerograd as zg
from zerograd.keras.losses.loss import LossFunctionWrapper, pred_and_true
from zerograd.keras.ops.activations import softplus
from zerograd.keras.ops.core import EPSILON
from zerograd.keras.ops.nn import normalize
from zerograd.keras.ops.symbolic import symbolic
from zerograd.tensor import Tensor


@symbolic
def mean_squared_error(y_true, y_pred) -> Tensor:
    """mean((y_true - y_pred)**2) over the last axis."""
    y_true, y_pred = pred_and_true(y_true, y_pred, same_rank=True)
    d = y_true - y_pred
    return zg.mean(d * d, -1)


@symbolic
def mean_absolute_error(y_true, y_pred) -> Tensor:
    """mean(|y_true - y_pred|) over the last axis."""
    y_true, y_pred = pred_and_true(y_true, y_pred, same_rank=True)
    return zg.mean(zg.abs(y_true - y_pred), -1)


@symbolic
def mean_absolute_percentage_error(y_true, y_pred) -> Tensor:
    """100 * mean(|(y_true - y_pred) / max(|y_true|, eps)|) over the last axis."""
    y_true, y_pred = pred_and_true(y_true, y_pred, same_rank=True)
    diff = zg.abs((y_true - y_pred) / zg.maximum(zg.abs(y_true), EPSILON))
    return zg.mean(diff, -1) * 100.0


@symbolic
def mean_squared_logarithmic_error(y_true, y_pred) -> Tensor:
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2) over the last axis."""
    y_true, y_pred = pred_and_true(y_true, y_pred, same_rank=True)
    d = zg.log(zg.maximum(y_pred, EPSILON) + 1.0) - zg.log(zg.maximum(y_true, EPSILON) + 1.0)
    return zg.mean(d * d, -1)


@symbolic
def cosine_similarity(y_true, y_pred, axis=-1) -> Tensor:
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred)) along ``axis`` (-1: most similar)."""
    y_true, y_pred = pred_and_true(y_true, y_pred, same_rank=True)
    return -zg.sum(normalize(y_true, axis=axis) * normalize(y_pred, axis=axis), axis)


@symbolic
def huber(y_true, y_pred, delta=1.0) -> Tensor:
    """mean(0.5 e**2 if |e| <= delta else delta |e| - 0.5 delta**2) over the last axis."""
    y_true, y_pred = pred_and_true(y_true, y_pred, same_rank=True)
    error = y_pred - y_true
    abs_error = zg.abs(error)
    small = abs_error.data <= delta
    quadratic = error * error * 0.5
    linear = abs_error * float(delta) - 0.5 * float(delta) ** 2
    return zg.mean(zg.where(small, quadratic, linear), -1)


@symbolic
def log_cosh(y_true, y_pred) -> Tensor:
    """mean(log(cosh(y_pred - y_true))) over the last axis, computed without overflow."""
    y_true, y_pred = pred_and_true(y_true, y_pred, same_rank=True)
    x = y_pred - y_true
    return zg.mean(x + softplus(x * -2.0) - math.log(2.0), -1)


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors (``mean_squared_error``), reduced over the batch."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors (``mean_absolute_error``)."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """Mean absolute percentage error (``mean_absolute_percentage_error``)."""

    def __init__(
        self,
        reduction="sum_over_batch_size",
        name="mean_absolute_percentage_error",
        dtype=None,
    ):
        super().__init__(
            mean_absolute_percentage_error, name=name, reduction=reduction, dtype=dtype
        )


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """Mean squared logarithmic error (``mean_squared_logarithmic_error``)."""

    def __init__(
        self,
        reduction="sum_over_batch_size",
        name="mean_squared_logarithmic_error",
        dtype=None,
    ):
        super().__init__(
            mean_squared_logarithmic_error, name=name, reduction=reduction, dtype=dtype
        )


class CosineSimilarity(LossFunctionWrapper):
    """Negative cosine similarity along ``axis`` (``cosine_similarity``)."""

    _config_keys = ("axis",)

    def __init__(
        self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None
    ):
        super().__init__(cosine_similarity, name=name, reduction=reduction, dtype=dtype, axis=axis)


class Huber(LossFunctionWrapper):
    """Huber loss: quadratic within ``delta`` of the target, linear beyond (``huber``)."""

    _config_keys = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)


class LogCosh(LossFunctionWrapper):
    """Logarithm of the hyperbolic cosine of the error (``log_cosh``)."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, name=name, reduction=reduction, dtype=dtype)
