"""The shared argument checks: what each accepts and returns, and the one wording of its errors
(``{owner}: {name} must be <expected>, received <value>``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zerograd.ops import argcheck


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: argcheck.number("X", "p", 1), 1.0),
        (lambda: argcheck.number("X", "p", np.float32(0.5), 0.0, 1.0), 0.5),
        (lambda: argcheck.number("X", "p", math.inf, 0.0), math.inf),
        (lambda: argcheck.number("X", "p", None, allow_none=True), None),
        (lambda: argcheck.integer("X", "n", np.int64(3), 1), 3),
        (lambda: argcheck.integer("X", "n", None, 1, allow_none=True), None),
        (lambda: argcheck.axis("X", -1, 3), 2),
        (lambda: argcheck.axis("X", np.int32(0), 1), 0),
    ],
)
def test_accepted_values_are_returned_normalised(call, expected):
    assert call() == expected


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: argcheck.number("X", "p", math.inf, 0.0, finite=True), ValueError,
         r"^X: p must be a finite number in \[0, inf\), received inf$"),
        (lambda: argcheck.number("X", "p", -math.inf, finite=True), ValueError,
         r"^X: p must be a finite number, received -inf$"),
        (lambda: argcheck.number("X", "p", math.nan, 0.0, 1.0), ValueError,
         r"^X: p must be in \[0, 1\], received nan$"),
        (lambda: argcheck.number("X", "p", 0.0, 0.0, low_open=True, allow_none=True), ValueError,
         r"^X: p must be in \(0, inf\) or None, received 0\.0$"),
        (lambda: argcheck.number("X", "p", "a", finite=True, allow_none=True), TypeError,
         r"^X: p must be a finite number or None, received 'a' \(str\)$"),
        (lambda: argcheck.number("X", "p", True), TypeError,
         r"^X: p must be a number, received True \(bool\)$"),
        (lambda: argcheck.integer("X", "n", 0, 1, allow_none=True), ValueError,
         r"^X: n must be a positive integer or None, received 0$"),
        (lambda: argcheck.integer("X", "n", 2.0, 1, allow_none=True), TypeError,
         r"^X: n must be an integer or None, received 2\.0 \(float\)$"),
        (lambda: argcheck.axis("X", 3, 3), ValueError,
         r"^X: axis must be in \[-3, 2\] for a tensor of 3 dimensions, received 3$"),
        (lambda: argcheck.axis("X", 0, 0, "dim"), ValueError,
         r"^X: dim must be omitted \(there are no axes\) for a tensor of 0 dimensions, received 0$"),
        (lambda: argcheck.axis("X", 1.0, 3), TypeError,
         r"^X: axis must be an integer, received 1\.0 \(float\)$"),
        (lambda: argcheck.axis("X", True, 3), TypeError,
         r"^X: axis must be an integer, received True \(bool\)$"),
    ],
)  # fmt: skip
def test_refused_values_name_owner_argument_and_value(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_is_integer_excludes_bools_and_floats():
    assert argcheck.is_integer(3) and argcheck.is_integer(np.int8(3))
    assert not argcheck.is_integer(True) and not argcheck.is_integer(3.0)
