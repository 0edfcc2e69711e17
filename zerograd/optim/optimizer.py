"""Optimizer base: parameter groups, per-parameter state keyed by the parameter, state_dict."""

from __future__ import annotations

import copy

from zerograd import backend
from zerograd.autograd import enable_grad, no_grad
from zerograd.tensor import Tensor


class Optimizer:
    """Base of all optimizers. Subclasses set ``defaults`` and write ``update(p, g, state, group)``,
    which changes ``p.data`` in place from the gradient array ``g``."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, received a Tensor"
            )
        params = list(params)
        if not params:
            raise ValueError(f"{name}: received an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    def _check_hyperparameters(self, group: dict) -> None:
        name = type(self).__name__
        if group.get("lr", 0) < 0:
            raise ValueError(f"{name}: expected lr >= 0, received {group['lr']}")
        if group.get("eps", 0) < 0:
            raise ValueError(f"{name}: expected eps >= 0, received {group['eps']}")
        if group.get("weight_decay", 0) < 0:
            raise ValueError(
                f"{name}: expected weight_decay >= 0, received {group['weight_decay']}"
            )
        for i, b in enumerate(group.get("betas", ())):
            if not 0 <= b < 1:
                raise ValueError(f"{name}: expected betas[{i}] in [0, 1), received {b}")

    def add_param_group(self, group: dict) -> None:
        """Add a dict with 'params' and optional per-group hyper-parameters."""
        name = type(self).__name__
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: expected parameters to be Tensors, received {type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        full = {**self.defaults, **group, "params": params}
        self._check_hyperparameters(full)
        self.param_groups.append(full)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data[...] = 0

    def step(self, closure=None):
        """One update of every parameter that has a gradient; ``closure`` re-evaluates the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = {}
                    self.update(p, p.grad.data, state, group)
        return loss

    def update(self, p: Tensor, g, state: dict, group: dict) -> None:
        raise NotImplementedError

    @staticmethod
    def coupled_grad(p: Tensor, g, group: dict):
        """The gradient to follow: negated with ``maximize``, plus L2 weight decay (coupled, as
        PyTorch's SGD, Adam, RMSprop, Adagrad and Adadelta apply it)."""
        if group.get("maximize"):
            g = -g
        if group.get("weight_decay"):
            g = g + group["weight_decay"] * p.data
        return g

    # --- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}, as PyTorch."""
        index, groups = {}, []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: (v.copy() if hasattr(v, "copy") else v) for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        name = type(self).__name__
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(s["params"]) for g, s in zip(self.param_groups, groups)
        ):
            raise ValueError(
                f"{name}.load_state_dict: the parameter groups do not match this optimizer's"
            )
        params = {}
        for group, saved in zip(self.param_groups, groups):
            for p, i in zip(group["params"], saved["params"]):
                params[i] = p
            for k, v in saved.items():
                if k != "params":
                    group[k] = copy.deepcopy(v)
        self.state = {}
        for i, st in state_dict["state"].items():
            p = params[int(i)]
            self.state[p] = {
                k: (
                    backend.to_device(
                        v.astype(p.dtype) if v.dtype.kind == "f" else v, p.device
                    ).copy()
                    if hasattr(v, "dtype") and getattr(v, "ndim", 0)
                    else v
                )
                for k, v in st.items()
            }

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in g.items() if k != "params"]
        return "\n".join(lines + [")"])
