"""Gradient clipping, in place on ``.grad``."""

from __future__ import annotations

import math

from zerograd import backend
from zerograd.ops import argcheck
from zerograd.tensor import Tensor


def _grads(parameters) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(
    parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    """Scale all gradients together so their joint norm is at most ``max_norm``; returns that norm.

    Example:
        >>> loss.backward(); nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    """
    argcheck.number("clip_grad_norm_", "max_norm", max_norm, 0.0)
    if norm_type == "inf":  # as PyTorch
        norm_type = math.inf
    norm_type = argcheck.number("clip_grad_norm_", "norm_type", norm_type, 0.0, low_open=True)
    grads = _grads(parameters)
    if not grads:
        return Tensor(0.0)
    xp = backend.namespace(grads[0].data)
    if math.isinf(norm_type):
        total = max(float(xp.abs(g.data).max()) if g.size else 0.0 for g in grads)
    else:
        total = sum(
            float((xp.abs(g.data.astype("float64")) ** norm_type).sum()) for g in grads
        ) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} is non-finite ({total})"
        )
    coef = min(max_norm / (total + 1e-6), 1.0)
    if coef < 1.0:
        for g in grads:
            g.data *= coef
    return Tensor(xp.asarray(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clip every gradient element to [-clip_value, clip_value]."""
    argcheck.number("clip_grad_value_", "clip_value", clip_value, 0.0)
    for g in _grads(parameters):
        xp = backend.namespace(g.data)
        xp.clip(g.data, -clip_value, clip_value, out=g.data)
