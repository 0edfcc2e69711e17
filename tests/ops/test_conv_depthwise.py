"""Depthwise convolutions (groups = input channels) by the direct-loop kernels, and grouped
convolutions over channels-last arrays, against PyTorch: both layouts, channel multipliers,
strides, dilation, uneven padding, a fused ReLU, double backward; the NumPy path (the grouped
einsum) as well through the ``path`` fixture."""

import numpy as np
import pytest

from tests.helpers import check_against_torch
from tests.ops.test_conv_blocks import torch_conv
from zerograd.ops import conv as C
from zerograd.utils import gradcheck

rng = np.random.default_rng(0)

CASES = [  # (N, H, W, C), multiplier, kernel, stride, ((top, bottom), (left, right)), dilation
    ((3, 7, 6, 4), 1, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    ((2, 8, 9, 3), 2, (3, 3), (2, 2), ((1, 0), (0, 2)), (1, 1)),
    ((2, 9, 8, 2), 3, (3, 2), (1, 2), ((2, 2), (1, 1)), (2, 1)),
    ((4, 5, 5, 6), 1, (1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cl", [True, False], ids=["nhwc", "nchw"])
@pytest.mark.parametrize("relu,bias", [(False, True), (True, True), (False, False)])
@pytest.mark.parametrize("shape,m,k,s,pad,d", CASES)
def test_depthwise_matches_torch(path, shape, m, k, s, pad, d, relu, bias, cl, dtype):
    c = shape[3]
    x = rng.standard_normal(shape)
    w = rng.standard_normal((*k, 1, c * m))  # (kh, kw, 1, O)
    if not cl:
        x, w = x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1)
    b = rng.standard_normal(c * m)
    geo = dict(stride=s, padding=pad, dilation=d, groups=c, channels_last=cl, relu=relu)
    check_against_torch(
        lambda *t: C.Conv2d.apply(*t, **geo),
        torch_conv(s, pad, d, relu, cl, groups=c),
        [x, w, b] if bias else [x, w],
        dtype,
    )


@pytest.mark.parametrize("cl", [True, False], ids=["nhwc", "nchw"])
def test_grouped_channels_last_and_first(path, cl):
    """groups 2 of 3 channels each (not depthwise): the einsum path in both layouts."""
    x = rng.standard_normal((2, 6, 5, 6))
    w = rng.standard_normal((3, 3, 3, 4))  # (kh, kw, C / groups, O)
    if not cl:
        x, w = x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1)
    pad = ((1, 1), (1, 1))
    check_against_torch(
        lambda *t: C.conv2d(*t, padding=pad, groups=2, channels_last=cl),
        torch_conv(1, pad, 1, False, cl, groups=2),
        [x, w, rng.standard_normal(4)],
    )


@pytest.mark.parametrize("cl", [True, False], ids=["nhwc", "nchw"])
@pytest.mark.parametrize("groups", [3, 1])
def test_second_order_gradients(path, cl, groups):
    """create_graph: the gradient ops (input and weight gradients) differentiated again."""
    import zerograd as zg

    x = rng.standard_normal((2, 5, 4, 3))
    w = rng.standard_normal((3, 3, 3 // groups, 6))
    if not cl:
        x, w = x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1)
    xs = [zg.tensor(x, requires_grad=True), zg.tensor(w, requires_grad=True)]

    def f(a, b):
        y = C.conv2d(a, b, padding=1, groups=groups, channels_last=cl)
        (ga, gb) = zg.autograd.grad((y * y).sum(), [a, b], create_graph=True)
        return (ga * ga).sum() + (gb * gb).sum()

    assert gradcheck(f, *xs)
