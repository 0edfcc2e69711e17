"""Learning-rate schedules (as torch.optim.lr_scheduler), computed in closed form from the epoch."""

from __future__ import annotations

import bisect
import copy
import math

from zerograd.ops import argcheck
from zerograd.optim.optimizer import Optimizer, _like


class LRScheduler:
    """Sets ``group['lr']`` of every parameter group from ``last_epoch`` on each ``step()``."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an Optimizer, received {type(optimizer).__name__}"
            )
        argcheck.integer(type(self).__name__, "last_epoch", last_epoch, -1)
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self.step()

    def lr_at(self, base_lr: float, epoch: int) -> float:
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        return [self.lr_at(b, self.last_epoch) for b in self.base_lrs]

    def step(self, epoch: int | None = None) -> None:
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """The schedule's position and settings as plain values (no optimizer, no functions:
        a LambdaLR's lambdas are rebuilt by its constructor), ready for a checkpoint."""
        return _scheduler_state(self)

    def load_state_dict(self, state_dict: dict) -> None:
        _load_scheduler_state(self, state_dict)


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(epoch) (one function, or one per group)."""

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        n = len(optimizer.param_groups)
        self.lr_lambdas = (
            list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        )
        if len(self.lr_lambdas) != n or not all(callable(f) for f in self.lr_lambdas):
            raise TypeError(
                f"LambdaLR: expected a function or one function per parameter group ({n}), "
                f"received {lr_lambda!r}"
            )
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [b * f(self.last_epoch) for b, f in zip(self.base_lrs, self.lr_lambdas)]


class StepLR(LRScheduler):
    """Multiply by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size = argcheck.integer("StepLR", "step_size", step_size, 1)
        self.gamma = argcheck.number("StepLR", "gamma", gamma, finite=True)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, b, e):
        return b * self.gamma ** (e // self.step_size)


class MultiStepLR(LRScheduler):
    """Multiply by ``gamma`` at each milestone epoch."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
            raise TypeError(
                f"MultiStepLR: expected a list of epochs as milestones, received {milestones!r}"
            )
        ms = [argcheck.integer("MultiStepLR", "milestones", m, 0) for m in milestones]
        self.milestones = sorted(ms)
        self.gamma = argcheck.number("MultiStepLR", "gamma", gamma, finite=True)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, b, e):
        return b * self.gamma ** bisect.bisect_right(self.milestones, e)


class ExponentialLR(LRScheduler):
    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = argcheck.number("ExponentialLR", "gamma", gamma, finite=True)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, b, e):
        return b * self.gamma**e


class CosineAnnealingLR(LRScheduler):
    """eta_min + (base - eta_min) (1 + cos(pi e / T_max)) / 2."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):  # noqa: N803
        self.T_max = argcheck.integer("CosineAnnealingLR", "T_max", T_max, 1)
        self.eta_min = argcheck.number("CosineAnnealingLR", "eta_min", eta_min, finite=True)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, b, e):
        return self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * e / self.T_max)) / 2


class LinearLR(LRScheduler):
    """Scale the lr linearly from start_factor to end_factor over total_iters epochs."""

    def __init__(
        self,
        optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError(
                f"LinearLR: factors must be in (0, 1], received start_factor={start_factor}, end_factor={end_factor}"
            )
        argcheck.integer("LinearLR", "total_iters", total_iters, 1)
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def lr_at(self, b, e):
        t = min(e, self.total_iters) / self.total_iters
        return b * (self.start_factor + (self.end_factor - self.start_factor) * t)


class WarmupCosineLR(LRScheduler):
    """Linear warm-up from 0 to the base lr over ``warmup_steps``, then cosine decay to ``min_lr``
    at ``total_steps`` (and ``min_lr`` after). The usual schedule for training transformers."""

    def __init__(
        self,
        optimizer,
        warmup_steps: int,
        total_steps: int,
        min_lr: float = 0.0,
        last_epoch: int = -1,
    ):
        argcheck.integer("WarmupCosineLR", "warmup_steps", warmup_steps, 0)
        argcheck.integer("WarmupCosineLR", "total_steps", total_steps, 1)
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(
                f"WarmupCosineLR: expected 0 <= warmup_steps < total_steps, received {warmup_steps} and {total_steps}"
            )
        self.warmup_steps, self.total_steps, self.min_lr = warmup_steps, total_steps, min_lr
        super().__init__(optimizer, last_epoch)

    def lr_at(self, b, e):
        if e < self.warmup_steps:
            return b * (e + 1) / self.warmup_steps
        if e >= self.total_steps:
            return self.min_lr
        t = (e - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        return self.min_lr + (b - self.min_lr) * (1 + math.cos(math.pi * t)) / 2


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith, 2018): warm up to ``max_lr`` then anneal far below the start;
    momentum (or Adam's beta1) cycles the other way when ``cycle_momentum``."""

    def __init__(
        self,
        optimizer,
        max_lr,
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum=0.85,
        max_momentum=0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
            argcheck.integer("OneCycleLR", "epochs", epochs, 1)
            argcheck.integer("OneCycleLR", "steps_per_epoch", steps_per_epoch, 1)
            total_steps = epochs * steps_per_epoch
        argcheck.integer("OneCycleLR", "total_steps", total_steps, 1)
        argcheck.number("OneCycleLR", "pct_start", pct_start, 0.0, 1.0, finite=True)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', received {anneal_strategy!r}"
            )
        self.total_steps = total_steps
        n = len(optimizer.param_groups)
        max_lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr] * n
        p = pct_start * total_steps
        if three_phase:
            self.phases = [
                (p - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (2 * p - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self.phases = [
                (p - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        self.anneal = self._cos if anneal_strategy == "cos" else self._linear
        self.cycle_momentum = cycle_momentum
        bms = (
            list(base_momentum) if isinstance(base_momentum, (list, tuple)) else [base_momentum] * n
        )
        mms = list(max_momentum) if isinstance(max_momentum, (list, tuple)) else [max_momentum] * n
        for g, m, bm, mm in zip(optimizer.param_groups, max_lrs, bms, mms):
            g["initial_lr"] = m / div_factor
            g["max_lr"], g["min_lr"] = m, m / div_factor / final_div_factor
            if cycle_momentum:
                if "momentum" not in g and "betas" not in g:
                    raise ValueError(
                        "OneCycleLR: cycle_momentum needs an optimizer with momentum or betas"
                    )
                g["base_momentum"], g["max_momentum"] = bm, mm
                self._set_momentum(g, mm)
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _cos(start, end, pct):
        return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)

    @staticmethod
    def _linear(start, end, pct):
        return (end - start) * pct + start

    @staticmethod
    def _set_momentum(group, m):
        if "betas" in group:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m

    def get_lr(self):
        e = self.last_epoch
        if e > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {e} times, more than total_steps={self.total_steps}"
            )
        lrs = []
        for g in self.optimizer.param_groups:
            start = 0
            for i, (end, lr0, lr1, m0, m1) in enumerate(self.phases):
                if e <= end or i == len(self.phases) - 1:
                    pct = (e - start) / (end - start)
                    lrs.append(self.anneal(g[lr0], g[lr1], pct))
                    if self.cycle_momentum:
                        self._set_momentum(g, self.anneal(g[m0], g[m1], pct))
                    break
                start = end
        return lrs


class SequentialLR(LRScheduler):
    """Hand over from one scheduler to the next at each milestone (the next one starts at epoch 0)."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: expected {len(schedulers) - 1} milestones for {len(schedulers)} schedulers, received {len(milestones)}"
            )
        self.optimizer, self._schedulers, self._milestones = (
            optimizer,
            list(schedulers),
            list(milestones),
        )
        self.last_epoch = last_epoch + 1
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for s in self._schedulers:
            s.last_epoch -= 1
        self._schedulers[0]._initial_step()
        self._last_lr = self._schedulers[0].get_last_lr()

    def step(self, epoch=None) -> None:
        self.last_epoch += 1
        i = bisect.bisect_right(self._milestones, self.last_epoch)
        s = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            s.step(0)
        else:
            s.step()
        self._last_lr = s.get_last_lr()


class ReduceLROnPlateau:
    """Divide the lr by 1/``factor`` when a metric has stopped improving for ``patience`` epochs."""

    def __init__(
        self,
        optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr=0.0,
        eps: float = 1e-8,
    ):
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor should be < 1.0, received {factor}")
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"ReduceLROnPlateau: mode must be 'min'/'max' and threshold_mode 'rel'/'abs', received {mode!r}, {threshold_mode!r}"
            )
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.eps = (
            threshold,
            threshold_mode,
            cooldown,
            eps,
        )
        n = len(optimizer.param_groups)
        self.min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

    def is_better(self, a: float, best: float) -> bool:
        t = self.threshold
        if self.mode == "min":
            return a < best * (1 - t) if self.threshold_mode == "rel" else a < best - t
        return a > best * (1 + t) if self.threshold_mode == "rel" else a > best + t

    def step(self, metrics) -> None:
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for g, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(g["lr"] * self.factor, min_lr)
                if g["lr"] - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return _scheduler_state(self)

    def load_state_dict(self, state_dict: dict) -> None:
        _load_scheduler_state(self, state_dict)


def _is_scheduler(v) -> bool:
    return isinstance(v, (LRScheduler, ReduceLROnPlateau))


def _scheduler_state(sched) -> dict:
    out = {}
    for k, v in sched.__dict__.items():
        if k == "optimizer" or callable(v):
            continue
        if isinstance(v, (list, tuple)) and v and all(_is_scheduler(s) for s in v):
            out[k] = [s.state_dict() for s in v]  # SequentialLR: the schedulers it hands over to
        elif isinstance(v, (list, tuple)) and any(callable(f) for f in v):
            continue  # LambdaLR's functions: set again by the constructor
        else:
            out[k] = copy.deepcopy(v)
    return out


def _load_scheduler_state(sched, state_dict: dict) -> None:
    name = f"{type(sched).__name__}.load_state_dict"
    if not isinstance(state_dict, dict):
        raise TypeError(f"{name}: expected a dict, received {type(state_dict).__name__}")
    # only what state_dict() writes: a damaged or hostile file must not replace the optimizer
    # or the functions (nor add attributes), and nothing changes before everything is checked
    unknown = sorted(set(state_dict) - set(_scheduler_state(sched)), key=str)
    if unknown:
        raise ValueError(f"{name}: unexpected keys {unknown!r:.200} in the state")
    nested = []
    for k, v in state_dict.items():
        current = sched.__dict__.get(k)
        if isinstance(current, list) and current and all(_is_scheduler(s) for s in current):
            if not isinstance(v, list) or len(v) != len(current):
                raise ValueError(
                    f"{name}: expected {len(current)} states for {k!r}, received {v!r:.80}"
                )
            nested += zip(current, v)
    for s, sd in nested:
        s.load_state_dict(sd)
    for k, v in state_dict.items():
        current = sched.__dict__.get(k)
        if not (isinstance(current, list) and current and all(_is_scheduler(s) for s in current)):
            sched.__dict__[k] = _like(current, copy.deepcopy(v))
