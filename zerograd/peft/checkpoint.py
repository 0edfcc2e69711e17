"""Gradient checkpointing: keep a block's inputs only, recompute its activations in backward."""

from __future__ import annotations

from zerograd import backend
from zerograd.autograd import Function, enable_grad, no_grad
from zerograd.tensor import Tensor


class Checkpoint(Function):
    def forward(self, *arrays):
        self.rng_state = backend.rng().bit_generator.state  # replay the same dropout masks
        with no_grad():
            return self.fn(*[Tensor._make(a) for a in arrays]).data

    def backward(self, gy):
        xs = [Tensor._make(x.data) for x in self.inputs]
        for x, src in zip(xs, self.inputs):
            x.requires_grad = src.requires_grad
        now = backend.rng().bit_generator.state
        backend.rng().bit_generator.state = self.rng_state
        try:
            with enable_grad():
                out = self.fn(*xs)
        finally:
            backend.rng().bit_generator.state = now
        out.backward(gy)  # parameters inside fn receive their gradients here
        return tuple(x.grad for x in xs)


def checkpoint(fn, *inputs: Tensor) -> Tensor:
    """``fn(*inputs)`` whose intermediate activations are not stored: they are recomputed during
    backward (trading compute for memory). Dropout inside ``fn`` replays the same masks.

    Example:
        >>> y = checkpoint(lambda t: block(t), x)
    """
    return Checkpoint.apply(*inputs, fn=fn)
