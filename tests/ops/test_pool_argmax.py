"""Channels-last max pooling by the compiled pass that records each window's first maximum:
the record against the definition (ties, NaN, -inf, padding), and gradients of every order
against the comparison path and PyTorch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zerograd as zg
from tests.helpers import check_against_torch
from zerograd import kernels
from zerograd.ops import pool as P
from zerograd.ops.pool import _pool_args
from zerograd.utils import gradcheck

rng = np.random.default_rng(0)
pytestmark = pytest.mark.skipif(kernels.numba is None, reason="numba is not installed")


def _pool(t, k, s, p, d=1, ceil=False):
    args = _pool_args(t.transpose((0, 3, 1, 2)), k, s, p, d, ceil, "max_pool2d")
    return P.MaxPool2d.apply(t, channels_last=True, **args)


def _torch_pool(k, s, p, d=1, ceil=False):
    return lambda t: TF.max_pool2d(t.permute(0, 3, 1, 2), k, s, p, d, ceil_mode=ceil).permute(
        0, 2, 3, 1
    )


def test_the_record_is_each_windows_first_maximum(path):
    if path != "jit":
        pytest.skip("the record is the compiled path's")
    x = np.zeros((1, 4, 4, 2))  # windows of zeros: ties everywhere
    x[0, 0, 1, 0] = x[0, 1, 0, 0] = 5.0  # a tie between offsets 1 and 2 in channel 0
    x[0, 2, 2, 1] = np.nan  # channel 1's bottom-right window holds NaN
    x[0, 3, 3, 1] = 7.0
    y = _pool(zg.tensor(x, requires_grad=True), 2, 2, 0)
    fn = y.grad_fn
    assert fn.arg is not None
    np.testing.assert_array_equal(fn.arg[0, :, :, 0], [[1, 0], [0, 0]])
    np.testing.assert_array_equal(fn.arg[0, :, :, 1], [[0, 0], [0, -1]])
    assert np.isnan(y.numpy()[0, 1, 1, 1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_goes_to_the_first_maximum_and_not_through_nan(path, dtype):
    x = np.round(rng.standard_normal((2, 6, 7, 3)))  # rounded: many ties
    x[1, 2, 3, 1] = np.nan
    x[0, 0, 0, 2] = -np.inf
    zx = zg.tensor(x.astype(dtype), requires_grad=True)
    y = _pool(zx, 3, 2, 1)
    g = rng.standard_normal(y.shape).astype(dtype)
    (y * zg.tensor(g)).sum().backward()
    with np.errstate(invalid="ignore"):
        want_x = x.astype(dtype)
        nan_free = np.nan_to_num(want_x, nan=0.0)
    tx = torch.from_numpy(nan_free).requires_grad_()
    ty = _torch_pool(3, 2, 1)(tx)
    (ty * torch.from_numpy(g)).sum().backward()
    got = zx.grad.numpy()
    # windows reading the NaN pass nothing; elsewhere the gradient is PyTorch's
    windows_with_nan = np.isnan(y.numpy())
    assert windows_with_nan.any()
    touched = np.zeros(x.shape, bool)
    for oh, ow, c in zip(*np.nonzero(windows_with_nan[1])):
        touched[1, max(2 * oh - 1, 0) : 2 * oh + 2, max(2 * ow - 1, 0) : 2 * ow + 2, c] = True
    np.testing.assert_allclose(got[~touched], tx.grad.numpy()[~touched], rtol=1e-6, atol=1e-6)
    assert got[1, 2, 3, 1] == 0


@pytest.mark.parametrize(
    "k,s,p,d,ceil,shape",
    [
        (2, 2, 0, 1, False, (3, 8, 8, 4)),
        (3, 2, 1, 1, False, (2, 9, 7, 3)),
        (2, 1, 0, 2, False, (2, 6, 6, 2)),
        (3, 3, 0, 1, True, (2, 7, 8, 2)),
        (2, 3, 0, 1, False, (2, 8, 8, 2)),
    ],
)
def test_matches_torch_and_gradcheck(path, k, s, p, d, ceil, shape):
    x = rng.standard_normal(shape)
    check_against_torch(
        lambda t: _pool(t, k, s, p, d, ceil), _torch_pool(k, s, p, d, ceil), [x], np.float64
    )
    small = zg.tensor(x[:1, :5, :5, :1] * 3, requires_grad=True)
    assert gradcheck(lambda t: _pool(t, k, s, p, d, ceil), small)


def test_second_order_gradient_through_the_record(path):
    x = zg.tensor(rng.standard_normal((2, 6, 6, 3)), requires_grad=True)
    y = _pool(x, 2, 2, 0)
    (g,) = zg.autograd.grad((y**2).sum(), [x], create_graph=True)
    (gg,) = zg.autograd.grad(g.sum(), [x])
    tx = torch.from_numpy(x.numpy()).requires_grad_()
    ty = _torch_pool(2, 2, 0)(tx)
    (tg,) = torch.autograd.grad((ty**2).sum(), [tx], create_graph=True)
    (tgg,) = torch.autograd.grad(tg.sum(), [tx])
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-12)
