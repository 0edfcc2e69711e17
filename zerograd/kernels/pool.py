"""Channels-last max pooling: the forward with each window's first maximum recorded, the
backward from that record or, without one, by comparing the input with the output; one pass,
samples on all cores."""

from __future__ import annotations

import numpy as np

from zerograd.kernels import jit, numba

if numba is not None:

    @jit
    def _max_pool_grad_nhwc(x, y, g, kh, kw, sh, sw, dh, dw, gx):
        """Max-pool backward over (N, H, W, C) (x padded, gx zeroed, of x's shape): each window's
        gradient goes to its first maximum, in offset order; a window whose maximum is NaN passes
        none. Samples in parallel, channels innermost; "found" is kept as 0/1 floats, which
        vectorises where boolean logic did not (measured 1.1 ms against 5.8 ms)."""
        n, ho, wo, c = y.shape
        for s in numba.prange(n):
            found = np.empty(c, dtype=np.float32)
            for oh in range(ho):
                for ow in range(wo):
                    for k in range(c):
                        found[k] = 0.0
                    for i in range(kh):
                        for j in range(kw):
                            h, w = oh * sh + i * dh, ow * sw + j * dw
                            for k in range(c):
                                hit = np.float32(x[s, h, w, k] == y[s, oh, ow, k]) * (
                                    np.float32(1.0) - found[k]
                                )
                                gx[s, h, w, k] += g[s, oh, ow, k] if hit > 0 else 0
                                found[k] += hit

    @jit
    def _max_pool_nhwc(x, kh, kw, sh, sw, dh, dw, ph, pw, y, arg):
        """y = the max over each window of the unpadded (N, H, W, C) ``x`` (padding skipped),
        arg = the offset i*kw + j of the window's first maximum, or -1 where the maximum is NaN
        (NaN propagates, and that window passes no gradient). Offsets outer, channels inner: the
        channel loops vectorise."""
        n, ho, wo, c = y.shape
        h, w = x.shape[1], x.shape[2]
        for s in numba.prange(n):
            for oh in range(ho):
                for ow in range(wo):
                    first = True
                    for i in range(kh):
                        hi = oh * sh + i * dh - ph
                        if hi < 0 or hi >= h:
                            continue
                        for j in range(kw):
                            wi = ow * sw + j * dw - pw
                            if wi < 0 or wi >= w:
                                continue
                            off = i * kw + j
                            if first:  # the window's first position inside the input
                                for k in range(c):
                                    y[s, oh, ow, k] = x[s, hi, wi, k]
                                    arg[s, oh, ow, k] = off
                                first = False
                                continue
                            for k in range(c):
                                v, m = x[s, hi, wi, k], y[s, oh, ow, k]
                                take = v > m or (v != v and m == m)  # a first NaN wins
                                y[s, oh, ow, k] = v if take else m
                                arg[s, oh, ow, k] = off if take else arg[s, oh, ow, k]
                    for k in range(c):
                        m = y[s, oh, ow, k]
                        arg[s, oh, ow, k] = arg[s, oh, ow, k] if m == m else -1

    @jit
    def _max_pool_grad_arg(g, arg, kh, kw, sh, sw, dh, dw, ph, pw, tiles, gx):
        """gx (of the unpadded input's shape) += each window's gradient at its recorded first
        maximum; offsets outer, channels inner (the channel loop vectorises). ``tiles``: the
        windows cover every input pixel exactly once, so gx is written, not added to (it may
        start uninitialised); else it starts zeroed."""
        n, ho, wo, c = g.shape
        h, w = gx.shape[1], gx.shape[2]
        for s in numba.prange(n):
            for oh in range(ho):
                for ow in range(wo):
                    for i in range(kh):
                        hi = oh * sh + i * dh - ph
                        if hi < 0 or hi >= h:
                            continue
                        for j in range(kw):
                            wi = ow * sw + j * dw - pw
                            if wi < 0 or wi >= w:
                                continue
                            off = i * kw + j
                            if tiles:
                                for k in range(c):
                                    hit = arg[s, oh, ow, k] == off
                                    gx[s, hi, wi, k] = g[s, oh, ow, k] if hit else 0
                            else:
                                for k in range(c):
                                    hit = arg[s, oh, ow, k] == off
                                    gx[s, hi, wi, k] += g[s, oh, ow, k] if hit else 0


def max_pool_nhwc(x, kernel, stride, dilation, pads, out_hw) -> tuple:
    """(y, arg): channels-last max pooling of the unpadded ``x`` and each window's first
    maximum (offset i*kw + j, -1 where NaN), as int8 when the window allows (else int32)."""
    kh, kw = kernel
    y = np.empty((x.shape[0], *out_hw, x.shape[3]), x.dtype)
    arg = np.empty(y.shape, np.int8 if kh * kw < 127 else np.int32)
    _max_pool_nhwc(
        np.ascontiguousarray(x), *kernel, *stride, *dilation, pads[0][0], pads[1][0], y, arg
    )
    return y, arg


def max_pool_grad_from_arg(g, arg, x_shape, kernel, stride, dilation, pads) -> np.ndarray:
    """The gradient of channels-last max pooling with respect to its unpadded input, from the
    forward's record of each window's first maximum."""
    (kh, kw), (ho, wo) = kernel, arg.shape[1:3]
    tiles = (  # windows side by side, no padding, no gaps: every input pixel in exactly one
        tuple(kernel) == tuple(stride)
        and tuple(dilation) == (1, 1)
        and not any(sum(p) for p in pads)
        and tuple(x_shape[1:3]) == (ho * kh, wo * kw)
    )
    gx = (np.empty if tiles else np.zeros)(x_shape, g.dtype)
    g = np.ascontiguousarray(np.broadcast_to(g, arg.shape), dtype=g.dtype)
    _max_pool_grad_arg(g, arg, *kernel, *stride, *dilation, pads[0][0], pads[1][0], tiles, gx)
    return gx


def max_pool_grad_nhwc(x, y, g, kernel, stride, dilation) -> np.ndarray:
    """The gradient of channels-last max pooling with respect to its (padded) input ``x``."""
    gx = np.zeros(x.shape, dtype=g.dtype)
    g = np.ascontiguousarray(np.broadcast_to(g, y.shape), dtype=g.dtype)
    _max_pool_grad_nhwc(
        np.ascontiguousarray(x), np.ascontiguousarray(y), g, *kernel, *stride, *dilation, gx
    )
    return gx
