"""SwiGLU, the gated MLP activation of the Llama family: silu(gate) * up as one op."""

from __future__ import annotations

from zerograd import kernels
from zerograd.autograd import Function
from zerograd.kernels import swiglu as swiglu_kernels
from zerograd.ops.elementwise import Sigmoid, float_operand, sigmoid_array
from zerograd.tensor import Tensor


class SwiGLU(Function):
    """y = g * sigmoid(g) * u. One op instead of three (SiLU, its sigmoid, the product): the
    forward keeps only its inputs, the backward recomputes the sigmoid."""

    def forward(self, g, u):
        self.save_for_backward(g, u)
        if kernels.usable(g, u):  # swiglu() checked one shape and dtype
            return swiglu_kernels.swiglu(g, u)
        y = g * sigmoid_array(g)
        y *= u
        return y

    def backward(self, gy):
        g, u = self.saved
        if kernels.usable(g, u, gy):
            return swiglu_kernels.swiglu_grad(g, u, gy)  # arrays: one pass, same derivative
        s = Sigmoid.call(g)  # on Tensors (create_graph) the same lines are recorded
        gs = g * s
        return gy * u * (s + gs * (1 - s)), gy * gs


def swiglu(gate: Tensor, up: Tensor) -> Tensor:
    """silu(gate) * up (SwiGLU, Shazeer 2020), as the Llama family's MLP applies it to the outputs
    of its gate and up projections; ``gate`` and ``up`` of one shape and float dtype.

    Example:
        >>> swiglu(zg.tensor([0.0, 1.0]), zg.tensor([2.0, 2.0]))
        tensor([0.    , 1.4621])
    """
    gate, up = float_operand(gate), float_operand(up)
    if gate.shape != up.shape:
        raise ValueError(
            f"swiglu: expected gate and up of one shape, received {gate.shape} and {up.shape}"
        )
    if gate.dtype != up.dtype:
        raise TypeError(
            f"swiglu: expected gate and up of one dtype, received {gate.dtype} and {up.dtype}"
        )
    return SwiGLU.apply(gate, up)
