"""Confusion-matrix metrics at thresholds: counts, precision, recall, AUC, and the
"X at fixed Y" family (NumPy arithmetic)."""

from __future__ import annotations

import numpy as np

from zerograd.keras.metrics.base import Metric, same_rank, to_numpy

EPSILON = 1e-7


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` with 0 where ``b`` is 0 (Keras's divide_no_nan)."""
    return np.where(b != 0, a / np.where(b != 0, b, 1.0), 0.0)


def _thresholds(owner: str, thresholds, default: float) -> list:
    values = [default] if thresholds is None else np.atleast_1d(thresholds).tolist()
    if thresholds is not None and any(not 0 <= t <= 1 for t in values):
        raise ValueError(f"{owner}: thresholds must be in [0, 1], received {thresholds}")
    return values


def confusion_counts(y_true, y_pred, thresholds, sample_weight=None, top_k=None, class_id=None):
    """Weighted (tp, fp, tn, fn) per threshold; a prediction is positive when ``> threshold``
    and a label when non-zero."""
    y_pred, y_true = same_rank(to_numpy(y_pred, np.float64), to_numpy(y_true, np.float64))
    w = None
    if sample_weight is not None:
        w = to_numpy(sample_weight, np.float64)[..., None]
        _, w = same_rank(y_true, w, expand_rank_1=False)
    w = np.ones(y_pred.shape) if w is None else np.broadcast_to(w, y_pred.shape)
    if top_k is not None:
        kth = -np.sort(-y_pred, axis=-1)[..., top_k - 1 : top_k]
        y_pred = np.where(y_pred >= kth, y_pred, -np.inf)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(
                f"class_id={class_id} needs y_pred of shape (samples, classes), "
                f"received shape {y_pred.shape}"
            )
        y_true, y_pred, w = y_true[..., class_id], y_pred[..., class_id], w[..., class_id]
    label = (y_true != 0).reshape(-1)
    pred = y_pred.reshape(1, -1) > np.asarray(thresholds, dtype=np.float64)[:, None]
    w = w.reshape(-1)
    return (
        (pred & label) @ w,
        (pred & ~label) @ w,
        (~pred & ~label) @ w,
        (~pred & label) @ w,
    )


class _Counts(Metric):
    """State tp/fp/tn/fn (as named in ``kept``) accumulated over ``self.thresholds``."""

    kept = ("true_positives", "false_positives", "true_negatives", "false_negatives")
    top_k = class_id = None

    def _make_state(self) -> None:
        for name in self.kept:
            setattr(self, name, self.add_variable((len(self.thresholds),), "zeros", name=name))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        counts = confusion_counts(
            y_true, y_pred, self.thresholds, sample_weight, self.top_k, self.class_id
        )
        names = ("true_positives", "false_positives", "true_negatives", "false_negatives")
        for name, count in zip(names, counts):
            if name in self.kept:
                getattr(self, name).assign_add(count)

    def _state(self, name: str) -> np.ndarray:
        return getattr(self, name).numpy().astype(np.float64)

    def _scalar(self, values: np.ndarray):
        return float(values[0]) if len(self.thresholds) == 1 else values.astype(np.float32)


class _ConditionCount(_Counts):
    def __init__(self, thresholds=None, name: str | None = None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _thresholds(type(self).__name__, thresholds, 0.5)
        self._make_state()

    def result(self):
        return self._scalar(self._state(self.kept[0]))

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConditionCount):
    """Weighted count of positive labels predicted positive."""

    kept = ("true_positives",)


class FalsePositives(_ConditionCount):
    """Weighted count of negative labels predicted positive."""

    kept = ("false_positives",)


class TrueNegatives(_ConditionCount):
    """Weighted count of negative labels predicted negative."""

    kept = ("true_negatives",)


class FalseNegatives(_ConditionCount):
    """Weighted count of positive labels predicted negative."""

    kept = ("false_negatives",)


class _PrecisionRecall(_Counts):
    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        for key, value in (("top_k", top_k), ("class_id", class_id)):
            low = 1 if key == "top_k" else 0
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low
            ):
                raise ValueError(
                    f"{type(self).__name__}: {key} must be an integer >= {low} or None, received "
                    f"{value!r}"
                )
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        default = 0.5 if top_k is None else -np.inf
        self.thresholds = _thresholds(type(self).__name__, thresholds, default)
        self._make_state()

    def get_config(self):
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_PrecisionRecall):
    """``tp / (tp + fp)`` at each threshold."""

    kept = ("true_positives", "false_positives")

    def result(self):
        tp = self._state("true_positives")
        return self._scalar(_div(tp, tp + self._state("false_positives")))


class Recall(_PrecisionRecall):
    """``tp / (tp + fn)`` at each threshold."""

    kept = ("true_positives", "false_negatives")

    def result(self):
        tp = self._state("true_positives")
        return self._scalar(_div(tp, tp + self._state("false_negatives")))


class _AtFixed(_Counts):
    """The best ``dependent`` rate over the thresholds where ``constrained >= value``."""

    constraint = ""

    def __init__(
        self, value: float, num_thresholds: int = 200, class_id=None, name=None, dtype=None
    ):
        if not 0 <= value <= 1:
            raise ValueError(
                f"{type(self).__name__}: `{self.constraint}` must be in [0, 1], received {value}"
            )
        if num_thresholds <= 0:
            raise ValueError(
                f"{type(self).__name__}: num_thresholds must be > 0, received {num_thresholds}"
            )
        super().__init__(name=name, dtype=dtype)
        self.value, self.num_thresholds, self.class_id = value, num_thresholds, class_id
        setattr(self, self.constraint, value)
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.thresholds = [0.5] if num_thresholds == 1 else [0.0, *inner, 1.0]
        self._make_state()

    def _rates(self) -> dict:
        tp, fp, tn, fn = (self._state(n) for n in self.kept)
        return {
            "recall": _div(tp, tp + fn),
            "precision": _div(tp, tp + fp),
            "specificity": _div(tn, tn + fp),
        }

    def _best(self, constrained: str, dependent: str) -> float:
        r = self._rates()
        feasible = r[constrained] >= self.value
        return float(max(np.where(feasible, r[dependent], 0.0).max(initial=0.0), 0.0))

    def get_config(self):
        return {
            **super().get_config(),
            "class_id": self.class_id,
            "num_thresholds": self.num_thresholds,
            self.constraint: self.value,
        }


class PrecisionAtRecall(_AtFixed):
    """Best precision where recall >= ``recall``."""

    constraint = "recall"

    def __init__(self, recall: float, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)

    def result(self):
        return self._best("recall", "precision")


class RecallAtPrecision(_AtFixed):
    """Best recall where precision >= ``precision``."""

    constraint = "precision"

    def __init__(self, precision: float, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)

    def result(self):
        return self._best("precision", "recall")


class SensitivityAtSpecificity(_AtFixed):
    """Best sensitivity (recall) where specificity >= ``specificity``."""

    constraint = "specificity"

    def __init__(
        self, specificity: float, num_thresholds=200, class_id=None, name=None, dtype=None
    ):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)

    def result(self):
        return self._best("specificity", "recall")


class SpecificityAtSensitivity(_AtFixed):
    """Best specificity where sensitivity (recall) >= ``sensitivity``."""

    constraint = "sensitivity"

    def __init__(
        self, sensitivity: float, num_thresholds=200, class_id=None, name=None, dtype=None
    ):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)

    def _rates(self):
        return {**super()._rates(), "sensitivity": super()._rates()["recall"]}

    def result(self):
        return self._best("sensitivity", "specificity")
