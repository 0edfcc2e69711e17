"""Matrix products inside numba kernels: NumPy's bundled OpenBLAS ``cblas_?gemm`` called directly
from compiled code, and that library's thread count held at one while a pool runs.

A kernel that loops over many small blocks (``kernels.flash_attention``) would otherwise return to
Python for each product: per block that costs more than the product, and holds the GIL, so two
pool threads wait on each other. ``gemm(ta, a, tb, b, c, alpha, beta)`` works on strided 2-D views
(rows of any stride, unit last axis) and accumulates with ``beta = 1``, so neither copies nor extra
passes are needed. The symbols are registered with llvmlite under zerograd's own names by
``available()`` (on first use, not on import); numba's disk cache refers to them by name.
"""

from __future__ import annotations

import contextlib

import numpy as np

from zerograd.kernels import numba

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_GEMMS = (("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_"), ("cblas_sgemm64_", "cblas_dgemm64_"))
_THREADS = (("scipy_", "64_"), ("", "64_"), ("", ""))  # openblas_{get,set}_num_threads names
_state: dict = {}  # "lib", "gemm" (bool), "threads" ((get, set) or None), once looked up


def _lookup() -> dict:
    if not _state:
        from zerograd import tuning

        lib = tuning._bundled_openblas()
        threads = gemm = None
        for prefix, suffix in _THREADS if lib is not None else ():
            get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
            put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                threads = (get, put)
                break
        for names in _GEMMS if lib is not None and numba is not None else ():
            if all(hasattr(lib, n) for n in names):
                gemm = names
                break
        if gemm is not None:
            import ctypes

            import llvmlite.binding as llvm

            for ours, theirs in zip(("zerograd_sgemm", "zerograd_dgemm"), gemm):
                llvm.add_symbol(ours, ctypes.cast(getattr(lib, theirs), ctypes.c_void_p).value)
        _state.update(lib=lib, gemm=gemm is not None, threads=threads)
    return _state


def available() -> bool:
    """True when ``gemm`` may be called: numba and NumPy's bundled 64-bit-integer OpenBLAS."""
    return numba is not None and _lookup()["gemm"]


@contextlib.contextmanager
def one_thread():
    """NumPy's OpenBLAS on one thread meanwhile: products called from a pool's threads, each
    small, run faster on the calling thread than with OpenBLAS's own threads woken for each
    (attention blocks: 15-20 times slower with them, 920 ms against 42 ms for (1, 4, 1024, 64)
    forward + backward)."""
    threads = _lookup()["threads"]
    n = threads[0]() if threads is not None else 1
    if n > 1:
        threads[1](1)
    try:
        yield
    finally:
        if n > 1:
            threads[1](n)


if numba is not None:
    from numba import types

    from zerograd.kernels import jit_serial

    def _extern(name, ftype):
        i32, i64, p = types.int32, types.int64, types.uintp  # pointers passed as addresses
        sig = types.void(i32, i32, i32, i64, i64, i64, ftype, p, i64, p, i64, ftype, p, i64)
        return types.ExternalFunction(name, sig)

    _sgemm = _extern("zerograd_sgemm", types.float32)
    _dgemm = _extern("zerograd_dgemm", types.float64)

    @jit_serial
    def gemm(ta, a, tb, b, c, alpha, beta):
        """c = alpha * op(a) @ op(b) + beta * c, op(x) = x.T when its flag is set; 2-D arrays of
        one float dtype with a unit last-axis stride (any row stride); beta 0 ignores c."""
        m, n = c.shape
        k = a.shape[0] if ta else a.shape[1]
        if m == 0 or n == 0:
            return
        size = c.itemsize
        lda = a.strides[0] // size if a.shape[0] > 1 else max(a.shape[1], 1)
        ldb = b.strides[0] // size if b.shape[0] > 1 else max(b.shape[1], 1)
        ldc = c.strides[0] // size if m > 1 else n
        t_a = _TRANS if ta else _NO_TRANS
        t_b = _TRANS if tb else _NO_TRANS
        pa, pb, pc = a.ctypes.data, b.ctypes.data, c.ctypes.data
        if size == 4:
            _sgemm(_ROW_MAJOR, t_a, t_b, m, n, k, np.float32(alpha), pa, lda, pb, ldb,
                   np.float32(beta), pc, ldc)  # fmt: skip
        else:
            _dgemm(_ROW_MAJOR, t_a, t_b, m, n, k, np.float64(alpha), pa, lda, pb, ldb,
                   np.float64(beta), pc, ldc)  # fmt: skip
