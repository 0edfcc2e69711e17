"""Keras losses: per-sample functions (mean over the last axis) and Loss objects (batch mean).

Probabilities are the default input (``from_logits=False``), clipped to [1e-7, 1 - 1e-7] as Keras.
"""

from __future__ import annotations

import numpy as np

import zerograd.nn.functional as F
from zerograd.ops.elementwise import clip, log
from zerograd.tensor import Tensor

EPS = 1e-7


def _t(y, like: Tensor) -> Tensor:
    y = y if isinstance(y, Tensor) else Tensor(np.asarray(y))
    return (
        y.astype(like.dtype)
        if y.dtype.kind == "f" or like.dtype.kind == "f" and y.dtype.kind == "b"
        else y
    )


def _match(y_true: Tensor, y_pred: Tensor, op: str) -> Tensor:
    y_true = _t(y_true, y_pred).astype(y_pred.dtype)
    if y_true.shape != y_pred.shape:
        if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
            y_true = y_true.reshape((*y_true.shape, 1))
        elif y_true.size == y_pred.size:
            y_true = y_true.reshape(y_pred.shape)
        else:
            raise ValueError(
                f"{op}: y_true of shape {y_true.shape} does not match y_pred of shape {y_pred.shape}"
            )
    return y_true


def mean_squared_error(y_true, y_pred):
    y_true = _match(y_true, y_pred, "mean_squared_error")
    d = y_pred - y_true
    return (d * d).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true = _match(y_true, y_pred, "mean_absolute_error")
    return (y_pred - y_true).abs().mean(axis=-1)


def huber(y_true, y_pred, delta: float = 1.0):
    y_true = _match(y_true, y_pred, "huber")
    return F.huber_loss(y_pred, y_true, reduction="none", delta=delta).mean(axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits: bool = False):
    y_true = _match(y_true, y_pred, "binary_crossentropy")
    if from_logits:
        return F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none").mean(axis=-1)
    p = clip(y_pred, EPS, 1 - EPS)
    return -(y_true * log(p) + (1 - y_true) * log(1 - p)).mean(axis=-1)


def categorical_crossentropy(
    y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0
):
    y_true = _match(y_true, y_pred, "categorical_crossentropy")
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    if from_logits:
        return -(y_true * F.log_softmax(y_pred, axis=-1)).sum(axis=-1)
    p = y_pred / y_pred.sum(axis=-1, keepdims=True)
    return -(y_true * log(clip(p, EPS, 1 - EPS))).sum(axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False, ignore_class=None):
    labels = y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true)
    labels = labels.reshape(y_pred.shape[:-1]).astype(np.int64)
    n = y_pred.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        raise ValueError(
            f"sparse_categorical_crossentropy: labels must be in [0, {n}), received min {labels.min()} max {labels.max()}"
        )
    if from_logits:
        logits = y_pred.reshape((-1, n))
        return F.cross_entropy(logits, Tensor(labels.reshape(-1)), reduction="none").reshape(
            labels.shape
        )
    p = y_pred / y_pred.sum(axis=-1, keepdims=True)
    picked = p.take_along_axis(labels[..., None], axis=-1).squeeze(-1)
    return -log(clip(picked, EPS, 1 - EPS))


class Loss:
    """A loss object: ``loss(y_true, y_pred, sample_weight=None)`` -> scalar (weighted batch mean)."""

    fn = staticmethod(mean_squared_error)

    def __init__(self, name: str | None = None, reduction: str = "sum_over_batch_size", **options):
        self.name = name or _snake(type(self).__name__)
        self.reduction, self.options = reduction, options

    def call(self, y_true, y_pred):
        """Per-sample losses; subclasses (custom losses) override this, as in Keras."""
        return type(self).fn(y_true, y_pred, **self.options)

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = y_pred if isinstance(y_pred, Tensor) else Tensor(np.asarray(y_pred))
        if type(self).call is not Loss.call:  # a custom loss: y_true as a Tensor, as Keras gives
            y_true = _t(y_true, y_pred)
        per_sample = self.call(y_true, y_pred)
        if sample_weight is not None:
            w = (
                sample_weight
                if isinstance(sample_weight, Tensor)
                else Tensor(np.asarray(sample_weight, dtype=per_sample.dtype))
            )
            per_sample = per_sample * w.reshape(per_sample.shape)
        if self.reduction == "sum":
            return per_sample.sum()
        if self.reduction in ("none", None):
            return per_sample
        return per_sample.mean()

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction, **self.options}


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class MeanSquaredError(Loss):
    fn = staticmethod(mean_squared_error)


class MeanAbsoluteError(Loss):
    fn = staticmethod(mean_absolute_error)


class Huber(Loss):
    fn = staticmethod(huber)

    def __init__(self, delta: float = 1.0, **kwargs):
        super().__init__(delta=delta, **kwargs)


class BinaryCrossentropy(Loss):
    fn = staticmethod(binary_crossentropy)

    def __init__(self, from_logits: bool = False, **kwargs):
        super().__init__(from_logits=from_logits, **kwargs)


class CategoricalCrossentropy(Loss):
    fn = staticmethod(categorical_crossentropy)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, **kwargs):
        super().__init__(from_logits=from_logits, label_smoothing=label_smoothing, **kwargs)


class SparseCategoricalCrossentropy(Loss):
    fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(self, from_logits: bool = False, **kwargs):
        super().__init__(from_logits=from_logits, **kwargs)


mse, mae = mean_squared_error, mean_absolute_error
NAMES = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber,
    "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(identifier):
    """A Loss from a name, a Loss object, or a function ``f(y_true, y_pred)``."""
    if isinstance(identifier, Loss) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, str) and identifier in NAMES:
        loss = NAMES[identifier]()
        loss.name = identifier
        return loss
    raise ValueError(
        f"unknown loss: expected one of {sorted(NAMES)} or a callable, received {identifier!r}"
    )
