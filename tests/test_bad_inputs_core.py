"""Bad arguments to tensor creation, shape ops and LR schedulers: a clear error naming the function,
the argument, what was expected and what was received (and PyTorch refuses the same input)."""

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import nn

x = zg.randn(2, 3)
tx = torch.randn(2, 3)


def _sgd():
    return zg.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)


def _tsgd():
    return torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)


# name: (zerograd call, PyTorch call or None, error type, message pattern)
CASES = {
    "tensor_ragged": (
        lambda: zg.tensor([[1, 2], [3]]),
        lambda: torch.tensor([[1, 2], [3]]),
        ValueError,
        "Tensor: expected a number or a rectangular nested list",
    ),
    "zeros_negative": (
        lambda: zg.zeros(-1),
        lambda: torch.zeros(-1),
        ValueError,
        r"zeros: sizes must be non-negative, received shape \(-1,\)",
    ),
    "ones_negative": (
        lambda: zg.ones(2, -3),
        lambda: torch.ones(2, -3),
        ValueError,
        r"ones: .*\(2, -3\)",
    ),
    "randn_negative": (
        lambda: zg.randn(-2),
        lambda: torch.randn(-2),
        ValueError,
        "randn: sizes must be non-negative",
    ),
    "rand_float_size": (
        lambda: zg.rand(2.5),
        lambda: torch.rand(2.5),
        TypeError,
        r"rand: expected a shape .*received 2.5",
    ),
    "zeros_string_shape": (
        lambda: zg.zeros("ab"),
        None,
        TypeError,
        "zeros: expected a shape of ints",
    ),
    "arange_step_zero": (
        lambda: zg.arange(0, 5, 0),
        lambda: torch.arange(0, 5, 0),
        ValueError,
        "arange: step must not be 0",
    ),
    "transpose_axis_out_of_range": (
        lambda: x.transpose(0, 4),
        lambda: tx.permute(0, 4),
        ValueError,
        r"transpose: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 4",
    ),
    "swapaxes_out_of_range": (
        lambda: x.swapaxes(0, 2),
        lambda: tx.transpose(0, 2),
        ValueError,
        r"swapaxes: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 2",
    ),
    "squeeze_out_of_range": (
        lambda: x.squeeze(7),
        lambda: tx.squeeze(7),
        ValueError,
        r"squeeze: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 7",
    ),
    "squeeze_not_one": (
        lambda: x.squeeze(1),
        None,
        ValueError,
        r"squeeze: axis 1 has size 3, expected 1",
    ),
    "unsqueeze_out_of_range": (
        lambda: x.unsqueeze(7),
        lambda: tx.unsqueeze(7),
        ValueError,
        r"expand_dims: axis must be in \[-3, 2\] for a tensor of 3 dimensions, received 7",
    ),
    "flatten_out_of_range": (
        lambda: x.flatten(5),
        lambda: tx.flatten(5),
        ValueError,
        r"flatten: start_axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 5",
    ),
    "flatten_reversed": (
        lambda: zg.randn(2, 3, 4).flatten(2, 1),
        lambda: torch.randn(2, 3, 4).flatten(2, 1),
        ValueError,
        "flatten: start_axis 2 comes after end_axis 1",
    ),
    "transpose_float_axis": (
        lambda: x.transpose(0.5, 1),
        None,
        TypeError,
        r"transpose: axis must be an integer, received 0\.5 \(float\)",
    ),
    "steplr_step_size_zero": (
        lambda: zg.optim.lr_scheduler.StepLR(_sgd(), step_size=0),
        None,
        ValueError,
        "StepLR: step_size must be a positive integer, received 0",
    ),
    "steplr_step_size_float": (
        lambda: zg.optim.lr_scheduler.StepLR(_sgd(), step_size=1.5),
        None,
        TypeError,
        r"StepLR: step_size must be an integer, received 1.5 \(float\)",
    ),
    "steplr_gamma_nan": (
        lambda: zg.optim.lr_scheduler.StepLR(_sgd(), 2, gamma=float("nan")),
        None,
        ValueError,
        "StepLR: gamma must be a finite number, received nan",
    ),
    "multisteplr_milestones_not_list": (
        lambda: zg.optim.lr_scheduler.MultiStepLR(_sgd(), milestones=3),
        None,
        TypeError,
        "MultiStepLR: expected a list of epochs",
    ),
    "multisteplr_negative_milestone": (
        lambda: zg.optim.lr_scheduler.MultiStepLR(_sgd(), milestones=[-1]),
        None,
        ValueError,
        "MultiStepLR: milestones must be an integer >= 0, received -1",
    ),
    "exponentiallr_gamma_string": (
        lambda: zg.optim.lr_scheduler.ExponentialLR(_sgd(), gamma="0.9"),
        None,
        TypeError,
        r"ExponentialLR: gamma must be a finite number, received '0.9' \(str\)",
    ),
    "cosine_t_max_zero": (
        lambda: zg.optim.lr_scheduler.CosineAnnealingLR(_sgd(), T_max=0),
        None,
        ValueError,
        "CosineAnnealingLR: T_max must be a positive integer, received 0",
    ),
    "linearlr_total_iters_zero": (
        lambda: zg.optim.lr_scheduler.LinearLR(_sgd(), total_iters=0),
        None,
        ValueError,
        "LinearLR: total_iters must be a positive integer, received 0",
    ),
    "lambdalr_not_callable": (
        lambda: zg.optim.lr_scheduler.LambdaLR(_sgd(), lr_lambda=0.5),
        None,
        TypeError,
        "LambdaLR: expected a function",
    ),
    "scheduler_last_epoch": (
        lambda: zg.optim.lr_scheduler.StepLR(_sgd(), 2, last_epoch=-5),
        None,
        ValueError,
        "StepLR: last_epoch must be an integer >= -1, received -5",
    ),
    "onecycle_total_steps_zero": (
        lambda: zg.optim.lr_scheduler.OneCycleLR(_sgd(), max_lr=0.1, total_steps=0),
        lambda: torch.optim.lr_scheduler.OneCycleLR(_tsgd(), max_lr=0.1, total_steps=0),
        ValueError,
        "OneCycleLR: total_steps must be a positive integer, received 0",
    ),
    "onecycle_pct_start": (
        lambda: zg.optim.lr_scheduler.OneCycleLR(_sgd(), max_lr=0.1, total_steps=10, pct_start=1.5),
        lambda: torch.optim.lr_scheduler.OneCycleLR(
            _tsgd(), max_lr=0.1, total_steps=10, pct_start=1.5
        ),
        ValueError,
        r"OneCycleLR: pct_start must be a finite number in \[0, 1\], received 1\.5",
    ),
    "onecycle_epochs_float": (
        lambda: zg.optim.lr_scheduler.OneCycleLR(_sgd(), max_lr=0.1, epochs=1.5, steps_per_epoch=3),
        None,
        TypeError,
        r"OneCycleLR: epochs must be an integer, received 1.5 \(float\)",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_refused_clearly(name):
    call, torch_call, error, pattern = CASES[name]
    with pytest.raises(error, match=pattern):
        call()
    if torch_call is not None:  # the reference refuses the same input (its own error type)
        with pytest.raises((RuntimeError, ValueError, TypeError, IndexError, ZeroDivisionError)):
            torch_call()


def test_valid_edges_still_work():
    assert zg.zeros(0, 3).shape == (0, 3)
    assert zg.zeros((2, np.int64(3))).shape == (2, 3)
    assert x.transpose(-1, 0).shape == (3, 2)
    assert x.unsqueeze(-1).shape == (2, 3, 1)
    assert x.unsqueeze(2).shape == (2, 3, 1)
    assert x.flatten(-2, -1).shape == (6,)
    assert zg.randn(2, 1, 3).squeeze(-2).shape == (2, 3)
    assert zg.arange(5, 0, -1).numpy().tolist() == [5, 4, 3, 2, 1]
