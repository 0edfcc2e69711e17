"""Normalisation: layer_norm (fused), batch_norm, group_norm, rms_norm."""

from __future__ import annotations

import math

import numpy as np

from zerograd import kernels
from zerograd.amp import autocast_mode as _autocast
from zerograd.autograd import Function
from zerograd.kernels import cuda as cuda_kernels
from zerograd.kernels import layer_norm as layer_norm_kernels
from zerograd.kernels import rms_norm as rms_norm_kernels
from zerograd.ops import argcheck
from zerograd.ops.batch_norm import BatchNormTrain
from zerograd.ops.elementwise import sqrt
from zerograd.tensor import Tensor


def _norm_axes(x: Tensor, normalized_shape, op: str) -> tuple:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(shape) :]) != shape or x.ndim < len(shape):
        raise ValueError(
            f"{op}: expected input whose last axes are {shape}, received shape {x.shape}"
        )
    return tuple(range(x.ndim - len(shape), x.ndim))


def _check_params(op: str, shape: tuple, what: str, **params) -> None:
    """Each given tensor (weight, bias, running stats) must have ``shape``, as PyTorch."""
    for name, t in params.items():
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(
                f"{op}: expected {name} of shape {shape} ({what}), received shape {tuple(t.shape)}"
            )


def _check_channels(op: str, x: Tensor) -> None:
    if x.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C, ...), received shape {x.shape}")


class LayerNorm(Function):
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing ``axes``, in one op.

    The backward recomputes the normalised input from ``x`` with differentiable ops, so it can be
    differentiated again.
    """

    axes: tuple
    eps: float
    has_weight: bool
    has_bias: bool

    def forward(self, x, *affine):  # (weight, bias), (weight,), (bias,) or ()
        weight = affine[0] if self.has_weight else None
        bias = affine[-1] if self.has_bias else None
        self.save_for_backward(x, weight)
        xp = self.xp
        affine_arrays = [a for a in (weight, bias) if a is not None]
        if self.axes == (x.ndim - 1,) and kernels.usable(x, *affine_arrays):
            return layer_norm_kernels.layer_norm(x, weight, bias, self.eps)
        if self.axes == (x.ndim - 1,) and cuda_kernels.usable(x, *affine_arrays):
            return cuda_kernels.layer_norm(x, weight, bias, self.eps)
        mu = x.mean(axis=self.axes, keepdims=True)
        xc = x - mu
        var = (xc * xc).mean(axis=self.axes, keepdims=True)
        y = xc * (1 / xp.sqrt(var + self.eps))
        if weight is not None:
            y *= weight
        if bias is not None:
            y += bias
        return y

    def backward(self, gy):
        x, weight = self.saved
        ax = self.axes
        if ax == (x.ndim - 1,) and kernels.usable(x, gy):  # arrays: one pass, same derivative
            gx, gw, gb = layer_norm_kernels.layer_norm_grad(x, gy, weight, self.eps)
        elif ax == (x.ndim - 1,) and cuda_kernels.usable(
            x, gy, *([] if weight is None else [weight])
        ):
            gx, gw, gb = cuda_kernels.layer_norm_grad(x, gy, weight, self.eps)
        else:  # the normalised input again from x, so this is differentiable too
            xc = x - x.mean(axis=ax, keepdims=True)
            rstd = 1 / self.xp.sqrt((xc * xc).mean(axis=ax, keepdims=True) + self.eps)
            xhat = xc * rstd
            gxhat = gy * weight if weight is not None else gy
            gx = rstd * (
                gxhat
                - gxhat.mean(axis=ax, keepdims=True)
                - xhat * (gxhat * xhat).mean(axis=ax, keepdims=True)
            )
            lead = tuple(range(x.ndim - len(ax)))
            gw = (gy * xhat).sum(axis=lead) if weight is not None else None
            gb = gy.sum(axis=lead) if self.has_bias else None
        grads = [gx] + ([gw] if weight is not None else []) + ([gb] if self.has_bias else [])
        return tuple(grads)


@_autocast.full_precision
def layer_norm(x: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` axes, then scale and shift."""
    axes = _norm_axes(x, normalized_shape, "layer_norm")
    shape = x.shape[axes[0] :] if axes else ()
    _check_params("layer_norm", shape, "the normalized_shape", weight=weight, bias=bias)
    inputs = [x] + [t for t in (weight, bias) if t is not None]
    return LayerNorm.apply(
        *inputs, axes=axes, eps=eps, has_weight=weight is not None, has_bias=bias is not None
    )


class RMSNorm(Function):
    """x / sqrt(mean(x^2) + eps) * weight over the trailing ``axes``, in one op (six before: square,
    mean, add, sqrt, divide, scale). The forward keeps each row's 1 / rms for the backward, which
    recomputes it from ``x`` when it is recorded (create_graph), so it can be differentiated
    again."""

    axes: tuple
    eps: float

    def forward(self, x, *weight):  # (weight,) or ()
        w = weight[0] if weight else None
        if self.axes == (x.ndim - 1,) and kernels.usable(x, *weight):
            y, rstd = rms_norm_kernels.rms_norm(x, w, self.eps)
        else:  # sum / n: ndarray.mean's Python wrapper costs more than the work on a decoded token
            n = math.prod(x.shape[i] for i in self.axes)
            ms = (x * x).sum(axis=self.axes, keepdims=True) * x.dtype.type(1 / n)
            rstd = 1 / self.xp.sqrt(ms + x.dtype.type(self.eps))
            y = x * rstd
            if w is not None:
                y *= w
        self.save_for_backward(x, w, rstd)
        return y

    def backward(self, gy):
        x, w, rstd = self.saved
        ax = self.axes
        if ax == (x.ndim - 1,) and kernels.usable(x, gy):  # arrays: one pass, same derivative
            gx, gw = rms_norm_kernels.rms_norm_grad(x, gy, w, rstd)
        else:
            if self.recording:  # rstd is a constant here: again from x, differentiably
                rstd = 1 / self.xp.sqrt((x * x).mean(axis=ax, keepdims=True) + self.eps)
            xhat = x * rstd
            gxhat = gy * w if w is not None else gy
            gx = rstd * (gxhat - xhat * (gxhat * xhat).mean(axis=ax, keepdims=True))
            lead = tuple(range(x.ndim - len(ax)))
            gw = (gy * xhat).sum(axis=lead) if w is not None else None
        return (gx, gw) if w is not None else (gx,)


@_autocast.full_precision
def rms_norm(x: Tensor, normalized_shape, weight=None, eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the trailing ``normalized_shape`` axes; ``eps=None``
    uses the dtype's machine epsilon (as PyTorch).

    Example:
        >>> F.rms_norm(zg.tensor([[3.0, 4.0]]), 2).numpy().round(4)
        array([[0.8485, 1.1314]], dtype=float32)
    """
    axes = _norm_axes(x, normalized_shape, "rms_norm")
    shape = x.shape[axes[0] :] if axes else ()
    _check_params("rms_norm", shape, "the normalized_shape", weight=weight)
    eps = float(np.finfo(x.dtype).eps) if eps is None else eps
    inputs = (x,) if weight is None else (x, weight)
    return RMSNorm.apply(*inputs, axes=axes, eps=eps)


def _channel_shape(x: Tensor) -> tuple:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def batch_norm(
    x: Tensor,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
    *,
    unbiased_running_var: bool = True,
    axis: int = 1,
) -> Tensor:
    """Normalise each channel by batch statistics (training) or running ones (eval).

    The channels are on ``axis`` (1, as PyTorch; -1 for channels-last input, as the Keras layers
    use it, with no transpose). In training, running statistics are updated in place with the
    unbiased batch variance, as PyTorch (``unbiased_running_var=False`` keeps the biased one, as
    Keras). Training runs as one op (``zerograd.ops.batch_norm.BatchNormTrain``).
    """
    _check_channels("batch_norm", x)
    if isinstance(axis, bool) or not isinstance(axis, int) or not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"batch_norm: axis must be an integer in [-{x.ndim}, {x.ndim}) for input of shape "
            f"{x.shape}, received {axis!r}"
        )
    axis %= x.ndim
    n_channels = x.shape[axis]
    _check_params(
        "batch_norm",
        (n_channels,),
        "one per channel",
        running_mean=running_mean,
        running_var=running_var,
        weight=weight,
        bias=bias,
    )
    cshape = tuple(n_channels if i == axis else 1 for i in range(x.ndim))
    if training:
        n = x.size // max(n_channels, 1)
        if n <= 1:
            raise ValueError(
                "batch_norm: expected more than 1 value per channel when training, received "
                f"input shape {x.shape}"
            )
        stats: dict = {}
        inputs = [x] + [t for t in (weight, bias) if t is not None]
        y = BatchNormTrain.apply(
            *inputs,
            axis=axis,
            eps=eps,
            has_weight=weight is not None,
            has_bias=bias is not None,
            stats=stats,
        )
        if running_mean is not None:
            m = momentum
            mu, var = stats["mean"], stats["var"]
            running_mean.data[...] = (1 - m) * running_mean.data + m * mu
            correction = n / (n - 1) if unbiased_running_var else 1.0
            running_var.data[...] = (1 - m) * running_var.data + m * var * correction
        return y
    if running_mean is None:
        raise ValueError("batch_norm: running_mean and running_var are needed in eval mode")
    mu = Tensor._make(running_mean.data.reshape(cshape).astype(x.dtype))
    rstd = Tensor._make((1 / x.xp.sqrt(running_var.data + eps)).reshape(cshape).astype(x.dtype))
    y = (x - mu) * rstd
    if weight is not None:
        y = y * weight.reshape(cshape)
    if bias is not None:
        y = y + bias.reshape(cshape)
    return y


@_autocast.full_precision
def group_norm(x: Tensor, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise each group of channels of each sample; then a per-channel scale and shift."""
    _check_channels("group_norm", x)
    n, c = x.shape[0], x.shape[1]
    argcheck.positive("group_norm", "num_groups", num_groups)
    _check_params("group_norm", (c,), "one per channel", weight=weight, bias=bias)
    if c % num_groups:
        raise ValueError(
            f"group_norm: {c} channels do not split into {num_groups} groups (input shape {x.shape})"
        )
    g = x.reshape((n, num_groups, -1))
    mu = g.mean(axis=2, keepdims=True)
    gc = g - mu
    y = (gc / sqrt((gc * gc).mean(axis=2, keepdims=True) + eps)).reshape(x.shape)
    cshape = _channel_shape(x)
    if weight is not None:
        y = y * weight.reshape(cshape)
    if bias is not None:
        y = y + bias.reshape(cshape)
    return y
