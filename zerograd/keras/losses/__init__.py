"""Keras losses: per-sample functions and ``Loss`` classes (reduced over the batch), with Keras's
names, defaults and numbers; ``get`` resolves Keras's string names.

Example:
    >>> from zerograd.keras import losses
    >>> float(losses.MeanSquaredError()([[0.0, 1.0]], [[1.0, 1.0]]))
    0.5
"""

from __future__ import annotations

import inspect

from zerograd.keras.losses.loss import Loss, LossFunctionWrapper
from zerograd.keras.losses.margin import (
    CategoricalHinge,
    Dice,
    Hinge,
    SquaredHinge,
    Tversky,
    categorical_hinge,
    dice,
    hinge,
    squared_hinge,
    tversky,
)
from zerograd.keras.losses.probabilistic import (
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalGeneralizedCrossEntropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_generalized_cross_entropy,
    kl_divergence,
    poisson,
    sparse_categorical_crossentropy,
)
from zerograd.keras.losses.regression import (
    CosineSimilarity,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    cosine_similarity,
    huber,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)

_CLASSES = (
    Loss,
    KLDivergence,
    Poisson,
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalGeneralizedCrossEntropy,
    SparseCategoricalCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    CosineSimilarity,
    LogCosh,
    Huber,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    Dice,
    Tversky,
)
_FUNCTIONS = (
    kl_divergence,
    poisson,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_generalized_cross_entropy,
    sparse_categorical_crossentropy,
    mean_squared_error,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
    cosine_similarity,
    log_cosh,
    huber,
    hinge,
    squared_hinge,
    categorical_hinge,
    dice,
    tversky,
)
# Keras's short names, plus the Keras 2 names its legacy namespace still knows
_ALIASES = {
    "bce": binary_crossentropy,
    "kld": kl_divergence,
    "mae": mean_absolute_error,
    "mse": mean_squared_error,
    "mape": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error,
    "logcosh": log_cosh,
    "kullback_leibler_divergence": kl_divergence,
    "huber_loss": huber,
}
ALL_OBJECTS_DICT = {obj.__name__: obj for obj in _CLASSES + _FUNCTIONS}
ALL_OBJECTS_DICT.update(_ALIASES)
ALL_OBJECTS_DICT.update({k.upper(): v for k, v in _ALIASES.items() if len(k) <= 4})
_NOT_IN_ZEROGRAD = ("CTC", "ctc", "Circle", "circle")


def serialize(loss) -> dict | str:
    """Keras 3's serialized form of a Loss or a loss function."""
    from zerograd.keras.saving.serialization import serialize_keras_object

    return serialize_keras_object(loss)


def deserialize(config, custom_objects=None):
    """The Loss or loss function of ``serialize``'s output (or of a name)."""
    from zerograd.keras.saving.serialization import deserialize_keras_object

    if isinstance(config, str):
        return get(config)
    return deserialize_keras_object(config, custom_objects)


def get(identifier):
    """A loss from None, a name ('mse', 'CategoricalCrossentropy'), a config dict, a Loss or a
    function: function names give the function, class names a Loss with default arguments.

    Example:
        >>> get("mse") is mean_squared_error
        True
    """
    if identifier is None:
        return None
    obj = identifier
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        if identifier in _NOT_IN_ZEROGRAD:
            raise ValueError(f"losses.get: the loss {identifier!r} is not available in zerograd")
        obj = ALL_OBJECTS_DICT.get(identifier)
        if obj is None:
            raise ValueError(
                f"losses.get: unknown loss {identifier!r}; expected one of "
                f"{sorted(ALL_OBJECTS_DICT)}, a Loss, or a function f(y_true, y_pred)"
            )
    if inspect.isclass(obj) and issubclass(obj, Loss):
        return obj()
    if callable(obj) and not inspect.isclass(obj):
        return obj
    raise ValueError(
        "losses.get: expected a loss name, a config dict, a Loss or a function "
        f"f(y_true, y_pred), received {identifier!r}"
    )
