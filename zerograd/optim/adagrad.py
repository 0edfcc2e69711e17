"""Adagrad and Adadelta."""

from __future__ import annotations

from zerograd import backend
from zerograd.optim.optimizer import Optimizer


class Adagrad(Optimizer):
    """Per-coordinate steps scaled by the root of the summed squared gradients."""

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        maximize: bool = False,
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                lr_decay=lr_decay,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                eps=eps,
                maximize=maximize,
            ),
        )
        for group in self.param_groups:  # PyTorch creates the state up front
            for p in group["params"]:
                xp = backend.namespace(p.data)
                self.state[p] = dict(
                    step=0, sum=xp.full_like(p.data, group["initial_accumulator_value"])
                )

    def update(self, p, g, state, group):
        xp = backend.namespace(p.data)
        state["step"] += 1
        g = self.coupled_grad(p, g, group)
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        s += g * g
        p.data -= clr * (g / (xp.sqrt(s) + group["eps"]))


class Adadelta(Optimizer):
    """Steps sized by the ratio of running RMS of updates to running RMS of gradients."""

    def __init__(
        self,
        params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        maximize: bool = False,
    ):
        super().__init__(
            params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        )

    def update(self, p, g, state, group):
        xp = backend.namespace(p.data)
        g = self.coupled_grad(p, g, group)
        rho, eps = group["rho"], group["eps"]
        if not state:
            state.update(step=0, square_avg=xp.zeros_like(p.data), acc_delta=xp.zeros_like(p.data))
        state["step"] += 1
        sq, acc = state["square_avg"], state["acc_delta"]
        sq *= rho
        sq += (1 - rho) * (g * g)
        delta = xp.sqrt(acc + eps) / xp.sqrt(sq + eps) * g
        acc *= rho
        acc += (1 - rho) * (delta * delta)
        p.data -= group["lr"] * delta
