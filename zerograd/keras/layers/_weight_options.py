"""Weight options shared by the Keras layers: constraints (read through ``keras.constraints``) and
Keras-only options that zerograd accepts only at their neutral value."""

from __future__ import annotations


def constraint_get(layer, arg: str, value):
    """The constraint for ``arg`` (None stays None), through ``zerograd.keras.constraints``."""
    if value is None:
        return None
    try:
        from zerograd.keras import constraints
    except ImportError:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': {arg} needs zerograd.keras.constraints, "
            f"which this build lacks; received {value!r}"
        ) from None
    return constraints.get(value)


def constraint_serialize(value):
    """Keras's config form of a constraint (None for none)."""
    if value is None:
        return None
    from zerograd.keras import constraints

    return constraints.serialize(value)


def only_neutral(layer, **options) -> None:
    """Raise for an option of Keras that zerograd lacks unless it holds None (feature off)."""
    for arg, value in options.items():
        if value is not None:
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}': {arg} is not supported by zerograd "
                f"(only None), received {arg}={value!r}"
            )
