"""Ops on symbolic tensors: an op given a ``KerasTensor`` becomes a small layer of the functional
model, which replays the op on real tensors when the model runs (as Keras 3 records an operation)."""

from __future__ import annotations

import functools

import numpy as np

from zerograd.keras.base import KerasTensor, Layer, unique_name
from zerograd.keras.saving.registry import register_keras_serializable


class _Slot:
    """Where the ``index``-th symbolic argument goes in an op's arguments."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


def _has_symbolic(values) -> bool:
    for v in values:
        if isinstance(v, KerasTensor):
            return True
        if isinstance(v, (list, tuple)) and _has_symbolic(v):
            return True
        if isinstance(v, dict) and _has_symbolic(v.values()):
            return True
    return False


def _extract(obj, found: list):
    """``obj`` with each KerasTensor replaced by a ``_Slot``; the KerasTensors appended to found."""
    if isinstance(obj, KerasTensor):
        found.append(obj)
        return _Slot(len(found) - 1)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_extract(v, found) for v in obj)
    if isinstance(obj, dict):
        return {k: _extract(v, found) for k, v in obj.items()}
    return obj


def _fill(obj, values: list):
    if isinstance(obj, _Slot):
        return values[obj.index]
    if isinstance(obj, (list, tuple)):
        return type(obj)(_fill(v, values) for v in obj)
    if isinstance(obj, dict):
        return {k: _fill(v, values) for k, v in obj.items()}
    return obj


def _encode(obj):
    """Arguments for ``get_config``: slots as ``{"symbolic_input": i}``."""
    if isinstance(obj, _Slot):
        return {"symbolic_input": obj.index}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    return obj


def _decode(obj):
    if isinstance(obj, dict):
        if set(obj) == {"symbolic_input"}:
            return _Slot(obj["symbolic_input"])
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


@register_keras_serializable(package="zerograd")
class OpLayer(Layer):
    """A ``keras.ops`` function applied to symbolic tensors, as a layer of a functional model.

    Example:
        >>> x = keras.Input(shape=(3,))
        >>> y = keras.ops.square(x)          # a KerasTensor made by an OpLayer
    """

    def __init__(self, function, args=(), kwargs=None, num_inputs: int = 1, name=None, **base):
        if isinstance(function, str):
            function = _lookup(function)
        super().__init__(name=name or unique_name(function.__name__), **base)
        self.function = function
        self.op_args, self.op_kwargs = tuple(_decode(list(args))), _decode(dict(kwargs or {}))
        self.num_inputs = num_inputs

    _is_operation = True

    @property
    def _summary_type(self) -> str:
        """Keras's op class name in summaries: ``relu`` -> Relu, ``get_item`` -> GetItem."""
        return "".join(part.capitalize() for part in self.function.__name__.split("_"))

    def call(self, inputs):
        values = list(inputs) if self.num_inputs > 1 else [inputs]
        return self.function(*_fill(self.op_args, values), **_fill(self.op_kwargs, values))

    def _symbolic_call(self, *args, **kwargs):
        with np.errstate(all="ignore"):  # the dry run on zeros may take log(0), 0 / 0 ...
            return super()._symbolic_call(*args, **kwargs)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "function": self.function.__name__,
            "args": _encode(list(self.op_args)),
            "kwargs": _encode(self.op_kwargs),
            "num_inputs": self.num_inputs,
        }


def _lookup(name: str):
    from zerograd.keras import ops

    op = getattr(ops, name, None)
    if op is None:
        raise ValueError(f"OpLayer: expected the name of a keras.ops function, received {name!r}")
    return getattr(op, "eager", op)


def symbolic(fn):
    """Make an op accept KerasTensors: then it returns the KerasTensor of an ``OpLayer``."""

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if _has_symbolic(args) or (kwargs and _has_symbolic(kwargs.values())):
            found: list = []
            args, kwargs = _extract(args, found), _extract(kwargs, found)
            layer = OpLayer(fn, args, kwargs, num_inputs=len(found))
            return layer(found if len(found) > 1 else found[0])
        return fn(*args, **kwargs)

    op.eager = fn
    return op
