"""Tensor creation: from data, constants, ranges and random draws (seeded by ``manual_seed``)."""

from __future__ import annotations

import numpy as np

from zerograd import backend
from zerograd.tensor import Tensor


def _size(shape, op: str) -> tuple:
    """``zeros(2, 3)`` and ``zeros((2, 3))`` alike, as a tuple of non-negative ints."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = shape[0]
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(
            f"{op}: expected a shape (ints or a tuple of ints), received {shape!r}"
        ) from None
    for n in shape:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{op}: expected a shape of ints, received {shape!r}")
        if n < 0:
            raise ValueError(f"{op}: sizes must be non-negative, received shape {shape}")
    return shape


def _new(array, dtype, requires_grad, device) -> Tensor:
    """Wrap a freshly made NumPy array: cast, move, and set requires_grad."""
    dtype = backend.as_dtype(dtype)
    if dtype is not None and array.dtype != dtype:
        array = array.astype(dtype)
    return Tensor(array, requires_grad=requires_grad, device=device)


def tensor(data, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A new tensor holding a copy of ``data``.

    Example:
        >>> zg.tensor([[1, 2], [3, 4]], dtype='float32', requires_grad=True)
    """
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
        data = [d.numpy() if isinstance(d, Tensor) else d for d in data]
    data = data.copy() if hasattr(data, "copy") and hasattr(data, "shape") else data
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, received {type(array).__name__}")
    return Tensor(array)


def zeros(*shape, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _new(
        np.zeros(_size(shape, "zeros"), backend.as_dtype(dtype) or backend.get_default_dtype()),
        None,
        requires_grad,
        device,
    )


def ones(*shape, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _new(
        np.ones(_size(shape, "ones"), backend.as_dtype(dtype) or backend.get_default_dtype()),
        None,
        requires_grad,
        device,
    )


def full(shape, fill_value, dtype=None, requires_grad=False, device=None) -> Tensor:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if dtype is None:
        dtype = (
            backend.get_default_dtype()
            if isinstance(fill_value, float)
            else np.asarray(fill_value).dtype
        )
    return _new(
        np.full(shape, fill_value, dtype=backend.as_dtype(dtype)), None, requires_grad, device
    )


def zeros_like(x: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return zeros(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad, device=x.device)


def ones_like(x: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return ones(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad, device=x.device)


def full_like(x: Tensor, fill_value, dtype=None, requires_grad=False) -> Tensor:
    return full(
        x.shape, fill_value, dtype=dtype or x.dtype, requires_grad=requires_grad, device=x.device
    )


def arange(start, stop=None, step=1, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Evenly spaced values in [start, stop); floats give the default float dtype."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError(f"arange: step must not be 0, received start={start}, stop={stop}, step=0")
    array = np.arange(start, stop, step)
    if dtype is None and array.dtype == np.float64:
        dtype = backend.get_default_dtype()
    return _new(array, dtype, requires_grad, device)


def linspace(start, stop, num=50, dtype=None, requires_grad=False, device=None) -> Tensor:
    array = np.linspace(start, stop, num)
    return _new(array, dtype or backend.get_default_dtype(), requires_grad, device)


def eye(n: int, m: int | None = None, dtype=None, requires_grad=False, device=None) -> Tensor:
    return _new(
        np.eye(n, m, dtype=backend.as_dtype(dtype) or backend.get_default_dtype()),
        None,
        requires_grad,
        device,
    )


def rand(*shape, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Uniform draws in [0, 1)."""
    dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
    array = backend.rng().random(
        _size(shape, "rand"), dtype=np.float64 if dtype == np.float64 else np.float32
    )
    return _new(array, dtype, requires_grad, device)


def randn(*shape, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Standard normal draws."""
    dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
    array = backend.rng().standard_normal(
        _size(shape, "randn"), dtype=np.float64 if dtype == np.float64 else np.float32
    )
    return _new(array, dtype, requires_grad, device)


def randint(low, high=None, size=(), dtype="int64", device=None) -> Tensor:
    """Integers in [low, high) (in [0, low) when ``high`` is None)."""
    if high is None:
        low, high = 0, low
    size = (size,) if isinstance(size, int) else tuple(size)
    return _new(backend.rng().integers(low, high, size=size), dtype, False, device)


def manual_seed(seed: int) -> None:
    """Make every random draw in zerograd reproducible."""
    backend.manual_seed(seed)
