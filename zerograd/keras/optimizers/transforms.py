"""What a Keras optimizer does around its update, on backend arrays: gradient clipping (per-variable
norm, global norm or value) and decoupled weight decay."""

from __future__ import annotations

from zerograd import backend


def clip_gradients(grads: list, clipnorm=None, global_clipnorm=None, clipvalue=None) -> list:
    """``grads`` clipped as a Keras optimizer clips them (at most one option is set)."""
    if clipnorm and clipnorm > 0:
        out = []
        for g in grads:
            xp = backend.namespace(g)
            norm = xp.sqrt(xp.sum(g * g))
            out.append((g * clipnorm) / xp.maximum(norm, clipnorm))
        return out
    if global_clipnorm and global_clipnorm > 0:
        xp = backend.namespace(grads[0])
        norm = xp.sqrt(xp.sum(xp.stack([xp.sum(g * g) for g in grads])))
        scale = global_clipnorm * xp.minimum(1.0 / norm, 1.0 / global_clipnorm)
        scale = scale + (norm - norm)  # NaN for a non-finite norm, as Keras
        return [g * scale.astype(g.dtype) for g in grads]
    if clipvalue and clipvalue > 0:
        return [backend.namespace(g).clip(g, -clipvalue, clipvalue) for g in grads]
    return grads


def decay_weights(params: list, lr: float, weight_decay: float) -> None:
    """Decoupled weight decay before the step: ``var *= 1 - weight_decay * lr``, the factor in
    the variable's dtype (as Keras's torch backend computes it)."""
    for p in params:
        xp, dt = backend.namespace(p.data), p.data.dtype
        p.data *= 1 - xp.asarray(lr, dtype=dt) * xp.asarray(weight_decay, dtype=dt)
