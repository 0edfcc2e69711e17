"""erf and GELU (erf and tanh forms) and GELU's gradient, one pass on all cores.

The coefficients of the float32 erf are shared with the NumPy path (``ops.activation.erf_array``),
so each dtype has one erf: float32 the rational fit below (in float64 arithmetic here, float32 in
NumPy), float64 libm's erf here and Chebyshev fits in NumPy (NumPy has no erf).
"""

from __future__ import annotations

import math

import numpy as np

from zerograd.kernels import jit, jit_serial, numba

# erf(x) = x * P(x^2) / Q(x^2) on |x| <= 3.92 (beyond, erf rounds to +-1 in float32). The
# coefficients are a weighted least-squares (Lawson) fit to math.erf made for this module; largest
# error 1.6e-8 in float64 arithmetic, so float32 results are correctly rounded or one ulp off.
# Plain multiply-adds and one division: the loop vectorises, where a call to exp or erf would not.
ERF_CLAMP = 3.92
ERF_P = (
    1.1283790223556887,
    0.192763130917409,
    0.05306035419359871,
    0.0038682862182621764,
    0.00028747823127409436,
    2.034739069900482e-06,
)
ERF_Q = (
    1.0,
    0.5041635436087577,
    0.11508423185318419,
    0.015172214020867467,
    0.001188104706952458,
    3.807062311124432e-05,
)
# tanh(x) = x * P(x^2) / Q(x^2) on |x| < 9 (beyond, +-1 to float32 and nearly to float64),
# fitted the same way: largest error 1.9e-8 (the tanh-approximated GELU of GPT-2)
_TANH_CLAMP = 9.0
_TANH_P = (
    0.9999999065327972,
    0.1337318656775126,
    0.0034865678313446137,
    2.0471564763847004e-05,
    1.318379411197057e-08,
)
_TANH_Q = (
    1.0,
    0.46706483462114273,
    0.025841927902138077,
    0.00032713608998822575,
    7.702500351113029e-07,
)

if numba is not None:
    from numba.extending import overload

    from zerograd.kernels import exp_neg
    from zerograd.kernels.typed import OPTIONS, is_float32

    p0, p1, p2, p3, p4, p5 = ERF_P
    q0, q1, q2, q3, q4, q5 = ERF_Q
    a0, a1, a2, a3, a4 = _TANH_P
    b0, b1, b2, b3, b4 = _TANH_Q

    @jit_serial
    def _erf32(v):
        x = np.float64(v)
        c = min(max(x, -ERF_CLAMP), ERF_CLAMP)
        t = c * c
        p = p0 + t * (p1 + t * (p2 + t * (p3 + t * (p4 + t * p5))))
        q = q0 + t * (q1 + t * (q2 + t * (q3 + t * (q4 + t * q5))))
        r = c * p / q
        r = math.copysign(1.0, x) if abs(x) >= ERF_CLAMP else r  # exactly +-1, as float32 erf
        return x if x != x else r  # NaN stays NaN

    @jit
    def _erf_f32(x, out):
        for i in numba.prange(x.size):
            out[i] = _erf32(x[i])

    @jit
    def _erf_f64(x, out):
        for i in numba.prange(x.size):
            out[i] = math.erf(x[i])

    @jit
    def _gelu_f32(x, out):
        for i in numba.prange(x.size):
            v = np.float64(x[i])
            h = 1.0 + _erf32(v * 0.7071067811865476)
            out[i] = 0.5 * v * h if h != 0.0 else 0.0  # the limit 0 at -inf, not -inf * 0

    @jit
    def _gelu_f64(x, out):
        for i in numba.prange(x.size):
            v = x[i]
            h = 1.0 + math.erf(v * 0.7071067811865476)
            out[i] = 0.5 * v * h if h != 0.0 else 0.0

    @jit_serial
    def _tanh_r(u):
        c = min(max(u, -_TANH_CLAMP), _TANH_CLAMP)
        t = c * c
        p = a0 + t * (a1 + t * (a2 + t * (a3 + t * a4)))
        q = b0 + t * (b1 + t * (b2 + t * (b3 + t * b4)))
        return math.copysign(1.0, u) if abs(u) >= _TANH_CLAMP else c * p / q

    @jit_serial
    def _tanh_exact(u):
        return math.tanh(u)

    def _tanh_of(x, u):  # pragma: no cover - stands for the overload below in compiled code
        """tanh(u) as GELU computes it for the array ``x``: the rational fit for float32
        (vectorised), libm's tanh for float64 (exact)."""
        raise NotImplementedError

    # chosen when a kernel compiles, not by a factory's closure: numba caches these kernels on
    # disk (``kernels.typed``)
    @overload(_tanh_of, jit_options=OPTIONS)
    def _tanh_of_impl(x, u):
        if is_float32(x):
            return lambda x, u: _tanh_r(u)
        return lambda x, u: _tanh_exact(u)

    @jit
    def _gelu_tanh(x, out):
        """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
        for i in numba.prange(x.size):
            v = np.float64(x[i])
            h = 1.0 + _tanh_of(x, 0.7978845608028654 * (v + 0.044715 * v * v * v))
            out[i] = 0.5 * v * h if h != 0.0 else 0.0

    @jit
    def _gelu_tanh_grad(x, g, out):
        for i in numba.prange(x.size):
            v = np.float64(x[i])
            t = _tanh_of(x, 0.7978845608028654 * (v + 0.044715 * v * v * v))
            du = 0.7978845608028654 * (1.0 + 0.134145 * v * v)
            d = 1.0 - t * t  # 0 where tanh saturates: the term vanishes (also at +-inf)
            out[i] = g[i] * (0.5 * (1.0 + t) + (0.5 * v * d * du if d != 0.0 else 0.0))

    @jit
    def _gelu_grad_f32(x, g, out):
        for i in numba.prange(x.size):
            v = np.float64(x[i])
            cdf = 0.5 * (1.0 + _erf32(v * 0.7071067811865476))
            pdf = exp_neg(-0.5 * v * v) * 0.3989422804014327
            out[i] = g[i] * (cdf + (v * pdf if pdf != 0.0 else 0.0))  # x phi(x) -> 0 at +-inf

    @jit
    def _gelu_grad_f64(x, g, out):
        for i in numba.prange(x.size):
            v = x[i]
            cdf = 0.5 * (1.0 + math.erf(v * 0.7071067811865476))
            pdf = exp_neg(-0.5 * v * v) * 0.3989422804014327
            out[i] = g[i] * (cdf + (v * pdf if pdf != 0.0 else 0.0))  # x phi(x) -> 0 at +-inf


def erf(x: np.ndarray) -> np.ndarray:
    """erf elementwise: float32 by the rational fit (within 2.4e-7), float64 by libm."""
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    (_erf_f32 if x.dtype == np.float32 else _erf_f64)(flat, out)
    return out.reshape(x.shape)


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """x Phi(x) elementwise, exactly (erf) or with the tanh approximation."""
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    if approximate == "tanh":
        _gelu_tanh(flat, out)
    else:
        (_gelu_f32 if x.dtype == np.float32 else _gelu_f64)(flat, out)
    return out.reshape(x.shape)


def gelu_grad(x: np.ndarray, g: np.ndarray, approximate: str = "none") -> np.ndarray:
    """The gradient of ``gelu`` at ``x`` times ``g`` (broadcast to x's shape)."""
    flat = np.ascontiguousarray(x).reshape(-1)
    gf = np.ascontiguousarray(np.broadcast_to(g, x.shape), dtype=x.dtype).reshape(-1)
    out = np.empty_like(flat)
    if approximate == "tanh":
        _gelu_tanh_grad(flat, gf, out)
    else:
        (_gelu_grad_f32 if x.dtype == np.float32 else _gelu_grad_f64)(flat, gf, out)
    return out.reshape(x.shape)
