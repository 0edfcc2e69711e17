"""Activations (leaky_relu, elu, gelu, silu, softmax, log_softmax), erf, dropout, one_hot."""

from __future__ import annotations

import math

import numpy as np

from zerograd import backend
from zerograd.autograd import Function, is_grad_enabled
from zerograd.ops import _jit
from zerograd.ops.elementwise import exp, float_operand, sigmoid, tanh, where
from zerograd.tensor import Tensor

# --- erf -----------------------------------------------------------------------------------------
# NumPy has no erf. For float64, piecewise Chebyshev fits of math.erf on [0, 6], made once at import,
# agree with it to ~3e-15; beyond 6, erf is 1 to double precision.
_ERF_EDGES = (0.0, 0.75, 1.5, 2.5, 3.75, 6.0)


def _fit_erf(degree: int = 22, nodes: int = 200) -> list:
    fits = []
    t = np.cos(np.pi * (np.arange(nodes) + 0.5) / nodes)  # Chebyshev nodes on [-1, 1]
    for a, b in zip(_ERF_EDGES[:-1], _ERF_EDGES[1:]):
        x = (t + 1) * (b - a) / 2 + a
        y = np.array([math.erf(v) for v in x])
        fits.append((a, b, np.polynomial.chebyshev.chebfit(t, y, degree)))
    return fits


_ERF_FITS = _fit_erf()


def erf_array(x):
    """erf on a NumPy/CuPy array, elementwise. With numba, the fused kernel (libm erf for float64, a
    rational fit within 2.4e-7 for float32). Otherwise: ~3e-15 for float64 inputs by Chebyshev
    fits; for float32 and float16, Abramowitz & Stegun 7.1.26 in float32 arithmetic (absolute error
    below 5e-7), 10x faster."""
    if _jit.usable(x):
        return _jit.erf(x)
    xp = backend.namespace(x)
    if x.dtype != np.float64:
        # in place on two buffers: this runs on every GELU of a transformer
        ax = xp.abs(x)
        t = ax * 0.3275911
        t += 1
        xp.reciprocal(t, out=t)
        poly = t * 1.061405429
        for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
            poly += c
            poly *= t
        xp.square(ax, out=ax)
        xp.negative(ax, out=ax)
        xp.exp(ax, out=ax)
        poly *= ax
        xp.subtract(1, poly, out=poly)
        return xp.copysign(poly, x, out=poly)
    ax = xp.abs(x)
    out = xp.ones_like(ax)  # |x| >= 6
    for a, b, coef in _ERF_FITS:
        m = (ax >= a) & (ax < b)
        if m.any():
            t = (ax[m] - a) * (2 / (b - a)) - 1
            # Clenshaw recurrence for sum(coef[k] T_k(t))
            b1 = b2 = xp.zeros_like(t)
            for c in coef[:0:-1]:
                b1, b2 = 2 * t * b1 - b2 + c, b1
            out[m] = t * b1 - b2 + coef[0]
    out[xp.isnan(ax)] = np.nan
    return (xp.sign(x) * out).astype(x.dtype, copy=False)


class Erf(Function):
    def forward(self, x):
        return erf_array(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (2 / math.sqrt(math.pi)) * exp(-(x * x))


def erf(x) -> Tensor:
    """The error function, differentiable."""
    return Erf.apply(float_operand(x))


# --- activations ---------------------------------------------------------------------------------


class LeakyReLU(Function):
    def forward(self, x):
        return self.xp.where(x > 0, x, x * self.slope)

    def backward(self, gy):
        x = self.inputs[0]
        w = self.xp.where(x.data > 0, 1.0, self.slope).astype(x.dtype)
        return gy * Tensor._make(w)


class ELU(Function):
    def forward(self, x):
        xp = self.xp
        return xp.where(x > 0, x, self.alpha * xp.expm1(xp.minimum(x, 0)))

    def backward(self, gy):
        x = self.inputs[0]
        return gy * where(x.data > 0, 1.0, self.output + self.alpha)


class GELU(Function):
    """x * Phi(x) exactly (erf) or with the tanh approximation."""

    def forward(self, x):
        xp = self.xp
        if _jit.usable(x):
            return _jit.gelu(x, self.approximate)
        if self.approximate == "tanh":  # 0.5 x (1 + tanh u) = x sigmoid(2u): one exp, no tanh
            u = x * x
            u *= -2 * 0.044715 * math.sqrt(2 / math.pi)
            u -= 2 * math.sqrt(2 / math.pi)
            u *= x
            with np.errstate(over="ignore"):
                xp.exp(u, out=u)
            u += 1
            return xp.divide(x, u, out=u)
        y = erf_array(x * (1 / math.sqrt(2)))
        y += 1
        y *= x
        y *= 0.5
        return y

    def backward(self, gy):
        x = self.inputs[0]
        if not is_grad_enabled() and _jit.usable(x.data, gy.data):  # no graph of the backward
            return Tensor._make(_jit.gelu_grad(x.data, gy.data, self.approximate))
        if self.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            t = tanh(k * (x + 0.044715 * x * x * x))
            return gy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x))
        cdf = 0.5 * (1 + erf(x * (1 / math.sqrt(2))))
        pdf = exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return gy * (cdf + x * pdf)


class SiLU(Function):
    def forward(self, x):
        xp = self.xp
        e = xp.exp(-xp.abs(x))
        s = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return x * s

    def backward(self, gy):
        x = self.inputs[0]
        s = sigmoid(x)
        return gy * (s + x * s * (1 - s))


class Softmax(Function):
    def forward(self, x):
        xp = self.xp
        if self.axis in (-1, x.ndim - 1) and x.ndim and _jit.usable(x):
            return _jit.softmax_last(x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        e /= e.sum(axis=self.axis, keepdims=True)
        return e

    def backward(self, gy):
        y = self.output
        if y.ndim and self.axis in (-1, y.ndim - 1) and not is_grad_enabled():
            if _jit.usable(y.data, gy.data):
                return Tensor._make(_jit.softmax_grad(y.data, gy.data))
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    def forward(self, x):
        xp = self.xp
        shifted = x - x.max(axis=self.axis, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))

    def backward(self, gy):
        return gy - self.output.exp() * gy.sum(axis=self.axis, keepdims=True)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLU.apply(x, slope=negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return ELU.apply(x, alpha=alpha)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit; ``approximate='tanh'`` is GPT-2's variant.

    Example:
        >>> F.gelu(zg.tensor([0.0, 1.0]))
        tensor([0.    , 0.8413])
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', received {approximate!r}")
    return GELU.apply(float_operand(x), approximate=approximate)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (swish)."""
    return SiLU.apply(float_operand(x))


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the max (no overflow)."""
    return Softmax.apply(float_operand(x), axis=axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log(softmax(x)) computed as x - logsumexp(x): stable for large logits."""
    return LogSoftmax.apply(float_operand(x), axis=axis)


# --- dropout, one_hot ----------------------------------------------------------------------------


class Dropout(Function):
    def forward(self, x):
        return x * self.mask

    def backward(self, gy):
        return gy * Tensor._make(self.mask)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (identity in eval)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], received {p}")
    if not training or p == 0:
        return x
    keep = backend.rng().random(x.shape) >= p
    scale = 0.0 if p == 1 else 1.0 / (1 - p)
    mask = backend.to_device((keep * scale).astype(x.dtype), x.device)
    return Dropout.apply(x, mask=mask)


def one_hot(indices, num_classes: int = -1) -> Tensor:
    """(…,) integer labels -> (…, num_classes) int64 indicators, as PyTorch."""
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, received {idx.dtype}")
    xp = backend.namespace(idx)
    n = int(idx.max()) + 1 if num_classes < 0 else num_classes
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(
            f"one_hot: class indices must be in [0, {n}), received min {idx.min()} max {idx.max()}"
        )
    return Tensor._make((idx[..., None] == xp.arange(n)).astype(np.int64))
