"""Keras metrics: stateful objects with update_state / result / reset_state (NumPy arithmetic).

``from zerograd.keras import metrics``; ``compile(metrics=["accuracy", "mape", metrics.AUC()])``.
"""

from __future__ import annotations

import numpy as np

from zerograd.keras.base import snake_case as _snake_case
from zerograd.keras.losses import (  # Keras exports the loss functions as metric functions too
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from zerograd.keras.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
)
from zerograd.keras.metrics.auc import AUC
from zerograd.keras.metrics.base import (
    Mean,
    MeanMetricWrapper,
    Metric,
    MetricVariable,
    Sum,
)
from zerograd.keras.metrics.confusion import (
    FalseNegatives,
    FalsePositives,
    Precision,
    PrecisionAtRecall,
    Recall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    TrueNegatives,
    TruePositives,
)
from zerograd.keras.metrics.correlation import (
    ConcordanceCorrelation,
    PearsonCorrelation,
    concordance_correlation,
    pearson_correlation,
)
from zerograd.keras.metrics.fscore import F1Score, FBetaScore, R2Score
from zerograd.keras.metrics.functions import (
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from zerograd.keras.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from zerograd.keras.metrics.margin import CategoricalHinge, Hinge, SquaredHinge
from zerograd.keras.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
)
from zerograd.keras.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    RootMeanSquaredError,
)

ALL = (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    AUC,
    Sum,
    Mean,
    FalseNegatives,
    FalsePositives,
    TrueNegatives,
    TruePositives,
    Precision,
    Recall,
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    KLDivergence,
    Poisson,
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    RootMeanSquaredError,
    F1Score,
    FBetaScore,
    R2Score,
    IoU,
    MeanIoU,
    BinaryIoU,
    OneHotIoU,
    OneHotMeanIoU,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    PearsonCorrelation,
    ConcordanceCorrelation,
)

# Keras's names: the class name, its snake_case form, and the short aliases
NAMES = {cls.__name__: cls for cls in ALL}
NAMES.update({_snake_case(cls.__name__): cls for cls in ALL})
NAMES.update(
    {
        "auc": AUC,
        "bce": BinaryCrossentropy,
        "mse": MeanSquaredError,
        "mae": MeanAbsoluteError,
        "mape": MeanAbsolutePercentageError,
        "msle": MeanSquaredLogarithmicError,
        "kld": KLDivergence,
        "kl_divergence": KLDivergence,
        "logcosh": LogCoshError,
    }
)
NAMES.update({k.upper(): NAMES[k] for k in ("bce", "mse", "mae", "mape", "msle")})


def _accuracy_for(loss, y_true, y_pred):
    """The accuracy Keras picks for 'accuracy': from the loss's name, else from the shapes."""
    lname = getattr(loss, "name", "") or getattr(loss, "__name__", "") or ""
    if "sparse_categorical" in lname:
        return SparseCategoricalAccuracy
    if "categorical" in lname:
        return CategoricalAccuracy
    if "binary" in lname:
        return BinaryAccuracy
    if y_pred is not None and (y_pred.shape[-1] == 1 or y_pred.ndim == 1):
        return BinaryAccuracy
    if y_true is not None and y_pred is not None and tuple(np.shape(y_true)) == tuple(y_pred.shape):
        return CategoricalAccuracy
    return SparseCategoricalAccuracy


def get(identifier, loss=None, y_true=None, y_pred=None) -> Metric:
    """Resolve a metric; 'accuracy' picks binary/categorical/sparse from the loss or shapes (as Keras)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if identifier in ("accuracy", "acc"):
        return _accuracy_for(loss, y_true, y_pred)(name=identifier)
    if isinstance(identifier, str) and identifier in NAMES:
        return NAMES[identifier](name=identifier)
    if isinstance(identifier, dict) and "class_name" in identifier:
        return deserialize(identifier)
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", "metric"))
    raise ValueError(
        "unknown metric: expected 'accuracy', a Metric, a callable or one of "
        f"{sorted(k for k in NAMES if k.islower())}, received {identifier!r}"
    )


def serialize(metric: Metric) -> dict:
    """``{"class_name": ..., "config": ...}`` of a metric."""
    return {
        "module": "keras.metrics",
        "class_name": type(metric).__name__,
        "config": metric.get_config(),
        "registered_name": None,
    }


def deserialize(config: dict, custom_objects: dict | None = None) -> Metric:
    """The metric that ``serialize`` described."""
    known = {**NAMES, **(custom_objects or {})}
    name = config.get("class_name")
    if name not in known:
        raise ValueError(f"metrics.deserialize: unknown class_name {name!r} in {config!r}")
    return known[name].from_config(config.get("config", {}))
