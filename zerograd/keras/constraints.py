"""Weight constraints: projections the optimizers apply to a variable after each update.

``MaxNorm``, ``MinMaxNorm``, ``NonNeg``, ``UnitNorm`` (Keras's formulas and defaults), and
``get`` / ``serialize`` / ``deserialize`` as ``keras.constraints`` has them.
"""

from __future__ import annotations

import inspect as _inspect

from zerograd.keras import ops as _ops

_EPSILON = 1e-7  # Keras's backend.epsilon() default


def _norms(w, axis):
    """Euclidean norms of ``w`` along ``axis``, kept as size-1 axes for broadcasting."""
    return _ops.sqrt(_ops.sum(_ops.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: ``__call__(w)`` returns the projected weight (here ``w`` unchanged)."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        """The constructor arguments, JSON-ready."""
        return {}

    @classmethod
    def from_config(cls, config: dict):
        """Rebuild the constraint from ``get_config()``'s dict."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Rescale each slice along ``axis`` whose norm exceeds ``max_value`` down to it."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        w = _ops.convert_to_tensor(w)
        norms = _norms(w, self.axis)
        desired = _ops.clip(norms, 0, self.max_value)
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Move each slice's norm toward [min_value, max_value]; ``rate`` 1.0 enforces it fully."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value = min_value, max_value
        self.rate, self.axis = rate, axis

    def __call__(self, w):
        w = _ops.convert_to_tensor(w)
        norms = _norms(w, self.axis)
        clipped = _ops.clip(norms, self.min_value, self.max_value)
        desired = self.rate * clipped + (1 - self.rate) * norms
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


class NonNeg(Constraint):
    """Negative entries become zero."""

    def __call__(self, w):
        return _ops.maximum(_ops.convert_to_tensor(w), 0)


class UnitNorm(Constraint):
    """Scale each slice along ``axis`` to norm 1."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _ops.convert_to_tensor(w)
        return w / (_EPSILON + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm

_BY_NAME = {
    **{c.__name__: c for c in (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)},
    "constraint": Constraint,
    "max_norm": MaxNorm,
    "min_max_norm": MinMaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
}


def serialize(constraint):
    """Keras's config dict for ``constraint`` (None stays None)."""
    from zerograd.keras.saving.serialization import serialize_keras_object

    return serialize_keras_object(constraint)


def deserialize(config, custom_objects=None):
    """A constraint from ``serialize``'s dict (or a name)."""
    from zerograd.keras.saving.serialization import deserialize_keras_object

    return deserialize_keras_object(config, custom_objects=custom_objects, module_objects=_BY_NAME)


def get(identifier):
    """A constraint from None, a name ('max_norm', 'NonNeg', ...), a config dict or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _BY_NAME.get(identifier)
    else:
        obj = identifier
    if _inspect.isclass(obj):
        obj = obj()
    if not callable(obj):
        raise ValueError(
            f"keras.constraints.get: could not interpret constraint identifier {identifier!r}; "
            f"expected None, one of {sorted(_BY_NAME)}, a config dict or a callable"
        )
    return obj
