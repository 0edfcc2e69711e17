"""Activations (leaky_relu, elu, gelu, silu, softmax, log_softmax), erf, erfinv, dropout, one_hot."""

from __future__ import annotations

import math

import numpy as np

from zerograd import backend, kernels
from zerograd.amp import autocast_mode as _autocast
from zerograd.autograd import Function
from zerograd.kernels import cuda as cuda_kernels
from zerograd.kernels import gelu as gelu_kernels
from zerograd.kernels import softmax as softmax_kernels
from zerograd.kernels.gelu import ERF_CLAMP, ERF_P, ERF_Q
from zerograd.ops import argcheck
from zerograd.ops.elementwise import Sigmoid, float_operand, sigmoid_array
from zerograd.ops.reduce import normalize_axis
from zerograd.tensor import Tensor

# --- erf -----------------------------------------------------------------------------------------
# One formula per dtype. float32 (and float16, computed in float32): the rational fit of the
# float32 kernel (zerograd.kernels.gelu). float64: NumPy has no erf (and math.erf element by
# element is far too slow), so piecewise Chebyshev fits of math.erf on [0, 6], made once at import,
# agree with it to ~3e-15 (beyond 6, erf is 1 to double precision); the kernel calls libm's erf,
# which is what the fits approximate and vectorises there: two formulas, both within ~3e-15 of
# math.erf, with no way to share one (no erf in NumPy; the fits would only slow the kernel down).
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


def _erf_rational(x):
    """erf(x) = x P(x^2) / Q(x^2) on |x| <= 3.92 and +-1 beyond (the float32 kernel's fit), in
    float32 arithmetic on three buffers: within 3.7e-7 of erf, where Abramowitz & Stegun 7.1.26
    (used before) was within 6.2e-7 at the same speed (16000 elements: 44 against 47 us; 1000:
    14.5 against 10 us). In float64 arithmetic, as the kernel, it is within 2.4e-7 but two to
    three times as slow (16000: 84 us; 2M: 35 against 12 ms), and this runs on every GELU of a
    transformer without numba."""
    xp = backend.namespace(x)
    c = xp.clip(x.astype(np.float32, copy=False), -ERF_CLAMP, ERF_CLAMP)  # NaN stays NaN
    t = c * c
    p = t * ERF_P[-1]
    for a in ERF_P[-2:0:-1]:  # Horner, in place
        p += a
        p *= t
    p += ERF_P[0]
    p *= c
    q = xp.multiply(t, ERF_Q[-1], out=c)  # c is not needed any more
    for a in ERF_Q[-2:0:-1]:
        q += a
        q *= t
    q += ERF_Q[0]
    p /= q
    xp.clip(p, -1, 1, out=p)  # float32 rounding passes 1 by an ulp or two near the clamp
    return p.astype(x.dtype, copy=False)


def erf_array(x):
    """erf on a NumPy/CuPy array, elementwise: the fused kernel where numba runs; otherwise
    float32 and float16 by the kernel's rational fit (within 3.7e-7), float64 by Chebyshev fits
    (~3e-15)."""
    if x.ndim == 0:  # 0-d arithmetic gives NumPy scalars, which the in-place steps cannot write
        return erf_array(x.reshape(1)).reshape(())
    if kernels.usable(x):
        return gelu_kernels.erf(x)
    if x.dtype != np.float64:
        return _erf_rational(x)
    xp = backend.namespace(x)
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
        self.save_for_backward(x)
        return erf_array(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy * (2 / math.sqrt(math.pi)) * self.xp.exp(-(x * x))


def erf(x) -> Tensor:
    """The error function, differentiable."""
    return Erf.apply(float_operand(x))


def erfinv_array(x):
    """erf^-1 on an array: Winitzki's closed form (within 2e-3), then three Newton steps on the
    float64 erf (to ~1e-15); +-inf at +-1 and NaN outside [-1, 1], as PyTorch."""
    xp = backend.namespace(x)
    v = x.astype(np.float64)
    inside = xp.abs(v) < 1
    z = xp.where(inside, v, 0.0)
    ln = xp.log1p(-z * z)
    t = 2 / (math.pi * 0.147) + ln / 2
    y = xp.sign(z) * xp.sqrt(xp.sqrt(t * t - ln / 0.147) - t)
    for _ in range(3):
        y = y - (erf_array(y) - z) / ((2 / math.sqrt(math.pi)) * xp.exp(-(y * y)))
    edge = xp.where(xp.abs(v) == 1, xp.copysign(xp.inf, v), xp.nan)
    return xp.where(inside, y, edge).astype(x.dtype)


class Erfinv(Function):
    def forward(self, x):
        y = erfinv_array(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * (math.sqrt(math.pi) / 2) * self.xp.exp(y * y)


def erfinv(x) -> Tensor:
    """The inverse error function, differentiable: erfinv(erf(x)) == x on (-1, 1)."""
    return Erfinv.apply(float_operand(x))


# --- activations ---------------------------------------------------------------------------------


class LeakyReLU(Function):
    slope: float

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.where(x > 0, x, x * self.slope)

    def backward(self, gy):
        (x,) = self.saved
        return self.xp.where(x > 0, gy, gy * self.slope)


class ELU(Function):
    alpha: float

    def forward(self, x):
        xp = self.xp
        y = xp.where(x > 0, x, self.alpha * xp.expm1(xp.minimum(x, 0)))
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved
        return self.xp.where(x > 0, gy, gy * (y + self.alpha))


def _gelu_array(xp, x, approximate: str):
    """GELU of an array: the fused kernel where numba runs, else NumPy passes in place."""
    if x.ndim == 0:  # 0-d arithmetic gives NumPy scalars, which the in-place steps cannot write
        return _gelu_array(xp, x.reshape(1), approximate).reshape(())
    if kernels.usable(x):
        return gelu_kernels.gelu(x, approximate)
    if approximate == "tanh":  # 0.5 x (1 + tanh u) = x sigmoid(2u): one exp, no tanh
        u = x * x
        u *= -2 * 0.044715 * math.sqrt(2 / math.pi)
        u -= 2 * math.sqrt(2 / math.pi)
        u *= x
        with np.errstate(over="ignore"):
            xp.exp(u, out=u)
        u += 1
        y = xp.divide(x, u, out=u)
    else:
        y = erf_array(x * (1 / math.sqrt(2)))
        y += 1
        y *= 0.5  # before the product with x: 2x overflows near the largest floats
        y *= x
    xp.copyto(y, 0, where=x == -math.inf)  # the limit x Phi(x) -> 0, not -inf * 0 = NaN
    return y


class GELU(Function):
    """x * Phi(x) exactly (erf) or with the tanh approximation."""

    approximate: str  # "none" or "tanh"

    def forward(self, x):
        self.save_for_backward(x)
        if cuda_kernels.usable_with_half(x):  # the GPU: one fused pass
            return cuda_kernels.gelu(x, self.approximate)
        return _gelu_array(self.xp, x, self.approximate)

    def backward(self, gy):
        (x,) = self.saved
        xp = self.xp
        if kernels.usable(x, gy):  # arrays only: the one-pass kernel of the same derivative
            return gelu_kernels.gelu_grad(x, gy, self.approximate)
        if cuda_kernels.usable_with_half(x, gy):
            return cuda_kernels.gelu_grad(x, gy, self.approximate)
        if self.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            t = xp.tanh(k * (x + 0.044715 * x * x * x))
            d = 1 - t * t  # where tanh saturates the second term is 0, also at x = +-inf
            tail = xp.where(d > 0, 0.5 * x * d * k * (1 + 3 * 0.044715 * x * x), 0)
            return gy * (0.5 * (1 + t) + tail)
        cdf = 0.5 * (1 + Erf.call(x * (1 / math.sqrt(2))))
        pdf = xp.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return gy * (cdf + xp.where(pdf > 0, x * pdf, 0))  # x phi(x) -> 0 at +-inf


class SiLU(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return x * sigmoid_array(x)

    def backward(self, gy):
        (x,) = self.saved
        s = Sigmoid.call(x)
        return gy * (s + x * s * (1 - s))


class Softmax(Function):
    """softmax(x * scale + bias) along ``axis``: plain softmax (scale 1, no bias), and the
    attention scores' softmax with the 1/sqrt(d) scale and an additive mask (0 where allowed,
    -inf where masked, broadcastable to x) folded into the same pass."""

    axis: int
    scale: float = 1.0
    bias: object = None  # an array, or None

    def forward(self, x):
        bias = self.bias
        last = x.ndim and self.axis in (-1, x.ndim - 1)
        if last and kernels.usable(x, *(() if bias is None else (bias,))):  # size: of x alone
            y = softmax_kernels.softmax_last(x, self.scale, bias)
        elif last and self.scale > 0 and cuda_kernels.usable(x, *(() if bias is None else (bias,))):
            y = cuda_kernels.softmax_last(x, self.scale, bias)
        else:  # one fresh buffer, worked on in place
            if self.scale == 1 and bias is None:
                y = x - x.max(axis=self.axis, keepdims=True)
            else:
                y = x * x.dtype.type(self.scale)
                if bias is not None:
                    y += bias
                y -= y.max(axis=self.axis, keepdims=True)
            self.xp.exp(y, out=y)
            y /= y.sum(axis=self.axis, keepdims=True)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        if y.ndim and self.axis in (-1, y.ndim - 1) and kernels.usable(y, gy):
            return softmax_kernels.softmax_grad(y, gy, self.scale)
        if y.ndim and self.axis in (-1, y.ndim - 1) and cuda_kernels.usable(y, gy):
            return cuda_kernels.softmax_grad(y, gy, self.scale)
        gx = y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))
        return gx * self.scale if self.scale != 1 else gx


class LogSoftmax(Function):
    axis: int

    def forward(self, x):
        xp = self.xp
        shifted = x - x.max(axis=self.axis, keepdims=True)
        y = shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy - self.xp.exp(y) * gy.sum(axis=self.axis, keepdims=True)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    argcheck.number("leaky_relu", "negative_slope", negative_slope)
    return LeakyReLU.apply(x, slope=negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    argcheck.number("elu", "alpha", alpha)
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


@_autocast.full_precision
def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the max (no overflow)."""
    x = float_operand(x)
    (axis,) = normalize_axis(axis, x.ndim, "softmax")
    return Softmax.apply(x, axis=axis)


@_autocast.full_precision
def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log(softmax(x)) computed as x - logsumexp(x): stable for large logits."""
    x = float_operand(x)
    (axis,) = normalize_axis(axis, x.ndim, "log_softmax")
    return LogSoftmax.apply(x, axis=axis)


# --- dropout, one_hot ----------------------------------------------------------------------------


class Dropout(Function):
    mask: object  # the keep mask, scaled by 1 / (1 - p)

    def forward(self, x):
        return x * self.mask

    def backward(self, gy):
        return gy * self.mask


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (identity in eval)."""
    p = argcheck.probability("dropout", "p", p)
    if not argcheck.flag("dropout", "training", training) or p == 0:
        return x
    if x.dtype.kind != "f":
        raise TypeError(
            f"dropout: expected a floating-point input in training, received dtype {x.dtype}; "
            "convert it with .astype('float32')"
        )
    if cuda_kernels.usable_with_half(x.data):  # the GPU draws the mask, from a seed drawn here
        seed = int(backend.rng().integers(1 << 63))
        return Dropout.apply(x, mask=cuda_kernels.dropout_mask(x.shape, p, seed, x.dtype))
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
    num_classes = argcheck.integer("one_hot", "num_classes", num_classes)
    if num_classes < -1:
        raise ValueError(
            f"one_hot: num_classes must be -1 (inferred) or a non-negative integer, "
            f"received {num_classes}"
        )
    n = (int(idx.max()) + 1 if idx.size else 0) if num_classes < 0 else num_classes
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(
            f"one_hot: class indices must be in [0, {n}), received min {idx.min()} max {idx.max()}"
        )
    return Tensor._make((idx[..., None] == xp.arange(n)).astype(np.int64))
