"""Score metrics built on lazily shaped per-class state: FBetaScore, F1Score and R2Score."""

from __future__ import annotations

import warnings

import numpy as np

from zerograd.keras.metrics.base import Metric, same_rank, to_numpy
from zerograd.tensor import Tensor

EPSILON = 1e-7  # Keras's backend.epsilon()


def _as_result(values) -> Tensor:
    """The result as a float32 Tensor (a scalar, or one value per class), as Keras returns."""
    return Tensor(np.asarray(values, dtype=np.float32))


def _check_2d(owner: str, y_true: np.ndarray, y_pred: np.ndarray) -> None:
    if y_true.ndim != 2 or y_pred.ndim != 2:
        raise ValueError(
            f"{owner} expects 2D inputs of shape (batch_size, output_dim), received "
            f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}"
        )


class FBetaScore(Metric):
    """F-beta score per class (``average=None``) or averaged ("micro", "macro", "weighted");
    predictions are positive above ``threshold``, or where they equal the row's maximum."""

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        owner = type(self).__name__
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(
                f"{owner}: expected average in None, 'micro', 'macro', 'weighted', "
                f"received average={average!r}"
            )
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"{owner}: expected beta a Python float > 0, received {beta!r}")
        if threshold is not None and (
            not isinstance(threshold, float) or not 0.0 < threshold <= 1.0
        ):
            raise ValueError(
                f"{owner}: expected threshold None or a Python float in (0, 1], "
                f"received {threshold!r}"
            )
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, num_classes: int) -> None:
        shape = () if self.average == "micro" else (num_classes,)
        for name in ("true_positives", "false_positives", "false_negatives"):
            setattr(self, name, self.add_variable(shape, "zeros", name=name))
        self.intermediate_weights = self.add_variable(shape, "zeros", name="intermediate_weights")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Add the (weighted) true/false positive and false negative counts of a batch."""
        y_true, y_pred = to_numpy(y_true, np.float32), to_numpy(y_pred, np.float32)
        _check_2d(type(self).__name__, y_true, y_pred)
        if not self._built:
            self._build(y_pred.shape[-1])
        if self.threshold is None:
            top = y_pred.max(axis=-1, keepdims=True)
            pred = (y_pred >= top) & (np.abs(y_pred) > 1e-9)
        else:
            pred = y_pred > self.threshold
        pred = pred.astype(np.float32)
        weight = None if sample_weight is None else to_numpy(sample_weight, np.float32)

        def weighted_sum(values):
            if weight is not None:
                values = values * np.expand_dims(weight, 1)
            return values.sum(axis=self.axis)

        self.true_positives.assign_add(weighted_sum(pred * y_true))
        self.false_positives.assign_add(weighted_sum(pred * (1 - y_true)))
        self.false_negatives.assign_add(weighted_sum((1 - pred) * y_true))
        self.intermediate_weights.assign_add(weighted_sum(y_true))

    def result(self) -> Tensor:
        if not self._built:
            return _as_result(0.0 if self.average is not None else np.zeros((0,)))
        tp, fp, fn = (
            v.numpy() for v in (self.true_positives, self.false_positives, self.false_negatives)
        )
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        b2 = np.float32(self.beta**2)
        score = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            w = self.intermediate_weights.numpy()
            score = (score * (w / (w.sum() + EPSILON))).sum()
        elif self.average is not None:
            score = score.mean()
        return _as_result(score)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
        }


class F1Score(FBetaScore):
    """The F-beta score with ``beta=1``: the harmonic mean of precision and recall."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["beta"]
        return config


class R2Score(Metric):
    """Coefficient of determination per output, aggregated ("uniform_average",
    "variance_weighted_average" or None), adjusted for ``num_regressors`` when non-zero."""

    def __init__(
        self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None
    ):
        super().__init__(name=name, dtype=dtype)
        allowed = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in allowed:
            raise ValueError(
                f"R2Score: expected class_aggregation in {allowed}, received {class_aggregation!r}"
            )
        if num_regressors < 0:
            raise ValueError(f"R2Score: expected num_regressors >= 0, received {num_regressors!r}")
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self.num_samples = self.add_variable((), "zeros", name="num_samples")
        self._built = False

    def _build(self, num_classes: int) -> None:
        self.squared_sum = self.add_variable((num_classes,), "zeros", name="squared_sum")
        self.sum = self.add_variable((num_classes,), "zeros", name="sum")
        self.total_mse = self.add_variable((num_classes,), "zeros", name="residual")
        self.count = self.add_variable((num_classes,), "zeros", name="count")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Add a batch's weighted sums of targets, squared targets and squared residuals."""
        y_true, y_pred = same_rank(to_numpy(y_true, np.float32), to_numpy(y_pred, np.float32))
        _check_2d("R2Score", y_true, y_pred)
        if not self._built:
            self._build(y_pred.shape[-1])
        weight = np.asarray(1.0 if sample_weight is None else to_numpy(sample_weight), np.float32)
        if weight.ndim == 1:
            weight = weight[:, None]
        weight = np.broadcast_to(weight, y_true.shape)
        weighted = y_true * weight
        self.sum.assign_add(weighted.sum(axis=0))
        self.squared_sum.assign_add((y_true * weighted).sum(axis=0))
        self.total_mse.assign_add(((y_true - y_pred) ** 2 * weight).sum(axis=0))
        self.count.assign_add(weight.sum(axis=0))
        self.num_samples.assign_add(y_true.size)

    def result(self) -> Tensor:
        if not self._built:
            return _as_result(0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum.numpy() / self.count.numpy()
            total = self.squared_sum.numpy() - self.sum.numpy() * mean
            raw = 1 - self.total_mse.numpy() / total
        raw = np.where(np.isinf(raw), np.float32(0.0), raw)
        if self.class_aggregation == "uniform_average":
            score = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (total * raw).sum() / total.sum()
        else:
            score = raw
        n, p = float(self.num_samples.item()), self.num_regressors
        if p != 0:
            if p > n - 1:
                warnings.warn(
                    "R2Score: more regressors than data points; returning the plain R2 score",
                    stacklevel=2,
                )
            elif p == n - 1:
                warnings.warn(
                    "R2Score: num_regressors equals samples - 1 (division by zero); "
                    "returning the plain R2 score",
                    stacklevel=2,
                )
            else:
                score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return _as_result(score)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
        }
