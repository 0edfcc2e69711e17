"""Convolution and pooling layers (NCHW, PyTorch weight layouts and initialisation)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from zerograd import backend
from zerograd.nn import init
from zerograd.nn.module import Module
from zerograd.nn.parameter import Parameter
from zerograd.ops import argcheck
from zerograd.ops import conv as C
from zerograd.ops import pool as P
from zerograd.ops.conv_transpose import conv_transpose2d
from zerograd.tensor import Tensor


class _ConvNd(Module):
    nd = 2
    transposed = False

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        output_padding=0,
        padding_mode: str = "zeros",
    ):
        super().__init__()
        name, nd = type(self).__name__, self.nd
        if padding_mode != "zeros":  # the other modes of PyTorch are not implemented: say so
            raise ValueError(
                f"{name}: only padding_mode='zeros' is supported, received {padding_mode!r}; pad "
                "the input yourself (zg.pad) and use padding=0"
            )
        in_channels = argcheck.positive(name, "in_channels", in_channels)
        out_channels = argcheck.positive(name, "out_channels", out_channels)
        k = argcheck.ints(name, "kernel_size", kernel_size, nd, 1)
        stride = _geometry(name, "stride", stride, nd, 1)
        dilation = _geometry(name, "dilation", dilation, nd, 1)
        groups = argcheck.positive(name, "groups", groups)
        argcheck.flag(name, "bias", bias)
        if isinstance(padding, str) and not self.transposed:
            argcheck.choice(name, "padding", padding, ("valid", "same"))
            if padding == "same" and argcheck.ints(name, "stride", stride, nd, 1) != (1,) * nd:
                raise ValueError(f"{name}: padding='same' needs stride 1, received stride {stride}")
        else:
            padding = _geometry(name, "padding", padding, nd, 0)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels {in_channels} and out_channels {out_channels} must be "
                f"divisible by groups {groups}"
            )
        if self.transposed:
            if groups != 1:
                raise ValueError(f"{name}: only groups=1 is supported, received groups={groups}")
            extra = argcheck.ints(name, "output_padding", output_padding, nd, 0)
            steps = zip(
                extra,
                argcheck.ints(name, "", stride, nd, 1),
                argcheck.ints(name, "", dilation, nd, 1),
            )
            if any(e >= max(s, d) for e, s, d in steps):
                raise ValueError(
                    f"{name}: output_padding must be smaller than stride or dilation, received "
                    f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
                )
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.output_padding = output_padding
        shape = (
            (in_channels, out_channels // groups, *k)
            if self.transposed
            else (out_channels, in_channels // groups, *k)
        )
        dt = backend.get_default_dtype()
        self.weight = Parameter(np.empty(shape, dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """Batched (N, C, *spatial) or unbatched (C, *spatial) input, as PyTorch."""
        name, want = type(self).__name__, self.nd + 2
        if x.ndim not in (want, want - 1) or x.shape[x.ndim - self.nd - 1] != self.in_channels:
            spatial, c = ("L" if self.nd == 1 else "H, W"), self.in_channels
            unbatched = "" if x.ndim == want else f" or ({c}, {spatial})"
            raise ValueError(
                f"{name} expected input of shape (N, {c}, {spatial}){unbatched}, "
                f"received shape {x.shape}"
            )
        argcheck.same_dtype(name, x, self.weight)
        if x.ndim == want:
            return self._conv(x)
        return self._conv(x.expand_dims(0)).squeeze(0)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in (0, (0, 0)):
            s += f", padding={self.padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


def _geometry(owner: str, name: str, value, nd: int, minimum: int):
    """Checks a stride/padding/dilation and returns it as given (an int stays an int, so the
    ops and ``extra_repr`` see what the user wrote)."""
    argcheck.ints(owner, name, value, nd, minimum)
    return int(value) if isinstance(value, numbers.Integral) else tuple(int(v) for v in value)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L)."""

    nd = 1

    def _conv(self, x: Tensor) -> Tensor:
        return C.conv1d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W); weight (out, in / groups, kh, kw).

    Example:
        >>> nn.Conv2d(1, 8, 3, padding=1)(zg.randn(4, 1, 28, 28)).shape
        (4, 8, 28, 28)
    """

    def _conv(self, x: Tensor) -> Tensor:
        return C.conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution; weight (in, out / groups, kh, kw)."""

    transposed = True

    def _conv(self, x: Tensor) -> Tensor:
        return conv_transpose2d(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )


def _pool_check(owner: str, kernel_size, stride, padding) -> None:
    """A pooling's window: kernel and stride positive, padding at most half the kernel."""
    k = argcheck.ints(owner, "kernel_size", kernel_size, 2, 1)
    if stride is not None:
        _geometry(owner, "stride", stride, 2, 1)
    p = argcheck.ints(owner, "padding", padding, 2, 0)
    if any(2 * pp > kk for pp, kk in zip(p, k)):
        raise ValueError(
            f"{owner}: padding must be at most half the kernel size {k}, received padding {padding}"
        )


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False):
        super().__init__()
        _pool_check("MaxPool2d", kernel_size, stride, padding)
        _geometry("MaxPool2d", "dilation", dilation, 2, 1)
        argcheck.flag("MaxPool2d", "ceil_mode", ceil_mode)
        self.kernel_size, self.stride, self.padding = (
            kernel_size,
            stride if stride is not None else kernel_size,
            padding,
        )
        self.dilation, self.ceil_mode = dilation, ceil_mode

    def forward(self, x: Tensor) -> Tensor:
        return P.max_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ):
        super().__init__()
        _pool_check("AvgPool2d", kernel_size, stride, padding)
        argcheck.flag("AvgPool2d", "ceil_mode", ceil_mode)
        argcheck.flag("AvgPool2d", "count_include_pad", count_include_pad)
        self.kernel_size, self.stride, self.padding = (
            kernel_size,
            stride if stride is not None else kernel_size,
            padding,
        )
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return P.avg_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        sizes = (output_size,) * 2 if output_size is None else output_size
        if not isinstance(sizes, (tuple, list)) or len(sizes) != 2 or None not in sizes:
            argcheck.ints("AdaptiveAvgPool2d", "output_size", output_size, 2, 1)
        else:
            for v in sizes:
                if v is not None:
                    argcheck.positive("AdaptiveAvgPool2d", "output_size", v)
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return P.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
