"""Convolutions (NCHW, PyTorch layouts) by im2col: one strided view and one GEMM each way."""

from __future__ import annotations

from zerograd import backend, kernels
from zerograd.amp import autocast_mode as _autocast
from zerograd.autograd import Function
from zerograd.kernels import conv as conv_kernels
from zerograd.ops import argcheck
from zerograd.ops import conv_paths as paths
from zerograd.tensor import Tensor


def pair(v, name: str = "value") -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    if len(v) != 2:
        raise ValueError(f"expected an int or a pair for {name}, received {v}")
    return v


def windows(xp, x, kh: int, kw: int, stride, dilation):
    """Strided view (N, C, Ho, Wo, kh, kw) of a padded (N, C, H, W) array: no copy."""
    return windows_nhwc(xp, x.transpose(0, 2, 3, 1), kh, kw, stride, dilation).transpose(
        0, 5, 1, 2, 3, 4
    )


def col2im(xp, cols, shape, stride, dilation, dtype):
    """Sum (N, C, Ho, Wo, kh, kw) patches back into an (N, C, H, W) array: the adjoint of windows()."""
    out = xp.zeros(shape, dtype=dtype)
    _, _, ho, wo, kh, kw = cols.shape
    sh, sw = stride
    dh, dw = dilation
    for i in range(kh):  # a loop over kernel offsets, each one vectorised over batch and pixels
        for j in range(kw):
            out[
                :,
                :,
                i * dh : i * dh + sh * (ho - 1) + 1 : sh,
                j * dw : j * dw + sw * (wo - 1) + 1 : sw,
            ] += cols[..., i, j]
    return out


def windows_nhwc(xp, x, kh: int, kw: int, stride, dilation):
    """Strided view (N, Ho, Wo, kh, kw, C) of a padded (N, H, W, C) array: channels stay innermost."""
    n, h, w, c = x.shape
    sh, sw = stride
    dh, dw = dilation
    ho = (h - dh * (kh - 1) - 1) // sh + 1
    wo = (w - dw * (kw - 1) - 1) // sw + 1
    s = x.strides
    return xp.lib.stride_tricks.as_strided(
        x,
        (n, ho, wo, kh, kw, c),
        (s[0], s[1] * sh, s[2] * sw, s[1] * dh, s[2] * dw, s[3]),
        writeable=False,
    )


class _Conv(Function):
    """The geometry shared by a convolution and the two ops of its gradient."""

    stride: tuple
    padding: tuple  # ((top, bottom), (left, right))
    dilation: tuple
    groups: int
    channels_last = False  # (N, H, W, C) arrays and (kh, kw, C, O) weights, as the Keras layers

    def geometry(self) -> dict:
        return dict(
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
            channels_last=self.channels_last,
        )


class Conv2d(_Conv):
    """groups == 1 runs as one GEMM over channels-last patches; grouped convolutions use einsum.

    With ``channels_last=True`` (the Keras layers) the input and output are (N, H, W, C) and the
    weight is (kh, kw, C, O): the patches and the GEMM are the same, without layout transposes.
    ``relu=True`` applies a ReLU to the output inside the op (Keras ``activation='relu'``).

    Its gradients are two more ops, ``Conv2dInputGrad`` and ``Conv2dWeightGrad``; the gradients of
    those are convolutions and each other, so a convolution is differentiable any number of times.
    """

    relu = False
    cols = None  # the im2col patch matrix of the input (groups == 1), kept for the weight gradient
    xh = None  # the input as contiguous (N, H, W, C), when a compiled path ran the forward

    def forward(self, x, W, b=None):
        xp = self.xp
        (ph0, ph1), (pw0, pw1) = self.padding
        cl = self.channels_last
        kh, kw = W.shape[:2] if cl else W.shape[2:]
        if paths.usable(self, x.shape, x, W):  # by blocks of images, or depthwise loops
            self.xh = paths.nhwc(x, cl)  # kept for the weight gradient
            y = paths.forward(self.xh, W, b, self)
        elif self.groups == 1:
            xh = x if cl else x.transpose(0, 2, 3, 1)  # (N, H, W, C)
            if ph0 or ph1 or pw0 or pw1:
                xh = xp.pad(xh, ((0, 0), (ph0, ph1), (pw0, pw1), (0, 0)))
            self.cols = _im2col(xp, xh, kh, kw, self.stride, self.dilation)
            n, ho, wo = paths.out_hw(xh.shape, kh, kw, self.stride, self.dilation)
            Wm = (
                W.reshape(-1, W.shape[3]) if cl else W.transpose(2, 3, 1, 0).reshape(-1, W.shape[0])
            )
            y = self.cols @ Wm  # (N*Ho*Wo, O): channels-last output
            if kernels.usable(y) and (b is not None or self.relu):  # bias and ReLU in one pass
                bias = xp.zeros(y.shape[1], y.dtype) if b is None else b
                conv_kernels.bias_act(y, bias, self.relu)
            else:
                if b is not None:
                    y += b
                if self.relu:  # a fused ReLU, in place on the fresh product
                    xp.maximum(y, 0, out=y)
            y = y.reshape(n, ho, wo, -1)
            y = y if cl else xp.ascontiguousarray(y.transpose(0, 3, 1, 2))
        else:  # grouped, by einsum over NCHW windows
            # channels last: NCHW views (x and W themselves are saved: the graph knows them)
            xc, Wc = (x.transpose(0, 3, 1, 2), W.transpose(3, 2, 0, 1)) if cl else (x, W)
            xpad = xp.pad(xc, ((0, 0), (0, 0), (ph0, ph1), (pw0, pw1)))
            cols = windows(xp, xpad, kh, kw, self.stride, self.dilation)
            n, c, ho, wo, _, _ = cols.shape
            g = self.groups
            cg = cols.reshape(n, g, c // g, ho, wo, kh, kw)
            Wg = Wc.reshape(g, Wc.shape[0] // g, c // g, kh, kw)
            y = xp.einsum("ngchwij,gocij->ngohw", cg, Wg, optimize=True).reshape(
                n, Wc.shape[0], ho, wo
            )
            if b is not None:
                y = y + b.reshape(1, -1, 1, 1)
            if self.relu:
                y = xp.maximum(y, 0)
            y = xp.ascontiguousarray(y.transpose(0, 2, 3, 1) if cl else y)
        self.save_for_backward(x, W, y)
        return y

    def backward(self, gy):
        x, W, y = self.saved
        need, geo = self.needs_grad, self.geometry()
        if self.xh is not None and not self.recording:
            return paths.backward(self, gy, W, y, need)
        if self.relu:  # through the fused ReLU first: zero where the output was clipped
            gy = conv_kernels.relu_grad(gy, y) if kernels.usable(y, gy) else gy * (y > 0)
        gx = Conv2dInputGrad.call(gy, W, x_shape=x.shape, **geo) if need[0] else None
        gW = (
            Conv2dWeightGrad.call(x, gy, w_shape=W.shape, cols=self.cols, **geo)
            if need[1]
            else None
        )
        if len(need) == 2:
            return gx, gW
        if not need[2]:
            return gx, gW, None
        if self.channels_last:  # the bias gradient: a sum over all but the channel axis
            return gx, gW, backend.sum_axes(self.xp, gy.reshape((-1, gy.shape[-1])), (0,))
        return gx, gW, gy.sum(axis=(0, 2, 3))


class Conv2dInputGrad(_Conv):
    """The gradient of a convolution with respect to its input: a transposed convolution of
    ``gy`` with ``W``, bilinear in the two."""

    x_shape: tuple

    def forward(self, gy, W):
        self.save_for_backward(gy, W)
        return _input_grad(self.xp, gy, W, self.x_shape, self)

    def backward(self, ggx):
        gy, W = self.saved
        need, geo = self.needs_grad, self.geometry()
        ggy = Conv2d.call(ggx, W, **geo) if need[0] else None
        gW = Conv2dWeightGrad.call(ggx, gy, w_shape=W.shape, **geo) if need[1] else None
        return ggy, gW


class Conv2dWeightGrad(_Conv):
    """The gradient of a convolution with respect to its weight: patches of ``x`` times ``gy``,
    bilinear in the two. ``cols`` are the forward's patches of ``x``, when it kept them."""

    w_shape: tuple
    cols = None

    def forward(self, x, gy):
        self.save_for_backward(x, gy)
        return _weight_grad(self.xp, x, gy, self.w_shape, self)

    def backward(self, ggW):
        x, gy = self.saved
        need, geo = self.needs_grad, self.geometry()
        gx = Conv2dInputGrad.call(gy, ggW, x_shape=x.shape, **geo) if need[0] else None
        ggy = Conv2d.call(x, ggW, **geo) if need[1] else None
        return gx, ggy


def _im2col(xp, xh, kh: int, kw: int, stride, dilation):
    """(N*Ho*Wo, kh*kw*C) patch matrix of a padded (N, H, W, C) array."""
    cols = windows_nhwc(xp, xh, kh, kw, stride, dilation)
    n, ho, wo = cols.shape[:3]
    if xh.shape[3] == 1:  # one channel: offset-major copy (long rows), used transposed
        cm = xp.empty((kh, kw, n, ho, wo), dtype=xh.dtype)
        cm[...] = cols[..., 0].transpose(3, 4, 0, 1, 2)
        return cm.reshape(kh * kw, -1).T
    return xp.ascontiguousarray(cols).reshape(n * ho * wo, -1)


def _input_grad(xp, gy, W, x_shape, geo: _Conv):
    """d(conv)/dx applied to ``gy``: arrays in, the input-shaped gradient out."""
    (ph0, ph1), (pw0, pw1) = geo.padding
    cl = geo.channels_last
    (kh, kw, c, o) = W.shape if cl else (W.shape[2], W.shape[3], W.shape[1], W.shape[0])
    (sh, sw), (dh, dw) = geo.stride, geo.dilation
    if paths.usable(geo, x_shape, gy, W):  # by blocks of images, or depthwise loops
        return paths.input_grad(paths.nhwc(gy, cl), W, x_shape, geo)
    if geo.groups == 1:
        n, ho, wo = (gy.shape[:3]) if cl else (gy.shape[0], *gy.shape[2:])
        # contiguous rows for BLAS: a broadcast gy (the gradient of a sum) has zero strides, and
        # NumPy's matmul falls back to a slow loop on those
        g2 = xp.ascontiguousarray(gy if cl else gy.transpose(0, 2, 3, 1)).reshape(n * ho * wo, o)
        W4 = W if cl else W.transpose(2, 3, 1, 0)  # (kh, kw, C, O)
        h, w = x_shape[1:3] if cl else x_shape[2:]
        gxh = xp.zeros((n, h + ph0 + ph1, w + pw0 + pw1, c), dtype=gy.dtype)  # (N, Hp, Wp, C)
        # one GEMM per kernel offset, each added into the input pixels it read: contiguous
        # rows, where one big GEMM would leave a patch matrix to scatter with short strides
        for i in range(kh):
            for j in range(kw):
                gxh[
                    :,
                    i * dh : i * dh + sh * (ho - 1) + 1 : sh,
                    j * dw : j * dw + sw * (wo - 1) + 1 : sw,
                ] += (g2 @ W4[i, j].T).reshape(n, ho, wo, c)
        gx = gxh[:, ph0 : gxh.shape[1] - ph1, pw0 : gxh.shape[2] - pw1]
        return xp.ascontiguousarray(gx if cl else gx.transpose(0, 3, 1, 2))
    if cl:  # grouped, channels last: by the NCHW einsum
        shape = (x_shape[0], x_shape[3], *x_shape[1:3])
        gx = _input_grad(xp, gy.transpose(0, 3, 1, 2), W.transpose(3, 2, 0, 1), shape, _nchw(geo))
        return xp.ascontiguousarray(gx.transpose(0, 2, 3, 1))
    g = geo.groups
    n, _, ho, wo = gy.shape
    gyg = gy.reshape(n, g, o // g, ho, wo)
    Wg = W.reshape(g, o // g, c, kh, kw)
    gcols = xp.einsum("ngohw,gocij->ngchwij", gyg, Wg, optimize=True).reshape(
        n, x_shape[1], ho, wo, kh, kw
    )
    padded = (n, x_shape[1], x_shape[2] + ph0 + ph1, x_shape[3] + pw0 + pw1)
    gxp = col2im(xp, gcols, padded, geo.stride, geo.dilation, gy.dtype)
    return xp.ascontiguousarray(gxp[:, :, ph0 : gxp.shape[2] - ph1, pw0 : gxp.shape[3] - pw1])


def _weight_grad(xp, x, gy, w_shape, geo: _Conv):
    """d(conv)/dW applied to ``gy``: arrays in, the weight-shaped gradient out."""
    (ph0, ph1), (pw0, pw1) = geo.padding
    cl = geo.channels_last
    (kh, kw, c, o) = w_shape if cl else (w_shape[2], w_shape[3], w_shape[1], w_shape[0])
    if geo.cols is None and paths.usable(geo, x.shape, x, gy):  # blocks, or depthwise loops
        return paths.weight_grad(paths.nhwc(x, cl), paths.nhwc(gy, cl), w_shape, geo)[0]
    if geo.groups == 1:
        cols = geo.cols
        if cols is None:
            xh = x if cl else x.transpose(0, 2, 3, 1)
            if ph0 or ph1 or pw0 or pw1:
                xh = xp.pad(xh, ((0, 0), (ph0, ph1), (pw0, pw1), (0, 0)))
            cols = _im2col(xp, xh, kh, kw, geo.stride, geo.dilation)
        g2 = xp.ascontiguousarray(gy if cl else gy.transpose(0, 2, 3, 1)).reshape(-1, o)
        gW = (cols.T @ g2).reshape(kh, kw, c, o)  # (kh, kw, C, O)
        return xp.ascontiguousarray(gW if cl else gW.transpose(3, 2, 0, 1))
    if cl:  # grouped, channels last: by the NCHW einsum
        shape = (w_shape[3], w_shape[2], *w_shape[:2])
        gW = _weight_grad(xp, x.transpose(0, 3, 1, 2), gy.transpose(0, 3, 1, 2), shape, _nchw(geo))
        return xp.ascontiguousarray(gW.transpose(2, 3, 1, 0))
    g = geo.groups
    xpad = xp.pad(x, ((0, 0), (0, 0), (ph0, ph1), (pw0, pw1)))
    cols = windows(xp, xpad, kh, kw, geo.stride, geo.dilation)
    n, _, ho, wo, _, _ = cols.shape
    gyg = gy.reshape(n, g, o // g, ho, wo)
    cg = cols.reshape(n, g, c, ho, wo, kh, kw)
    gW = xp.einsum("ngohw,ngchwij->gocij", gyg, cg, optimize=True).reshape(w_shape)
    return xp.ascontiguousarray(gW)


def _nchw(geo: _Conv) -> _Conv:
    """The same geometry for NCHW arrays (the grouped einsum's layout)."""
    fn = Conv2d.__new__(Conv2d)
    fn.__dict__.update(geo.geometry(), channels_last=False)
    return fn


def _padding(padding, kernel, dilation, stride, op: str):
    """PyTorch padding argument -> ((top, bottom), (left, right))."""
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        if stride != (1, 1):
            raise ValueError(f"{op}: padding='same' needs stride 1, received stride {stride}")
        out = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            out.append((total // 2, total - total // 2))
        return tuple(out)
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and not isinstance(padding[0], int):
        return tuple(tuple(p) for p in padding)  # explicit ((top, bottom), (left, right))
    ph, pw = pair(padding, "padding")
    return ((ph, ph), (pw, pw))


@_autocast.lower_precision
def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
    channels_last: bool = False,
    fuse_relu: bool = False,
) -> Tensor:
    """2-D convolution of (N, C, H, W) with weight (O, C / groups, kh, kw), as PyTorch.

    ``padding`` is an int, a pair, 'valid', 'same', or explicit ((top, bottom), (left, right)).
    ``channels_last=True`` takes (N, H, W, C) and a (kh, kw, C / groups, O) weight (the Keras
    layouts) and returns (N, Ho, Wo, O), without layout copies when groups == 1.
    ``fuse_relu=True`` returns relu(conv) from one pass over the output (about 7% faster than a
    separate ``F.relu`` on a small CNN, forward and backward).

    Example:
        >>> F.conv2d(zg.randn(8, 3, 28, 28), zg.randn(16, 3, 3, 3), padding=1).shape
        (8, 16, 28, 28)
    """
    layout = "(N, H, W, C)" if channels_last else "(N, C, H, W)"
    if x.ndim != 4:
        raise ValueError(f"conv2d: expected input of shape {layout}, received shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected a 4-D weight, received shape {weight.shape}")
    c, o, ks = (
        (x.shape[3], weight.shape[-1], weight.shape[:2])
        if channels_last
        else (x.shape[1], weight.shape[0], weight.shape[2:])
    )
    cw = weight.shape[2] if channels_last else weight.shape[1]
    if weight.ndim != 4 or c != cw * groups or o % groups:
        raise ValueError(
            f"conv2d: expected input with {cw * groups} channels for weight of shape {weight.shape} "
            f"and groups={groups}, received input shape {x.shape} ({layout})"
        )
    if x.dtype != weight.dtype:  # never a silent up-cast (Keras refuses int input to Conv too)
        raise TypeError(
            f"conv2d: expected input of the weight's dtype {weight.dtype}, received {x.dtype}"
        )
    if bias is not None and bias.shape != (o,):
        raise ValueError(
            f"conv2d: expected bias of shape ({o},) for weight of shape {weight.shape}, "
            f"received shape {bias.shape}"
        )
    stride = argcheck.ints("conv2d", "stride", stride, 2, 1)
    dilation = argcheck.ints("conv2d", "dilation", dilation, 2, 1)
    argcheck.positive("conv2d", "groups", groups)
    pad = _padding(padding, ks, dilation, stride, "conv2d")
    if min(min(p) for p in pad) < 0:
        raise ValueError(f"conv2d: padding must be non-negative, received {padding!r}")
    hw = x.shape[1:3] if channels_last else x.shape[2:]
    if any(n + sum(p) - d * (k - 1) <= 0 for n, p, d, k in zip(hw, pad, dilation, ks)):
        raise ValueError(f"conv2d: kernel {tuple(ks)} is larger than the padded input {hw}")
    geo = dict(stride=stride, padding=pad, dilation=dilation, groups=groups, relu=fuse_relu)
    b = () if bias is None else (bias,)
    if channels_last:  # (N, H, W, C) arrays and a (kh, kw, C / groups, O) weight, any groups
        return Conv2d.apply(x, weight, *b, channels_last=True, **geo)
    return Conv2d.apply(x, weight, *b, **geo)


def _pad1d(padding):
    """A 1-D padding (int, 'valid', 'same', (p,) or (left, right)) as conv2d's, height 0."""
    if isinstance(padding, str):
        return padding
    if isinstance(padding, int):
        return ((0, 0), (padding, padding))
    p = tuple(padding)
    return ((0, 0), (p[0], p[-1]))


@_autocast.lower_precision
def conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int = 1,
    padding=0,
    dilation: int = 1,
    groups: int = 1,
    channels_last: bool = False,
    fuse_relu: bool = False,
) -> Tensor:
    """1-D convolution of (N, C, L) with weight (O, C / groups, k): conv2d on a height-1 image.

    ``channels_last=True`` takes (N, L, C) and a (k, C / groups, O) weight (the Keras layouts).
    """
    layout = "(N, L, C)" if channels_last else "(N, C, L)"
    if x.ndim != 3:
        raise ValueError(f"conv1d: expected input of shape {layout}, received shape {x.shape}")
    if weight.ndim != 3:
        raise ValueError(f"conv1d: expected a 3-D weight, received shape {weight.shape}")
    one = stride if isinstance(stride, int) or len(stride) != 1 else stride[0]  # (s,) as s
    argcheck.positive("conv1d", "stride", one)
    one = dilation if isinstance(dilation, int) or len(dilation) != 1 else dilation[0]
    argcheck.positive("conv1d", "dilation", one)
    axis = 1 if channels_last else 2  # the height-1 axis
    w = weight.expand_dims(0 if channels_last else 2)
    geo = ((1, stride), _pad1d(padding), (1, dilation), groups)
    y = conv2d(x.expand_dims(axis), w, bias, *geo, channels_last, fuse_relu)
    return y.squeeze(axis)
