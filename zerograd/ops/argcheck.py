"""Argument checks shared by ops, layers and models: each names the owner, the argument, what
was expected and what was received. All are O(1) in the data (they never touch an array's
elements), so they may run on every call.

Example:
    >>> size("Linear", "in_features", -1)
    Traceback (most recent call last):
    ValueError: Linear: in_features must be a non-negative integer, received -1
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from zerograd.amp import autocast_mode as _autocast


def show(value) -> str:
    """``value`` for an error message: its repr, and its type unless it is a plain int."""
    return repr(value) if type(value) is int else f"{value!r} ({type(value).__name__})"


def is_integer(value) -> bool:
    """Whether ``value`` is an integer (Python or NumPy), booleans excluded."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def integer(
    owner: str,
    name: str,
    value,
    minimum: int | None = None,
    what: str = "",
    allow_none: bool = False,
) -> int | None:
    """``value`` as a Python int; booleans, floats and strings are a TypeError, values below
    ``minimum`` a ValueError. None passes (and is returned) when ``allow_none``."""
    if value is None and allow_none:
        return None
    none = " or None" if allow_none else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an integer{none}, received {show(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        want = what or ("a positive integer" if minimum == 1 else f"an integer >= {minimum}")
        raise ValueError(f"{owner}: {name} must be {want}{none}, received {value}")
    return value


def size(owner: str, name: str, value, minimum: int = 0) -> int:
    """A layer size: an integer >= ``minimum`` (0 by default, as PyTorch allows empty layers)."""
    what = "a non-negative integer" if minimum == 0 else ""
    return integer(owner, name, value, minimum, what)


def positive(owner: str, name: str, value) -> int:
    """An integer >= 1."""
    return integer(owner, name, value, 1)


def ints(owner: str, name: str, value, n: int, minimum: int) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints, each >= ``minimum``, as a tuple of ``n`` ints."""
    items = (value,) * n if isinstance(value, numbers.Integral) else value
    if isinstance(items, (str, bytes)) or not hasattr(items, "__len__") or len(items) != n:
        raise TypeError(
            f"{owner}: {name} must be an integer or a sequence of {n} integers, "
            f"received {show(value)}"
        )
    if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in items):
        raise TypeError(f"{owner}: {name} must hold integers, received {value!r}")
    items = tuple(int(v) for v in items)
    if min(items, default=minimum) < minimum:
        want = "positive integers" if minimum == 1 else f"integers >= {minimum}"
        raise ValueError(f"{owner}: {name} must be {want}, received {value!r}")
    return items


def number(
    owner: str,
    name: str,
    value,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = False,
    allow_none: bool = False,
) -> float | None:
    """A real number (not a bool, not NaN) in the interval ``low``..``high`` as a float;
    ``*_open`` excludes the end, ``finite`` refuses +-inf, ``allow_none`` lets None through."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        kind = "a finite number" if finite else "a number"
        none = " or None" if allow_none else ""
        raise TypeError(f"{owner}: {name} must be {kind}{none}, received {show(value)}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if math.isnan(value) or too_low or too_high or (finite and math.isinf(value)):
        lo = "(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}"
        hi = "inf)" if high is None else f"{high:g}" + (")" if high_open else "]")
        want = f"in {lo}, {hi}"
        if finite:
            want = "a finite number" + ("" if low is None and high is None else f" {want}")
        none = " or None" if allow_none else ""
        raise ValueError(f"{owner}: {name} must be {want}{none}, received {value!r}")
    return value


def probability(owner: str, name: str, value) -> float:
    """A dropout-style probability in [0, 1]."""
    return number(owner, name, value, 0.0, 1.0)


def choice(owner: str, name: str, value, options) -> object:
    """One of ``options`` (compared with ==, types checked so 1 never matches True)."""
    if not any(type(value) is type(o) and value == o for o in options):
        shown = ", ".join(repr(o) for o in options)
        raise ValueError(f"{owner}: {name} must be one of {shown}, received {value!r}")
    return value


def flag(owner: str, name: str, value) -> bool:
    """A bool (NumPy bools too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, received {show(value)}")
    return bool(value)


def axis(owner: str, value, ndim: int, name: str = "axis") -> int:
    """Axis ``value`` of a tensor of ``ndim`` dimensions as a non-negative int (negative counts
    from the end); out of range is a ValueError, never wrapped around. O(1): it runs per call."""
    if type(value) is int and -ndim <= value < ndim:  # the common case, first: shape ops call this
        return value % ndim
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an integer, received {show(value)}")
    if not -ndim <= value < ndim:
        want = f"in [{-ndim}, {ndim - 1}]" if ndim else "omitted (there are no axes)"
        raise ValueError(
            f"{owner}: {name} must be {want} for a tensor of {ndim} dimensions, received {value}"
        )
    return int(value) % ndim


def same_dtype(owner: str, x, weight, what: str = "input") -> None:
    """A TypeError, as PyTorch's 'mat1 and mat2 must have the same dtype', when an input's dtype
    differs from the weight's (no silent up-cast, no int inputs into float layers)."""
    if x.dtype != weight.dtype and not (_autocast._ACTIVE and _autocast.will_cast(x, weight)):
        raise TypeError(
            f"{owner}: expected {what} of dtype {weight.dtype} (the weight's dtype), received "
            f"{x.dtype}; convert it with .astype({str(weight.dtype)!r}) (the input and weight "
            "must have the same dtype)"
        )
