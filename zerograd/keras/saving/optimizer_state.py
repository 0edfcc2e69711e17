"""Optimizer state in Keras's layout: ``optimizer/vars`` = iteration, learning_rate, then the slot
variables (SGD momentum; Adam momentum and velocity per weight; ...).

zerograd's optimizers keep PyTorch-style state; the conversions below are exact for a constant
learning rate (Keras's SGD momentum is -lr times PyTorch's buffer, RMSprop's is +lr times it).
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger("zerograd.keras")


def _params(model) -> list:
    return [p for p in model.parameters() if p.requires_grad]


def _scheduled(opt) -> bool:
    return callable(opt.__dict__.get("_lr"))


def _layout(opt) -> list:
    """[(slot name, state key, scale)] in Keras's order; scale converts zerograd -> Keras."""
    from zerograd.keras import optimizers as O

    lr = float(opt.learning_rate)
    name = type(opt).__name__
    if name == "SGD":
        return [("momentum", "momentum_buffer", -lr)] if opt.momentum else []
    if name in ("Adam", "AdamW"):
        return [("momentum", "exp_avg", 1.0), ("velocity", "exp_avg_sq", 1.0)]
    if isinstance(opt, O.RMSprop):
        return [("velocity", "square_avg", 1.0)]
    if isinstance(opt, O.Adagrad):
        return [("accumulator", "sum", 1.0)]
    return None


def _extra_layout(opt) -> list:
    """Slots Keras stores after the interleaved ones, each for every weight in turn."""
    name = type(opt).__name__
    if name in ("Adam", "AdamW") and opt.amsgrad:
        return [("velocity_hat", "max_exp_avg_sq", 1.0)]
    if name == "RMSprop":
        lr = float(opt.learning_rate)
        out = [("momentum", "momentum_buffer", lr)] if opt.momentum else []
        return out + ([("average_gradient", "grad_avg", 1.0)] if opt.centered else [])
    return []


def optimizer_arrays(opt, model) -> list:
    """[(name, array)] of ``opt``'s variables in Keras's order."""
    out = [("iteration", np.asarray(opt.iterations, dtype=np.int64))]
    if not _scheduled(opt):  # Keras keeps a schedule's rate out of the variables
        out.append(("learning_rate", np.asarray(opt.learning_rate, dtype=np.float32)))
    layout = _layout(opt)
    if opt.inner is None or layout is None:
        return out
    params = _params(model)
    state = opt.inner.state

    def value(p, key, scale):
        s = state.get(p, {})
        return (np.asarray(s[key]) * scale if key in s else np.zeros(p.shape)).astype(p.dtype)

    for p in params:
        out += [(slot, value(p, key, scale)) for slot, key, scale in layout]
    for slot, key, scale in _extra_layout(opt):
        out += [(slot, value(p, key, scale)) for p in params]
    return out


def restore_optimizer(opt, model, arrays: list, source: str) -> None:
    """Set ``opt``'s iteration count and slot variables from ``arrays`` (Keras's order)."""
    if not arrays:
        return
    opt.iterations = int(np.asarray(arrays[0]).reshape(-1)[0])
    slots = arrays[1:] if _scheduled(opt) else arrays[2:]
    if not slots:
        return
    layout = _layout(opt)
    if layout is None:
        log.warning(
            "load_model: %s's slot variables in %r are not restored (no mapping for this optimizer)",
            type(opt).__name__,
            source,
        )
        return
    params = _params(model)
    extra = _extra_layout(opt)
    want = len(params) * (len(layout) + len(extra))
    if len(slots) != want:
        raise ValueError(
            f"load_model: {type(opt).__name__} in {source!r} has {len(slots)} slot variables, "
            f"the model's {len(params)} trainable weights need {want}"
        )
    opt.build(model.parameters())
    states = {p: {} for p in params}
    it = iter(slots)
    for p in params:
        for _, key, scale in layout:
            states[p][key] = np.asarray(next(it), dtype=p.dtype) / scale
    for _, key, scale in extra:
        for p in params:
            states[p][key] = np.asarray(next(it), dtype=p.dtype) / scale
    for p in params:
        s = opt.inner.state.setdefault(p, {})
        s.update({k: v.copy() for k, v in states[p].items()})
        s["step"] = opt.iterations
        for k, v in s.items():
            if hasattr(v, "shape") and tuple(v.shape) != tuple(p.shape):
                raise ValueError(
                    f"load_model: slot {k!r} of a weight of shape {p.shape} in {source!r} has shape {v.shape}"
                )
