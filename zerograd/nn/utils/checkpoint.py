"""Gradient checkpointing: keep a block's inputs only, recompute its activations in backward."""

from __future__ import annotations

from zerograd import backend
from zerograd.autograd import Function, enable_grad, no_grad
from zerograd.tensor import Tensor


class Checkpoint(Function):
    """Runs ``fn`` on the first ``n`` inputs without recording; the rest are the parameters ``fn``
    uses, listed so that the output needs a gradient when only they do (frozen inputs, LoRA).
    Its backward runs a separate backward pass of ``fn``, which is not recorded."""

    differentiable_backward = False
    fn: object  # the checkpointed function of Tensors
    n: int  # how many of the inputs are its arguments
    rng_state: dict  # set by forward: the generator's state, to replay dropout in backward

    def forward(self, *arrays):
        self.rng_state = backend.rng().bit_generator.state  # replay the same dropout masks
        with no_grad():
            return self.fn(*[Tensor._make(a) for a in arrays[: self.n]]).data

    def backward(self, gy):
        inputs = self.inputs[: self.n]
        xs = [Tensor._make(x.data) for x in inputs]
        for x, src in zip(xs, inputs):
            x.requires_grad = src.requires_grad
        now = backend.rng().bit_generator.state
        backend.rng().bit_generator.state = self.rng_state
        try:
            with enable_grad():
                out = self.fn(*xs)
        finally:
            backend.rng().bit_generator.state = now
        out.backward(gy)  # the parameters inside fn receive their gradients here
        return (*(x.grad for x in xs), *([None] * (len(self.inputs) - self.n)))


def checkpoint(fn, *inputs: Tensor, params=()) -> Tensor:
    """``fn(*inputs)`` whose intermediate activations are not stored: they are recomputed during
    backward (trading compute for memory). Dropout inside ``fn`` replays the same masks.

    Args:
        fn: a function of Tensors returning one Tensor.
        inputs: its Tensor arguments.
        params: the parameters ``fn`` uses (e.g. ``block.parameters()``); needed when the inputs
            themselves need no gradient but some parameters inside ``fn`` do.

    Returns:
        ``fn(*inputs)``, differentiable with respect to ``inputs`` and ``params``.

    Example:
        >>> y = checkpoint(lambda t: block(t), x, params=block.parameters())
    """
    params = [p for p in params if p.requires_grad]
    return Checkpoint.apply(*inputs, *params, fn=fn, n=len(inputs))
