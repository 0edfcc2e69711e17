"""The convolution by blocks of images (``kernels.conv_blocks``) against PyTorch: both layouts,
strides, dilation, uneven padding, one channel, 1x1, fused ReLU, broadcast output gradients,
and batches split unevenly between the threads; and that the op takes that path."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zerograd as zg
from tests.helpers import check_against_torch
from zerograd import kernels, tuning
from zerograd.kernels import conv_blocks
from zerograd.ops import conv as C

rng = np.random.default_rng(0)

pytestmark = pytest.mark.skipif(
    kernels.numba is None or not conv_blocks.blas.available(),
    reason="needs numba and NumPy's bundled OpenBLAS",
)

GEOMETRIES = [  # (N, H, W, C), O, kernel, stride, ((top, bottom), (left, right)), dilation
    ((4, 7, 6, 3), 5, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    ((3, 8, 8, 1), 4, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),  # one channel
    ((5, 9, 8, 2), 3, (3, 2), (2, 1), ((0, 1), (2, 0)), (1, 2)),  # uneven, strided, dilated
    ((2, 5, 5, 4), 6, (1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1)),  # 1x1
    ((3, 6, 7, 2), 2, (5, 3), (2, 2), ((2, 2), (1, 1)), (1, 1)),  # more padding than stride
    ((7, 30, 29, 3), 8, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),  # several blocks per thread
    ((3, 6, 5, 4), 7, (1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1)),  # 1x1: the input rows multiplied
    ((3, 6, 5, 1), 2, (1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1)),  # 1x1, one channel
    ((3, 6, 5, 4), 3, (1, 1), (1, 1), ((0, 1), (0, 0)), (1, 1)),  # 1x1 with padding: patches
]


@pytest.fixture
def blocks(monkeypatch):
    """The block kernels on arrays of any size, counting their calls."""
    monkeypatch.setattr(tuning, "KERNEL_MIN_SIZE", 0)
    monkeypatch.setattr(kernels, "ENABLED", True)
    calls = {"forward": 0, "input_grad": 0, "weight_grad": 0}
    for name in calls:
        real = getattr(conv_blocks, name)

        def counted(*a, _real=real, _name=name):
            calls[_name] += 1
            return _real(*a)

        monkeypatch.setattr(conv_blocks, name, counted)
    return calls


def torch_conv(s, pad, d, relu, cl, groups=1):
    """PyTorch's convolution with explicit (uneven) padding and an optional ReLU, on NHWC
    arrays and a (kh, kw, in / groups, out) weight when ``cl``."""
    (t0, t1), (l0, l1) = pad

    def f(xt, wt, *bt):
        if cl:
            xt, wt = xt.permute(0, 3, 1, 2), wt.permute(3, 2, 0, 1)
        y = TF.conv2d(TF.pad(xt, (l0, l1, t0, t1)), wt, *bt, stride=s, dilation=d, groups=groups)
        y = torch.relu(y) if relu else y
        return y.permute(0, 2, 3, 1) if cl else y

    return f


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cl", [True, False], ids=["nhwc", "nchw"])
@pytest.mark.parametrize("relu,bias", [(False, True), (True, True), (False, False)])
@pytest.mark.parametrize("shape,o,k,s,pad,d", GEOMETRIES)
def test_blocks_match_torch(blocks, shape, o, k, s, pad, d, relu, bias, cl, dtype):
    x = rng.standard_normal(shape)
    w = rng.standard_normal((*k, shape[3], o))  # (kh, kw, in, out)
    if not cl:
        x, w = x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1)
    b = rng.standard_normal(o)
    geo = dict(stride=s, padding=pad, dilation=d, groups=1, channels_last=cl, relu=relu)
    check_against_torch(
        lambda *t: C.Conv2d.apply(*t, **geo),
        torch_conv(s, pad, d, relu, cl),
        [x, w, b] if bias else [x, w],
        dtype,
        # float32 weight gradients sum thousands of products of size ~100: rounding ~1e-4
        atol=1e-3 if dtype == np.float32 else None,
    )
    assert blocks == {"forward": 1, "input_grad": 1, "weight_grad": 1}


def test_blocks_with_a_broadcast_gradient_and_nchw_layers(blocks):
    """``conv(x).sum().backward()`` sends a zero-stride gradient; nn.Conv2d as PyTorch's."""
    x = rng.standard_normal((6, 3, 10, 9)).astype(np.float32)
    zm = zg.nn.Conv2d(3, 4, 3, padding=1, stride=2)
    tm = torch.nn.Conv2d(3, 4, 3, padding=1, stride=2)
    zm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    zx, tx = zg.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
    zm(zx).sum().backward()
    tm(tx).sum().backward()
    np.testing.assert_allclose(zx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(zm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(zm.bias.grad.numpy(), tm.bias.grad.numpy(), rtol=1e-5)
    assert blocks == {"forward": 1, "input_grad": 1, "weight_grad": 1}


def test_blocks_equal_the_numpy_path_and_repeat_bit_for_bit(monkeypatch):
    """The same numbers as the whole-batch im2col path (float64, to rounding), and the same
    bits on every run (the per-thread weight gradients are summed in image order)."""
    x = rng.standard_normal((9, 12, 11, 5))
    w = rng.standard_normal((3, 3, 5, 7))
    g = rng.standard_normal((9, 12, 11, 7))
    geo = dict(stride=(1, 1), padding=((1, 1), (1, 1)), dilation=(1, 1), groups=1)

    def run():
        zx, zw = zg.tensor(x, requires_grad=True), zg.tensor(w, requires_grad=True)
        y = C.Conv2d.apply(zx, zw, channels_last=True, **geo)
        (y * zg.tensor(g)).sum().backward()
        return y.numpy(), zx.grad.numpy(), zw.grad.numpy()

    monkeypatch.setattr(tuning, "KERNEL_MIN_SIZE", 0)
    monkeypatch.setattr(kernels, "ENABLED", True)
    first, again = run(), run()
    monkeypatch.setattr(kernels, "ENABLED", False)
    plain = run()
    for a, b, c in zip(first, again, plain):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


def test_small_batches_take_the_numpy_path(blocks):
    """Fewer images than threads: the blocks would leave threads idle, so the op does not use
    them (and the result is still PyTorch's)."""
    if conv_blocks.numba.get_num_threads() < 2:
        pytest.skip("one thread: every batch qualifies")
    x = rng.standard_normal((1, 2, 6, 6))
    w = rng.standard_normal((3, 2, 3, 3))
    check_against_torch(
        lambda a, b: zg.nn.functional.conv2d(a, b, padding=1),
        lambda a, b: TF.conv2d(a, b, padding=1),
        [x, w],
    )
    assert blocks == {"forward": 0, "input_grad": 0, "weight_grad": 0}


def test_block_kernels_on_one_image_directly():
    """The kernels themselves on a single image (one part, one block): forward, input, weight
    and bias gradients against PyTorch in float64."""
    x = rng.standard_normal((1, 2, 5, 6))
    w = rng.standard_normal((3, 2, 3, 3))
    b = rng.standard_normal(3)
    gy = rng.standard_normal((1, 3, 5, 6))
    tx, tw = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    tb = torch.from_numpy(b).requires_grad_()
    ty = TF.conv2d(tx, tw, tb, padding=1)
    ty.backward(torch.from_numpy(gy))
    nhwc = (0, 2, 3, 1)
    x, gy = x.transpose(nhwc).copy(), gy.transpose(nhwc).copy()
    geo = (3, 3, 1, 1, 1, 1, 1, 1)
    wm = w.transpose(2, 3, 1, 0).reshape(-1, 3).copy()  # (kh*kw*C, O)
    y = np.empty((1, 5, 6, 3))
    conv_blocks.forward(x, wm, b, False, geo, y)
    gx = np.empty_like(x)
    conv_blocks.input_grad(gy, wm, geo, gx)
    gw, gb = conv_blocks.weight_grad(x, gy, geo, wm.shape[0])
    got = (y, gx, gw.reshape(3, 3, 2, 3).transpose(3, 2, 0, 1), gb)
    want = (ty.detach().numpy().transpose(nhwc), tx.grad.numpy().transpose(nhwc))
    want += (tw.grad.numpy(), tb.grad.numpy())
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
