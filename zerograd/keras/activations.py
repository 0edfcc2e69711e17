"""Keras activations (``keras.activations``): Keras 3's functions, names and defaults, computed by
``zerograd.keras.ops`` (so each accepts lists, arrays, Tensors and symbolic KerasTensors)."""

from __future__ import annotations

import types

from zerograd.keras import ops
from zerograd.keras.base import KerasTensor


def _as_tensor(x):
    """``x`` as a Tensor (lists and arrays converted); KerasTensors stay symbolic."""
    return x if isinstance(x, KerasTensor) else ops.convert_to_tensor(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0); with ``threshold`` (x kept only above it), ``max_value`` (a ceiling) and
    ``negative_slope`` (the slope below the threshold), as Keras's relu."""
    x = _as_tensor(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return ops.leaky_relu(x, negative_slope=negative_slope)
    negative = ops.relu(threshold - x) if negative_slope != 0.0 else None
    y = ops.where(ops.greater(x, threshold), x, 0.0) if threshold != 0 else ops.relu(x)
    if max_value is not None:
        y = ops.clip(y, 0.0, max_value)
    return y if negative is None else y - negative_slope * negative


def leaky_relu(x, negative_slope=0.2):
    """x for x > 0, else negative_slope * x."""
    return ops.leaky_relu(x, negative_slope=negative_slope)


def relu6(x):
    """min(max(x, 0), 6)."""
    return ops.relu6(x)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``."""
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``."""
    return ops.log_softmax(x, axis=axis)


def elu(x, alpha=1.0):
    """x for x > 0, else alpha * (exp(x) - 1)."""
    return ops.elu(x, alpha=alpha)


def selu(x):
    """Scaled ELU with Klambauer et al.'s constants."""
    return ops.selu(x)


def celu(x, alpha=1.0):
    """max(x, 0) + min(alpha * (exp(x / alpha) - 1), 0)."""
    return ops.celu(x, alpha=alpha)


def softplus(x):
    """log(1 + exp(x))."""
    return ops.softplus(x)


def softsign(x):
    """x / (1 + |x|)."""
    return ops.softsign(x)


def soft_shrink(x, threshold=0.5):
    """x shrunk towards 0 by ``threshold`` (0 inside [-threshold, threshold])."""
    return ops.soft_shrink(x, threshold=threshold)


def hard_shrink(x, threshold=0.5):
    """x where |x| > threshold, else 0."""
    return ops.hard_shrink(x, threshold=threshold)


def sparse_plus(x):
    """0 for x <= -1, x for x >= 1, (x + 1)^2 / 4 between."""
    return ops.sparse_plus(x)


def squareplus(x, b=4):
    """(x + sqrt(x^2 + b)) / 2."""
    return ops.squareplus(x, b=b)


def silu(x):
    """x * sigmoid(x) (also called swish)."""
    return ops.silu(x)


def gelu(x, approximate=False):
    """Gaussian error linear unit: exact (erf) by default, the tanh form if ``approximate``."""
    return ops.gelu(x, approximate=approximate)


def glu(x, axis=-1):
    """a * sigmoid(b), with a and b the two halves of x along ``axis``."""
    return ops.glu(x, axis=axis)


def tanh(x):
    """Hyperbolic tangent."""
    return ops.tanh(x)


def tanh_shrink(x):
    """x - tanh(x)."""
    return ops.tanh_shrink(x)


def hard_tanh(x):
    """x clipped to [-1, 1]."""
    return ops.hard_tanh(x)


def threshold(x, threshold, default_value):
    """x where x > threshold, else default_value."""
    return ops.threshold(x, threshold, default_value)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return ops.sigmoid(x)


def exponential(x):
    """exp(x)."""
    return ops.exp(x)


def hard_sigmoid(x):
    """relu6(x + 3) / 6: a piecewise-linear sigmoid."""
    return ops.hard_sigmoid(x)


def hard_silu(x):
    """x * hard_sigmoid(x) (also called hard_swish)."""
    return ops.hard_silu(x)


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x)."""
    return ops.log_sigmoid(x)


def sparse_sigmoid(x):
    """0 for x <= -1, 1 for x >= 1, (x + 1) / 2 between."""
    return ops.sparse_sigmoid(x)


def linear(x):
    """The identity."""
    return x


def mish(x):
    """x * tanh(softplus(x))."""
    x = _as_tensor(x)
    return x * ops.tanh(ops.softplus(x))


def sparsemax(x, axis=-1):
    """The Euclidean projection of x onto the probability simplex along ``axis``."""
    return ops.sparsemax(x, axis=axis)


swish, hard_swish = silu, hard_silu

ALL = {
    fn.__name__: fn
    for fn in (
        relu,
        leaky_relu,
        relu6,
        softmax,
        celu,
        elu,
        selu,
        softplus,
        softsign,
        squareplus,
        soft_shrink,
        sparse_plus,
        silu,
        gelu,
        glu,
        tanh,
        tanh_shrink,
        threshold,
        sigmoid,
        sparse_sigmoid,
        exponential,
        hard_sigmoid,
        hard_silu,
        hard_tanh,
        hard_shrink,
        linear,
        mish,
        log_softmax,
        log_sigmoid,
        sparsemax,
    )
}
ALL["swish"], ALL["hard_swish"] = silu, hard_silu


def get(identifier):
    """An activation function from a name, a serialized dict, a callable or None (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in ALL:
        return ALL[identifier]
    if isinstance(identifier, str):  # a registered (or custom_objects=) function
        from zerograd.keras.saving.registry import lookup_custom

        found = lookup_custom([identifier, identifier.rsplit(">", 1)[-1]])
        if found is not None:
            return found
    raise ValueError(
        f"activations.get: expected None, a callable, a dict or one of {sorted(ALL)}, "
        f"received {identifier!r}"
    )


def serialize(activation) -> str:
    """The name a built-in activation is saved under (a registered name for custom functions)."""
    for name, fn in ALL.items():
        if fn is activation:
            return name
    if not isinstance(activation, types.FunctionType) and not hasattr(activation, "__name__"):
        raise ValueError(
            f"activations.serialize: expected a named function, received {activation!r}"
        )
    from zerograd.keras.saving.registry import get_registered_name

    return get_registered_name(activation)


def deserialize(config, custom_objects=None):
    """The activation function saved as ``config`` (a name or Keras's function dict)."""
    if isinstance(config, dict):
        if config.get("class_name") != "function":
            raise ValueError(
                "activations.deserialize: expected a dict with class_name 'function', "
                f"received {config!r}"
            )
        config = config.get("config")
    if isinstance(config, str):
        if config in ALL:
            return ALL[config]
        from zerograd.keras.saving.registry import lookup_custom

        found = lookup_custom([config, config.rsplit(">", 1)[-1]], custom_objects)
        if found is not None:
            return found
    raise ValueError(
        f"activations.deserialize: expected one of {sorted(ALL)} or a registered function name, "
        f"received {config!r}"
    )
