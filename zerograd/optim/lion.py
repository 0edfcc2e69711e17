"""Lion (Chen et al., 2023): the sign of an interpolated momentum, with decoupled weight decay."""

from __future__ import annotations

from zerograd import backend
from zerograd.optim.optimizer import Optimizer


class Lion(Optimizer):
    """p -= lr * sign(b1 m + (1 - b1) g); then m = b2 m + (1 - b2) g."""

    def __init__(
        self,
        params,
        lr: float = 1e-4,
        betas=(0.9, 0.99),
        weight_decay: float = 0.0,
        maximize: bool = False,
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=tuple(betas) if isinstance(betas, (list, tuple)) else betas,
                weight_decay=weight_decay,
                maximize=maximize,
            ),
        )

    def update(self, p, g, state, group):
        xp = backend.namespace(p.data)
        if group["maximize"]:
            g = -g
        b1, b2 = group["betas"]
        if not state:
            state["exp_avg"] = xp.zeros_like(p.data)
        m = state["exp_avg"]
        if group["weight_decay"]:
            p.data *= 1 - group["lr"] * group["weight_decay"]
        p.data -= group["lr"] * xp.sign(b1 * m + (1 - b1) * g)
        m *= b2
        m += (1 - b2) * g
