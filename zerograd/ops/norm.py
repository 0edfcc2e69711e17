"""Normalisation: layer_norm (fused), batch_norm, group_norm, rms_norm."""

from __future__ import annotations

import numpy as np

from zerograd import kernels
from zerograd.autograd import Function
from zerograd.kernels import layer_norm as layer_norm_kernels
from zerograd.ops import argcheck
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
        if self.axes == (x.ndim - 1,) and kernels.usable(
            x, *(a for a in (weight, bias) if a is not None)
        ):
            return layer_norm_kernels.layer_norm(x, weight, bias, self.eps)
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


def layer_norm(x: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` axes, then scale and shift."""
    axes = _norm_axes(x, normalized_shape, "layer_norm")
    shape = x.shape[axes[0] :] if axes else ()
    _check_params("layer_norm", shape, "the normalized_shape", weight=weight, bias=bias)
    inputs = [x] + [t for t in (weight, bias) if t is not None]
    return LayerNorm.apply(
        *inputs, axes=axes, eps=eps, has_weight=weight is not None, has_bias=bias is not None
    )


def rms_norm(x: Tensor, normalized_shape, weight=None, eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight; ``eps=None`` uses the dtype's machine epsilon (as PyTorch)."""
    axes = _norm_axes(x, normalized_shape, "rms_norm")
    shape = x.shape[axes[0] :] if axes else ()
    _check_params("rms_norm", shape, "the normalized_shape", weight=weight)
    eps = float(np.finfo(x.dtype).eps) if eps is None else eps
    y = x / sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    return y * weight if weight is not None else y


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
) -> Tensor:
    """Normalise each channel (axis 1) by batch statistics (training) or running ones (eval).

    In training, running statistics are updated in place with the unbiased batch variance, as PyTorch
    (``unbiased_running_var=False`` keeps the biased one, as Keras).
    """
    _check_channels("batch_norm", x)
    _check_params(
        "batch_norm",
        (x.shape[1],),
        "one per channel",
        running_mean=running_mean,
        running_var=running_var,
        weight=weight,
        bias=bias,
    )
    axes = (0, *range(2, x.ndim))
    cshape = _channel_shape(x)
    if training:
        n = x.size // x.shape[1]
        if n <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, received input shape {x.shape}"
            )
        mu = x.mean(axis=axes, keepdims=True)
        xc = x - mu
        var = (xc * xc).mean(axis=axes, keepdims=True)
        if running_mean is not None:
            m = momentum
            running_mean.data[...] = (1 - m) * running_mean.data + m * mu.data.reshape(-1)
            correction = n / (n - 1) if unbiased_running_var else 1.0
            running_var.data[...] = (1 - m) * running_var.data + m * var.data.reshape(
                -1
            ) * correction
        y = xc / sqrt(var + eps)
    else:
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
