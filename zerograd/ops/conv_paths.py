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


# --- the entry points: groups 1 by blocks, depthwise by loops ----------------------------------


def usable(geo, x_shape, *arrays) -> bool:
    """A compiled path takes this convolution: groups 1 by blocks, or depthwise."""
    if geo.groups == 1:
        return conv_blocks.usable(*arrays)
    return is_depthwise(geo, x_shape, *arrays)


def _dims(w_shape, channels_last: bool) -> tuple:
    """(kh, kw, C / groups, O) of a weight in either layout."""
    if channels_last:
        return tuple(w_shape)
    return w_shape[2], w_shape[3], w_shape[1], w_shape[0]


def forward(xh, W, b, geo):
    """The forward on the (N, H, W, C) input ``xh``, in the op's layout: by blocks of images
    (groups 1: no padded copy, no patch matrix of the whole batch, bias and ReLU applied as each
    block is written) or by the depthwise loops."""
    if geo.groups == 1:
        wm = weight_matrix(W, geo.channels_last)
        return _forward(conv_blocks.forward, xh, W, wm, wm.shape[1], b, geo)
    wk = depthwise_weight(W, geo.channels_last)
    return _forward(depthwise.forward, xh, W, wk, wk.shape[2], b, geo)


def input_grad(gyh, W, x_shape, geo, mask=None):
    """The input gradient, in the op's layout, from the output gradient ``gyh`` as contiguous
    (N, Ho, Wo, O); through a fused ReLU whose output was ``mask`` (groups 1, channels last)."""
    cl = geo.channels_last
    kh, kw, _, _ = _dims(W.shape, cl)
    gx = np.empty(x_shape if cl else (x_shape[0], *x_shape[2:], x_shape[1]), gyh.dtype)
    g = block_geometry(geo, kh, kw)
    if geo.groups == 1:
        conv_blocks.input_grad(gyh, weight_matrix(W, cl), g, gx, mask)
    else:
        depthwise.input_grad(gyh, depthwise_weight(W, cl), g, gx)
    return gx if cl else layout.to_channels_first(gx)


def weight_grad(xh, gyh, w_shape, geo, mask=None) -> tuple:
    """(weight gradient in the weight's layout, bias gradient) from contiguous (N, H, W, C)
    ``xh`` and (N, Ho, Wo, O) ``gyh``."""
    cl = geo.channels_last
    kh, kw, c, o = _dims(w_shape, cl)
    g = block_geometry(geo, kh, kw)
    if geo.groups == 1:
        gm, gb = conv_blocks.weight_grad(xh, gyh, g, kh * kw * c, mask)
        gW = gm.reshape(kh, kw, c, o)
        return (gW if cl else np.ascontiguousarray(gW.transpose(3, 2, 0, 1))), gb
    gw, gb = depthwise.weight_grad(xh, gyh, g, kh, kw)
    return _layout_weight(gw, cl), gb


def backward(fn, gy, W, y, need) -> tuple:
    """The gradients of a convolution whose forward ran by a compiled path, on arrays: ``gy``
    made channels-last once for both products, the input's copy from the forward reused, the
    bias gradient summed with the weight's. A fused ReLU's mask is applied block by block
    (groups 1, channels last), else to ``gy`` first."""
    mask = None
    if fn.relu and fn.channels_last and fn.groups == 1:
        mask = y
    elif fn.relu:
        gy = conv_kernels.relu_grad(gy, y) if kernels.usable(y, gy) else gy * (y > 0)
    gyh = nhwc(gy, fn.channels_last)
    gx = input_grad(gyh, W, fn.saved[0].shape, fn, mask) if need[0] else None
    gW = gb = None
    if need[1] or need[2:] == [True]:
        gW, gb = weight_grad(fn.xh, gyh, W.shape, fn, mask)
    grads = (gx, gW if need[1] else None)
    return grads + ((gb if need[2] else None,) if len(need) == 3 else ())
