"""Convolutions (groups 1, channels last) by blocks of images: the patch matrix of a few images at
a time, built in cache, and one ``blas.gemm`` per block, without the GIL.

The whole-batch im2col writes a patch matrix kh*kw times the input's size to memory and reads it
back for the product; the input gradient then scatters a second one. Here each thread takes a
contiguous run of images and, block by block, builds that block's patches, multiplies, and
writes the result (bias and ReLU applied, or the input gradient summed back) while the block is
still in cache. Padding is read as zeros, so no padded copy of the input is made. The arrays are
C-contiguous and channels last (the op transposes NCHW ones). The weight gradient sums one
product per block into a per-thread (kh*kw*C, O) matrix; the thread sums are added at the end.

The geometry ``geo`` is (kh, kw, sh, sw, dh, dw, ph, pw): kernel, stride, dilation, and the
padding before the first row and column. The op (``ops.conv``) keeps a NumPy path for CuPy,
other dtypes, grouped convolutions, and batches smaller than the thread count; the tests compare
the two.
"""

from __future__ import annotations

import numpy as np

from zerograd import kernels, tuning
from zerograd.kernels import blas, jit_nogil, numba

_BLOCK_ROWS = 768  # output pixels per block: the patches of a 3x3x32 conv are 0.9 MB in float32

if numba is not None:
    from zerograd.kernels.blas import gemm

    # --- channels last (N, H, W, C): blocks of images, one product per block ---

    @jit_nogil
    def _span(n_out, start, step, size):
        """The outputs t in [lo, hi) whose input t*step + start lies in [0, size)."""
        lo = 0 if start >= 0 else min((step - 1 - start) // step, n_out)
        hi = max(min((size - 1 - start) // step + 1, n_out), lo) if start < size else lo
        return lo, hi

    @jit_nogil
    def _patches(x, n0, n1, geo, ho, wo, buf):
        """buf[r, (i*kw + j)*C + c] = x[n, oh*sh + i*dh - ph, ow*sw + j*dw - pw, c] for the
        output pixels r of images n0..n1-1, zero where that is padding. The columns inside the
        input are found once per kernel column, not tested per pixel."""
        kh, kw, sh, sw, dh, dw, ph, pw = geo
        h, w, c_ = x.shape[1], x.shape[2], x.shape[3]
        r0 = 0
        for n in range(n0, n1):
            for oh in range(ho):
                for i in range(kh):
                    hi = oh * sh + i * dh - ph
                    for j in range(kw):
                        k = (i * kw + j) * c_
                        lo, up = _span(wo, j * dw - pw, sw, w)
                        if hi < 0 or hi >= h:
                            lo = up = wo
                        for ow in range(wo):
                            if lo <= ow < up:
                                wi = ow * sw + j * dw - pw
                                for c in range(c_):
                                    buf[r0 + ow, k + c] = x[n, hi, wi, c]
                            else:
                                for c in range(c_):
                                    buf[r0 + ow, k + c] = 0
                r0 += wo

    @jit_nogil
    def _patches_t(x, n0, n1, geo, ho, wo, buf):
        """The patches of one-channel images transposed: buf[i*kw + j, r] = x[n, hi, wi, 0],
        each row a run along the image row (as ``_patches``, which would write one number per
        kernel offset and pixel)."""
        kh, kw, sh, sw, dh, dw, ph, pw = geo
        h, w = x.shape[1], x.shape[2]
        r0 = 0
        for n in range(n0, n1):
            for oh in range(ho):
                for i in range(kh):
                    hi = oh * sh + i * dh - ph
                    for j in range(kw):
                        k = i * kw + j
                        off = j * dw - pw
                        lo, up = _span(wo, off, sw, w)
                        if hi < 0 or hi >= h:
                            lo = up = wo
                        for ow in range(lo):
                            buf[k, r0 + ow] = 0
                        for ow in range(lo, up):
                            buf[k, r0 + ow] = x[n, hi, ow * sw + off, 0]
                        for ow in range(up, wo):
                            buf[k, r0 + ow] = 0
                r0 += wo

    @jit_nogil
    def _patch_matrix(x, n0, n1, geo, ho, wo, buf, buf_t):
        """Fill the patches of images n0..n1-1: ``buf`` (pixels, K), or ``buf_t`` (K, pixels)
        for one channel. Returns whether the transposed one was used."""
        if x.shape[3] == 1:
            _patches_t(x, n0, n1, geo, ho, wo, buf_t)
            return True
        _patches(x, n0, n1, geo, ho, wo, buf)
        return False

    @jit_nogil
    def _pointwise(geo, x_hw, y_hw):
        """A 1x1 convolution, stride 1, no padding: the input rows are the patch matrix."""
        kh, kw, sh, sw, dh, dw, ph, pw = geo
        return kh == 1 and kw == 1 and sh == 1 and sw == 1 and ph == 0 and pw == 0 and x_hw == y_hw

    @jit_nogil
    def _forward_part(x, wm, b, relu, geo, y, a, z, per):
        """y[n] = act(patches(x[n]) @ wm + b) for images a..z-1, ``per`` images a block."""
        ho, wo, o_ = y.shape[1], y.shape[2], y.shape[3]
        point = _pointwise(geo, (x.shape[1], x.shape[2]), (ho, wo))
        one = x.shape[3] == 1 and not point
        buf = np.empty((0 if one or point else per * ho * wo, wm.shape[0]), x.dtype)
        buf_t = np.empty((wm.shape[0], per * ho * wo if one else 0), x.dtype)
        for n0 in range(a, z, per):
            n1 = min(z, n0 + per)
            rows = (n1 - n0) * ho * wo
            out = y[n0:n1].reshape((rows, o_))
            if point:
                gemm(False, x[n0:n1].reshape((rows, x.shape[3])), False, wm, out, 1.0, 0.0)
            elif _patch_matrix(x, n0, n1, geo, ho, wo, buf, buf_t):
                gemm(True, buf_t[:, :rows], False, wm, out, 1.0, 0.0)
            else:
                gemm(False, buf[:rows], False, wm, out, 1.0, 0.0)
            for r in range(rows):
                for o in range(o_):
                    v = out[r, o] + b[o]
                    out[r, o] = (0 if v < 0 else v) if relu else v  # NaN stays NaN

    @jit_nogil
    def _gy_rows(gy, y, relu, n0, n1, buf):
        """The output gradient of images n0..n1-1 as (pixels, O) rows: a view of ``gy``, or,
        through a fused ReLU, its copy zeroed where the output ``y`` is not positive."""
        rows = (n1 - n0) * gy.shape[1] * gy.shape[2]
        g = gy[n0:n1].reshape((rows, gy.shape[3]))
        if not relu:
            return g
        yr = y[n0:n1].reshape((rows, gy.shape[3]))
        for r in range(rows):
            for o in range(gy.shape[3]):
                buf[r, o] = g[r, o] if yr[r, o] > 0 else 0
        return buf[:rows]

    @jit_nogil
    def _weight_grad_part(x, gy, y, relu, geo, gw, gb, a, z, per):
        """gw = sum over images a..z-1 of patches(x[n]).T @ gy[n] and gb = the sum of gy's
        rows (both overwritten); gy through the ReLU of output y when ``relu``."""
        ho, wo, o_ = gy.shape[1], gy.shape[2], gy.shape[3]
        point = _pointwise(geo, (x.shape[1], x.shape[2]), (ho, wo))
        one = x.shape[3] == 1 and not point
        buf = np.empty((0 if one or point else per * ho * wo, gw.shape[0]), x.dtype)
        buf_t = np.empty((gw.shape[0], per * ho * wo if one else 0), x.dtype)
        gbuf = np.empty((per * ho * wo if relu else 0, o_), x.dtype)
        gb[:] = 0
        beta = 0.0
        for n0 in range(a, z, per):
            n1 = min(z, n0 + per)
            rows = (n1 - n0) * ho * wo
            g = _gy_rows(gy, y, relu, n0, n1, gbuf)
            if point:
                gemm(True, x[n0:n1].reshape((rows, x.shape[3])), False, g, gw, 1.0, beta)
            elif _patch_matrix(x, n0, n1, geo, ho, wo, buf, buf_t):
                gemm(False, buf_t[:, :rows], False, g, gw, 1.0, beta)
            else:
                gemm(True, buf[:rows], False, g, gw, 1.0, beta)
            beta = 1.0
            for r in range(rows):
                for o in range(o_):
                    gb[o] += g[r, o]

    @jit_nogil
    def _input_grad_part(gy, y, relu, wm, geo, gx, a, z, per):
        """gx[n] = the patches of gy[n] @ wm.T summed back onto the input pixels they came from,
        for images a..z-1 (overwritten); gy through the ReLU of output y when ``relu``."""
        kh, kw, sh, sw, dh, dw, ph, pw = geo
        ho, wo, o_ = gy.shape[1], gy.shape[2], gy.shape[3]
        h, w, c_ = gx.shape[1], gx.shape[2], gx.shape[3]
        point = _pointwise(geo, (h, w), (ho, wo))
        cols = np.empty((0 if point else per * ho * wo, wm.shape[0]), gy.dtype)
        gbuf = np.empty((per * ho * wo if relu else 0, o_), gy.dtype)
        for n0 in range(a, z, per):
            n1 = min(z, n0 + per)
            rows = (n1 - n0) * ho * wo
            g = _gy_rows(gy, y, relu, n0, n1, gbuf)
            if point:  # the product is the input gradient itself
                gemm(False, g, True, wm, gx[n0:n1].reshape((rows, c_)), 1.0, 0.0)
                continue
            gemm(False, g, True, wm, cols[:rows], 1.0, 0.0)
            gx[n0:n1] = 0
            r = 0
            for n in range(n0, n1):
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
                                k = (i * kw + j) * c_
                                for c in range(c_):
                                    gx[n, hi, wi, c] += cols[r, k + c]
                        r += 1


def usable(*arrays) -> bool:
    """The block kernels may run: numba enabled, NumPy arrays of one float dtype, BLAS callable
    from numba, at least as many images as threads (each thread takes whole images), and the
    first array not tiny (below 1/16 of ``tuning.KERNEL_MIN_SIZE`` elements the NumPy path's
    fewer steps win)."""
    if not kernels.ENABLED or arrays[0].size * 16 < tuning.KERNEL_MIN_SIZE:
        return False
    d = arrays[0].dtype
    if d not in kernels.FLOATS:
        return False
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != d:
            return False
    return blas.available() and arrays[0].shape[0] >= numba.get_num_threads()


def _per(ho: int, wo: int) -> int:
    return max(1, _BLOCK_ROWS // max(ho * wo, 1))


def _run(fn, n: int) -> None:
    with blas.one_thread():
        kernels.parallel_parts(fn, range(n))


def forward(x, wm, b, relu: bool, geo: tuple, y) -> None:
    """y (N, Ho, Wo, O) = act(conv(x) + b) for C-contiguous channels-last arrays: x (N, H, W, C),
    wm the (kh*kw*C, O) weight matrix, b an (O,) array."""
    per = _per(y.shape[1], y.shape[2])
    _run(lambda p: _forward_part(x, wm, b, relu, geo, y, p.start, p.stop, per), x.shape[0])


def weight_grad(x, gy, geo: tuple, k: int, y=None) -> tuple:
    """The (k, O) weight gradient matrix (k = kh*kw*C) and the (O,) bias gradient from
    C-contiguous x (N, H, W, C) and gy (N, Ho, Wo, O); through a fused ReLU whose output was
    ``y`` (of gy's shape) when given."""
    per = _per(gy.shape[1], gy.shape[2])
    relu, y = y is not None, gy if y is None else y

    def part(a, z):
        gw, gb = np.empty((k, gy.shape[3]), x.dtype), np.empty(gy.shape[3], x.dtype)
        _weight_grad_part(x, gy, y, relu, geo, gw, gb, a, z, per)
        return gw, gb

    with blas.one_thread():
        return kernels.parallel_sums(part, x.shape[0])


def input_grad(gy, wm, geo: tuple, gx, y=None) -> None:
    """gx (N, H, W, C) = the input gradient from gy (N, Ho, Wo, O) and the (kh*kw*C, O) weight
    matrix, through a fused ReLU whose output was ``y`` when given; C-contiguous arrays."""
    per = _per(gy.shape[1], gy.shape[2])
    relu, y = y is not None, gy if y is None else y
    _run(lambda p: _input_grad_part(gy, y, relu, wm, geo, gx, p.start, p.stop, per), gy.shape[0])
