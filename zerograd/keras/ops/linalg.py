"""Linear algebra (``keras.ops.linalg``): norm, inv, det, solve, solve_triangular, logdet, slogdet,
cholesky_inverse (differentiable); cholesky, qr, svd, eig, eigh, lstsq, matrix_rank, pinv (values
only: a gradient through them raises)."""

from __future__ import annotations

import zerograd as zg
from zerograd import backend
from zerograd.keras.ops.core import const, float_tensor, tensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.ops import argcheck
from zerograd.ops.linalg import no_gradient
from zerograd.tensor import Tensor

__all__ = [
    "norm",
    "inv",
    "det",
    "solve",
    "cholesky",
    "qr",
    "svd",
    "eigh",
    "matrix_rank",
    "pinv",
    "solve_triangular",
    "cholesky_inverse",
    "lstsq",
    "eig",
    "logdet",
    "slogdet",
]

_MATRIX_ORDS = ("fro", 1, -1, float("inf"), float("-inf"))


def _vector_norm(x: Tensor, ord, axis, keepdims: bool) -> Tensor:  # noqa: A002
    a = zg.abs(x)
    if ord is None or ord == 2:
        return zg.sqrt(zg.sum(x * x, axis, keepdims))
    if ord == float("inf"):
        return zg.max(a, axis, keepdims)
    if ord == float("-inf"):
        return zg.min(a, axis, keepdims)
    if ord == 0:
        return zg.cast(zg.sum(zg.cast(a.detach() != 0, x.dtype), axis, keepdims), x.dtype)
    if ord == 1:
        return zg.sum(a, axis, keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: ord {ord!r} is for matrices; received a single axis {axis}")
    return zg.sum(a**ord, axis, keepdims) ** (1.0 / ord)


def _matrix_norm(x: Tensor, ord, axis, keepdims: bool) -> Tensor:  # noqa: A002
    row, col = (a % x.ndim for a in axis)
    if ord is None or ord == "fro":
        return zg.sqrt(zg.sum(x * x, (row, col), keepdims))
    if ord not in _MATRIX_ORDS:
        raise ValueError(
            f"norm: matrix ord must be one of None, 'fro', 1, -1, inf, -inf, received {ord!r} "
            "('nuc' and 2 need singular values, which are not supported)"
        )
    a = zg.abs(x)
    summed, over = (row, col) if ord in (1, -1) else (col, row)
    sums = zg.sum(a, summed, keepdims=True)
    out = (zg.max if ord > 0 else zg.min)(sums, over, keepdims=True)
    return out if keepdims else zg.squeeze(out, (row, col))


@symbolic
def norm(x, ord=None, axis=None, keepdims=False) -> Tensor:  # noqa: A002 - the Keras name
    """Vector norm (one axis, or all axes flattened) or matrix norm (two axes), as NumPy."""
    x = tensor(x)
    if x.dtype.kind != "f":
        x = zg.cast(x, backend.get_default_dtype())
    if axis is None:
        if ord is not None and x.ndim == 2:
            return _matrix_norm(x, ord, (0, 1), keepdims)
        if ord is not None and x.ndim != 1:
            raise ValueError(f"norm: ord {ord!r} needs a 1-D or 2-D input, received {x.shape}")
        flat = _vector_norm(zg.reshape(x, (-1,)), ord, 0, False)
        return zg.reshape(flat, (1,) * x.ndim) if keepdims else flat
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(argcheck.axis("norm", a, x.ndim) for a in axes)
    if isinstance(axis, int) or len(axis) == 1:
        return _vector_norm(x, ord, axis if isinstance(axis, int) else axis[0], keepdims)
    if len(axis) == 2:
        return _matrix_norm(x, ord, tuple(axis), keepdims)
    raise ValueError(f"norm: axis must be an int or a pair of ints, received {axis!r}")


@symbolic
def inv(x) -> Tensor:
    """Inverse of square matrices (..., n, n), differentiable."""
    return zg.inv(float_tensor(x))


@symbolic
def det(x) -> Tensor:
    """Determinant of square matrices (..., n, n), differentiable (first order)."""
    return zg.det(float_tensor(x))


@symbolic
def solve(a, b) -> Tensor:
    """x with a @ x == b (b a matrix or a vector), differentiable (first order)."""
    return zg.solve(float_tensor(a), float_tensor(b))


def _matrices(x, op: str) -> Tensor:
    x = float_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{op}: expected matrices (..., m, n), received shape {x.shape}")
    return x


@symbolic
def cholesky(x, upper=False) -> Tensor:
    """Cholesky factor L (L @ L^T == x), or its transpose with ``upper=True``; not differentiable."""
    x = _matrices(x, "cholesky")
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"cholesky: expected square matrices (..., n, n), received {x.shape}")

    def compute(xp, a):
        lower = xp.linalg.cholesky(a)
        return lower.swapaxes(-1, -2).conj() if upper else lower

    return no_gradient("cholesky", compute, x)


@symbolic
def qr(x, mode="reduced") -> tuple:
    """(q, r) with x == q @ r; ``mode`` 'reduced' or 'complete'; not differentiable."""
    if mode not in ("reduced", "complete"):
        raise ValueError(f"qr: mode must be 'reduced' or 'complete', received {mode!r}")
    x = _matrices(x, "qr")
    return no_gradient("qr", lambda xp, a: tuple(xp.linalg.qr(a, mode=mode)), x)


@symbolic
def svd(x, full_matrices=True, compute_uv=True):
    """(u, s, vh) with x == u @ diag(s) @ vh, or s alone; not differentiable."""
    x = _matrices(x, "svd")
    if not compute_uv:
        return no_gradient("svd", lambda xp, a: xp.linalg.svd(a, compute_uv=False), x)
    return no_gradient("svd", lambda xp, a: tuple(xp.linalg.svd(a, full_matrices=full_matrices)), x)


@symbolic
def eigh(x) -> tuple:
    """(eigenvalues ascending, eigenvectors) of symmetric matrices; not differentiable."""
    x = _matrices(x, "eigh")
    return no_gradient("eigh", lambda xp, a: tuple(xp.linalg.eigh(a)), x)


def _singular_values(x: Tensor):
    return x.xp.linalg.svd(x.data, compute_uv=False)  # (..., k)


@symbolic
def matrix_rank(x, tol=None) -> Tensor:
    """Number of singular values above ``tol`` (default: largest * max(m, n) * eps), int32."""
    x = _matrices(x, "matrix_rank")
    s = _singular_values(x)
    if tol is None:
        eps = x.xp.finfo(x.dtype).eps
        tol = s.max(axis=-1, keepdims=True) * (max(x.shape[-2:]) * eps)
    else:
        tol = x.xp.asarray(tol)[..., None]
    return const((s > tol).sum(axis=-1).astype("int32"))


@symbolic
def pinv(x, rcond=None) -> Tensor:
    """Moore-Penrose pseudo-inverse; singular values below rcond * largest count as zero."""
    x = _matrices(x, "pinv")
    if rcond is None:
        rcond = max(x.shape[-2:]) * float(x.xp.finfo(x.dtype).eps)
    return no_gradient("pinv", lambda xp, a: xp.linalg.pinv(a, rcond), x)


def _triangle(n: int, lower: bool, x: Tensor) -> Tensor:
    ones = x.xp.ones((n, n), dtype=x.dtype)
    return const(x.xp.tril(ones) if lower else x.xp.triu(ones))


@symbolic
def solve_triangular(a, b, lower=False) -> Tensor:
    """x with a @ x == b, reading only a's lower (or upper) triangle; differentiable there."""
    a, b = float_tensor(a), float_tensor(b)
    return zg.solve(a * _triangle(a.shape[-1], lower, a), b)


@symbolic
def cholesky_inverse(x, upper=False) -> Tensor:
    """The inverse of A from its Cholesky factor (A = L L^T, or U^T U with ``upper=True``)."""
    f = _matrices(x, "cholesky_inverse")  # used whole, as torch's (its gradient is not masked)
    ft = zg.swapaxes(f, -1, -2)
    return zg.inv(ft @ f if upper else f @ ft)


@symbolic
def lstsq(a, b, rcond=None) -> Tensor:
    """The least-squares solution x of a @ x ~= b (a (M, N), b (M,) or (M, K)); not differentiable."""
    a, b = _matrices(a, "lstsq"), float_tensor(b)
    if a.ndim != 2 or b.ndim not in (1, 2) or b.shape[0] != a.shape[0]:
        raise ValueError(
            f"lstsq: expected a of shape (M, N) and b of shape (M,) or (M, K), received "
            f"{a.shape} and {b.shape}"
        )
    return no_gradient("lstsq", lambda xp, m, v: xp.linalg.lstsq(m, v, rcond=rcond)[0], a, b)


@symbolic
def eig(x) -> tuple:
    """(eigenvalues, eigenvectors) of square matrices, always complex (as torch); no gradient."""
    x = _matrices(x, "eig")
    cdtype = "complex128" if x.dtype == backend.np.float64 else "complex64"
    w, v = x.xp.linalg.eig(x.data)
    return const(w.astype(cdtype)), const(v.astype(cdtype))


@symbolic
def logdet(x) -> Tensor:
    """log(det(x)), NaN where the determinant is negative; differentiable."""
    return zg.log(zg.det(float_tensor(x)))


@symbolic
def slogdet(x) -> tuple:
    """(sign, log|det|) of square matrices; log|det| is differentiable."""
    d = zg.det(float_tensor(x))
    return const(d.xp.sign(d.data)), zg.log(zg.abs(d))
