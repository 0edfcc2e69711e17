"""Depthwise convolutions (groups = input channels, each channel its own ``m`` filters) as direct
loops over channels-last arrays: each output pixel a sum over the kernel's offsets of an input
pixel's channels times that offset's weights, the channel loop innermost (it vectorises when
m = 1). A depthwise convolution has kh*kw multiply-adds per output: too little work per byte for
a matrix product (the grouped einsum it replaces ran 27 times slower than PyTorch on (64, 64, 28,
28), 3x3).

Arrays: x (N, H, W, C), the weight as (kh, kw, O) with O = C*m (output channel o reads input
channel o // m), y and its gradient (N, Ho, Wo, O). The geometry ``geo`` is (kh, kw, sh, sw,
dh, dw, ph, pw) as in ``kernels.conv_blocks``. Images are split between the threads; the weight
gradient is summed per thread and the thread sums are added in image order.
"""

from __future__ import annotations

import numpy as np

from zerograd import kernels
from zerograd.kernels import jit_nogil, numba

if numba is not None:

    @jit_nogil
    def _forward_part(x, w, b, relu, geo, m, y, a, z):
        kh, kw, sh, sw, dh, dw, ph, pw = geo
        h, wd, c_ = x.shape[1], x.shape[2], x.shape[3]
        ho, wo, o_ = y.shape[1], y.shape[2], y.shape[3]
        acc = np.empty(o_, y.dtype)
        for n in range(a, z):
            for oh in range(ho):
                for ow in range(wo):
                    for o in range(o_):
                        acc[o] = b[o]
                    for i in range(kh):
                        hi = oh * sh + i * dh - ph
                        if hi < 0 or hi >= h:
                            continue
                        for j in range(kw):
                            wi = ow * sw + j * dw - pw
                            if wi < 0 or wi >= wd:
                                continue
                            if m == 1:
                                for c in range(c_):
                                    acc[c] += x[n, hi, wi, c] * w[i, j, c]
                            else:
                                for c in range(c_):
                                    v = x[n, hi, wi, c]
                                    for q in range(m):
                                        acc[c * m + q] += v * w[i, j, c * m + q]
                    for o in range(o_):
                        v = acc[o]
                        y[n, oh, ow, o] = (0 if v < 0 else v) if relu else v  # NaN stays NaN

    @jit_nogil
    def _input_grad_part(gy, w, geo, m, gx, a, z):
        kh, kw, sh, sw, dh, dw, ph, pw = geo
        h, wd, c_ = gx.shape[1], gx.shape[2], gx.shape[3]
        ho, wo = gy.shape[1], gy.shape[2]
        gx[a:z] = 0
        for n in range(a, z):
            for oh in range(ho):
                for ow in range(wo):
                    for i in range(kh):
                        hi = oh * sh + i * dh - ph
                        if hi < 0 or hi >= h:
                            continue
                        for j in range(kw):
                            wi = ow * sw + j * dw - pw
                            if wi < 0 or wi >= wd:
                                continue
                            if m == 1:
                                for c in range(c_):
                                    gx[n, hi, wi, c] += gy[n, oh, ow, c] * w[i, j, c]
                            else:
                                for c in range(c_):
                                    s = 0.0
                                    for q in range(m):
                                        s += gy[n, oh, ow, c * m + q] * w[i, j, c * m + q]
                                    gx[n, hi, wi, c] += s

    @jit_nogil
    def _weight_grad_part(x, gy, geo, m, gw, gb, a, z):
        kh, kw, sh, sw, dh, dw, ph, pw = geo
        h, wd, c_ = x.shape[1], x.shape[2], x.shape[3]
        ho, wo, o_ = gy.shape[1], gy.shape[2], gy.shape[3]
        gw[:] = 0
        gb[:] = 0
        for n in range(a, z):
            for oh in range(ho):
                for ow in range(wo):
                    for o in range(o_):
                        gb[o] += gy[n, oh, ow, o]
                    for i in range(kh):
                        hi = oh * sh + i * dh - ph
                        if hi < 0 or hi >= h:
                            continue
                        for j in range(kw):
                            wi = ow * sw + j * dw - pw
                            if wi < 0 or wi >= wd:
                                continue
                            if m == 1:
                                for c in range(c_):
                                    gw[i, j, c] += x[n, hi, wi, c] * gy[n, oh, ow, c]
                            else:
                                for c in range(c_):
                                    v = x[n, hi, wi, c]
                                    for q in range(m):
                                        gw[i, j, c * m + q] += v * gy[n, oh, ow, c * m + q]


def usable(*arrays) -> bool:
    """The depthwise kernels may run: numba enabled, NumPy arrays of one float dtype (any size:
    the op's other grouped path is far slower even on small arrays)."""
    if not kernels.ENABLED:
        return False
    d = arrays[0].dtype
    return d in kernels.FLOATS and all(type(a) is np.ndarray and a.dtype == d for a in arrays)


def forward(x, w, b, relu: bool, geo: tuple, y) -> None:
    """y = act(depthwise conv(x) + b); C-contiguous x (N, H, W, C), w (kh, kw, O), y (N, Ho,
    Wo, O), b (O,)."""
    m = w.shape[2] // x.shape[3]
    kernels.parallel_parts(
        lambda p: _forward_part(x, w, b, relu, geo, m, y, p.start, p.stop), range(x.shape[0])
    )


def input_grad(gy, w, geo: tuple, gx) -> None:
    """gx (N, H, W, C) = the input gradient from gy (N, Ho, Wo, O) and w (kh, kw, O)."""
    m = w.shape[2] // gx.shape[3]
    kernels.parallel_parts(
        lambda p: _input_grad_part(gy, w, geo, m, gx, p.start, p.stop), range(gy.shape[0])
    )


def weight_grad(x, gy, geo: tuple, kh: int, kw: int) -> tuple:
    """(gw (kh, kw, O), gb (O,)) from x (N, H, W, C) and gy (N, Ho, Wo, O)."""
    o = gy.shape[3]
    m = o // x.shape[3]

    def part(a, z):
        gw, gb = np.empty((kh, kw, o), x.dtype), np.empty(o, x.dtype)
        _weight_grad_part(x, gy, geo, m, gw, gb, a, z)
        return gw, gb

    return kernels.parallel_sums(part, x.shape[0])
