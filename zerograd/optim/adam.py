"""Adam (Kingma & Ba, 2015) with AMSGrad, and AdamW (decoupled weight decay)."""

from __future__ import annotations

import math

from zerograd import backend
from zerograd.kernels import cuda as cuda_kernels
from zerograd.optim import _adam_kernel
from zerograd.optim.optimizer import Optimizer


class Adam(Optimizer):
    """Adaptive moments: m and v are running means of g and g^2, bias-corrected.

    Example:
        >>> opt = optim.Adam(model.parameters(), lr=1e-3)
    """

    decoupled = False
    _pending = None  # during step(): the fused updates gathered to run together on all cores

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=tuple(betas) if isinstance(betas, (list, tuple)) else betas,
                eps=eps,
                weight_decay=weight_decay,
                amsgrad=amsgrad,
                maximize=maximize,
            ),
        )

    def step(self, closure=None):
        """One update of every parameter that has a gradient; the fused updates of the
        parameters run together, split between the cores (``_adam_kernel.adam_steps``)."""
        self._pending = []
        try:
            return super().step(closure)
        finally:
            pending, self._pending = self._pending, None
            _adam_kernel.adam_steps(pending)

    def update(self, p, g, state, group):
        xp = backend.namespace(p.data)
        b1, b2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        if not state:
            state.update(step=0, exp_avg=xp.zeros_like(p.data), exp_avg_sq=xp.zeros_like(p.data))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        step_size, bc2_sqrt = lr / (1 - b1**t), math.sqrt(1 - b2**t)
        if group["maximize"]:
            g = -g
        if wd and not self.decoupled:
            g = g + wd * p.data
        decay = 1 - lr * wd if wd and self.decoupled else 1.0
        if not group["amsgrad"] and _adam_kernel.usable(p.data, g, m, v):  # one fused pass
            args = (p.data, g, m, v, b1, b2, step_size, bc2_sqrt, group["eps"], decay)
            if self._pending is not None:  # inside step(): run with the others at its end
                self._pending.append(args)
            else:
                _adam_kernel.adam_step(*args)
            return
        if not group["amsgrad"] and cuda_kernels.usable(p.data, g, m, v):  # the GPU: one pass
            eps = group["eps"]
            cuda_kernels.adam_step(p.data, g, m, v, b1, b2, step_size, bc2_sqrt, eps, decay)
            return
        if decay != 1.0:
            p.data *= decay
        # in place on one scratch buffer: the moments, then the step
        tmp = xp.multiply(g, 1 - b1, out=xp.empty_like(g))  # an array, 0-d included
        m *= b1
        m += tmp
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v *= b2
        v += tmp
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        xp.sqrt(v, out=tmp)
        tmp /= bc2_sqrt
        tmp += group["eps"]
        xp.divide(m, tmp, out=tmp)
        tmp *= step_size
        p.data -= tmp


class AdamW(Adam):
    """Adam with weight decay applied to the weights directly (Loshchilov & Hutter, 2019)."""

    decoupled = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
