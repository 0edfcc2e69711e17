"""Bad optimizer arguments: each raises TypeError/ValueError naming the optimizer and argument."""

from __future__ import annotations

import math

import numpy as np
import pytest

import zerograd as zg
from zerograd import optim

ALL = {
    "SGD": optim.SGD,
    "Adam": optim.Adam,
    "AdamW": optim.AdamW,
    "RMSprop": optim.RMSprop,
    "Adagrad": optim.Adagrad,
    "Adadelta": optim.Adadelta,
    "Lion": optim.Lion,
}
WITH_EPS = ("Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta")
WITH_BETAS = ("Adam", "AdamW", "Lion")


def _params():
    return [zg.nn.Parameter(zg.zeros(3))]


BAD_LR = [
    (math.nan, ValueError, "expected lr to be finite, received nan"),
    (math.inf, ValueError, "expected lr to be finite, received inf"),
    (-0.1, ValueError, "expected lr >= 0, received -0.1"),
    ("0.1", TypeError, "expected lr to be a number, received str '0.1'"),
    (None, TypeError, "expected lr to be a number, received NoneType None"),
    (True, TypeError, "expected lr to be a number, received bool True"),
    ([0.1], TypeError, r"expected lr to be a number, received list \[0.1\]"),
]


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize(("lr", "error", "message"), BAD_LR)
def test_bad_lr(name, lr, error, message):
    with pytest.raises(error, match=f"^{name}: {message}"):
        ALL[name](_params(), lr=lr)


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (-1e-3, ValueError, "expected weight_decay >= 0, received -0.001"),
        (math.nan, ValueError, "expected weight_decay to be finite, received nan"),
        ("x", TypeError, "expected weight_decay to be a number, received str 'x'"),
    ],
)
def test_bad_weight_decay(name, value, error, message):
    with pytest.raises(error, match=f"^{name}: {message}"):
        ALL[name](_params(), lr=0.1, weight_decay=value)


@pytest.mark.parametrize("name", WITH_EPS)
@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (-1e-8, ValueError, "expected eps >= 0, received -1e-08"),
        (math.inf, ValueError, "expected eps to be finite, received inf"),
        (None, TypeError, "expected eps to be a number"),
    ],
)
def test_bad_eps(name, value, error, message):
    with pytest.raises(error, match=f"^{name}: {message}"):
        ALL[name](_params(), eps=value)


@pytest.mark.parametrize("name", WITH_BETAS)
@pytest.mark.parametrize(
    ("betas", "error", "message"),
    [
        ((1.0, 0.9), ValueError, r"expected betas\[0\] in \[0, 1\), received 1.0"),
        ((0.9, -0.1), ValueError, r"expected betas\[1\] in \[0, 1\), received -0.1"),
        ((0.9, math.nan), ValueError, r"expected betas\[1\] to be finite, received nan"),
        ((0.9, "0.99"), TypeError, r"expected betas\[1\] to be a number, received str"),
        ((0.9,), TypeError, r"expected betas to be a pair of numbers, received tuple \(0.9,\)"),
        (0.9, TypeError, "expected betas to be a pair of numbers, received float 0.9"),
        ("ab", TypeError, "expected betas to be a pair of numbers, received str 'ab'"),
    ],
)
def test_bad_betas(name, betas, error, message):
    with pytest.raises(error, match=f"^{name}: {message}"):
        ALL[name](_params(), betas=betas)


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), ValueError, "SGD: expected momentum >= 0"),
        (lambda p: optim.SGD(p, lr=0.1, momentum="high"), TypeError, "SGD: expected momentum to be a number"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=math.nan), ValueError, "SGD: expected momentum to be finite"),
        (lambda p: optim.SGD(p, lr=0.1, dampening=math.inf), ValueError, "SGD: expected dampening to be finite"),
        (lambda p: optim.SGD(p, lr=0.1, nesterov=True), ValueError, "SGD: Nesterov momentum requires"),
        (lambda p: optim.SGD(p, lr=0.1, nesterov="yes"), TypeError, "SGD: expected nesterov to be True or False, received str 'yes'"),
        (lambda p: optim.RMSprop(p, alpha=-0.1), ValueError, "RMSprop: expected alpha >= 0, received -0.1"),
        (lambda p: optim.RMSprop(p, momentum=-1), ValueError, "RMSprop: expected momentum >= 0, received -1"),
        (lambda p: optim.RMSprop(p, centered=1), TypeError, "RMSprop: expected centered to be True or False"),
        (lambda p: optim.Adadelta(p, rho=1.5), ValueError, "Adadelta: expected rho <= 1, received 1.5"),
        (lambda p: optim.Adadelta(p, rho=-0.1), ValueError, "Adadelta: expected rho >= 0, received -0.1"),
        (lambda p: optim.Adagrad(p, lr_decay=-1.0), ValueError, "Adagrad: expected lr_decay >= 0"),
        (lambda p: optim.Adagrad(p, initial_accumulator_value=-1.0), ValueError, "Adagrad: expected initial_accumulator_value >= 0"),
        (lambda p: optim.Adam(p, amsgrad="no"), TypeError, "Adam: expected amsgrad to be True or False, received str 'no'"),
        (lambda p: optim.AdamW(p, maximize=None), TypeError, "AdamW: expected maximize to be True or False"),
        (lambda p: optim.Adam([{"params": p, "lr": math.nan}]), ValueError, "Adam: expected lr to be finite, received nan"),
    ],
)  # fmt: skip
def test_bad_specific_arguments(build, error, message):
    with pytest.raises(error, match=message):
        build(_params())


def test_bad_lr_in_an_added_group():
    opt = optim.SGD(_params(), lr=0.1)
    with pytest.raises(ValueError, match="SGD: expected lr >= 0, received -1"):
        opt.add_param_group({"params": _params(), "lr": -1})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize("name", list(ALL))
def test_edge_values_that_are_valid(name):
    """lr 0, integer and NumPy numbers, betas as a list: accepted as PyTorch accepts them."""
    for lr in (0, 0.0, np.float32(0.01), np.float64(1e-3), 1):
        opt = ALL[name](_params(), lr=lr, weight_decay=0)
        assert opt.param_groups[0]["lr"] == lr
    if name in WITH_BETAS:
        opt = ALL[name](_params(), betas=[0.0, np.float32(0.5)])
        assert opt.param_groups[0]["betas"] == (0.0, 0.5)
