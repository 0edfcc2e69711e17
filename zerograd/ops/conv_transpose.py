"""Transposed convolutions: PyTorch's layout (its own op), and the channels-last (Keras) layout as
the input gradient of the convolution it undoes."""

from __future__ import annotations

from zerograd.amp import autocast_mode as _autocast
from zerograd.autograd import Function
from zerograd.ops import argcheck
from zerograd.ops.conv import Conv2dInputGrad, col2im, pair, windows
from zerograd.tensor import Tensor


class ConvTranspose2d(Function):
    """The adjoint of a convolution (PyTorch's layout); its backward runs on arrays only."""

    differentiable_backward = False
    stride: tuple
    padding: tuple
    output_padding: tuple
    dilation: tuple

    def forward(self, x, W, b=None):
        self.save_for_backward(x, W)
        xp = self.xp
        n, _, h, w = x.shape
        _, co, kh, kw = W.shape
        (sh, sw), (dh, dw), (ph, pw), (oph, opw) = (
            self.stride,
            self.dilation,
            self.padding,
            self.output_padding,
        )
        hfull = (h - 1) * sh + dh * (kh - 1) + 1 + oph
        wfull = (w - 1) * sw + dw * (kw - 1) + 1 + opw
        cols = xp.tensordot(x, W, axes=([1], [0])).transpose(
            0, 3, 1, 2, 4, 5
        )  # (N, Co, H, W, kh, kw)
        full = col2im(xp, cols, (n, co, hfull, wfull), self.stride, self.dilation, x.dtype)
        y = full[:, :, ph : hfull - ph, pw : wfull - pw]
        if b is not None:
            y = y + b.reshape(1, -1, 1, 1)
        return xp.ascontiguousarray(y)

    def backward(self, gy):
        xp = self.xp
        x, W = self.saved
        (ph, pw), (oph, opw) = self.padding, self.output_padding
        g_ = xp.pad(gy, ((0, 0), (0, 0), (ph, ph + oph), (pw, pw + opw)))
        kh, kw = W.shape[2], W.shape[3]
        cols = windows(xp, g_, kh, kw, self.stride, self.dilation)[:, :, : x.shape[2], : x.shape[3]]
        need = self.needs_grad
        gx = (
            xp.tensordot(cols, W, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
            if need[0]
            else None
        )
        gW = xp.tensordot(x, cols, axes=([0, 2, 3], [0, 2, 3])) if need[1] else None
        gb = gy.sum(axis=(0, 2, 3)) if len(self.inputs) == 3 and need[2] else None
        out = [None if a is None else xp.ascontiguousarray(a) for a in (gx, gW, gb)]
        return tuple(out[: len(self.inputs)])


@_autocast.lower_precision
def conv_transpose2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
    channels_last: bool = False,
) -> Tensor:
    """Transposed convolution of (N, Cin, H, W) with weight (Cin, Cout, kh, kw), as PyTorch.

    ``channels_last=True`` takes (N, H, W, Cin) and a (kh, kw, Cout, Cin) weight (the Keras
    layouts); ``padding`` may then also be explicit ((top, bottom), (left, right)) crops of the
    full output, a negative crop adding zeros (less than the stride).
    """
    if groups != 1:
        raise ValueError(f"conv_transpose2d: only groups=1 is supported, received groups={groups}")
    if x.dtype != weight.dtype:  # never a silent up-cast (either layout)
        raise TypeError(
            f"conv_transpose2d: expected input of the weight's dtype {weight.dtype}, "
            f"received {x.dtype}"
        )
    if channels_last:
        return _conv_transpose_nhwc(x, weight, bias, stride, padding, output_padding, dilation)
    if weight.ndim != 4:
        raise ValueError(f"conv_transpose2d: expected a 4-D weight, received shape {weight.shape}")
    if x.ndim != 4 or x.shape[1] != weight.shape[0]:
        raise ValueError(
            f"conv_transpose2d: expected input (N, {weight.shape[0]}, H, W) for weight of shape {weight.shape}, received shape {x.shape}"
        )
    stride = argcheck.ints("conv_transpose2d", "stride", stride, 2, 1)
    dilation = argcheck.ints("conv_transpose2d", "dilation", dilation, 2, 1)
    argcheck.ints("conv_transpose2d", "padding", padding, 2, 0)
    extra = argcheck.ints("conv_transpose2d", "output_padding", output_padding, 2, 0)
    if any(e >= max(s, d) for e, s, d in zip(extra, stride, dilation)):
        raise ValueError(
            "conv_transpose2d: output_padding must be smaller than stride or dilation, received "
            f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
        )
    if bias is not None and bias.shape != (weight.shape[1],):
        raise ValueError(
            f"conv_transpose2d: expected bias of shape ({weight.shape[1]},) for weight of shape "
            f"{weight.shape}, received shape {bias.shape}"
        )
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return ConvTranspose2d.apply(
        *inputs,
        stride=pair(stride),
        padding=pair(padding),
        output_padding=pair(output_padding),
        dilation=pair(dilation),
    )


def _conv_transpose_nhwc(x, weight, bias, stride, padding, output_padding, dilation) -> Tensor:
    """The channels-last transposed convolution: the input gradient of the convolution it undoes
    (differentiable any number of times), cropped by ``padding``."""
    if x.ndim != 4 or weight.ndim != 4 or x.shape[3] != weight.shape[3]:
        raise ValueError(
            f"conv_transpose2d: expected input (N, H, W, {weight.shape[-1]}) for weight of shape "
            f"{weight.shape}, received shape {x.shape}"
        )
    stride, dilation, extra = pair(stride), pair(dilation), pair(output_padding)
    if isinstance(padding, (tuple, list)) and not isinstance(padding[0], int):
        crops = [tuple(p) for p in padding]
    else:
        crops = [(p, p) for p in pair(padding)]
    out, pads = [], []
    for n, k, s, d, (top, bottom), e in zip(
        x.shape[1:3], weight.shape[:2], stride, dilation, crops, extra
    ):
        bottom -= e
        full = (n - 1) * s + d * (k - 1) + 1
        if top < 0 or -bottom >= s or full - top - bottom <= 0:
            raise ValueError(
                f"conv_transpose2d: crops {crops} with output_padding {extra} do not fit a full "
                f"output of {full} for stride {stride} (expected crops >= 0, extra zeros < stride)"
            )
        out.append(full - top - bottom)
        pads.append((top, max(bottom, 0)))
    y = Conv2dInputGrad.apply(
        x, weight, x_shape=(x.shape[0], *out, weight.shape[2]), stride=stride,
        padding=tuple(pads), dilation=dilation, groups=1, channels_last=True,
    )  # fmt: skip
    return y if bias is None else y + bias
