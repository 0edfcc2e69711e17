"""Matrix product with NumPy's matmul rules (batched, broadcasting, 1-D operands)."""

from __future__ import annotations

from zerograd.autograd import Function
from zerograd.ops.elementwise import binary_operands
from zerograd.tensor import Tensor


class MatMul(Function):
    def forward(self, a, b):
        return a @ b

    def backward(self, gy):
        a, b = self.inputs
        need_a, need_b = self.needs_grad
        if a.ndim == 1 and b.ndim == 1:  # dot product: gy is a scalar
            return (gy * b if need_a else None), (gy * a if need_b else None)
        # lift 1-D operands to matrices, as matmul does, then drop the added axis again
        a2 = a.expand_dims(0) if a.ndim == 1 else a
        b2 = b.expand_dims(-1) if b.ndim == 1 else b
        g2 = gy
        if a.ndim == 1:
            g2 = g2.expand_dims(-2)
        if b.ndim == 1:
            g2 = g2.expand_dims(-1)
        ga = gb = None
        if need_a:
            ga = g2 @ b2.mT
            ga = ga.squeeze(-2) if a.ndim == 1 else ga
        if need_b:
            gb = a2.mT @ g2
            gb = gb.squeeze(-1) if b.ndim == 1 else gb
        return ga, gb  # batch axes are summed away by the engine


def matmul(a, b) -> Tensor:
    """Matrix product ``a @ b``: batched over leading axes, 1-D operands as in NumPy."""
    a, b = binary_operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: expected operands with at least 1 dimension, received shapes {a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: expected the last axis of the first operand ({k_a}) to equal the "
            f"{'only' if b.ndim == 1 else 'second-to-last'} axis of the second ({k_b}), "
            f"received shapes {a.shape} and {b.shape}"
        )
    return MatMul.apply(a, b)
