"""Matrix product with NumPy's matmul rules (batched, broadcasting, 1-D operands)."""

from __future__ import annotations

import math

from zerograd import backend, kernels, tuning
from zerograd.amp import autocast_mode as _autocast
from zerograd.autograd import Function
from zerograd.kernels import conv as conv_kernels
from zerograd.ops.elementwise import binary_operands
from zerograd.tensor import Tensor


class MatMul(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, gy):
        a, b = self.saved
        xp = self.xp
        need_a, need_b = self.needs_grad
        if a.ndim == 1 and b.ndim == 1:  # dot product: gy is a scalar
            return (gy * b if need_a else None), (gy * a if need_b else None)
        # lift 1-D operands to matrices, as matmul does, then drop the added axis again
        a2 = xp.expand_dims(a, 0) if a.ndim == 1 else a
        b2 = xp.expand_dims(b, -1) if b.ndim == 1 else b
        g2 = gy
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        ga = gb = None
        if need_a:
            ga = g2 @ b2.swapaxes(-1, -2)  # not .mT: NumPy 1.x arrays lack it
            ga = ga.squeeze(-2) if a.ndim == 1 else ga
        if need_b:
            gb = a2.swapaxes(-1, -2) @ g2
            gb = gb.squeeze(-1) if b.ndim == 1 else gb
        return ga, gb  # batch axes are summed away by the engine


def matmul(a, b) -> Tensor:
    """Matrix product ``a @ b``: batched over leading axes, 1-D operands as in NumPy."""
    a, b = binary_operands(a, b)
    if _autocast._ACTIVE:  # in an autocast region: float32 operands run in half precision
        a, b = _autocast.cast_inputs("lower", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: expected operands with at least 1 dimension, received shapes {a.shape} and {b.shape}"
        )
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: expected the last axis of the first operand ({k_a}) to equal the "
            f"{'only' if b.ndim == 1 else 'second-to-last'} axis of the second ({k_b}), "
            f"received shapes {a.shape} and {b.shape}"
        )
    return MatMul.apply(a, b)


class Linear(Function):
    """x @ W.T + b in one op (one GEMM each way, no separate transpose, add and sum-to)."""

    def forward(self, x, W, b=None):
        self.save_for_backward(x, W)
        # 2-D GEMM: NumPy's batched matmul with a transposed operand misses BLAS and is ~50x slower
        rows = math.prod(x.shape[:-1])  # not reshape(-1, ...): x may hold no elements
        y = x.reshape(rows, x.shape[-1]) @ W.T
        if b is not None:
            # the bias add on all cores, for large outputs only (see tuning)
            big = y.size >= tuning.LINEAR_BIAS_KERNEL_MIN_SIZE
            if big and kernels.usable(y, b) and b.dtype == y.dtype:
                conv_kernels.bias_act(y, b, False)
            else:
                y += b
        return y.reshape(*x.shape[:-1], W.shape[0])

    def backward(self, gy):
        x, W = self.saved[0], self.saved[1]
        need = self.needs_grad
        n_out, n_in = W.shape
        g2 = gy.reshape((-1, n_out))
        # one output: an outer product, which BLAS runs as a slow one-column GEMM
        gx = (g2 * W if n_out == 1 else g2 @ W) if need[0] else None
        grads = (
            gx.reshape(x.shape) if need[0] else None,
            g2.T @ x.reshape((g2.shape[0], n_in)) if need[1] else None,
        )
        if len(need) == 2:
            return grads
        return (*grads, backend.sum_axes(self.xp, g2, (0,)) if need[2] else None)


@_autocast.lower_precision
def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x @ weight.T + bias, with weight of shape (out_features, in_features), as PyTorch.

    Example:
        >>> F.linear(zg.ones(2, 3), zg.ones(4, 3)).shape
        (2, 4)
    """
    if weight.ndim not in (1, 2):
        raise ValueError(
            f"linear: expected a weight of shape (out_features, in_features), received shape "
            f"{weight.shape}"
        )
    if x.ndim == 0 or x.shape[-1] != weight.shape[-1]:
        raise ValueError(
            f"linear: expected input with last axis {weight.shape[-1]}, received shape {x.shape}"
        )
    if x.dtype != weight.dtype:  # as PyTorch: no silent up-cast, no integer inputs
        raise TypeError(
            f"linear: expected input of the weight's dtype {weight.dtype}, received {x.dtype} "
            "(the input and weight must have the same dtype)"
        )
    out = weight.shape[:1]
    if bias is not None and bias.shape not in (out, (1,) + out, ()):
        raise ValueError(
            f"linear: expected bias of shape {out} for weight of shape {weight.shape}, "
            f"received shape {bias.shape}"
        )
    if weight.ndim == 1:  # as PyTorch: a vector weight gives one output without the last axis
        y = matmul(x, weight)
        return y if bias is None else y + bias
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)


# --- inverse, determinant, solve (square matrices, batched over leading axes) --------------------


def _square(x: Tensor, op: str) -> Tensor:
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{op}: expected square matrices (..., n, n), received shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a float tensor, received dtype {x.dtype}")
    return x


def _swap_last(a):
    return a.swapaxes(-1, -2)


class Inv(Function):
    """Y = A^-1; gA = -Y^T gY Y^T (recorded again under create_graph: only matmuls)."""

    def forward(self, a):
        y = self.xp.linalg.inv(a)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return -(_swap_last(y) @ gy @ _swap_last(y))


class Det(Function):
    """det(A); gA = g det(A) A^-T. Its backward runs on arrays only (it needs an inverse)."""

    differentiable_backward = False

    def forward(self, a):
        self.save_for_backward(a)
        return self.xp.linalg.det(a)

    def backward(self, gy):
        (a,) = self.saved
        d = self.xp.linalg.det(a)
        return (gy * d)[..., None, None] * _swap_last(self.xp.linalg.inv(a))


class Solve(Function):
    """X = A^-1 B for matrices B (..., n, k); gB = A^-T gX, gA = -gB X^T (arrays only)."""

    differentiable_backward = False

    def forward(self, a, b):
        x = self.xp.linalg.solve(a, b)
        self.save_for_backward(a, x)
        return x

    def backward(self, gx):
        a, x = self.saved
        gb = self.xp.linalg.solve(_swap_last(a), gx)
        return -(gb @ _swap_last(x)), gb


def inv(a: Tensor) -> Tensor:
    """Inverse of square matrices (..., n, n), differentiable.

    >>> zg.inv(zg.tensor([[2.0, 0.0], [0.0, 4.0]]))  # [[0.5, 0], [0, 0.25]]
    """
    return Inv.apply(_square(a, "inv"))


def det(a: Tensor) -> Tensor:
    """Determinant of square matrices (..., n, n), differentiable (first order)."""
    return Det.apply(_square(a, "det"))


def solve(a: Tensor, b: Tensor) -> Tensor:
    """X with A X = B; B a matrix (..., n, k) or a vector (n,) / (..., n), as torch.linalg.solve."""
    a, b = binary_operands(a, b)
    _square(a, "solve")
    vector = b.ndim == 1 or b.ndim == a.ndim - 1
    b2 = b.reshape((*b.shape, 1)) if vector else b
    if b2.shape[-2] != a.shape[-1]:
        raise ValueError(f"solve: b's rows must match a {a.shape}, received b of shape {b.shape}")
    x = Solve.apply(a, b2)
    return x.reshape(x.shape[:-1]) if vector else x


# --- factorizations: values only, not differentiable ---------------------------------------------


class NoGradient(Function):
    """Runs ``compute`` on the arrays; asking for a gradient through it raises, naming the op."""

    compute: object
    op: str

    def forward(self, *arrays):
        return self.compute(self.xp, *arrays)

    def backward(self, *gys):
        raise RuntimeError(
            f"{self.op}: zerograd has no gradient for {self.op}; compute it without requires_grad "
            "or detach() its input"
        )


def no_gradient(op: str, compute, *inputs: Tensor):
    """``compute(xp, *arrays)`` on Tensors: one Tensor or a tuple; a backward through it raises."""
    return NoGradient.apply(*inputs, compute=compute, op=op)
