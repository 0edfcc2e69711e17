"""Symbolic tensors of functional models (``KerasTensor``), their Python operators (each one the
``keras.ops`` function Keras 3 maps it to, called on the symbolic path, so it adds an op layer to the
model) and the zeros that stand in for them when a layer runs to learn its output shapes."""

from __future__ import annotations

import numpy as np

from zerograd import backend
from zerograd.keras.variables import DTypeName
from zerograd.tensor import Tensor


def _op(name: str):
    from zerograd.keras import ops

    return getattr(ops, name)


def _binary(name: str, reflected: bool = False):
    def method(self, other):
        return _op(name)(other, self) if reflected else _op(name)(self, other)

    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    method.__doc__ = f"``keras.ops.{name}`` on the symbolic path."
    return method


def _unary(name: str):
    def method(self):
        return _op(name)(self)

    method.__doc__ = f"``keras.ops.{name}`` on the symbolic path."
    return method


class SymbolicOperators:
    """The operators a ``KerasTensor`` supports, as Keras 3's (``==`` stays identity, as there)."""

    __add__, __radd__ = _binary("add"), _binary("add", True)
    __sub__, __rsub__ = _binary("subtract"), _binary("subtract", True)
    __mul__, __rmul__ = _binary("multiply"), _binary("multiply", True)
    __truediv__, __rtruediv__ = _binary("divide"), _binary("divide", True)
    __floordiv__, __rfloordiv__ = _binary("floor_divide"), _binary("floor_divide", True)
    __mod__, __rmod__ = _binary("mod"), _binary("mod", True)
    __pow__, __rpow__ = _binary("power"), _binary("power", True)
    __matmul__, __rmatmul__ = _binary("matmul"), _binary("matmul", True)
    __and__, __rand__ = _binary("logical_and"), _binary("logical_and", True)
    __or__, __ror__ = _binary("logical_or"), _binary("logical_or", True)
    __xor__, __rxor__ = _binary("logical_xor"), _binary("logical_xor", True)
    __lt__, __le__ = _binary("less"), _binary("less_equal")
    __gt__, __ge__ = _binary("greater"), _binary("greater_equal")
    __ne__ = _binary("not_equal")
    __neg__, __abs__, __invert__ = _unary("negative"), _unary("abs"), _unary("logical_not")
    __hash__ = object.__hash__  # identity, as Keras's: KerasTensors key dicts and sets
    __array_ufunc__ = None  # ``array * kt``: NumPy defers to the reflected operator above

    def __getitem__(self, key):
        """``keras.ops.get_item`` on the symbolic path."""
        return _op("get_item")(self, key)

    def __round__(self, ndigits=None):
        return _op("round")(self, 0 if ndigits is None else ndigits)

    def __bool__(self) -> bool:
        raise TypeError(
            "A symbolic KerasTensor has no truth value: it cannot be used in Python control flow "
            "(if/while/and/or); use keras.ops.cond or keras.ops.where"
        )

    def __iter__(self):
        raise TypeError(
            "A symbolic KerasTensor cannot be iterated over: use keras.ops.unstack or indexing"
        )


class KerasTensor(SymbolicOperators):
    """A symbolic tensor of a functional model: a shape (batch axis None), a dtype name and the
    layer call that produced it; Python operators on it are ``keras.ops`` calls."""

    sparse = ragged = False

    def __init__(self, shape, layer=None, inbound=None, kwargs=None, name=None, dtype=None):
        self.shape = tuple(shape)
        self.layer, self.inbound, self.kwargs = layer, inbound, kwargs or {}
        self.args = ()
        self.name = name
        self.dtype = DTypeName(dtype or backend.get_default_dtype())

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


def _flatten(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _is_symbolic(x) -> bool:
    return any(isinstance(t, KerasTensor) for t in _flatten(x))


# sizes of the unknown non-batch axes in the passes on zeros: large enough for most convolution
# and pooling windows, small enough to stay cheap; a second pass with one more finds the output
# axes that follow them. A layer that needs more (a long kernel) is retried with the larger sizes.
FREE_AXIS = 32
LARGER_FREE_AXES = (256, 2048)


def _to_dummy(x, free: int = FREE_AXIS):
    """Zeros in place of KerasTensors (in lists and tuples too); other values as they are."""
    if isinstance(x, KerasTensor):
        return _dummy(x, free=free)
    if isinstance(x, (list, tuple)):
        return type(x)(_to_dummy(t, free) for t in x)
    return x


def _dummy(kt: KerasTensor, batch: int = 2, free: int = FREE_AXIS):
    """Zeros of ``kt``'s shape: ``batch`` rows, ``free`` for its other unknown axes."""
    shape = tuple((batch if i == 0 else free) if d is None else d for i, d in enumerate(kt.shape))
    dtype = getattr(kt, "dtype", None) or backend.get_default_dtype()
    from zerograd.keras import devices

    return Tensor(np.zeros(shape, dtype=dtype), device=devices.current())


def standardize_shape(shape, who: str, what: str = "shape") -> tuple:
    """``shape`` as a tuple of non-negative ints and None, or a clear error naming ``who``.

    Keras refuses a bare int (``Input(shape=5)``), negative, fractional and string dimensions."""
    if isinstance(shape, (str, bytes, dict)) or not hasattr(shape, "__iter__"):
        raise ValueError(
            f"{who}: {what} must be a tuple of dimensions (ints or None), e.g. (5,), received "
            f"{type(shape).__name__} {shape!r}"
        )
    shape = tuple(shape)
    out = []
    for d in shape:
        if d is None:
            out.append(None)
            continue
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise ValueError(
                f"{who}: {what} must hold ints or None, received {tuple(shape)!r} with the "
                f"dimension {d!r} of type {type(d).__name__}"
            )
        if d < 0:
            raise ValueError(
                f"{who}: {what} must not have negative dimensions, received {tuple(shape)!r}"
            )
        out.append(int(d))
    return tuple(out)
