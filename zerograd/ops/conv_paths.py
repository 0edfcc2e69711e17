"""The compiled paths of a 2-D convolution (``ops.conv``), on NumPy arrays: groups-1
convolutions by blocks of images (``kernels.conv_blocks``) and depthwise convolutions by direct
loops (``kernels.depthwise``), both in either layout (NCHW arrays are made channels-last once).
``geo`` is the op (its stride, padding, dilation, groups, layout and fused ReLU)."""

from __future__ import annotations

import numpy as np

from zerograd import kernels
from zerograd.kernels import conv as conv_kernels
from zerograd.kernels import conv_blocks, depthwise, layout


def nhwc(a, channels_last: bool):
    """``a`` as a C-contiguous, writeable (N, H, W, C) array, what the block kernels take."""
    if not channels_last and a.flags.c_contiguous:
        return layout.to_channels_last(a)
    a = a if channels_last else a.transpose(0, 2, 3, 1)
    return a if a.flags.c_contiguous and a.flags.writeable else np.array(a, order="C")


def weight_matrix(W, channels_last: bool):
    """The (kh*kw*C, O) matrix of a weight, rows in the patches' (i, j, c) order."""
    w4 = W if channels_last else W.transpose(2, 3, 1, 0)
    return np.ascontiguousarray(w4).reshape(-1, w4.shape[3])


def block_geometry(geo, kh: int, kw: int) -> tuple:
    """(kh, kw, sh, sw, dh, dw, top padding, left padding) for ``kernels.conv_blocks``."""
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    return (kh, kw, sh, sw, dh, dw, geo.padding[0][0], geo.padding[1][0])


def _forward(kernel, xh, W, wk, o: int, b, geo):
    """``kernel(xh, wk, bias, relu, geometry, y)`` on the (N, H, W, C) input ``xh`` into a new
    (N, Ho, Wo, O) output, returned in the op's layout."""
    cl = geo.channels_last
    kh, kw = W.shape[:2] if cl else W.shape[2:]
    (ph0, ph1), (pw0, pw1) = geo.padding
    n, h, w = xh.shape[:3]
    n, ho, wo = out_hw((n, h + ph0 + ph1, w + pw0 + pw1), kh, kw, geo.stride, geo.dilation)
    bias = np.zeros(o, xh.dtype) if b is None else np.ascontiguousarray(b)
    y = np.empty((n, ho, wo, o), xh.dtype)
    kernel(xh, wk, bias, geo.relu, block_geometry(geo, kh, kw), y)
    return y if cl else layout.to_channels_first(y)


def blocks_forward(xh, W, b, geo):
    """The forward of a groups-1 convolution by ``kernels.conv_blocks`` on the (N, H, W, C)
    input ``xh``: no padded copy, no patch matrix of the whole batch, bias and ReLU applied as
    each block is written."""
    wm = weight_matrix(W, geo.channels_last)
    return _forward(conv_blocks.forward, xh, W, wm, wm.shape[1], b, geo)


def blocks_backward(fn, gy, W, y, need) -> tuple:
    """The gradients of a convolution whose forward ran by blocks, on arrays: ``gy`` made
    channels-last once for both products, the input's copy from the forward reused, the bias
    gradient summed with the weight's, and a fused ReLU's mask applied block by block
    (channels last; NCHW applies it first)."""
    cl = fn.channels_last
    kh, kw, c, o = W.shape if cl else (W.shape[2], W.shape[3], W.shape[1], W.shape[0])
    mask = None
    if fn.relu and cl:
        mask = y
    elif fn.relu:
        gy = conv_kernels.relu_grad(gy, y) if kernels.usable(y, gy) else gy * (y > 0)
    gyh, wm, geo = nhwc(gy, cl), weight_matrix(W, cl), block_geometry(fn, kh, kw)
    gx = gW = gb = None
    if need[0]:
        gx = np.empty(fn.xh.shape, gy.dtype)
        conv_blocks.input_grad(gyh, wm, geo, gx, mask)
        gx = gx if cl else layout.to_channels_first(gx)
    if need[1] or need[2:] == [True]:
        gm, gb = conv_blocks.weight_grad(fn.xh, gyh, geo, kh * kw * c, mask)
        gW = gm.reshape(kh, kw, c, o)
        gW = gW if cl else np.ascontiguousarray(gW.transpose(3, 2, 0, 1))
    grads = (gx, gW if need[1] else None)
    return grads + ((gb if need[2] else None,) if len(need) == 3 else ())


def out_hw(padded_shape, kh: int, kw: int, stride, dilation) -> tuple:
    """(N, Ho, Wo) of a convolution over a padded channels-last input."""
    n, h, w = padded_shape[:3]
    ho = (h - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (w - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    return n, ho, wo


# --- depthwise: groups = input channels ------------------------------------------------------


def is_depthwise(geo, x_shape, *arrays) -> bool:
    """A grouped convolution with one group per input channel (of an input of ``x_shape``), on
    arrays the kernels take."""
    c = x_shape[3] if geo.channels_last else x_shape[1]
    return geo.groups > 1 and geo.groups == c and depthwise.usable(*arrays)


def depthwise_weight(W, channels_last: bool):
    """(kh, kw, O) from a (kh, kw, 1, O) or an (O, 1, kh, kw) weight."""
    return np.ascontiguousarray(W[:, :, 0, :] if channels_last else W[:, 0].transpose(1, 2, 0))


def _layout_weight(gw, channels_last: bool):
    """A (kh, kw, O) weight gradient in the weight's layout."""
    return (
        gw[:, :, None, :] if channels_last else np.ascontiguousarray(gw.transpose(2, 0, 1)[:, None])
    )


def depthwise_forward(xh, W, b, geo):
    """The forward of a depthwise convolution on the (N, H, W, C) input ``xh``."""
    wk = depthwise_weight(W, geo.channels_last)
    return _forward(depthwise.forward, xh, W, wk, wk.shape[2], b, geo)


def depthwise_input_grad(gy, W, x_shape, geo):
    """The input gradient of a depthwise convolution, in the op's layout."""
    cl = geo.channels_last
    kh, kw = W.shape[:2] if cl else W.shape[2:]
    gx = np.empty(x_shape if cl else (x_shape[0], *x_shape[2:], x_shape[1]), gy.dtype)
    depthwise.input_grad(nhwc(gy, cl), depthwise_weight(W, cl), block_geometry(geo, kh, kw), gx)
    return gx if cl else layout.to_channels_first(gx)


def depthwise_weight_grad(x, gy, w_shape, geo) -> tuple:
    """(weight gradient in the weight's layout, bias gradient) of a depthwise convolution."""
    cl = geo.channels_last
    kh, kw = w_shape[:2] if cl else w_shape[2:]
    gw, gb = depthwise.weight_grad(nhwc(x, cl), nhwc(gy, cl), block_geometry(geo, kh, kw), kh, kw)
    return _layout_weight(gw, cl), gb


def depthwise_backward(fn, gy, W, y, need) -> tuple:
    """The gradients of a depthwise convolution whose forward ran by the kernels, on arrays."""
    if fn.relu:
        gy = conv_kernels.relu_grad(gy, y) if kernels.usable(y, gy) else gy * (y > 0)
    cl = fn.channels_last
    kh, kw = W.shape[:2] if cl else W.shape[2:]
    gyh, wk, geo = nhwc(gy, cl), depthwise_weight(W, cl), block_geometry(fn, kh, kw)
    gx = gW = gb = None
    if need[0]:
        gx = np.empty(fn.xh.shape, gy.dtype)
        depthwise.input_grad(gyh, wk, geo, gx)
        gx = gx if cl else layout.to_channels_first(gx)
    if need[1] or need[2:] == [True]:
        gw, gb = depthwise.weight_grad(fn.xh, gyh, geo, kh, kw)
        gW = _layout_weight(gw, cl)
    grads = (gx, gW if need[1] else None)
    return grads + ((gb if need[2] else None,) if len(need) == 3 else ())
