"""Batch norm in training mode as one op: batch statistics, normalisation, scale and shift.

Built from separate ops it took about ten passes over the activations forward and more backward,
and a channels-last input (the Keras layers) was transposed to channels first and back. This op
reduces over every axis but ``axis`` in place, so channels-last input needs no transpose; with
numba (``zerograd.kernels.batch_norm``) the forward reads the input twice and writes once, the
backward reads once and writes once. The statistics of the batch (mean and biased variance) are
left in ``stats`` for the running averages.
"""

from __future__ import annotations

from zerograd import kernels
from zerograd.autograd import Function
from zerograd.kernels import batch_norm as bn_kernels


class BatchNormTrain(Function):
    """(x - mean) / sqrt(var + eps) * weight + bias with the batch's per-channel statistics.

    The backward recomputes the normalised input from ``x`` (and, when recorded, the statistics
    too, with differentiable ops), so it can be differentiated again.
    """

    axis: int
    eps: float
    has_weight: bool
    has_bias: bool
    stats: dict  # receives "mean" and "var" (arrays of shape (C,)) for the running averages

    def _axes(self, ndim: int) -> tuple:
        return tuple(i for i in range(ndim) if i != self.axis)

    def _shape(self, ndim: int, n: int) -> tuple:
        return tuple(n if i == self.axis else 1 for i in range(ndim))

    def forward(self, x, *affine):
        weight = affine[0] if self.has_weight else None
        bias = affine[-1] if self.has_bias else None
        xp, n = self.xp, x.shape[self.axis]
        fast = kernels.usable(x, *affine) and (self.axis in (1, x.ndim - 1)) and x.ndim >= 2
        if fast:
            x = xp.ascontiguousarray(x)
            y, mean, rstd, var = bn_kernels.forward(x, self.axis, weight, bias, self.eps)
            mean, rstd = mean.astype(x.dtype), rstd.astype(x.dtype)
        else:
            axes = self._axes(x.ndim)
            mean = x.mean(axis=axes)
            xc = x - mean.reshape(self._shape(x.ndim, n))
            var = (xc * xc).mean(axis=axes)
            rstd = 1 / xp.sqrt(var + self.eps)
            y = xc * rstd.reshape(self._shape(x.ndim, n))
            if weight is not None:
                y *= weight.reshape(self._shape(x.ndim, n))
            if bias is not None:
                y += bias.reshape(self._shape(x.ndim, n))
        self.stats["mean"], self.stats["var"] = mean, var
        self.save_for_backward(x, weight, mean, rstd)
        return y

    def backward(self, gy):
        x, weight, mean, rstd = self.saved
        axis, ndim = self.axis, x.ndim
        if not self.recording and kernels.usable(x, gy) and axis in (1, ndim - 1):
            gx, gw, gb = bn_kernels.backward(x, gy, axis, weight, mean, rstd)
        else:
            axes, shape = self._axes(ndim), self._shape(ndim, x.shape[axis])
            if self.recording:  # the statistics again, from x, differentiably
                mean = x.mean(axis=axes)
                xc = x - mean.reshape(shape)
                rstd = 1 / self.xp.sqrt((xc * xc).mean(axis=axes) + self.eps)
            xhat = (x - mean.reshape(shape)) * rstd.reshape(shape)
            gb = gy.sum(axis=axes)
            gw = (gy * xhat).sum(axis=axes)
            gxhat = gy * weight.reshape(shape) if weight is not None else gy
            gx = rstd.reshape(shape) * (
                gxhat
                - gxhat.mean(axis=axes, keepdims=True)
                - xhat * (gxhat * xhat).mean(axis=axes, keepdims=True)
            )
        grads = [gx]
        if self.has_weight:
            grads.append(gw)
        if self.has_bias:
            grads.append(gb)
        return tuple(grads)
