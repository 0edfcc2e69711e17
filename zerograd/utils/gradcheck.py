"""Numerical gradient check in float64 by central differences."""

from __future__ import annotations

import numpy as np

from zerograd.tensor import Tensor


class GradcheckError(AssertionError):
    """The analytic and numerical gradients disagree."""


def gradcheck(
    fn, *inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0
) -> bool:
    """Compare the engine's gradients of ``fn(*inputs)`` with central differences.

    The output is reduced to a scalar with fixed random weights, so every output element counts.
    Inputs that require grad are checked; they must be float64.

    Args:
        fn: a function of Tensors returning a Tensor.
        inputs: Tensors (float64, ``requires_grad=True`` for those to check) or other arguments.
    Returns:
        True; raises ``GradcheckError`` naming the op, the input index and the largest error.

    Example:
        >>> x = zg.randn(3, 4, dtype='float64', requires_grad=True)
        >>> zg.utils.gradcheck(lambda t: (t * t).sum(axis=1), x)
        True
    """
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(
            "gradcheck: expected at least one input with requires_grad=True, received none"
        )
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} must be float64 for a precise check, received {inputs[i].dtype}"
            )
    out = fn(*inputs)
    op = type(out.creator).__name__ if out.creator is not None else getattr(fn, "__name__", "fn")
    weights = np.random.default_rng(seed).standard_normal(out.shape)

    def objective() -> float:
        return float((np.asarray(fn(*inputs).numpy(), dtype=np.float64) * weights).sum())

    for i in checked:
        inputs[i].grad = None
    (out * Tensor(weights)).sum().backward()
    for i in checked:
        x = inputs[i]
        analytic = np.zeros(x.shape) if x.grad is None else x.grad.numpy().astype(np.float64)
        numeric = np.zeros(x.shape)
        flat = x.data.reshape(-1)  # a view: perturb in place
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            hi = objective()
            flat[k] = orig - eps
            lo = objective()
            flat[k] = orig
            numeric.reshape(-1)[k] = (hi - lo) / (2 * eps)
        err = np.abs(analytic - numeric)
        bad = err > atol + rtol * np.abs(numeric)
        if bad.any():
            k = int(np.argmax(err - (atol + rtol * np.abs(numeric))))
            where = np.unravel_index(k, x.shape) if x.ndim else ()
            raise GradcheckError(
                f"gradcheck failed for {op}, input {i} (shape {x.shape}): largest error "
                f"{err.max():.3e} at index {tuple(int(w) for w in where)}: analytic "
                f"{analytic.reshape(-1)[k]:.6e}, numerical {numeric.reshape(-1)[k]:.6e}"
            )
        x.grad = None
    return True
