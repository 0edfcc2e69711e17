"""Rotary position embedding (RoPE) as one op: the rotation of (x1, x2) halves by angles whose
cos and sin the caller gives (the Llama family's "rotate half" layout)."""

from __future__ import annotations

from zerograd import kernels
from zerograd.autograd import Function
from zerograd.kernels import rope as rope_kernels
from zerograd.tensor import Tensor


class RotaryEmbedding(Function):
    """y = x * cos + rotate_half(x) * sin, rotate_half(x) = (-x2, x1) for halves x1, x2 of the last
    axis; ``cos``/``sin`` are constants (arrays) broadcastable to x. One op instead of five (two
    slices, a negation, a concat, a multiply-add): the backward is the inverse rotation."""

    cos: object  # an array broadcastable to x, of x's dtype
    sin: object

    def forward(self, x):
        if kernels.usable(x, self.cos, self.sin) and rope_kernels.usable(x, self.cos):
            return rope_kernels.rotate(x, self.cos, self.sin)  # one pass, all cores
        h = x.shape[-1] // 2
        y = x * self.cos
        s = self.sin
        y[..., :h] -= x[..., h:] * s[..., :h]
        y[..., h:] += x[..., :h] * s[..., h:]
        return y

    def backward(self, gy):
        # y1 = x1 c1 - x2 s1, y2 = x2 c2 + x1 s2  =>  gx1 = g1 c1 + g2 s2, gx2 = g2 c2 - g1 s1
        if kernels.usable(gy, self.cos, self.sin) and rope_kernels.usable(gy, self.cos):
            return rope_kernels.rotate(gy, self.cos, self.sin, inverse=True)
        h = gy.shape[-1] // 2
        gs = gy * self.sin
        return gy * self.cos + self.xp.concatenate([gs[..., h:], -gs[..., :h]], axis=-1)


def rotary_embedding(x: Tensor, cos, sin) -> Tensor:
    """Rotate pairs (x[..., i], x[..., i + d/2]) of ``x`` (..., T, d) by the angles whose cosines and
    sines ``cos``, ``sin`` (arrays broadcastable to x, e.g. (B, 1, T, d)) hold.

    Example:
        >>> cos, sin = np.ones((4, 8)), np.zeros((4, 8))       # angle 0: the identity
        >>> rotary_embedding(zg.randn(1, 2, 4, 8), cos, sin).shape
        (1, 2, 4, 8)
    """
    if x.shape[-1] % 2:
        raise ValueError(
            f"rotary_embedding: expected an even last axis (pairs to rotate), received shape "
            f"{x.shape}"
        )
    if cos.shape != sin.shape:
        raise ValueError(
            f"rotary_embedding: expected cos and sin of one shape, received {cos.shape} and "
            f"{sin.shape}"
        )
    if cos.dtype != x.dtype:
        cos, sin = cos.astype(x.dtype), sin.astype(x.dtype)
    return RotaryEmbedding.apply(x, cos=cos, sin=sin)
