"""The fast convolution and pooling paths against PyTorch: channels-last (the Keras layout), ties
and NaN in max pooling (against the definition), overlapping windows, one-channel inputs, and
column sums by GEMV."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zerograd as zg
from tests.helpers import check_against_torch
from zerograd import backend
from zerograd.ops import conv as C
from zerograd.ops import pool as P
from zerograd.ops.pool import _pool_args
from zerograd.utils import gradcheck

rng = np.random.default_rng(0)


def _nhwc(f):
    """A torch NCHW function applied to an NHWC tensor, returning NHWC."""
    return lambda x, *a: f(x.permute(0, 3, 1, 2), *a).permute(0, 2, 3, 1)


POOLS = [  # kernel, stride, padding, dilation, ceil_mode, (N, C, H, W)
    (2, None, 0, 1, False, (2, 3, 6, 6)),  # tiles: every input pixel in exactly one window
    (2, None, 0, 1, False, (2, 3, 7, 5)),  # a last row and column no window reads
    (3, 2, 1, 1, False, (2, 2, 7, 7)),  # overlapping, padded
    (2, 1, 0, 2, False, (1, 2, 6, 6)),  # dilated
    (3, 3, 0, 1, True, (1, 2, 7, 8)),  # ceil mode
    (2, 3, 0, 1, False, (1, 2, 8, 8)),  # stride larger than the kernel: gaps
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k,s,p,d,ceil,shape", POOLS)
def test_max_pool_both_layouts(path, k, s, p, d, ceil, shape, dtype):
    x = rng.standard_normal(shape)

    def tf(t):
        return TF.max_pool2d(t, k, s, p, d, ceil_mode=ceil)

    def zf(t, cl=False):
        args = _pool_args(t.transpose((0, 3, 1, 2)) if cl else t, k, s, p, d, ceil, "max_pool2d")
        return P.MaxPool2d.apply(t, channels_last=cl, **args)

    check_against_torch(zf, tf, [x], dtype)
    check_against_torch(lambda t: zf(t, True), _nhwc(tf), [x.transpose(0, 2, 3, 1)], dtype)


def test_max_pool_ties_go_to_the_first_maximum(path):
    x = np.zeros((1, 1, 4, 4))  # every window all zeros (as after a ReLU)
    x[0, 0, 1, 1] = x[0, 0, 0, 1] = 2.0  # one window with a tie between two maxima
    check_against_torch(
        lambda t: zg.nn.functional.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2), [x]
    )
    check_against_torch(
        lambda t: zg.nn.functional.max_pool2d(t, 3, 1, 1),
        lambda t: TF.max_pool2d(t, 3, 1, 1),
        [x],
    )


def _max_pool_2x2_nhwc(x: np.ndarray, g: np.ndarray):
    """Max pooling by its definition (2x2 windows, stride 2, NHWC), and its gradient for ``g``:
    a window holding NaN gives NaN and passes no gradient; ties send it to the first maximum in
    row-major order within the window."""
    N, H, W, C = x.shape
    windows = x.reshape(N, H // 2, 2, W // 2, 2, C).transpose(0, 1, 3, 5, 2, 4).reshape(-1, 4)
    y = windows.max(axis=1)  # NaN propagates
    first = np.argmax(windows == y[:, None], axis=1)
    grad = np.zeros_like(windows)
    live = ~np.isnan(y)
    grad[np.flatnonzero(live), first[live]] = g.reshape(-1)[live]
    shape = (N, H // 2, W // 2, C, 2, 2)
    grad = grad.reshape(shape).transpose(0, 1, 4, 2, 5, 3).reshape(x.shape)
    return y.reshape(N, H // 2, W // 2, C), grad


def test_max_pool_channels_last_ties_and_nan(path):
    """Channels last (the Keras layout and the numba kernel): ties go to the first maximum, and a
    window whose maximum is NaN gives NaN and passes no gradient. Checked against the definition:
    PyTorch's vectorised kernels are no fixed reference for NaN."""
    x = np.zeros((1, 4, 4, 3))
    x[0, 1, 1, 0] = x[0, 0, 1, 0] = 2.0
    x[0, 2, 3, 1] = np.nan
    args = _pool_args(x.transpose(0, 3, 1, 2), 2, None, 0, 1, False, "max_pool2d")
    zx = zg.tensor(x, requires_grad=True)
    y = P.MaxPool2d.apply(zx, channels_last=True, **args)
    g = rng.standard_normal(y.shape)
    want_y, want_grad = _max_pool_2x2_nhwc(x, g)
    np.testing.assert_array_equal(y.numpy(), want_y)  # NaN in the same places
    assert np.isnan(y.numpy()[0, 1, 1, 1])
    y.backward(zg.tensor(g))
    np.testing.assert_array_equal(zx.grad.numpy(), want_grad)
    assert zx.grad.numpy()[0, 0, 1, 0] == g[0, 0, 0, 0]  # the tie: the first 2.0 in the window


def test_max_pool_nan_propagates(path):
    x = rng.standard_normal((1, 1, 4, 4))
    x[0, 0, 2, 3] = x[0, 0, 3, 3] = np.nan
    zx = zg.tensor(x, requires_grad=True)
    y = zg.nn.functional.max_pool2d(zx, 2)
    nhwc = x.transpose(0, 2, 3, 1)
    want_y, want_grad = _max_pool_2x2_nhwc(nhwc, np.ones((1, 2, 2, 1)))
    np.testing.assert_array_equal(y.numpy(), want_y.transpose(0, 3, 1, 2))
    y.sum().backward()  # the NaN window passes no gradient, the others as the definition
    np.testing.assert_array_equal(zx.grad.numpy(), want_grad.transpose(0, 3, 1, 2))


def test_max_pool_gradcheck(path):
    x = zg.tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    assert gradcheck(lambda t: zg.nn.functional.max_pool2d(t, 3, 2, 1), x)


CONVS = [  # (N, H, W, C), O, kernel, stride, padding ((top, bottom), (left, right)), dilation
    ((2, 6, 7, 3), 4, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    ((2, 6, 6, 1), 5, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),  # one channel
    ((1, 9, 8, 2), 3, (3, 2), (2, 1), ((0, 1), (2, 0)), (1, 2)),  # uneven, strided, dilated
    ((2, 5, 5, 4), 2, (1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape,o,k,s,pad,d", CONVS)
def test_conv_channels_last_matches_torch(path, shape, o, k, s, pad, d, bias, dtype):
    x = rng.standard_normal(shape)
    w = rng.standard_normal((*k, shape[3], o))  # Keras layout (kh, kw, in, out)
    b = rng.standard_normal(o)
    (t0, t1), (l0, l1) = pad

    def tf(xt, wt, *bt):
        xt = TF.pad(xt.permute(0, 3, 1, 2), (l0, l1, t0, t1))
        y = TF.conv2d(xt, wt.permute(3, 2, 0, 1), *bt, stride=s, dilation=d)
        return y.permute(0, 2, 3, 1)

    def zf(xt, wt, *bt):
        return C.Conv2d.apply(
            xt, wt, *bt, stride=s, padding=pad, dilation=d, groups=1, channels_last=True
        )

    check_against_torch(zf, tf, [x, w, b] if bias else [x, w], dtype)


@pytest.mark.parametrize("shape", [(2, 1, 6, 6), (2, 3, 6, 6)])
def test_conv_nchw_one_channel_and_gradcheck(shape):
    x = rng.standard_normal(shape)
    w = rng.standard_normal((4, shape[1], 3, 3))
    check_against_torch(
        lambda a, b: zg.nn.functional.conv2d(a, b, padding=1),
        lambda a, b: TF.conv2d(a, b, padding=1),
        [x, w],
    )
    xs = [zg.tensor(x[:1, :, :4, :4], requires_grad=True), zg.tensor(w, requires_grad=True)]
    assert gradcheck(lambda a, b: zg.nn.functional.conv2d(a, b, padding=1), *xs)


@pytest.mark.parametrize(
    "shape,axes",
    [((300, 40), (0,)), ((20, 30, 16), (0, 1)), ((64, 8), (0,)), ((10, 10), (0,))],
)
@pytest.mark.parametrize("keepdims", [True, False])
def test_sum_axes_matches_numpy(shape, axes, keepdims):
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal(shape).astype(dtype)
        got = backend.sum_axes(np, x, axes, keepdims)
        want = x.astype(np.float64).sum(axis=axes, keepdims=keepdims)
        assert got.dtype == dtype and got.shape == want.shape
        tol = dict(rtol=1e-5, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got, want, **tol)
    xi = rng.integers(0, 9, shape)  # integers keep NumPy's exact sum
    np.testing.assert_array_equal(backend.sum_axes(np, xi, axes), xi.sum(axis=axes))


@pytest.mark.parametrize("cl", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_fused_relu_matches_torch(path, cl, dtype):
    x = rng.standard_normal((2, 5, 6, 3))  # NHWC
    w = rng.standard_normal((3, 3, 3, 4))  # (kh, kw, in, out)
    b = rng.standard_normal(4)
    pad = ((1, 1), (1, 1))

    def tf(xt, wt, bt):
        xt = xt if not cl else xt.permute(0, 3, 1, 2)
        wt = wt.permute(3, 2, 0, 1)
        y = torch.relu(TF.conv2d(xt, wt, bt, padding=1))
        return y.permute(0, 2, 3, 1) if cl else y

    def zf(xt, wt, bt):
        wt = wt if cl else wt.transpose((3, 2, 0, 1))
        return C.Conv2d.apply(
            xt,
            wt,
            bt,
            stride=(1, 1),
            padding=pad,
            dilation=(1, 1),
            groups=1,
            channels_last=cl,
            relu=True,
        )

    xin = x if cl else x.transpose(0, 3, 1, 2)
    check_against_torch(zf, tf, [xin, w, b], dtype)


def test_keras_conv_relu_is_fused_and_matches_separate_activation(path):
    from zerograd import keras

    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    fused = keras.layers.Conv2D(4, 3, padding="same", activation="relu")
    plain = keras.layers.Conv2D(4, 3, padding="same")
    fused(x), plain(x)  # builds both
    plain.kernel.data[...] = fused.kernel.data
    plain.bias.data[...] = fused.bias.data
    xf, xp_ = zg.tensor(x, requires_grad=True), zg.tensor(x, requires_grad=True)
    yf, yp = fused(xf), zg.relu(plain(xp_))
    assert type(yf.creator).__name__ == "Conv2d"  # no separate ReLU op in the graph
    np.testing.assert_allclose(yf.numpy(), yp.numpy(), atol=1e-6)
    yf.sum().backward()
    yp.sum().backward()
    np.testing.assert_allclose(xf.grad.numpy(), xp_.grad.numpy(), atol=1e-5)
    np.testing.assert_allclose(fused.kernel.grad.numpy(), plain.kernel.grad.numpy(), atol=1e-4)
