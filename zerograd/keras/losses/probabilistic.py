"""Probabilistic losses: the cross-entropies (binary, categorical, sparse, focal and generalized),
Kullback-Leibler divergence and Poisson."""

from __future__ import annotations

import warnings

import numpy as np

import zerograd as zg
from zerograd.keras.losses.loss import LossFunctionWrapper, pred_and_true, set_loss_mask
from zerograd.keras.ops import nn as knn
from zerograd.keras.ops.core import EPSILON, float_tensor, tensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.tensor import Tensor


def _check_axis(axis, op: str) -> None:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{op}: axis must be an int, received axis={axis!r}")


def _smooth(y_true: Tensor, label_smoothing, classes) -> Tensor:
    """Targets pulled towards 1/classes by ``label_smoothing``."""
    if not label_smoothing:
        return y_true
    return y_true * (1.0 - label_smoothing) + label_smoothing / classes


def _warn_one_class(y_pred: Tensor, op: str) -> None:
    if y_pred.shape[-1:] == (1,):
        warnings.warn(
            f"{op}: expected y_pred of shape (batch_size, num_classes) with num_classes > 1, "
            f"received y_pred.shape={y_pred.shape}; use binary_crossentropy for two classes",
            SyntaxWarning,
            stacklevel=3,
        )


@symbolic
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1) -> Tensor:
    """mean(-(t log p + (1 - t) log(1 - p))) along ``axis``; p clipped to [eps, 1 - eps]."""
    y_true, y_pred = pred_and_true(y_true, y_pred)
    y_true = _smooth(y_true, label_smoothing, 2.0)
    return zg.mean(knn.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis)


@symbolic
def binary_focal_crossentropy(
    y_true,
    y_pred,
    apply_class_balancing=False,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
) -> Tensor:
    """Binary cross-entropy scaled by (1 - p_t)**gamma (and by alpha / 1 - alpha if balanced)."""
    y_true, y_pred = pred_and_true(y_true, y_pred)
    y_true = _smooth(y_true, label_smoothing, 2.0)
    if from_logits:
        y_pred = zg.sigmoid(y_pred)
    bce = knn.binary_crossentropy(y_true, y_pred, from_logits=False)
    p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
    focal = zg.pow(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1 - y_true) * (1 - alpha)) * focal
    return zg.mean(focal, axis)


@symbolic
def categorical_crossentropy(
    y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1
) -> Tensor:
    """-sum(t log p) along ``axis`` on one-hot (or soft) targets."""
    _check_axis(axis, "categorical_crossentropy")
    y_true, y_pred = pred_and_true(y_true, y_pred)
    _warn_one_class(y_pred, "categorical_crossentropy")
    y_true = _smooth(y_true, label_smoothing, float(y_true.shape[-1]))
    return knn.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


@symbolic
def categorical_focal_crossentropy(
    y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1
) -> Tensor:
    """sum(alpha (1 - p)**gamma * -t log p) along ``axis``."""
    _check_axis(axis, "categorical_focal_crossentropy")
    y_true, y_pred = pred_and_true(y_true, y_pred)
    _warn_one_class(y_pred, "categorical_focal_crossentropy")
    y_true = _smooth(y_true, label_smoothing, float(y_true.shape[-1]))
    if from_logits:
        y_pred = zg.softmax(y_pred, axis)
    p = zg.clip(y_pred / zg.sum(y_pred, axis, keepdims=True), EPSILON, 1.0 - EPSILON)
    cce = -y_true * zg.log(p)
    return zg.sum(zg.pow(1.0 - p, gamma) * alpha * cce, axis)


def _labels(y_true: Tensor, op: str):
    labels = y_true.data
    if labels.dtype.kind == "f" and labels.size and bool((labels != labels.round()).any()):
        raise ValueError(f"{op}: expected integer class labels, received {labels.ravel()[:5]}...")
    return labels.astype(np.int64)


@symbolic
def sparse_categorical_crossentropy(
    y_true, y_pred, from_logits=False, ignore_class=None, axis=-1
) -> Tensor:
    """-log p[label] with integer labels; labels equal to ``ignore_class`` give 0 and are masked."""
    op = "sparse_categorical_crossentropy"
    y_pred, y_true = float_tensor(y_pred), tensor(y_true)
    axis = axis % y_pred.ndim
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = zg.squeeze(y_true, axis)
    labels = _labels(y_true, op)
    xp = y_pred.xp
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = xp.where(valid, labels, 0)
        # ignored rows become uniform (Keras zeroes them: 0 / 0 for probabilities, NaN gradients)
        y_pred = zg.where(xp.expand_dims(valid, axis), y_pred, 0.0 if from_logits else 1.0)
    classes = y_pred.shape[axis]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"{op}: labels must be in [0, {classes}) (or equal ignore_class={ignore_class}), "
            f"received min {labels.min()} and max {labels.max()}"
        )
    res = knn.sparse_categorical_crossentropy(labels, y_pred, from_logits=from_logits, axis=axis)
    if valid is not None:
        res = set_loss_mask(zg.where(valid, res, 0.0), tensor(valid))
    return res


@symbolic
def categorical_generalized_cross_entropy(y_true, y_pred, q) -> Tensor:
    """(1 - p[label]**q) / q with integer labels (robust to noisy labels)."""
    y_pred = float_tensor(y_pred)
    labels = _labels(tensor(y_true), "categorical_generalized_cross_entropy")
    p = zg.squeeze(zg.take_along_axis(y_pred, labels[..., None], -1), -1)
    return (1.0 - zg.pow(p, q)) / q


@symbolic
def kl_divergence(y_true, y_pred) -> Tensor:
    """sum(t log(t / p)) over the last axis; t and p clipped to [eps, 1]."""
    y_true, y_pred = pred_and_true(y_true, y_pred)
    y_true = zg.clip(y_true, EPSILON, 1.0)
    y_pred = zg.clip(y_pred, EPSILON, 1.0)
    return zg.sum(y_true * zg.log(y_true / y_pred), -1)


@symbolic
def poisson(y_true, y_pred) -> Tensor:
    """mean(p - t log(p + eps)) over the last axis."""
    y_true, y_pred = pred_and_true(y_true, y_pred)
    return zg.mean(y_pred - y_true * zg.log(y_pred + EPSILON), -1)


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence of ``y_pred`` from ``y_true`` (``kl_divergence``)."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, reduction=reduction, dtype=dtype)


class Poisson(LossFunctionWrapper):
    """Poisson negative log-likelihood up to a constant (``poisson``)."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, name=name, reduction=reduction, dtype=dtype)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy on probabilities or logits (``binary_crossentropy``)."""

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_crossentropy",
        dtype=None,
    ):
        super().__init__(
            binary_crossentropy,
            name=name,
            reduction=reduction,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class BinaryFocalCrossentropy(LossFunctionWrapper):
    """Focal binary cross-entropy (``binary_focal_crossentropy``)."""

    _config_keys = (
        "from_logits",
        "label_smoothing",
        "axis",
        "apply_class_balancing",
        "alpha",
        "gamma",
    )

    def __init__(
        self,
        apply_class_balancing=False,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_focal_crossentropy",
        dtype=None,
    ):
        super().__init__(
            binary_focal_crossentropy,
            name=name,
            reduction=reduction,
            dtype=dtype,
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy on one-hot targets (``categorical_crossentropy``)."""

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            categorical_crossentropy,
            name=name,
            reduction=reduction,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """Focal cross-entropy on one-hot targets (``categorical_focal_crossentropy``)."""

    _config_keys = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_focal_crossentropy",
        dtype=None,
    ):
        super().__init__(
            categorical_focal_crossentropy,
            name=name,
            reduction=reduction,
            dtype=dtype,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy on integer labels (``sparse_categorical_crossentropy``)."""

    _config_keys = ("from_logits", "ignore_class", "axis")

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction="sum_over_batch_size",
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            sparse_categorical_crossentropy,
            name=name,
            reduction=reduction,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )


class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    """Generalized cross-entropy with exponent ``q`` in (0, 1) on integer labels."""

    _config_keys = ("q",)

    def __init__(
        self,
        q=0.5,
        reduction="sum_over_batch_size",
        name="categorical_generalized_cross_entropy",
        dtype=None,
    ):
        if not 0 < q < 1:
            raise ValueError(
                f"CategoricalGeneralizedCrossEntropy: q must be in (0, 1), received q={q!r}"
            )
        super().__init__(
            categorical_generalized_cross_entropy, name=name, reduction=reduction, dtype=dtype, q=q
        )
