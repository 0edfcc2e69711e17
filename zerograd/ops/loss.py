"""Losses with ``reduction='mean'|'sum'|'none'``; cross-entropy is one fused, stable op."""

from __future__ import annotations

import numpy as np

from zerograd import backend
from zerograd.amp import autocast_mode as _autocast
from zerograd.autograd import Function
from zerograd.kernels import cuda as cuda_kernels
from zerograd.ops import argcheck
from zerograd.ops.elementwise import abs, clip, exp, float_operand, log, maximum, sqrt, where
from zerograd.ops.index import take_along_axis
from zerograd.ops.reduce import normalize_axis
from zerograd.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, received {reduction!r}")


def _same_shape(a: Tensor, b, op: str) -> Tensor:
    b = b if isinstance(b, Tensor) else Tensor(b)
    if a.shape != b.shape:
        raise ValueError(
            f"{op}: expected target of the input's shape {a.shape}, received shape {b.shape}"
        )
    return b if b.dtype == a.dtype else b.astype(a.dtype)


def _broadcasts(op: str, name: str, t, shape: tuple) -> None:
    """``t`` (weight, pos_weight) must broadcast to the loss's ``shape``, as PyTorch."""
    t_shape = tuple(getattr(t, "shape", ()))
    try:
        ok = np.broadcast_shapes(t_shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{op}: expected {name} broadcastable to the input's shape {shape}, received shape "
            f"{t_shape}"
        )


@_autocast.full_precision
def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error."""
    target = _same_shape(input, target, "mse_loss")
    d = input - target
    return _reduce(d * d, reduction, "mse_loss")


@_autocast.full_precision
def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:  # noqa: A002
    target = _same_shape(input, target, "l1_loss")
    return _reduce(abs(input - target), reduction, "l1_loss")


@_autocast.full_precision
def smooth_l1_loss(input: Tensor, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:  # noqa: A002
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta."""
    argcheck.number("smooth_l1_loss", "beta", beta, 0.0)
    target = _same_shape(input, target, "smooth_l1_loss")
    d = abs(input - target)
    if beta == 0:
        return _reduce(d, reduction, "smooth_l1_loss")
    return _reduce(
        where(d.data < beta, 0.5 * d * d / beta, d - 0.5 * beta), reduction, "smooth_l1_loss"
    )


@_autocast.full_precision
def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:  # noqa: A002
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    argcheck.number("huber_loss", "delta", delta, 0.0, low_open=True)
    target = _same_shape(input, target, "huber_loss")
    d = abs(input - target)
    return _reduce(
        where(d.data < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction, "huber_loss"
    )


@_autocast.full_precision
def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:  # noqa: A002
    """-(y log p + (1 - y) log(1 - p)) on probabilities; logs are clamped at -100 as PyTorch."""
    target = _same_shape(input, target, "binary_cross_entropy")
    if input.size and (input.data.min() < 0 or input.data.max() > 1):
        raise ValueError(
            "binary_cross_entropy: expected input probabilities in [0, 1]; use binary_cross_entropy_with_logits for logits"
        )
    loss = -(
        target * clip(log(input), min=-100.0) + (1 - target) * clip(log(1 - input), min=-100.0)
    )
    if weight is not None:
        _broadcasts("binary_cross_entropy", "weight", weight, input.shape)
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


@_autocast.full_precision
def binary_cross_entropy_with_logits(
    input: Tensor, target, weight=None, reduction: str = "mean", pos_weight=None
) -> Tensor:  # noqa: A002
    """Sigmoid + binary cross-entropy in one stable expression (no overflow for large logits)."""
    op = "binary_cross_entropy_with_logits"
    target = _same_shape(input, target, op)
    for name, t in (("weight", weight), ("pos_weight", pos_weight)):
        if t is not None:
            _broadcasts(op, name, t, input.shape)
    # log(1 + exp(-|x|)) + max(-x, 0) = -log(sigmoid(x)), computed without overflow
    log_sig_neg = log(1 + exp(-abs(input))) + maximum(-input, 0.0)
    if pos_weight is None:
        loss = (1 - target) * input + log_sig_neg
    else:
        coef = 1 + (pos_weight - 1) * target
        loss = (1 - target) * input + coef * log_sig_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def target_on(x: Tensor, target, op: str):
    """The target's array on the input's device: host arrays and lists are moved there; a Tensor
    or an array on another device is an error naming both (as PyTorch's)."""
    if isinstance(target, Tensor):
        if target.device != x.device:  # a Tensor is not moved behind its owner's back
            raise backend.DeviceMismatchError(
                f"{op}: the target is on {target.device} and the input on {x.device}; move the "
                "target to the input's device"
            )
        return target.data
    t = target if backend.is_device_array(target) else np.asarray(target)
    return backend.moved_to(t, x.device, op, "target", "the input")


class SoftmaxCrossEntropy(Function):
    """Per-row loss -sum_c a[i, c] log softmax(x)[i, c] for a fixed coefficient matrix ``a``.

    Class-index targets, probability targets, class weights and label smoothing all reduce to a
    choice of ``a``; the gradient is softmax(x) * sum_c a[i, c] - a[i, c]. For class indices ``a``
    is never built: it is ``wy`` at column ``idx`` of each row plus, with label smoothing, the outer
    product ``srow`` x ``scol`` (a vocabulary-sized one-hot matrix would cost as much memory as the
    logits). Probability targets give ``a`` as ``coef``.
    """

    idx: object  # class index per row
    wy: object  # weight of the target class per row
    srow: object = None  # label smoothing: per-row factor
    scol: object = None  # label smoothing: per-class factor

    coef = None
    lse: object  # set by forward: the log-sum-exp of each row, for the backward

    def forward(self, x):
        self.save_for_backward(x)
        xp = self.xp
        if cuda_kernels.usable(x):  # the GPU: no exponential of the logits kept in memory
            lse = cuda_kernels.logsumexp_rows(x)
        else:
            m = x.max(axis=1, keepdims=True)
            e = xp.exp(x - m)
            lse = m[:, 0] + xp.log(e.sum(axis=1))
        self.lse = lse
        if self.coef is not None:
            return -(self.coef * (x - lse[:, None])).sum(axis=1)
        rows = xp.arange(x.shape[0])
        loss = -self.wy * (x[rows, self.idx] - lse)
        if self.srow is not None:
            loss -= self.srow * (x @ self.scol - lse * self.scol.sum())
        return loss

    def _dense(self, n_cls):
        if self.coef is not None:
            return self.coef
        xp = backend.namespace(self.wy)
        a = xp.zeros((self.idx.size, n_cls), dtype=self.wy.dtype)
        a[xp.arange(self.idx.size), self.idx] = self.wy
        if self.srow is not None:
            a += self.srow[:, None] * self.scol
        return a

    def _row_totals(self):
        if self.coef is not None:
            return self.coef.sum(axis=1)
        total = self.wy
        if self.srow is not None:
            total = total + self.srow * self.scol.sum()
        return total

    def backward(self, gy):
        (x,) = self.saved
        xp = self.xp
        if self.recording:  # softmax as an op of x, so the gradient is differentiable again
            p = xp.exp(x - x.logsumexp(axis=1, keepdims=True))
            p *= (gy * self._row_totals())[:, None]  # a new Tensor
        elif cuda_kernels.usable(x, self.lse):  # the exponential and the scaling in one pass
            k = gy * self._row_totals()
            p = cuda_kernels.exp_shift_scale(x, self.lse, k.astype(x.dtype, copy=False))
        else:  # from the saved log-sum-exp: one pass, in place below
            p = xp.exp(x - self.lse[:, None])
            p *= (gy * self._row_totals())[:, None]
        if self.coef is not None or self.recording:
            return p - gy[:, None] * self._dense(x.shape[1])
        p[xp.arange(p.shape[0]), self.idx] -= gy * self.wy  # the targets, without a dense matrix
        if self.srow is not None:
            p -= (gy * self.srow)[:, None] * self.scol
        return p


def _classes_last(x: Tensor) -> Tensor:
    """(N, C, d1, ...) -> (N * d1 * ..., C)."""
    if x.ndim == 2:
        return x
    axes = (0, *range(2, x.ndim), 1)
    return x.transpose(axes).reshape((-1, x.shape[1]))


@_autocast.full_precision
def cross_entropy(
    input: Tensor,
    target,
    weight=None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:  # noqa: A002
    """Softmax cross-entropy on logits, as PyTorch: classes on axis 1.

    ``target`` holds class indices of shape (N,) / (N, d1, ...) or class probabilities of the input's
    shape. Stable for any logits (log-softmax is shifted by the row max).

    Example:
        >>> F.cross_entropy(zg.tensor([[2.0, 0.5, -1.0]]), zg.tensor([0]))
    """
    _check_reduction(reduction, "cross_entropy")
    argcheck.number("cross_entropy", "label_smoothing", label_smoothing, 0.0, 1.0)
    x = float_operand(input)
    if x.ndim == 0:
        raise ValueError("cross_entropy: expected input of shape (N, C, ...) or (C,), received ()")
    if x.ndim == 1:
        x = x.reshape((1, -1))
        target = (
            target.reshape((1, *target.shape[1:]))
            if isinstance(target, Tensor) and target.ndim == 1 and target.dtype.kind == "f"
            else target
        )
        target = (
            (target if isinstance(target, Tensor) else Tensor(target, device=x.device)).reshape(
                (-1,)
            )
            if not (isinstance(target, Tensor) and target.dtype.kind == "f")
            else target
        )
    n_cls = x.shape[1]
    t = target_on(x, target, "cross_entropy")
    xp = x.xp
    w = (
        None
        if weight is None
        else (weight.data if isinstance(weight, Tensor) else xp.asarray(weight)).astype(x.dtype)
    )
    if w is not None and w.shape != (n_cls,):
        raise ValueError(f"cross_entropy: expected weight of shape ({n_cls},), received {w.shape}")
    eps = label_smoothing
    if t.dtype.kind == "f":  # class probabilities
        if t.shape == (x.shape[0], *x.shape[2:]) and t.shape != tuple(x.shape):
            raise TypeError(
                f"cross_entropy: expected integer class indices of shape {t.shape}, received "
                f"dtype {t.dtype} (or probability targets of the input's shape {x.shape})"
            )
        if t.shape != tuple(x.shape):
            raise ValueError(
                f"cross_entropy: probability targets must have the input's shape {x.shape}, received {t.shape}"
            )
        coef = _classes_last(Tensor._make(t.astype(x.dtype))).data
        if eps:
            coef = coef * (1 - eps) + eps / n_cls
        if w is not None:
            coef = coef * w
        denom = coef.shape[0]
        loss = SoftmaxCrossEntropy.apply(_classes_last(x), coef=coef)
    else:
        idx, valid = _class_targets(t, tuple(x.shape), n_cls, ignore_index, "cross_entropy")
        safe = xp.where(valid, idx, 0)
        wy = (w[safe] if w is not None else xp.ones(idx.shape, x.dtype)) * valid
        denom = wy.sum()
        srow = scol = None
        if eps:
            srow = (eps / n_cls) * valid.astype(x.dtype)
            scol = w if w is not None else xp.ones(n_cls, x.dtype)
        loss = SoftmaxCrossEntropy.apply(
            _classes_last(x), idx=safe, wy=((1 - eps) * wy).astype(x.dtype), srow=srow, scol=scol
        )
    if reduction == "mean":
        return loss.sum() / Tensor._make(xp.asarray(denom, dtype=x.dtype))
    if reduction == "none":
        return loss.reshape((input.shape[0], *input.shape[2:]) if input.ndim > 1 else ())
    return _reduce(loss, reduction, "cross_entropy")


def _class_targets(t, x_shape: tuple, n_cls: int, ignore_index: int, op: str):
    """Checks class-index targets (integers of shape (N, d1, ...), each in [0, C) or
    ``ignore_index``) and returns them flat as int64 with the mask of those not ignored."""
    argcheck.integer(op, "ignore_index", ignore_index)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer class indices as target, received dtype {t.dtype}")
    expected = (x_shape[0], *x_shape[2:])
    if t.shape != expected:
        raise ValueError(
            f"{op}: expected class-index target of shape {expected} for input of shape "
            f"{x_shape}, received {t.shape}"
        )
    idx = t.reshape(-1).astype(np.int64)
    valid = idx != ignore_index
    kept = idx[valid]
    if kept.size:  # one vectorised min/max over the labels
        lo, hi = int(kept.min()), int(kept.max())
        if lo < 0 or hi >= n_cls:
            raise ValueError(
                f"{op}: class indices must be in [0, {n_cls}) or ignore_index="
                f"{ignore_index}, received min {lo} max {hi}"
            )
    return idx, valid


def _check_reduction(reduction, op: str, options=REDUCTIONS) -> None:
    if not isinstance(reduction, str) or reduction not in options:
        raise ValueError(f"{op}: reduction must be one of {options}, received {reduction!r}")


@_autocast.full_precision
def nll_loss(
    input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:  # noqa: A002
    """Negative log-likelihood of log-probabilities (N, C, ...) at class indices (N, ...)."""
    _check_reduction(reduction, "nll_loss")
    t = target_on(input, target, "nll_loss")
    if input.ndim == 1:  # one sample (C,) with a scalar target, as PyTorch
        input, t = input.reshape((1, -1)), t.reshape((1,)) if t.ndim == 0 else t
    if input.ndim < 2:
        raise ValueError(f"nll_loss: expected input of shape (N, C, ...), received {input.shape}")
    n_cls = input.shape[1]
    idx, valid = _class_targets(t, tuple(input.shape), n_cls, ignore_index, "nll_loss")
    logp = _classes_last(input)
    safe = logp.xp.where(valid, idx, 0)
    w = (
        logp.xp.ones(n_cls, input.dtype)
        if weight is None
        else (weight.data if isinstance(weight, Tensor) else np.asarray(weight)).astype(input.dtype)
    )
    if w.shape != (n_cls,):
        raise ValueError(f"nll_loss: expected weight of shape ({n_cls},), received {w.shape}")
    wy = Tensor._make((w[safe] * valid).astype(input.dtype))
    picked = take_along_axis(logp, safe[:, None], 1).reshape((-1,))
    loss = -picked * wy
    if reduction == "mean":
        return loss.sum() / wy.sum()
    if reduction == "none":
        return loss.reshape(t.shape)
    return _reduce(loss, reduction, "nll_loss")


@_autocast.full_precision
def kl_div(input: Tensor, target, reduction: str = "mean", log_target: bool = False) -> Tensor:  # noqa: A002
    """KL(target || exp(input)) pointwise, with ``input`` log-probabilities (as PyTorch)."""
    target = _same_shape(input, target, "kl_div")
    if argcheck.flag("kl_div", "log_target", log_target):
        loss = exp(target) * (target - input)
    else:
        safe = where(target.data > 0, target, 1.0)
        loss = where(target.data > 0, target * (log(safe) - input), 0.0)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0]
    return _reduce(loss, reduction, "kl_div")


@_autocast.full_precision
def cosine_similarity(x1: Tensor, x2: Tensor, axis: int = 1, eps: float = 1e-8) -> Tensor:
    """x1 . x2 / max(||x1|| ||x2||, eps) along ``axis``."""
    op = "cosine_similarity"
    try:
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise ValueError(
            f"{op}: expected x1 and x2 of broadcastable shapes, received {x1.shape} and {x2.shape}"
        ) from None
    (axis,) = normalize_axis(axis, len(shape), op)
    w12 = (x1 * x2).sum(axis=axis)
    w1, w2 = (x1 * x1).sum(axis=axis), (x2 * x2).sum(axis=axis)
    return w12 / sqrt(maximum(w1 * w2, eps * eps))
