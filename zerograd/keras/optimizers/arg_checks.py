"""Constructor checks of the Keras optimizers: each hyper-parameter is a finite number in its
range, checked once when the optimizer is made (never per step).

Example:
    >>> number("Adam", "beta_1", 0.9, low=0.0, high=1.0, high_open=True)
    0.9
"""

from __future__ import annotations

import math
import numbers


def _interval(low, high, low_open: bool, high_open: bool) -> str:
    if high is None:
        return f"{'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"{'<' if high_open else '<='} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def number(
    cls: str,
    name: str,
    value,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
):
    """``value`` if it is a finite real number within the bounds (None passes when allowed);
    TypeError for a non-number, ValueError for NaN, inf or a value out of range."""
    if value is None and allow_none:
        return None
    where = _interval(low, high, low_open, high_open) if low is not None or high is not None else ""
    want = f"a finite number {where}".rstrip() + (" or None" if allow_none else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{cls}: {name} must be {want}, received {value!r} of type {type(value).__name__}"
        )
    v = float(value)
    ok = math.isfinite(v)
    ok = ok and (low is None or (v > low if low_open else v >= low))
    ok = ok and (high is None or (v < high if high_open else v <= high))
    if not ok:
        raise ValueError(f"{cls}: {name} must be {want}, received {value!r}")
    return value


def fraction(cls: str, name: str, value, closed: bool = False):
    """A decay rate such as beta_1 or rho: in [0, 1) ([0, 1] when ``closed``)."""
    return number(cls, name, value, low=0.0, high=1.0, high_open=not closed)


def non_negative(cls: str, name: str, value, allow_none: bool = False):
    """epsilon, weight decay and the like: a finite number >= 0."""
    return number(cls, name, value, low=0.0, allow_none=allow_none)


def positive(cls: str, name: str, value, allow_none: bool = False):
    """Clipping thresholds and scale factors: a finite number > 0."""
    return number(cls, name, value, low=0.0, low_open=True, allow_none=allow_none)
