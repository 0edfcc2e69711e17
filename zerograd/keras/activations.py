"""Keras activations by name, mapped onto zerograd's ops."""

from __future__ import annotations

from zerograd.ops import activation as A
from zerograd.ops import elementwise as E


def linear(x):
    return x


def softmax(x, axis: int = -1):
    return A.softmax(x, axis)


def log_softmax(x, axis: int = -1):
    return A.log_softmax(x, axis)


def gelu(x, approximate: bool = True):
    """Keras's gelu defaults to the tanh approximation."""
    return A.gelu(x, "tanh" if approximate else "none")


def leaky_relu(x, negative_slope: float = 0.2):
    return A.leaky_relu(x, negative_slope)


relu, sigmoid, tanh, elu, silu = E.relu, E.sigmoid, E.tanh, A.elu, A.silu
swish = silu

ALL = {
    "linear": linear,
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "elu": elu,
    "gelu": gelu,
    "silu": silu,
    "swish": swish,
    "leaky_relu": leaky_relu,
}


def get(identifier):
    """An activation function from a name, a callable or None (linear)."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in ALL:
        return ALL[identifier]
    if isinstance(identifier, dict) and identifier.get("class_name") == "function":
        return get(identifier.get("config"))  # Keras's serialized function
    if isinstance(identifier, str):  # a registered (or custom_objects=) function
        from zerograd.keras.saving.registry import lookup_custom

        found = lookup_custom([identifier, identifier.rsplit(">", 1)[-1]])
        if found is not None:
            return found
    raise ValueError(f"unknown activation: expected one of {sorted(ALL)}, received {identifier!r}")


def serialize(fn) -> str:
    for name, f in ALL.items():
        if f is fn:
            return name
    from zerograd.keras.saving.registry import get_registered_name

    return get_registered_name(fn) if hasattr(fn, "__name__") else "linear"
