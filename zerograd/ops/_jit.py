"""Fused CPU kernels compiled with numba, used when numba is installed (``pip install zerograd[fast]``).

NumPy runs one pass over memory per operation and uses one thread for elementwise work. The
kernels here do a whole activation or row-wise normalisation in one pass, on all cores: GELU (erf
and tanh forms) and its gradient, erf, softmax over the last axis (with the attention scale and an
additive mask folded in) and its gradient, layer norm and its gradient. Attention without
gradients runs block by block on a thread pool (``attention``). Each has a NumPy twin in the op
that calls it; the tests run both and compare them. ``ZEROGRAD_JIT=0`` in the environment turns
the kernels off. Kernels compile on first use and are cached on disk by numba.
"""

from __future__ import annotations

import math
import os

import numpy as np

try:  # an optional dependency: everything here has a NumPy fallback in the calling op
    import numba
except ImportError:  # pragma: no cover - exercised where numba is absent
    numba = None

ENABLED = numba is not None and os.environ.get("ZEROGRAD_JIT", "1") != "0"
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


MIN_SIZE = 16384  # below this, starting the threads costs more than NumPy's passes


def usable(*arrays) -> bool:
    """True when the kernels may run on these arrays: numba present and enabled, NumPy float32 or
    float64 arrays, the first of at least ``MIN_SIZE`` elements (CuPy arrays, other dtypes and
    small arrays take the NumPy/CuPy path)."""
    if not ENABLED or not arrays or getattr(arrays[0], "size", 0) < MIN_SIZE:  # the first: the work
        return False
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype not in _FLOATS:
            return False
    return True


# erf(x) = x * P(x^2) / Q(x^2) on |x| <= 3.92 (beyond, erf rounds to +-1 in float32). The
# coefficients are a weighted least-squares (Lawson) fit to math.erf made for this module; largest
# error 1.6e-8 in float64 arithmetic, so float32 results are correctly rounded or one ulp off.
# Plain multiply-adds and one division: the loop vectorises, where a call to exp or erf would not.
_ERF_CLAMP = 3.92
_ERF_P = (
    1.1283790223556887,
    0.192763130917409,
    0.05306035419359871,
    0.0038682862182621764,
    0.00028747823127409436,
    2.034739069900482e-06,
)
_ERF_Q = (
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
_FAST = {"contract", "reassoc"}  # no nnan/ninf: masks use -inf and NaN must propagate

if numba is not None:
    if "NUMBA_THREADING_LAYER" not in os.environ:
        # numba's own thread pool: its workers sleep between kernels, where OpenMP workers spin
        # and take the cores from the BLAS threads of the next matrix product (measured: a GEMM
        # followed by a GELU kernel took 27 ms with OpenMP, 17 ms with workqueue, 13 + 4 apart)
        numba.config.THREADING_LAYER = "workqueue"
    # error_model="numpy": a division by zero gives inf/NaN as in NumPy. numba's default checks
    # every division and raises, and that branch keeps loops with a division from vectorising
    # (an Adam step: 0.75 ms with it, 0.10 ms without).
    opts = dict(fastmath=_FAST, cache=True, error_model="numpy")
    jit = numba.njit(parallel=True, nogil=True, **opts)
    jit_serial = numba.njit(inline="always", **opts)
    jit_nogil = numba.njit(nogil=True, **opts)  # serial, for work split by the caller
    p0, p1, p2, p3, p4, p5 = _ERF_P
    q0, q1, q2, q3, q4, q5 = _ERF_Q
    a0, a1, a2, a3, a4 = _TANH_P
    e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12 = (1 / math.factorial(i) for i in range(2, 13))
    f2, f3, f4, f5, f6, f7 = (np.float32(1 / math.factorial(i)) for i in range(2, 8))
    b0, b1, b2, b3, b4 = _TANH_Q

    @jit_serial
    def _exp_neg(x):
        """exp(x) for x <= 0 (a softmax after its max is subtracted), in float64: 2^k e^r with
        |r| <= ln2 / 2, a degree-12 Taylor polynomial and the exponent written as bits. All
        multiply-adds, so the loop vectorises (a call to libm's exp does not); relative error
        3e-16. Below -708 it is 0 (as exp in float32, and the weight of a masked position);
        NaN stays NaN."""
        c = max(x, -708.0)
        k = math.floor(c * 1.4426950408889634 + 0.5)
        r = (c - k * 0.6931471803691238) - k * 1.9082149292705877e-10
        p = 1.0 + r * (
            1.0
            + r
            * (
                e2
                + r
                * (
                    e3
                    + r
                    * (
                        e4
                        + r
                        * (
                            e5
                            + r
                            * (
                                e6
                                + r * (e7 + r * (e8 + r * (e9 + r * (e10 + r * (e11 + r * e12)))))
                            )
                        )
                    )
                )
            )
        )
        s = np.int64((np.int64(k) + 1023) << 52).view(np.float64)
        out = 0.0 if x < -708.0 else p * s
        return x if x != x else out

    @jit_serial
    def _erf32(v):
        x = np.float64(v)
        c = min(max(x, -_ERF_CLAMP), _ERF_CLAMP)
        t = c * c
        p = p0 + t * (p1 + t * (p2 + t * (p3 + t * (p4 + t * p5))))
        q = q0 + t * (q1 + t * (q2 + t * (q3 + t * (q4 + t * q5))))
        r = c * p / q
        r = math.copysign(1.0, x) if abs(x) >= _ERF_CLAMP else r  # exactly +-1, as float32 erf
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
            out[i] = 0.5 * v * (1.0 + _erf32(v * 0.7071067811865476))

    @jit
    def _gelu_f64(x, out):
        for i in numba.prange(x.size):
            v = x[i]
            out[i] = 0.5 * v * (1.0 + math.erf(v * 0.7071067811865476))

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

    def _make_gelu_tanh(tanh):
        @jit
        def fwd(x, out):
            """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
            for i in numba.prange(x.size):
                v = np.float64(x[i])
                out[i] = 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))

        @jit
        def grad(x, g, out):
            for i in numba.prange(x.size):
                v = np.float64(x[i])
                t = tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))
                du = 0.7978845608028654 * (1.0 + 0.134145 * v * v)
                out[i] = g[i] * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du)

        return fwd, grad

    # float32: the rational tanh (vectorised); float64: libm's tanh, exact
    _gelu_tanh_f32, _gelu_tanh_grad_f32 = _make_gelu_tanh(_tanh_r)
    _gelu_tanh_f64, _gelu_tanh_grad_f64 = _make_gelu_tanh(_tanh_exact)

    @jit
    def _gelu_grad_f32(x, g, out):
        for i in numba.prange(x.size):
            v = np.float64(x[i])
            cdf = 0.5 * (1.0 + _erf32(v * 0.7071067811865476))
            pdf = _exp_neg(-0.5 * v * v) * 0.3989422804014327
            out[i] = g[i] * (cdf + v * pdf)

    @jit
    def _gelu_grad_f64(x, g, out):
        for i in numba.prange(x.size):
            v = x[i]
            cdf = 0.5 * (1.0 + math.erf(v * 0.7071067811865476))
            pdf = _exp_neg(-0.5 * v * v) * 0.3989422804014327
            out[i] = g[i] * (cdf + v * pdf)

    @jit_serial
    def _exp32_neg(x):
        """exp(x) for float32 x <= 0, in float32: 2^k e^r with |r| <= ln2 / 2, a degree-7 Taylor
        polynomial and 2^k written as exponent bits; k by truncation, not floor, so the loop
        vectorises. Relative error 5e-7 (4 ulp); below -87 it is 0; NaN stays NaN."""
        c = max(x, np.float32(-87.0))
        k = -np.int32(np.float32(0.5) - c * np.float32(1.4426950408889634))  # round(c / ln2)
        kf = np.float32(k)
        r = (c - kf * np.float32(0.693359375)) + kf * np.float32(2.12194440e-4)
        p = np.float32(1.0) + r * (
            np.float32(1.0) + r * (f2 + r * (f3 + r * (f4 + r * (f5 + r * (f6 + r * f7)))))
        )
        s = np.int32((k + np.int32(127)) << np.int32(23)).view(np.float32)
        out = np.float32(0.0) if x < np.float32(-87.0) else p * s
        return out if x == x else x

    def _make_softmax(exp, ftype):
        """Softmax kernels for one float type: softmax(x * scale + bias) over the last axis of 4-D
        C-contiguous arrays. ``bias`` has size 1 or x's size on each leading axis (broadcast by
        index, never copied to x's size) and x's size on the last. A row that is all -inf, or has
        a NaN or +inf, gives NaN (as the NumPy path and PyTorch)."""

        @jit_serial
        def row(xr, br, sc, orow):
            n = xr.size
            m = ftype(-np.inf)
            for c in range(n):
                m = max(m, xr[c] * sc + br[c])
            t = ftype(0.0)
            for c in range(n):
                e = exp(xr[c] * sc + br[c] - m)
                orow[c] = e
                t += e
            inv = ftype(1.0) / t
            for c in range(n):
                orow[c] *= inv

        @jit_serial
        def row_at(x, bias, r, sc, out):  # row r of the 4-D x, with its row of the bias
            d1, d2 = x.shape[1], x.shape[2]
            i, j, k = r // (d1 * d2), (r // d2) % d1, r % d2
            b0, b1, b2 = bias.shape[0] > 1, bias.shape[1] > 1, bias.shape[2] > 1
            row(x[i, j, k], bias[i if b0 else 0, j if b1 else 0, k if b2 else 0], sc, out[i, j, k])

        # Two functions, not one decorated twice: numba's disk cache keys a function by its code
        # and closure, not by `parallel`, so one would load the other's machine code (a parallel
        # kernel on a worker thread then crashes the workqueue layer).
        @jit
        def parallel(x, bias, scale, out):  # on all cores
            for r in numba.prange(x.shape[0] * x.shape[1] * x.shape[2]):
                row_at(x, bias, r, ftype(scale), out)

        @jit_nogil
        def serial(x, bias, scale, out):  # one block of attention, on a worker thread
            for r in range(x.shape[0] * x.shape[1] * x.shape[2]):
                row_at(x, bias, r, ftype(scale), out)

        return parallel, serial

    # float32 in float32 with the vectorised exp above; float64 with the float64 one
    _softmax_f32, _softmax_block_f32 = _make_softmax(_exp32_neg, np.float32)
    _softmax_f64, _softmax_block_f64 = _make_softmax(_exp_neg, np.float64)

    @jit
    def _softmax_grad_rows(p, g, scale, out):
        """out = scale * p * (g - sum(g * p)) row by row: the softmax backward (with the scale of
        the scores folded in)."""
        rows, n = p.shape
        for r in numba.prange(rows):
            d = 0.0
            for j in range(n):
                d += g[r, j] * p[r, j]
            for j in range(n):
                out[r, j] = scale * p[r, j] * (g[r, j] - d)

    @jit_serial
    def _row_stats(xr, eps):
        """Mean and 1 / sqrt(variance + eps) of one row (two passes: no cancellation)."""
        n = xr.size
        s = 0.0
        for j in range(n):
            s += xr[j]
        mu = s / n
        v = 0.0
        for j in range(n):
            d = xr[j] - mu
            v += d * d
        return mu, 1.0 / math.sqrt(v / n + eps)

    @jit
    def _layer_norm_rows(x, w, b, eps, out):
        rows, n = x.shape
        for r in numba.prange(rows):
            mu, k = _row_stats(x[r], eps)
            for j in range(n):
                out[r, j] = (x[r, j] - mu) * k * w[j] + b[j]

    @jit
    def _layer_norm_grad_rows(x, g, w, eps, gx, gxhat):
        """Row-wise layer-norm backward (statistics recomputed): gx, and g * xhat for the weight's
        gradient (summed over rows by the caller)."""
        rows, n = x.shape
        for r in numba.prange(rows):
            mu, k = _row_stats(x[r], eps)
            a = 0.0  # mean of g * w
            b = 0.0  # mean of g * w * xhat
            for j in range(n):
                xh = (x[r, j] - mu) * k
                gw = g[r, j] * w[j]
                a += gw
                b += gw * xh
                gxhat[r, j] = g[r, j] * xh
            a /= n
            b /= n
            for j in range(n):
                xh = (x[r, j] - mu) * k
                gx[r, j] = k * (g[r, j] * w[j] - a - xh * b)

    @jit
    def _bias_act_rows(y, b, relu):
        """y = y + b, then max(y, 0) when ``relu``, in place over rows: one pass for the end of a
        convolution (its GEMM output)."""
        rows, n = y.shape
        for r in numba.prange(rows):
            for c in range(n):
                v = y[r, c] + b[c]
                y[r, c] = (0 if v < 0 else v) if relu else v  # NaN stays NaN

    @jit
    def _relu_grad_flat(g, y, out):
        """out = g where y > 0, else 0: the gradient through a ReLU from its output."""
        for i in numba.prange(g.size):
            out[i] = g[i] if y[i] > 0 else 0

    @jit
    def _max_pool_grad_nhwc(x, y, g, kh, kw, sh, sw, dh, dw, gx):
        """Max-pool backward over (N, H, W, C) (x padded, gx zeroed, of x's shape): each window's
        gradient goes to its first maximum, in offset order; a window whose maximum is NaN passes
        none. Samples in parallel, channels innermost; "found" is kept as 0/1 floats, which
        vectorises where boolean logic did not (measured 1.1 ms against 5.8 ms)."""
        n, ho, wo, c = y.shape
        for s in numba.prange(n):
            found = np.empty(c, dtype=np.float32)
            for oh in range(ho):
                for ow in range(wo):
                    for k in range(c):
                        found[k] = 0.0
                    for i in range(kh):
                        for j in range(kw):
                            h, w = oh * sh + i * dh, ow * sw + j * dw
                            for k in range(c):
                                hit = np.float32(x[s, h, w, k] == y[s, oh, ow, k]) * (
                                    np.float32(1.0) - found[k]
                                )
                                gx[s, h, w, k] += g[s, oh, ow, k] if hit > 0 else 0
                                found[k] += hit

    @jit_serial
    def _adam_at(i, p, g, m, v, b1, c1, b2, c2, step_size, bc2_sqrt, eps, decay):
        """One element of an Adam/AdamW step, in the arrays' dtype and in the order of the NumPy
        path: m = b1 m + c1 g, v = b2 v + c2 g^2,
        p = decay p - step_size m / (sqrt(v) / bc2_sqrt + eps)."""
        gi = g[i]
        mi = m[i] * b1 + gi * c1
        vi = v[i] * b2 + (gi * gi) * c2
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * decay - (mi / (np.sqrt(vi) / bc2_sqrt + eps)) * step_size

    # two functions, not one decorated twice (see the softmax kernels: numba's cache)
    @jit_nogil
    def _adam_serial(p, g, m, v, b1, c1, b2, c2, step_size, bc2_sqrt, eps, decay):
        for i in range(p.size):
            _adam_at(i, p, g, m, v, b1, c1, b2, c2, step_size, bc2_sqrt, eps, decay)

    @jit
    def _adam_parallel(p, g, m, v, b1, c1, b2, c2, step_size, bc2_sqrt, eps, decay):
        for i in numba.prange(p.size):
            _adam_at(i, p, g, m, v, b1, c1, b2, c2, step_size, bc2_sqrt, eps, decay)

    def _make_lstm(exp, ftype):
        """LSTM cell kernels (serial: one step is small, and the steps are sequential) for one
        float type, given its exp for arguments <= 0: sigmoid and tanh from exp(-|a|)."""

        one, two = ftype(1), ftype(2)  # constants of the array's type: no float64 promotion

        @jit_serial
        def sigmoid(z):
            e = exp(-abs(z))
            return one / (one + e) if z >= 0 else e / (one + e)

        @jit_serial
        def tanh(z):
            e = exp(-two * abs(z))
            t = (one - e) / (one + e)
            return t if z >= 0 else -t

        @jit_nogil
        def forward(a, xw, c_prev, c, tc, h):
            """a (B, 4H): h_prev W_hh^T on entry, the gates (i, f, g, o) on exit; then
            c = f c_prev + i g, tc = tanh(c), h = o tc."""
            B, G = a.shape
            H = G // 4
            for b in range(B):
                # one loop over the four gates (measured twice as fast as a loop per gate):
                # tanh(z) = 2 sigmoid(2z) - 1 for the g gate, as the NumPy path
                for j in range(G):
                    s = two if 2 * H <= j < 3 * H else one
                    a[b, j] = sigmoid((a[b, j] + xw[b, j]) * s) * s - (s - one)
                ab = a[b]
                for j in range(H):
                    cj = ab[H + j] * c_prev[b, j] + ab[j] * ab[2 * H + j]
                    c[b, j] = cj
                    t = tanh(cj)
                    tc[b, j] = t
                    h[b, j] = ab[3 * H + j] * t

        @jit_nogil
        def backward(dh, gt, dc, s, tc, c_prev, da):
            """One step back: dh + gt is the gradient of h; dc (in place) that of c, passed on
            to c_prev; da (B, 4H) that of the gates' pre-activations."""
            B, G = s.shape
            H = G // 4
            for b in range(B):
                for j in range(H):
                    i, f, g, o = s[b, j], s[b, H + j], s[b, 2 * H + j], s[b, 3 * H + j]
                    t = tc[b, j]
                    d = dh[b, j] + gt[b, j]
                    dcj = dc[b, j] + d * o * (one - t * t)
                    da[b, j] = dcj * g * (i * (one - i))
                    da[b, H + j] = dcj * c_prev[b, j] * (f * (one - f))
                    da[b, 2 * H + j] = dcj * i * (one - g * g)
                    da[b, 3 * H + j] = d * t * (o * (one - o))
                    dc[b, j] = dcj * f

        return forward, backward

    _lstm_f32 = _make_lstm(_exp32_neg, np.float32)
    _lstm_f64 = _make_lstm(_exp_neg, np.float64)


def erf(x: np.ndarray) -> np.ndarray:
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    (_erf_f32 if x.dtype == np.float32 else _erf_f64)(flat, out)
    return out.reshape(x.shape)


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    if approximate == "tanh":
        (_gelu_tanh_f32 if x.dtype == np.float32 else _gelu_tanh_f64)(flat, out)
    else:
        (_gelu_f32 if x.dtype == np.float32 else _gelu_f64)(flat, out)
    return out.reshape(x.shape)


def gelu_grad(x: np.ndarray, g: np.ndarray, approximate: str = "none") -> np.ndarray:
    flat = np.ascontiguousarray(x).reshape(-1)
    gf = np.ascontiguousarray(np.broadcast_to(g, x.shape), dtype=x.dtype).reshape(-1)
    out = np.empty_like(flat)
    if approximate == "tanh":
        (_gelu_tanh_grad_f32 if x.dtype == np.float32 else _gelu_tanh_grad_f64)(flat, gf, out)
    else:
        (_gelu_grad_f32 if x.dtype == np.float32 else _gelu_grad_f64)(flat, gf, out)
    return out.reshape(x.shape)


def _rows(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(-1, a.shape[-1])


def softmax_last(x: np.ndarray, scale: float = 1.0, bias: np.ndarray | None = None) -> np.ndarray:
    """softmax(x * scale + bias) over the last axis; ``bias`` broadcasts to ``x`` (not copied)."""
    out = np.empty(x.shape, dtype=x.dtype)
    x4 = _as4d(np.ascontiguousarray(x))
    _softmax(x.dtype)[0](x4, _bias4(bias, x.shape, x.dtype), float(scale), out.reshape(x4.shape))
    return out


def _softmax(dtype):
    """(parallel kernel, serial kernel) of the softmax for a float dtype."""
    if dtype == np.float32:
        return _softmax_f32, _softmax_block_f32
    return _softmax_f64, _softmax_block_f64


def _bias4(bias, shape, dtype) -> np.ndarray:
    """An additive mask as the kernels take it: 4-D, last axis full, leading axes of size 1 or as
    ``shape``'s (leading axes merged when ``shape`` has more than 4)."""
    n = shape[-1]
    if bias is None:
        return np.zeros((1, 1, 1, n), dtype)
    b = bias.astype(dtype, copy=False)
    b = b.reshape((1,) * (len(shape) - b.ndim) + b.shape)
    if b.shape[-1] != n or b.ndim > 4:  # broadcast along the row, or merged axes: copy
        b = np.broadcast_to(b, shape)
    return np.ascontiguousarray(_as4d(b) if b.ndim <= 4 else b.reshape(-1, *shape[-3:]))


# Attention without gradients, block by block: one block's scores and weights stay in a core's
# cache between the two matrix products, and the blocks run on a pool of threads (one per core:
# the per-head products are below OpenBLAS's threshold for using more than one thread, and NumPy
# releases the GIL in them; the softmax kernel is serial and releases it too).
ATTENTION_BLOCK = 1 << 16  # score elements per block (256 KiB in float32)
ATTENTION_MAX_HEAD = 1 << 18  # L * S * E per head above which NumPy's batched products are used
_pool = None  # (pid, ThreadPoolExecutor): made on first use, again after a fork


def attention_usable(q, k, v) -> bool:
    """True when ``attention`` may run: float32/float64 NumPy arrays of one dtype, 3-D or 4-D
    with the same leading shape, enough work for threads and heads small enough for one thread."""
    arrays = (q, k, v)
    if not ENABLED or any(type(a) is not np.ndarray for a in arrays):
        return False
    if q.dtype not in _FLOATS or k.dtype != q.dtype or v.dtype != q.dtype:
        return False
    if q.ndim not in (3, 4) or k.ndim != q.ndim or v.ndim != q.ndim:
        return False
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]) or k.shape[-2] != v.shape[-2]:
        return False
    L, E, S = q.shape[-2], q.shape[-1], k.shape[-2]
    return q.size // E * S >= MIN_SIZE and L * S * E <= ATTENTION_MAX_HEAD


def attention(q, k, v, bias, scale: float) -> np.ndarray:
    """softmax(q k^T * scale + bias) v for (B, H, L, E) queries, (B, H, S, E) keys and
    (B, H, S, Ev) values (or 3-D, without H) of any strides; ``bias`` broadcasts to (B, H, L, S)
    or is None. The result is a (B, H, L, Ev) view of a (B, L, H, Ev) array, so that merging the
    heads back is free."""
    if q.ndim == 3:
        return attention(q[None], k[None], v[None], bias, scale)[0]
    B, H, L, _ = q.shape
    S, Ev = k.shape[2], v.shape[3]
    y = np.empty((B, L, H, Ev), q.dtype)
    yh = y.transpose(0, 2, 1, 3)
    b4 = _bias4(bias, (B, H, L, S), q.dtype)
    per_sample = H * L * S
    if per_sample <= ATTENTION_BLOCK:  # whole samples per block
        n = max(1, ATTENTION_BLOCK // per_sample)
        blocks = [(b, min(b + n, B), 0, H) for b in range(0, B, n)]
    else:  # groups of heads of one sample per block
        n = max(1, ATTENTION_BLOCK // (L * S))
        blocks = [(b, b + 1, h, min(h + n, H)) for b in range(B) for h in range(0, H, n)]
    kt = k.swapaxes(2, 3)
    softmax = _softmax(q.dtype)[1]
    size = max((b1 - b0) * (h1 - h0) for b0, b1, h0, h1 in blocks) * L * S

    def run(part):
        sbuf, pbuf = np.empty(size, q.dtype), np.empty(size, q.dtype)
        for b0, b1, h0, h1 in part:
            shape = (b1 - b0, h1 - h0, L, S)
            used = shape[0] * shape[1] * L * S
            s, p = sbuf[:used].reshape(shape), pbuf[:used].reshape(shape)
            np.matmul(q[b0:b1, h0:h1], kt[b0:b1, h0:h1], out=s)
            bb = b4[b0:b1] if b4.shape[0] > 1 else b4
            softmax(s, bb[:, h0:h1] if bb.shape[1] > 1 else bb, scale, p)
            np.matmul(p, v[b0:b1, h0:h1], out=yh[b0:b1, h0:h1])

    parallel_parts(run, blocks)
    return yh


def parallel_parts(fn, items) -> None:
    """fn(part) for ``items`` split into one contiguous part per thread (numba's thread count):
    the first part on this thread, the others on a pool. Errors of any part are raised here."""
    global _pool
    n = min(len(items), numba.get_num_threads())
    if n <= 1:
        fn(items)
        return
    if _pool is None or _pool[0] != os.getpid():  # a forked child does not have the threads
        from concurrent.futures import ThreadPoolExecutor

        _pool = (os.getpid(), ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="zerograd"))
    bounds = [len(items) * i // n for i in range(n + 1)]
    parts = [items[bounds[i] : bounds[i + 1]] for i in range(n)]
    futures = [_pool[1].submit(fn, part) for part in parts[1:]]
    try:
        fn(parts[0])
    finally:
        for f in futures:
            f.result()


def _as4d(a: np.ndarray) -> np.ndarray:
    """Leading size-1 axes up to 4-D, or leading axes merged down to 4-D (contiguous input)."""
    if a.ndim <= 4:
        return a.reshape((1,) * (4 - a.ndim) + a.shape)
    return a.reshape(-1, *a.shape[-3:])


def softmax_grad(p: np.ndarray, g: np.ndarray, scale: float = 1.0) -> np.ndarray:
    out = np.empty(p.shape, dtype=p.dtype)
    gr = _rows(np.broadcast_to(g, p.shape))
    _softmax_grad_rows(_rows(p), gr, p.dtype.type(scale), out.reshape(gr.shape))
    return out


def _affine(a, x: np.ndarray, fill: float) -> np.ndarray:
    """A layer norm's weight or bias as a contiguous row in x's dtype (``fill`` when absent)."""
    n = x.shape[-1]
    if a is None:
        return np.full(n, fill, x.dtype)
    return np.ascontiguousarray(a, dtype=x.dtype).reshape(n)


def layer_norm(x: np.ndarray, w, b, eps: float) -> np.ndarray:
    """Layer norm over the last axis, row by row (the backward recomputes the statistics)."""
    xr = _rows(x)
    w, b = _affine(w, x, 1), _affine(b, x, 0)
    out = np.empty(xr.shape, dtype=x.dtype)
    _layer_norm_rows(xr, w, b, float(eps), out)
    return out.reshape(x.shape)


def layer_norm_grad(x: np.ndarray, g: np.ndarray, w, eps: float):
    """Gradients of row-wise layer norm: (gx, gw, gb) with gw, gb summed over all rows."""
    xr = _rows(x)
    gr = _rows(np.broadcast_to(g, x.shape).astype(x.dtype, copy=False))
    w = _affine(w, x, 1)
    gx = np.empty(xr.shape, dtype=x.dtype)
    gxhat = np.empty(xr.shape, dtype=x.dtype)
    _layer_norm_grad_rows(xr, gr, w, float(eps), gx, gxhat)
    ones = np.ones(xr.shape[0], dtype=x.dtype)
    return gx.reshape(x.shape), ones @ gxhat, ones @ gr


def bias_act(y: np.ndarray, b: np.ndarray, relu: bool) -> np.ndarray:
    """In place on a C-contiguous (..., n) ``y``: y + b, then max(y, 0) when ``relu``."""
    _bias_act_rows(y.reshape(-1, y.shape[-1]), np.ascontiguousarray(b, dtype=y.dtype), relu)
    return y


def relu_grad(g: np.ndarray, y: np.ndarray) -> np.ndarray:
    """g where y > 0, else 0 (``y`` the ReLU's output)."""
    out = np.empty(y.shape, dtype=g.dtype)
    gf = np.ascontiguousarray(np.broadcast_to(g, y.shape), dtype=g.dtype).reshape(-1)
    _relu_grad_flat(gf, np.ascontiguousarray(y).reshape(-1), out.reshape(-1))
    return out


def max_pool_grad_nhwc(x, y, g, kernel, stride, dilation) -> np.ndarray:
    """The gradient of channels-last max pooling with respect to its (padded) input ``x``."""
    gx = np.zeros(x.shape, dtype=g.dtype)
    g = np.ascontiguousarray(np.broadcast_to(g, y.shape), dtype=g.dtype)
    _max_pool_grad_nhwc(
        np.ascontiguousarray(x), np.ascontiguousarray(y), g, *kernel, *stride, *dilation, gx
    )
    return gx


ADAM_PARALLEL = 1 << 20  # elements from which the Adam step runs on all cores


def adam_step(p, g, m, v, b1, b2, step_size, bc2_sqrt, eps, decay=1.0) -> None:
    """In place on ``p``, ``m`` and ``v`` (see ``zerograd.optim.Adam.update``): one pass instead
    of eleven NumPy passes."""
    t = p.dtype.type
    step = _adam_parallel if p.size >= ADAM_PARALLEL else _adam_serial
    flat = [a.reshape(-1) for a in (p, g, m, v)]
    step(*flat, t(b1), t(1 - b1), t(b2), t(1 - b2), t(step_size), t(bc2_sqrt), t(eps), t(decay))


def serial_usable(*arrays, contiguous: bool = False) -> bool:
    """The serial kernels (and the Adam step) may run: NumPy float32/float64 arrays of one dtype,
    of any size (no threads to start); C-contiguous too when ``contiguous``."""
    if not ENABLED:
        return False
    d = arrays[0].dtype
    return d in _FLOATS and all(
        type(a) is np.ndarray and a.dtype == d and (a.flags.c_contiguous or not contiguous)
        for a in arrays
    )


def lstm_kernels(dtype):
    """(forward, backward) LSTM cell kernels for a float dtype (see ``_make_lstm``)."""
    return _lstm_f32 if dtype == np.float32 else _lstm_f64
