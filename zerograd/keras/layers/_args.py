"""Argument checks shared by the Keras layers: data formats, int tuples, padding pairs."""

from __future__ import annotations

import math


def data_format(layer, value) -> str:
    """'channels_last' (the default, as Keras's image_data_format) or 'channels_first'."""
    if value is None:
        return "channels_last"
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': data_format must be 'channels_last' or "
            f"'channels_first', received {value!r}"
        )
    return value


def int_tuple(layer, value, n: int, name: str, minimum: int = 1) -> tuple:
    """An int or n ints, each at least ``minimum``, as a tuple of n ints."""
    if isinstance(value, int):
        v = (value,) * n
    elif isinstance(value, (list, tuple)):
        v = tuple(value)
    else:
        v = ()
    if len(v) != n or not all(isinstance(i, int) and i >= minimum for i in v):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': {name} must be an int or {n} ints, each at "
            f"least {minimum}, received {name}={value!r}"
        )
    return v


def conv_geometry(layer, kernel_size, strides, dilation_rate, n: int) -> tuple:
    """``(kernel_size, strides, dilation_rate)`` of an n-D convolution as n-tuples; strides and
    dilation above 1 together are refused, as Keras does."""
    kernel_size = int_tuple(layer, kernel_size, n, "kernel_size")
    strides = int_tuple(layer, strides, n, "strides")
    dilation_rate = int_tuple(layer, dilation_rate, n, "dilation_rate")
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': strides > 1 and dilation_rate > 1 cannot be "
            f"combined, received strides={strides} and dilation_rate={dilation_rate}"
        )
    return kernel_size, strides, dilation_rate


def padding_pairs(layer, value, n: int, name: str) -> tuple:
    """An int, n ints (symmetric) or n (before, after) pairs: n pairs of non-negative ints."""
    try:
        if isinstance(value, int):
            pairs = ((value, value),) * n
        elif n == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
            pairs = (tuple(value),)
        elif len(value) == n and all(isinstance(v, int) for v in value):
            pairs = tuple((v, v) for v in value)
        else:
            pairs = tuple(tuple(p) for p in value)
        ok = len(pairs) == n and all(
            len(p) == 2 and all(isinstance(v, int) and v >= 0 for v in p) for p in pairs
        )
    except TypeError:
        ok = False
    if not ok:
        form = "(before, after)" if n == 1 else f"{n} ints or {n} (before, after) pairs"
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': {name} must be a non-negative int or {form}, "
            f"received {name}={value!r}"
        )
    return pairs


def padding_mode(layer, value) -> str:
    """'valid' or 'same' (any case), lower-cased."""
    v = value.lower() if isinstance(value, str) else value
    if v not in ("valid", "same"):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': padding must be 'valid' or 'same', "
            f"received {value!r}"
        )
    return v


def same_pads(size: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """Keras/TensorFlow 'same': output ceil(size / s), the odd pixel of padding after."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2
