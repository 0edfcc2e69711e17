"""NumPy-style creation ops: zeros, ones, full, arange, linspace, eye, triangles, meshgrid."""

from __future__ import annotations

import operator

import numpy as np

import zerograd as zg
from zerograd import backend
from zerograd.keras.ops.core import const, standardize_dtype, tensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.tensor import Tensor

__all__ = [
    "zeros",
    "ones",
    "empty",
    "full",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty_like",
    "arange",
    "linspace",
    "eye",
    "identity",
    "tri",
    "tril",
    "triu",
    "meshgrid",
    "array",
    "logspace",
    "geomspace",
    "bartlett",
    "blackman",
    "hamming",
    "hanning",
    "kaiser",
]


def dtype_or_default(dtype, op: str):
    """A dtype name or None (the default float dtype) as a NumPy dtype."""
    return standardize_dtype(dtype, op) or backend.get_default_dtype()


def _dim(d, shape, op: str, what: str) -> int:
    """One dimension as an int: Python and NumPy ints, and 0-d integer tensors (``operator.index``,
    as Keras takes ``ops.shape(x)[0]``); bools, floats and strings are a TypeError naming ``op``."""
    if not isinstance(d, (bool, np.bool_)):
        try:
            return operator.index(d)
        except TypeError:
            pass
    raise TypeError(
        f"{op}: {what} integers, received {shape!r} with {d!r} of type {type(d).__name__}"
    )


def as_shape(shape, op: str = "reshape") -> tuple:
    """An int, a sequence of ints or a 1-D integer tensor as a shape tuple (no fractions)."""
    if isinstance(shape, Tensor):
        shape = shape.tolist()
    dims = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    return tuple(_dim(d, shape, op, "the shape must hold") for d in dims)


def new_shape(shape, op: str) -> tuple:
    """The shape of a new tensor: non-negative ints only, or an error naming ``op``."""
    if isinstance(shape, Tensor):
        shape = shape.tolist()
    dims = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    dims = tuple(_dim(d, shape, op, "shape must hold") for d in dims)
    if any(d < 0 for d in dims):
        raise ValueError(f"{op}: shape must not have negative dimensions, received {shape!r}")
    return dims


def _count(value, op: str, name: str) -> int:
    """A non-negative integer argument (a size), or an error naming ``op`` and ``name``."""
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{op}: {name} must be an integer, received {type(value).__name__} {value!r}"
        )
    if value < 0:
        raise ValueError(f"{op}: {name} must be >= 0, received {value}")
    return int(value)


# --- creation ------------------------------------------------------------------------------------


def zeros(shape, dtype=None) -> Tensor:
    """Zeros of ``shape`` (float32 unless ``dtype``)."""
    return const(np.zeros(new_shape(shape, "zeros"), dtype_or_default(dtype, "zeros")))


def ones(shape, dtype=None) -> Tensor:
    """Ones of ``shape``."""
    return const(np.ones(new_shape(shape, "ones"), dtype_or_default(dtype, "ones")))


def empty(shape, dtype=None) -> Tensor:
    """A tensor of ``shape`` (zeros: values are unspecified in Keras)."""
    return zeros(shape, dtype)


def full(shape, fill_value, dtype=None) -> Tensor:
    """``fill_value`` repeated to ``shape``."""
    dt = dtype_or_default(dtype, "full")
    return const(np.full(new_shape(shape, "full"), tensor(fill_value).numpy(), dtype=dt))


@symbolic
def zeros_like(x, dtype=None) -> Tensor:
    """Zeros of x's shape and dtype."""
    x = tensor(x)
    return zeros(x.shape, dtype or x.dtype)


@symbolic
def ones_like(x, dtype=None) -> Tensor:
    """Ones of x's shape and dtype."""
    x = tensor(x)
    return ones(x.shape, dtype or x.dtype)


@symbolic
def full_like(x, fill_value, dtype=None) -> Tensor:
    """``fill_value`` in x's shape and dtype."""
    x = tensor(x)
    return full(x.shape, fill_value, dtype or x.dtype)


empty_like = zeros_like


def arange(start, stop=None, step=None, dtype=None) -> Tensor:
    """Evenly spaced values in [start, stop): int32 for integers, float32 for floats."""
    step = 1 if step is None else step
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError(f"arange: step must be nonzero, received step={step!r}")
    a = np.arange(start, stop, step)
    default = backend.int32 if a.dtype.kind in "iu" else backend.get_default_dtype()
    return const(a.astype(standardize_dtype(dtype, "arange") or default))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop``."""
    a, step = np.linspace(
        tensor(start).numpy(),
        tensor(stop).numpy(),
        _count(num, "linspace", "num"),
        endpoint=endpoint,
        retstep=True,
        axis=axis,
    )
    out = const(a.astype(dtype_or_default(dtype, "linspace")))
    return (out, step) if retstep else out


def eye(N, M=None, k=0, dtype=None) -> Tensor:  # noqa: N803 - the Keras names
    """Ones on the k-th diagonal of an N x M matrix."""
    N = _count(N, "eye", "N")  # noqa: N806
    M = None if M is None else _count(M, "eye", "M")  # noqa: N806
    return const(np.eye(N, M, int(k), dtype_or_default(dtype, "eye")))


def identity(n, dtype=None) -> Tensor:
    """The n x n identity matrix."""
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None) -> Tensor:  # noqa: N803
    """Ones at and below the k-th diagonal."""
    N = _count(N, "tri", "N")  # noqa: N806
    M = None if M is None else _count(M, "tri", "M")  # noqa: N806
    return const(np.tri(N, M, int(k), dtype_or_default(dtype, "tri")))


@symbolic
def tril(x, k=0) -> Tensor:
    """x with the entries above the k-th diagonal zeroed."""
    x = _matrix(x, "tril")
    return zg.where(np.tri(*x.shape[-2:], k, dtype=bool), x, 0)


@symbolic
def triu(x, k=0) -> Tensor:
    """x with the entries below the k-th diagonal zeroed."""
    x = _matrix(x, "triu")
    return zg.where(~np.tri(*x.shape[-2:], k - 1, dtype=bool), x, 0)


def _matrix(x, op: str) -> Tensor:
    x = tensor(x)
    if x.ndim < 2:
        raise ValueError(
            f"{op}: expected a tensor of at least 2 dimensions, received shape {tuple(x.shape)}"
        )
    return x


@symbolic
def meshgrid(*x, indexing="xy") -> list:
    """Coordinate grids of 1-D tensors ('xy': Cartesian, 'ij': matrix indexing)."""
    xs = [tensor(v) for v in x]
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', received {indexing!r}")
    shape = [len(v) for v in xs]
    if indexing == "xy" and len(xs) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, v in enumerate(xs):
        axis = {0: 1, 1: 0}.get(i, i) if indexing == "xy" and len(xs) >= 2 else i
        view = [1] * len(xs)
        view[axis] = len(v)
        out.append(zg.broadcast_to(zg.reshape(v, tuple(view)), tuple(shape)))
    return out


def array(x, dtype=None) -> Tensor:
    """A tensor of ``x`` (as ``convert_to_tensor``)."""
    return tensor(x, dtype, "array")


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0) -> Tensor:
    """``base`` to the powers of ``linspace(start, stop, num)``."""
    a = np.logspace(
        start, stop, _count(num, "logspace", "num"), endpoint=endpoint, base=base, axis=axis
    )
    return const(a.astype(dtype_or_default(dtype, "logspace")))


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0) -> Tensor:
    """``num`` values from ``start`` to ``stop`` evenly spaced on a log scale."""
    a = np.geomspace(start, stop, _count(num, "geomspace", "num"), endpoint=endpoint, axis=axis)
    return const(a.astype(dtype_or_default(dtype, "geomspace")))


def _window(fn, x, *args) -> Tensor:
    return const(fn(int(x), *args).astype(backend.get_default_dtype()))


def bartlett(x) -> Tensor:
    """The Bartlett (triangular) window of length x."""
    return _window(np.bartlett, x)


def blackman(x) -> Tensor:
    """The Blackman window of length x."""
    return _window(np.blackman, x)


def hamming(x) -> Tensor:
    """The Hamming window of length x."""
    return _window(np.hamming, x)


def hanning(x) -> Tensor:
    """The Hann window of length x."""
    return _window(np.hanning, x)


def kaiser(x, beta) -> Tensor:
    """The Kaiser window of length x."""
    return _window(np.kaiser, x, beta)
