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
    (math.nan, ValueError, r"lr must be a finite number in \[0, inf\), received nan"),
    (math.inf, ValueError, r"lr must be a finite number in \[0, inf\), received inf"),
    (-0.1, ValueError, r"lr must be a finite number in \[0, inf\), received -0.1"),
    ("0.1", TypeError, r"lr must be a finite number, received '0.1' \(str\)"),
    (None, TypeError, r"lr must be a finite number, received None \(NoneType\)"),
    (True, TypeError, r"lr must be a finite number, received True \(bool\)"),
    ([0.1], TypeError, r"lr must be a finite number, received \[0.1\] \(list\)"),
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
        (-1e-3, ValueError, r"weight_decay must be a finite number in \[0, inf\), received -0.001"),
        (math.nan, ValueError, r"weight_decay must be a finite number in \[0, inf\), received nan"),
        ("x", TypeError, r"weight_decay must be a finite number, received 'x' \(str\)"),
    ],
)
def test_bad_weight_decay(name, value, error, message):
    with pytest.raises(error, match=f"^{name}: {message}"):
        ALL[name](_params(), lr=0.1, weight_decay=value)


@pytest.mark.parametrize("name", WITH_EPS)
@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (-1e-8, ValueError, r"eps must be a finite number in \[0, inf\), received -1e-08"),
        (math.inf, ValueError, r"eps must be a finite number in \[0, inf\), received inf"),
        (None, TypeError, "eps must be a finite number, received None"),
    ],
)
def test_bad_eps(name, value, error, message):
    with pytest.raises(error, match=f"^{name}: {message}"):
        ALL[name](_params(), eps=value)


@pytest.mark.parametrize("name", WITH_BETAS)
@pytest.mark.parametrize(
    ("betas", "error", "message"),
    [
        ((1.0, 0.9), ValueError, r"betas\[0\] must be a finite number in \[0, 1\), received 1.0"),
        ((0.9, -0.1), ValueError, r"betas\[1\] must be a finite number in \[0, 1\), received -0.1"),
        (
            (0.9, math.nan),
            ValueError,
            r"betas\[1\] must be a finite number in \[0, 1\), received nan",
        ),
        ((0.9, "0.99"), TypeError, r"betas\[1\] must be a finite number, received '0.99' \(str\)"),
        ((0.9,), TypeError, r"betas must be a pair of numbers, received \(0.9,\) \(tuple\)"),
        (0.9, TypeError, r"betas must be a pair of numbers, received 0.9 \(float\)"),
        ("ab", TypeError, r"betas must be a pair of numbers, received 'ab' \(str\)"),
    ],
)
def test_bad_betas(name, betas, error, message):
    with pytest.raises(error, match=f"^{name}: {message}"):
        ALL[name](_params(), betas=betas)


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), ValueError, "SGD: momentum must be a finite number in \\[0, inf\\), received -0.5"),
        (lambda p: optim.SGD(p, lr=0.1, momentum="high"), TypeError, "SGD: momentum must be a finite number, received 'high'"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=math.nan), ValueError, "SGD: momentum must be a finite number in \\[0, inf\\), received nan"),
        (lambda p: optim.SGD(p, lr=0.1, dampening=math.inf), ValueError, "SGD: dampening must be a finite number, received inf"),
        (lambda p: optim.SGD(p, lr=0.1, nesterov=True), ValueError, "SGD: Nesterov momentum requires"),
        (lambda p: optim.SGD(p, lr=0.1, nesterov="yes"), TypeError, "SGD: nesterov must be True or False, received 'yes' \\(str\\)"),
        (lambda p: optim.RMSprop(p, alpha=-0.1), ValueError, "RMSprop: alpha must be a finite number in \\[0, inf\\), received -0.1"),
        (lambda p: optim.RMSprop(p, momentum=-1), ValueError, "RMSprop: momentum must be a finite number in \\[0, inf\\), received -1.0"),
        (lambda p: optim.RMSprop(p, centered=1), TypeError, "RMSprop: centered must be True or False, received 1"),
        (lambda p: optim.Adadelta(p, rho=1.5), ValueError, "Adadelta: rho must be a finite number in \\[0, 1\\], received 1.5"),
        (lambda p: optim.Adadelta(p, rho=-0.1), ValueError, "Adadelta: rho must be a finite number in \\[0, 1\\], received -0.1"),
        (lambda p: optim.Adagrad(p, lr_decay=-1.0), ValueError, "Adagrad: lr_decay must be a finite number in \\[0, inf\\), received -1.0"),
        (lambda p: optim.Adagrad(p, initial_accumulator_value=-1.0), ValueError, "Adagrad: initial_accumulator_value must be a finite number in \\[0, inf\\), received -1.0"),
        (lambda p: optim.Adam(p, amsgrad="no"), TypeError, "Adam: amsgrad must be True or False, received 'no' \\(str\\)"),
        (lambda p: optim.AdamW(p, maximize=None), TypeError, "AdamW: maximize must be True or False, received None"),
        (lambda p: optim.Adam([{"params": p, "lr": math.nan}]), ValueError, "Adam: lr must be a finite number in \\[0, inf\\), received nan"),
    ],
)  # fmt: skip
def test_bad_specific_arguments(build, error, message):
    with pytest.raises(error, match=message):
        build(_params())


def test_bad_lr_in_an_added_group():
    opt = optim.SGD(_params(), lr=0.1)
    with pytest.raises(
        ValueError, match="SGD: lr must be a finite number in \\[0, inf\\), received -1.0"
    ):
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
