"""Fused CPU kernels compiled with numba, used where it is installed (``zerograd[fast]`` extra).

NumPy runs one pass over memory per operation and uses one thread for elementwise work. The
kernels do a whole activation or row-wise normalisation in one pass, on all cores. One module per
op, beside the op that calls it: ``gelu`` (erf, GELU in its erf and tanh forms, and the gradient),
``softmax`` (over the last axis, with the attention scale and an additive mask folded in, and its
gradient), ``layer_norm``, ``conv`` (bias + ReLU, the ReLU gradient), ``conv_blocks`` (whole
convolutions by blocks of images, BLAS called from compiled code), ``pool`` (channels-last max
pooling, forward and backward), ``scatter`` (rows added at integer indices), ``lstm`` (the whole
time loop, forward and backward, with ``packed_gemm`` for its per-step products), ``attention``
(without gradients, block by block on a thread pool). This module holds what they share: the "may a kernel run"
checks, the thread pool, and the vectorised exps. The Adam step sits beside its optimizer
(``zerograd.optim._adam_kernel``). One op end to end: its op file, its kernel module, and this.

Each kernel has a NumPy twin in the op that calls it; the tests run both and compare them.
``ZEROGRAD_JIT=0`` in the environment turns the kernels off. Kernels compile on first use and
are cached on disk by numba: every kernel is a module-level function (no closures, which numba
cannot cache across processes); the pieces that depend on the float type come from ``typed``
(numba overloads). numba keys a kernel's cache by its own file only: after editing a helper that
kernels in other files call (``typed``, the exps here, ``blas``), clear
``zerograd/kernels/__pycache__``. The sizes from which they run are in ``zerograd.tuning``.
"""

from __future__ import annotations

import math
import os

import numpy as np

from zerograd import tuning

try:  # an optional dependency: every kernel has a NumPy fallback in the calling op
    import numba
except ImportError:  # pragma: no cover - exercised where numba is absent
    numba = None

ENABLED = numba is not None and os.environ.get("ZEROGRAD_JIT", "1") != "0"
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

if numba is not None:
    # no nnan/ninf: masks use -inf and NaN must propagate
    _FAST = {"contract", "reassoc"}
    # error_model="numpy": a division by zero gives inf/NaN as in NumPy. numba's default checks
    # every division and raises, and that branch keeps loops with a division from vectorising
    # (an Adam step: 0.75 ms with it, 0.10 ms without).
    _opts = dict(fastmath=_FAST, cache=True, error_model="numpy")
    jit = numba.njit(parallel=True, nogil=True, **_opts)  # on all cores
    jit_serial = numba.njit(inline="always", **_opts)  # element and row helpers, inlined
    jit_nogil = numba.njit(nogil=True, **_opts)  # serial, for work split by the caller
else:  # pragma: no cover
    jit = jit_serial = jit_nogil = None


def usable(*arrays) -> bool:
    """True when the parallel kernels may run on these arrays: numba present and enabled, NumPy
    float32 or float64 arrays, the first of at least ``tuning.KERNEL_MIN_SIZE`` elements (CuPy
    arrays, other dtypes and small arrays take the NumPy/CuPy path)."""
    if not ENABLED or not arrays:
        return False
    if getattr(arrays[0], "size", 0) < tuning.KERNEL_MIN_SIZE:  # the first: the work
        return False
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype not in FLOATS:
            return False
    return True


def serial_usable(*arrays, contiguous: bool = False) -> bool:
    """The serial kernels (the LSTM cell, the Adam step) may run: NumPy float32/float64 arrays of
    one dtype, of any size (no threads to start); C-contiguous too when ``contiguous``."""
    if not ENABLED:
        return False
    d = arrays[0].dtype
    return d in FLOATS and all(
        type(a) is np.ndarray and a.dtype == d and (a.flags.c_contiguous or not contiguous)
        for a in arrays
    )


def rows(a: np.ndarray) -> np.ndarray:
    """``a`` as C-contiguous (rows, last axis) for the row-wise kernels."""
    return np.ascontiguousarray(a).reshape(-1, a.shape[-1])


_pool = None  # (pid, ThreadPoolExecutor): made on first use, again after a fork


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


def parallel_sums(fn, n: int) -> tuple:
    """Arrays summed over the parts of ``range(n)`` split between the threads: ``fn(start,
    stop)`` returns a tuple of arrays for its part, and the parts' tuples are added in order,
    so the sums are the same on every run."""
    parts = {}
    parallel_parts(lambda p: parts.__setitem__(p.start, fn(p.start, p.stop)), range(n))
    first, *rest = (parts[a] for a in sorted(parts))
    for other in rest:
        for total, a in zip(first, other):
            total += a
    return first


# --- vectorised exps for arguments <= 0, inlined by the softmax, GELU-gradient and LSTM kernels ---
# A call to libm's exp keeps a loop from vectorising; these are multiply-adds and bit operations
# only. numba's disk cache keys a kernel by its own file: after editing these, clear the
# ``__pycache__`` of ``zerograd/kernels`` so the kernels that inline them are compiled again.

if numba is not None:
    e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12 = (1 / math.factorial(i) for i in range(2, 13))
    f2, f3, f4, f5, f6, f7 = (np.float32(1 / math.factorial(i)) for i in range(2, 8))

    @jit_serial
    def exp_neg(x):
        """exp(x) for x <= 0 (a softmax after its max is subtracted), in float64: 2^k e^r with
        |r| <= ln2 / 2, a degree-12 Taylor polynomial and the exponent written as bits. All
        multiply-adds, so the loop vectorises (a call to libm's exp does not); relative error
        3e-16. Below -708 it is 0 (as exp in float32, and the weight of a masked position);
        NaN stays NaN."""
        c = max(x, -708.0)
        k = math.floor(c * 1.4426950408889634 + 0.5)
        r = (c - k * 0.6931471803691238) - k * 1.9082149292705877e-10
        p = e11 + r * e12
        p = e10 + r * p
        p = e9 + r * p
        p = e8 + r * p
        p = e7 + r * p
        p = e6 + r * p
        p = e5 + r * p
        p = e4 + r * p
        p = e3 + r * p
        p = e2 + r * p
        p = 1.0 + r * (1.0 + r * p)
        s = np.int64((np.int64(k) + 1023) << 52).view(np.float64)
        out = 0.0 if x < -708.0 else p * s
        return x if x != x else out

    @jit_serial
    def exp32_neg(x):
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
