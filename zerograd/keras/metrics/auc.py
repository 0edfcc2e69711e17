"""AUC: the area under the ROC or precision-recall curve, by a Riemann sum over thresholds."""

from __future__ import annotations

import numpy as np

from zerograd.keras.metrics.confusion import EPSILON, _Counts, _div

CURVES = ("ROC", "PR")
SUMMATIONS = ("interpolation", "minoring", "majoring")


class AUC(_Counts):
    """Area under the ROC (or PR) curve from confusion counts at ``num_thresholds`` thresholds
    spread evenly over [0, 1] (or at the given ``thresholds``)."""

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype=None,
        thresholds=None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights=None,
        from_logits: bool = False,
    ):
        curve, summation_method = str(curve).upper(), str(summation_method).lower()
        if curve not in CURVES:
            raise ValueError(f"AUC: expected curve in {CURVES}, received {curve!r}")
        if summation_method not in SUMMATIONS:
            raise ValueError(
                f"AUC: expected summation_method in {SUMMATIONS}, received {summation_method!r}"
            )
        if multi_label or label_weights is not None:
            raise ValueError(
                "AUC: multi_label=True and label_weights are not supported by zerograd; "
                f"received multi_label={multi_label}, label_weights={label_weights}"
            )
        if thresholds is None and num_thresholds <= 1:
            raise ValueError(f"AUC: num_thresholds must be > 1, received {num_thresholds}")
        super().__init__(name=name, dtype=dtype)
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(np.atleast_1d(thresholds).tolist())
            num_thresholds = len(inner) + 2
        else:
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.num_thresholds, self.curve, self.summation_method = (
            num_thresholds,
            curve,
            summation_method,
        )
        self.multi_label, self.num_labels, self.label_weights = multi_label, num_labels, None
        self.from_logits = from_logits
        self.thresholds = [0.0 - EPSILON, *inner, 1.0 + EPSILON]
        self._make_state()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if self.from_logits:
            y_pred = 1.0 / (1.0 + np.exp(-np.asarray(y_pred, dtype=np.float64)))
        super().update_state(y_true, y_pred, sample_weight)

    def _pr_interpolated(self, tp, fp, fn) -> float:
        """Davis & Goadrich's interpolation of precision between thresholds."""
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _div(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        ratio = np.where(
            (p[:-1] > 0) & (p[1:] > 0), _div(p[:-1], np.maximum(p[1:], 0)), np.ones_like(p[1:])
        )
        increment = _div(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))
        return float(increment.sum())

    def result(self) -> float:
        tp, fp, tn, fn = (self._state(n) for n in self.kept)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._pr_interpolated(tp, fp, fn)
        recall = _div(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _div(fp, fp + tn), recall
        else:
            x, y = recall, _div(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(((x[:-1] - x[1:]) * heights).sum())

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": self.label_weights,
            "from_logits": self.from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config
