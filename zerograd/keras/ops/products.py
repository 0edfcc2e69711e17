"""Products: matmul, dot, tensordot, einsum (contracted pairwise through matmul), diagonals."""

from __future__ import annotations

import math

import numpy as np

import zerograd as zg
from zerograd.keras.ops.core import scatter, tensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.ops import argcheck
from zerograd.tensor import Tensor

__all__ = [
    "matmul",
    "tensordot",
    "dot",
    "inner",
    "outer",
    "vdot",
    "einsum",
    "diagonal",
    "trace",
    "diag",
    "kron",
    "cross",
    "vander",
    "diagflat",
]


def _same_dtype(a: Tensor, b: Tensor) -> tuple:
    if a.dtype != b.dtype:
        from zerograd import backend

        dt = backend.result_type(a.dtype, b.dtype)
        a, b = zg.cast(a, dt), zg.cast(b, dt)
    return a, b


@symbolic
def matmul(x1, x2) -> Tensor:
    """Matrix product with NumPy's rules (batched, broadcasting, 1-D operands)."""
    return zg.matmul(*_same_dtype(tensor(x1), tensor(x2)))


@symbolic
def tensordot(x1, x2, axes=2) -> Tensor:
    """Sum of products over ``axes`` (an int: the last of x1 with the first of x2; or two lists)."""
    a, b = _same_dtype(tensor(x1), tensor(x2))
    if isinstance(axes, int):
        ax_a, ax_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        ax_a, ax_b = ([v] if isinstance(v, int) else list(v) for v in axes)
    ax_a, ax_b = [i % a.ndim for i in ax_a], [i % b.ndim for i in ax_b]
    if [a.shape[i] for i in ax_a] != [b.shape[i] for i in ax_b]:
        raise ValueError(
            f"tensordot: contracted axes {ax_a} of shape {a.shape} and {ax_b} of shape {b.shape} "
            "differ in size"
        )
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    k = math.prod(a.shape[i] for i in ax_a)
    a2 = zg.reshape(zg.transpose(a, (*free_a, *ax_a)), (-1, k))
    b2 = zg.reshape(zg.transpose(b, (*ax_b, *free_b)), (k, -1))
    out_shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[i] for i in free_b)
    return zg.reshape(zg.matmul(a2, b2), out_shape)


@symbolic
def dot(x1, x2) -> Tensor:
    """NumPy's dot: scalars multiply, else the last axis of x1 with the second-to-last of x2."""
    a, b = _same_dtype(tensor(x1), tensor(x2))
    if a.ndim == 0 or b.ndim == 0:
        return zg.mul(a, b)
    if b.ndim == 1:
        return tensordot.eager(a, b, ([-1], [0]))
    return tensordot.eager(a, b, ([-1], [-2]))


@symbolic
def inner(x1, x2) -> Tensor:
    """Sum of products over the last axes."""
    a, b = tensor(x1), tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        return zg.mul(a, b)
    return tensordot.eager(a, b, ([-1], [-1]))


@symbolic
def outer(x1, x2) -> Tensor:
    """All products of the (flattened) entries: shape (x1.size, x2.size)."""
    a, b = tensor(x1), tensor(x2)
    return zg.mul(zg.reshape(a, (-1, 1)), zg.reshape(b, (1, -1)))


@symbolic
def vdot(x1, x2) -> Tensor:
    """Sum of products of the flattened tensors."""
    a, b = tensor(x1), tensor(x2)
    return zg.sum(zg.mul(zg.reshape(a, (-1,)), zg.reshape(b, (-1,))))


# --- einsum --------------------------------------------------------------------------------------


def _parse(subscripts: str, operands: list) -> tuple:
    subscripts = subscripts.replace(" ", "")
    if "." in subscripts:
        raise ValueError(f"einsum: ellipses are not supported, received {subscripts!r}")
    lhs, arrow, out = subscripts.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(
            f"einsum: {subscripts!r} names {len(terms)} operands, received {len(operands)}"
        )
    if not arrow:  # implicit output: the letters seen once, sorted
        counts = {c: lhs.count(c) for c in lhs if c != ","}
        out = "".join(sorted(c for c, n in counts.items() if n == 1))
    return terms, out


def _diagonals(x: Tensor, term: str) -> tuple:
    """Repeated letters in one term ('ii') taken as diagonals, so each letter appears once."""
    while len(set(term)) < len(term):
        c = next(c for c in term if term.count(c) > 1)
        i, j = term.index(c), term.index(c, term.index(c) + 1)
        x = diagonal.eager(x, 0, i, j)  # the diagonal becomes the last axis
        term = "".join(t for k, t in enumerate(term) if k not in (i, j)) + c
    return x, term


def _sum_out(x: Tensor, term: str, keep: set) -> tuple:
    """Letters of one term needed nowhere else summed away first."""
    gone = [i for i, c in enumerate(term) if c not in keep]
    if gone:
        x = zg.sum(x, tuple(gone))
        term = "".join(c for c in term if c in keep)
    return x, term


def _contract(a: Tensor, ta: str, b: Tensor, tb: str, keep: set) -> tuple:
    """One pairwise contraction as a batched matmul: (batch, left, k) @ (batch, k, right)."""
    batch = [c for c in ta if c in tb and c in keep]
    summed = [c for c in ta if c in tb and c not in keep]
    left = [c for c in ta if c not in tb]
    right = [c for c in tb if c not in ta]
    size = {**dict(zip(ta, a.shape)), **dict(zip(tb, b.shape))}
    a2 = zg.transpose(a, tuple(ta.index(c) for c in batch + left + summed))
    b2 = zg.transpose(b, tuple(tb.index(c) for c in batch + summed + right))
    nb, nl, nk, nr = (math.prod(size[c] for c in g) for g in (batch, left, summed, right))
    y = zg.matmul(zg.reshape(a2, (nb, nl, nk)), zg.reshape(b2, (nb, nk, nr)))
    term = "".join(batch + left + right)
    return zg.reshape(y, tuple(size[c] for c in term)), term


@symbolic
def einsum(subscripts, *operands) -> Tensor:
    """Einstein summation ('ij,jk->ik'); contracted left to right through matmuls."""
    xs = [tensor(x) for x in operands]
    terms, out = _parse(subscripts, xs)
    for x, t in zip(xs, terms):
        if x.ndim != len(t):
            raise ValueError(f"einsum: term {t!r} has {len(t)} letters, operand shape {x.shape}")
    sizes: dict = {}
    for i, (x, t) in enumerate(zip(xs, terms)):
        for c, n in zip(t, x.shape):
            if sizes.setdefault(c, (n, i))[0] != n:
                raise ValueError(
                    f"einsum: subscript {c!r} has size {n} in operand {i} (shape {x.shape}) but "
                    f"size {sizes[c][0]} in operand {sizes[c][1]}, for {subscripts!r}"
                )
    pairs = [_diagonals(x, t) for x, t in zip(xs, terms)]
    x, term = pairs[0]
    for i in range(len(pairs)):
        later = set(out).union(*(t for _, t in pairs[i + 1 :]))
        if i:
            y, ty = _sum_out(*pairs[i], later | set(term))
            x, term = _contract(x, term, y, ty, later)
        else:
            x, term = _sum_out(x, term, later)
    return zg.transpose(x, tuple(term.index(c) for c in out)) if term != out else x


# --- diagonals -----------------------------------------------------------------------------------


@symbolic
def diagonal(x, offset=0, axis1=0, axis2=1) -> Tensor:
    """The ``offset`` diagonal of axes (axis1, axis2), as a new last axis."""
    x = tensor(x)
    a1, a2 = argcheck.axis("diagonal", axis1, x.ndim), argcheck.axis("diagonal", axis2, x.ndim)
    if a1 == a2:
        raise ValueError(f"diagonal: axis1 and axis2 must differ, received {axis1} and {axis2}")
    rest = [i for i in range(x.ndim) if i not in (a1, a2)]
    x = zg.transpose(x, (*rest, a1, a2))
    n, m = x.shape[-2:]
    rows = np.arange(max(0, -offset), min(n, m - offset))
    return x[(Ellipsis, rows, rows + offset)]


@symbolic
def trace(x, offset=0, axis1=0, axis2=1) -> Tensor:
    """Sum of the ``offset`` diagonal."""
    return zg.sum(diagonal.eager(x, offset, axis1, axis2), -1)


@symbolic
def diag(x, k=0) -> Tensor:
    """A 1-D tensor as the k-th diagonal of a square matrix, or a matrix's k-th diagonal."""
    x = tensor(x)
    if x.ndim == 2:
        return diagonal.eager(x, k)
    if x.ndim != 1:
        raise ValueError(f"diag: expected a 1-D or 2-D tensor, received shape {x.shape}")
    n = len(x) + abs(k)
    i = np.arange(len(x))
    rows, cols = (i, i + k) if k >= 0 else (i - k, i)
    return scatter.eager(np.stack([rows, cols], -1), x, (n, n))


@symbolic
def kron(x1, x2) -> Tensor:
    """The Kronecker product."""
    a, b = _same_dtype(tensor(x1), tensor(x2))
    n = max(a.ndim, b.ndim)
    a = zg.reshape(a, (1,) * (n - a.ndim) + a.shape)
    b = zg.reshape(b, (1,) * (n - b.ndim) + b.shape)
    # (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...) -> (a0 b0, a1 b1, ...)
    ai = zg.reshape(a, tuple(v for s in a.shape for v in (s, 1)))
    bi = zg.reshape(b, tuple(v for s in b.shape for v in (1, s)))
    return zg.reshape(ai * bi, tuple(p * q for p, q in zip(a.shape, b.shape)))


@symbolic
def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None) -> Tensor:
    """The cross product of 3-vectors along the given axes."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a = zg.swapaxes(tensor(x1), axisa, -1)
    b = zg.swapaxes(tensor(x2), axisb, -1)
    a, b = _same_dtype(a, b)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise ValueError(
            f"cross: expected vectors of 3 components, received {a.shape[-1]} and {b.shape[-1]}"
        )
    c = [a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
         a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
         a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]]  # fmt: skip
    return zg.swapaxes(zg.stack(c, -1), -1, axisc)


@symbolic
def vander(x, N=None, increasing=False) -> Tensor:  # noqa: N803 - the Keras name
    """Columns of powers of the 1-D ``x`` (decreasing unless ``increasing``)."""
    x = tensor(x)
    n = len(x) if N is None else int(N)
    powers = range(n) if increasing else range(n - 1, -1, -1)
    return zg.stack([x**p if p else zg.mul(x, 0) + 1 for p in powers], 1)


@symbolic
def diagflat(x, k=0) -> Tensor:
    """The flattened ``x`` as the k-th diagonal of a square matrix."""
    return diag.eager(zg.reshape(tensor(x), (-1,)), k)
