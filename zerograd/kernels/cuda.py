"""Fused GPU kernels, compiled by CuPy on first use (``cupy.ElementwiseKernel`` and
``cupy.ReductionKernel``): each does in one or two passes over memory what a chain of CuPy
expressions does in several, each pass writing a temporary the size of the input.

- GELU (erf and tanh forms) and its gradient: one pass each (CuPy expressions: 6-8 passes).
- softmax(x * scale + bias) over the last axis: the max, one reduction of the exponentials and
  one pass writing the output (the expressions: about 12 passes); its gradient in two.
- layer norm over the last axis: the mean, one reduction of the squared deviations and one pass
  writing the output; its input gradient in three.
- the log-sum-exp of the cross-entropy's rows without an exponential of the logits in memory, and
  its gradient's exponential and scaling in one pass.
- the Adam/AdamW update of a parameter and its two moments: one pass (the expressions: 11).

``ZEROGRAD_CUDA_KERNELS=0`` in the environment turns them off.

Each runs only on CuPy arrays of float32 or float64 (``usable``); the calling op keeps its
array code for everything else, and the GPU tests compare both paths with PyTorch. Arithmetic is
done in the array's own precision, as the array code does.
"""

from __future__ import annotations

import os

from zerograd import backend

ENABLED = os.environ.get("ZEROGRAD_CUDA_KERNELS", "1") != "0"  # 0: the CuPy expressions only
_FLOATS = ("float32", "float64")
_compiled: dict = {}


def _compiles(cp) -> tuple:
    """The dtypes CuPy's kernels compile for: all, unless the module says otherwise (the test
    suite's stand-in device compiles them as C++ for float32 and float64 only)."""
    return getattr(cp, "KERNEL_DTYPES", ("float16", "float32", "float64"))


def usable(*arrays) -> bool:
    """True when the kernels may run: CuPy that compiles kernels, and CuPy float32/float64 arrays
    of one dtype."""
    cp = backend.cupy_module()
    if not ENABLED or cp is None or not arrays:
        return False
    d = arrays[0].dtype
    return (
        d.name in _FLOATS
        and d.name in _compiles(cp)
        and all(isinstance(a, cp.ndarray) and a.dtype == d for a in arrays)
    )


def _kernel(kind: str, name: str, *args):
    """A compiled kernel, made once per name."""
    k = _compiled.get(name)
    if k is None:
        cp = backend.cupy_module()
        make = cp.ElementwiseKernel if kind == "map" else cp.ReductionKernel
        k = _compiled[name] = make(*args, name=f"zerograd_{name}")
    return k


# --- GELU ----------------------------------------------------------------------------------------
# computed in C (float for float16/float32, double for float64) and stored as the array's T: the
# half-precision activations of autocast run here too

_K = "0.7978845608028654"  # sqrt(2 / pi)
_GELU = {
    "none": "C v = (C)x; y = (T)((C)0.5 * v * ((C)1 + erf(v * (C)0.7071067811865476)));",
    "tanh": f"C v = (C)x; y = (T)((C)0.5 * v * ((C)1 + tanh((C){_K} * (v + (C)0.044715 * v * v * v))));",
}
_GELU_GRAD = {
    "none": """
        C v = (C)x;
        C cdf = (C)0.5 * ((C)1 + erf(v * (C)0.7071067811865476));
        C pdf = exp((C)-0.5 * v * v) * (C)0.3989422804014327;
        gx = (T)((C)gy * (cdf + (pdf > (C)0 ? v * pdf : (C)0)));
    """,
    "tanh": f"""
        C v = (C)x;
        C t = tanh((C){_K} * (v + (C)0.044715 * v * v * v));
        C d = (C)1 - t * t;
        C tail = d > (C)0 ? (C)0.5 * v * d * (C){_K} * ((C)1 + (C)0.134145 * v * v) : (C)0;
        gx = (T)((C)gy * ((C)0.5 * ((C)1 + t) + tail));
    """,
}


def _compute(dtype) -> str:
    return "double" if dtype.name == "float64" else "float"


def usable_with_half(*arrays) -> bool:
    """``usable``, float16 included (GELU and dropout compute in float and store half)."""
    cp = backend.cupy_module()
    if not ENABLED or cp is None or not arrays:
        return False
    d = arrays[0].dtype
    return (
        d.name in ("float16", *_FLOATS)
        and d.name in _compiles(cp)
        and all(isinstance(a, cp.ndarray) and a.dtype == d for a in arrays)
    )


def gelu(x, approximate: str):
    c = _compute(x.dtype)
    body = _GELU[approximate].replace("C ", f"{c} ").replace("(C)", f"({c})")
    return _kernel("map", f"gelu_{approximate}_{c}", "T x", "T y", body)(x)


def gelu_grad(x, gy, approximate: str):
    c = _compute(x.dtype)
    body = _GELU_GRAD[approximate].replace("C ", f"{c} ").replace("(C)", f"({c})")
    return _kernel("map", f"gelu_grad_{approximate}_{c}", "T x, T gy", "T gx", body)(x, gy)


# --- softmax over the last axis ------------------------------------------------------------------


def _sum_exp(z, m, k):
    """sum_j exp((z_j - m) * k) over the last axis, kept as (..., 1)."""
    kern = _kernel(
        "reduce", "sum_exp", "T z, T m, T k", "T s", "exp((z - m) * k)", "a + b", "s = a", "0"
    )
    return kern(z, m, z.dtype.type(k), axis=-1, keepdims=True)


def softmax_last(x, scale: float, bias):
    """softmax(x * scale + bias) over the last axis (``scale`` > 0)."""
    cp = backend.cupy_module()
    if bias is None:
        z, k = x, scale  # exp((x - max x) * scale): the scale folded into the exponent
        y = cp.empty_like(x)
    else:
        y = _kernel("map", "scale_add", "T x, T b, T k", "T z", "z = x * k + b;")(
            x, bias, x.dtype.type(scale), cp.empty_like(x)
        )
        z, k = y, 1.0
    m = z.max(axis=-1, keepdims=True)
    s = _sum_exp(z, m, k)
    normalize = _kernel("map", "exp_div", "T z, T m, T s, T k", "T y", "y = exp((z - m) * k) / s;")
    return normalize(z, m, s, x.dtype.type(k), y)  # in place over z when a bias made it


def softmax_grad(y, gy, scale: float):
    """(gy - sum(gy * y)) * y * scale over the last axis."""
    dot = _kernel("reduce", "dot", "T u, T w", "T s", "u * w", "a + b", "s = a", "0")(
        y, gy, axis=-1, keepdims=True
    )
    k = _kernel("map", "softmax_grad", "T y, T gy, T d, T k", "T gx", "gx = (gy - d) * y * k;")
    return k(y, gy, dot, y.dtype.type(scale))


# --- layer norm over the last axis ---------------------------------------------------------------


def _mean_rstd(x, eps: float):
    """Each row's mean and 1 / sqrt(var + eps) over the last axis, kept as (..., 1)."""
    mean = x.mean(axis=-1, keepdims=True)
    sq = _kernel("reduce", "sq_dev", "T x, T m", "T s", "(x - m) * (x - m)", "a + b", "s = a", "0")
    var = sq(x, mean, axis=-1, keepdims=True) / x.shape[-1]
    return mean, 1 / backend.cupy_module().sqrt(var + eps)


def layer_norm(x, weight, bias, eps: float):
    """(x - mean) * rstd * weight + bias over the last axis; weight and bias may be None."""
    cp = backend.cupy_module()
    n = x.shape[-1]
    mean, rstd = _mean_rstd(x, eps)
    w = weight if weight is not None else cp.ones(n, x.dtype)
    b = bias if bias is not None else cp.zeros(n, x.dtype)
    norm = _kernel(
        "map", "layer_norm", "T x, T m, T r, T w, T b", "T y", "y = (x - m) * r * w + b;"
    )
    return norm(x, mean, rstd, w, b)


def layer_norm_grad(x, gy, weight, eps: float):
    """(gx, gw, gb) of ``layer_norm`` over the last axis; gw and gb None without a weight."""
    cp = backend.cupy_module()
    n = x.shape[-1]
    mean, rstd = _mean_rstd(x, eps)
    w = weight if weight is not None else cp.ones(n, x.dtype)
    sums = _kernel(
        "reduce", "ln_sums", "T x, T m, T r, T gy, T w", "T s", "gy * w", "a + b", "s = a", "0"
    )
    sums_x = _kernel(
        "reduce",
        "ln_sums_x",
        "T x, T m, T r, T gy, T w",
        "T s",
        "gy * w * (x - m) * r",
        "a + b",
        "s = a",
        "0",
    )
    a = sums(x, mean, rstd, gy, w, axis=-1, keepdims=True) / n  # mean of gy * w
    c = sums_x(x, mean, rstd, gy, w, axis=-1, keepdims=True) / n  # mean of gy * w * xhat
    gx = _kernel(
        "map",
        "ln_grad",
        "T x, T m, T r, T gy, T w, T a, T c",
        "T gx",
        "gx = r * (gy * w - a - (x - m) * r * c);",
    )(x, mean, rstd, gy, w, a, c)
    if weight is None:
        return gx, None, None
    lead = tuple(range(x.ndim - 1))
    gw = _kernel(
        "reduce", "ln_gw", "T x, T m, T r, T gy", "T s", "gy * (x - m) * r", "a + b", "s = a", "0"
    )(x, mean, rstd, gy, axis=lead)
    return gx, gw, gy.sum(axis=lead)


# --- cross-entropy -------------------------------------------------------------------------------


def logsumexp_rows(x):
    """log(sum(exp(x))) of each row of a 2-D array, shifted by the row max."""
    cp = backend.cupy_module()
    m = x.max(axis=1, keepdims=True)
    return (m + cp.log(_sum_exp(x, m, 1.0)))[:, 0]


def exp_shift_scale(x, lse, k):
    """exp(x - lse[:, None]) * k[:, None] in one pass (the cross-entropy gradient's bulk)."""
    kern = _kernel("map", "exp_shift_scale", "T x, T l, T k", "T p", "p = exp(x - l) * k;")
    return kern(x, lse[:, None], k[:, None])


# --- Adam / AdamW --------------------------------------------------------------------------------

_ADAM = """
    p = p * decay;
    m = m * b1 + g * omb1;
    v = v * b2 + (g * g) * omb2;
    p = p - (m / (sqrt(v) / bc2_sqrt + eps)) * step_size;
"""  # the array code's order of operations, so both round alike


def adam_step(p, g, m, v, b1, b2, step_size, bc2_sqrt, eps, decay=1.0) -> None:
    """In place on ``p``, ``m`` and ``v`` (the formula of ``zerograd.optim.Adam.update``)."""
    t = p.dtype.type
    kern = _kernel(
        "map",
        "adam",
        "T g, T b1, T omb1, T b2, T omb2, T step_size, T bc2_sqrt, T eps, T decay",
        "T p, T m, T v",
        _ADAM,
    )
    args = (b1, 1 - b1, b2, 1 - b2, step_size, bc2_sqrt, eps, decay)
    kern(g, *(t(a) for a in args), p, m, v)


# --- dropout -------------------------------------------------------------------------------------

_DROPOUT = """
    unsigned long long z = seed + (unsigned long long)i * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    double u = (double)(z >> 11) * 1.1102230246251565e-16;
    mask = u >= p ? (T)scale : (T)0;
"""


def dropout_mask(shape, p: float, seed: int, dtype):
    """A keep mask scaled by 1 / (1 - p), drawn on the GPU from ``seed`` (the splitmix64 hash of
    seed + element index): the same seed gives the same mask, so a recomputation (gradient
    checkpointing) replays it."""
    cp = backend.cupy_module()
    out = cp.empty(shape, dtype)
    scale = 0.0 if p == 1 else 1.0 / (1 - p)
    kern = _kernel(
        "map", "dropout_mask", "uint64 seed, float64 p, float64 scale", "T mask", _DROPOUT
    )
    return kern(cp.uint64(seed), p, scale, out)
