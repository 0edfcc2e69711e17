"""Probabilistic metrics: cross-entropies, KL divergence and Poisson as running means (NumPy)."""

from __future__ import annotations

import numpy as np

from zerograd.keras.metrics.base import _ValuesMean, same_rank

EPSILON = 1e-7  # Keras's backend.epsilon(): probabilities are clipped to [EPSILON, 1 - EPSILON]


def _log_probs(y_pred: np.ndarray, from_logits: bool, axis: int) -> np.ndarray:
    if from_logits:
        shifted = y_pred - y_pred.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    p = y_pred / y_pred.sum(axis=axis, keepdims=True)
    return np.log(np.clip(p, EPSILON, 1 - EPSILON))


class BinaryCrossentropy(_ValuesMean):
    """Mean binary cross-entropy (averaged over the last axis) between labels and predictions."""

    def __init__(
        self,
        name: str = "binary_crossentropy",
        dtype=None,
        from_logits: bool = False,
        label_smoothing: float = 0,
    ):
        super().__init__(name=name, dtype=dtype)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing

    def values(self, y_true, y_pred):
        y_true, y_pred = same_rank(y_true.astype(np.float64), y_pred.astype(np.float64))
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        if self.from_logits:
            loss = np.maximum(y_pred, 0) - y_pred * y_true + np.log1p(np.exp(-np.abs(y_pred)))
        else:
            p = np.clip(y_pred, EPSILON, 1 - EPSILON)
            loss = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
        return loss.mean(axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
        }


class CategoricalCrossentropy(_ValuesMean):
    """Mean cross-entropy between one-hot labels and predicted distributions."""

    def __init__(
        self,
        name: str = "categorical_crossentropy",
        dtype=None,
        from_logits: bool = False,
        label_smoothing: float = 0,
        axis: int = -1,
    ):
        super().__init__(name=name, dtype=dtype)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def values(self, y_true, y_pred):
        y_true, y_pred = y_true.astype(np.float64), y_pred.astype(np.float64)
        if self.label_smoothing:
            n = y_pred.shape[self.axis]
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / n
        return -(y_true * _log_probs(y_pred, self.from_logits, self.axis)).sum(axis=self.axis)

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class SparseCategoricalCrossentropy(_ValuesMean):
    """Mean cross-entropy between integer labels and predicted distributions; labels equal to
    ``ignore_class`` are left out of the mean."""

    def __init__(
        self,
        name: str = "sparse_categorical_crossentropy",
        dtype=None,
        from_logits: bool = False,
        ignore_class: int | None = None,
        axis: int = -1,
    ):
        super().__init__(name=name, dtype=dtype)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis

    def _labels(self, y_true: np.ndarray, y_pred_ndim: int) -> np.ndarray:
        if y_true.ndim == y_pred_ndim and y_true.shape[-1] == 1:
            y_true = y_true[..., 0]
        return y_true.astype(np.int64)

    def values(self, y_true, y_pred):
        labels = self._labels(y_true, y_pred.ndim)
        if self.ignore_class is not None:
            labels = np.where(labels == self.ignore_class, 0, labels)
        logp = np.moveaxis(
            _log_probs(y_pred.astype(np.float64), self.from_logits, self.axis), self.axis, -1
        )
        loss = -np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
        if self.ignore_class is not None:
            loss = np.where(self._labels(y_true, y_pred.ndim) == self.ignore_class, 0.0, loss)
        return loss

    def _mask_weight(self, y_true, sample_weight):
        # as Keras: the ignored labels leave the mean only when weights are given; unweighted,
        # they count as zero losses
        if self.ignore_class is None or sample_weight is None:
            return sample_weight
        y = np.asarray(y_true)
        keep = (y[..., 0] if y.ndim > 1 and y.shape[-1] == 1 else y) != self.ignore_class
        keep = keep.astype(np.float64)
        w = np.asarray(sample_weight, dtype=np.float64)
        return keep * w.reshape(w.shape + (1,) * (keep.ndim - w.ndim))

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "ignore_class": self.ignore_class,
            "axis": self.axis,
        }


class KLDivergence(_ValuesMean):
    """Mean Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred))``."""

    def __init__(self, name: str = "kl_divergence", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def values(self, y_true, y_pred):
        y_true, y_pred = same_rank(y_true.astype(np.float64), y_pred.astype(np.float64))
        t, p = np.clip(y_true, EPSILON, 1), np.clip(y_pred, EPSILON, 1)
        return (t * np.log(t / p)).sum(axis=-1)


class Poisson(_ValuesMean):
    """Mean Poisson loss ``y_pred - y_true * log(y_pred)``."""

    def __init__(self, name: str = "poisson", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def values(self, y_true, y_pred):
        y_true, y_pred = same_rank(y_true.astype(np.float64), y_pred.astype(np.float64))
        return (y_pred - y_true * np.log(y_pred + EPSILON)).mean(axis=-1)
