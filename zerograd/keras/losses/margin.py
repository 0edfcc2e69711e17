"""Margin and overlap losses: hinge, squared hinge, categorical hinge, Dice and Tversky."""

from __future__ import annotations

import zerograd as zg
from zerograd.keras.losses.loss import LossFunctionWrapper, pred_and_true
from zerograd.keras.ops.core import EPSILON
from zerograd.keras.ops.symbolic import symbolic
from zerograd.tensor import Tensor


def _signed_labels(y_true: Tensor) -> Tensor:
    """Labels in {0, 1} become {-1, 1}; other labels are taken as already signed."""
    t = y_true.data
    return y_true * 2.0 - 1.0 if bool(((t == 0) | (t == 1)).all()) else y_true


@symbolic
def hinge(y_true, y_pred) -> Tensor:
    """mean(max(1 - t * p, 0)) over the last axis; labels {0, 1} are read as {-1, 1}."""
    y_true, y_pred = pred_and_true(y_true, y_pred)
    return zg.mean(zg.maximum(1.0 - _signed_labels(y_true) * y_pred, 0.0), -1)


@symbolic
def squared_hinge(y_true, y_pred) -> Tensor:
    """mean(max(1 - t * p, 0)**2) over the last axis; labels {0, 1} are read as {-1, 1}."""
    y_true, y_pred = pred_and_true(y_true, y_pred)
    m = zg.maximum(1.0 - _signed_labels(y_true) * y_pred, 0.0)
    return zg.mean(m * m, -1)


@symbolic
def categorical_hinge(y_true, y_pred) -> Tensor:
    """max(max((1 - t) * p) - sum(t * p) + 1, 0) over the last axis, on one-hot targets."""
    y_true, y_pred = pred_and_true(y_true, y_pred)
    pos = zg.sum(y_true * y_pred, -1)
    neg = zg.max((1.0 - y_true) * y_pred, -1)
    return zg.maximum(neg - pos + 1.0, 0.0)


@symbolic
def dice(y_true, y_pred, axis=None) -> Tensor:
    """1 - 2 sum(t p) / (sum(t) + sum(p) + eps), the sums along ``axis`` (None: all)."""
    y_true, y_pred = pred_and_true(y_true, y_pred)
    intersection = zg.sum(y_true * y_pred, axis)
    total = zg.sum(y_true, axis) + zg.sum(y_pred, axis) + EPSILON
    return 1.0 - intersection * 2.0 / total


@symbolic
def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None) -> Tensor:
    """1 - TP / (TP + alpha FP + beta FN + eps), the counts summed along ``axis`` (None: all)."""
    y_true, y_pred = pred_and_true(y_true, y_pred)
    tp = zg.sum(y_true * y_pred, axis)
    fp = zg.sum((1.0 - y_pred) * y_true, axis)
    fn = zg.sum(y_pred * (1.0 - y_true), axis)
    return 1.0 - tp / (tp + fp * alpha + fn * beta + EPSILON)


class Hinge(LossFunctionWrapper):
    """Hinge loss for labels in {-1, 1} (or {0, 1}) (``hinge``)."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, name=name, reduction=reduction, dtype=dtype)


class SquaredHinge(LossFunctionWrapper):
    """Squared hinge loss (``squared_hinge``)."""

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, reduction=reduction, dtype=dtype)


class CategoricalHinge(LossFunctionWrapper):
    """Categorical hinge loss on one-hot targets (``categorical_hinge``)."""

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, reduction=reduction, dtype=dtype)


class Dice(LossFunctionWrapper):
    """Dice loss, 1 - the Dice coefficient (``dice``)."""

    _config_keys = ("axis",)

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(dice, name=name, reduction=reduction, dtype=dtype, axis=axis)


class Tversky(LossFunctionWrapper):
    """Tversky loss, weighting false positives by ``alpha`` and false negatives by ``beta``."""

    _config_keys = ("alpha", "beta", "axis")

    def __init__(
        self,
        alpha=0.5,
        beta=0.5,
        reduction="sum_over_batch_size",
        name="tversky",
        axis=None,
        dtype=None,
    ):
        super().__init__(
            tversky, name=name, reduction=reduction, dtype=dtype, alpha=alpha, beta=beta, axis=axis
        )
