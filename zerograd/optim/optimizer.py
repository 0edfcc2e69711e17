"""Optimizer base: parameter groups, per-parameter state keyed by the parameter, state_dict."""

from __future__ import annotations

import copy

from zerograd import backend, versions
from zerograd.autograd import enable_grad, no_grad
from zerograd.optim import _validate
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
        _validate.check_group(type(self).__name__, group)

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
                    elif type(p.data) is not type(_first_array(state, p.data)):
                        _follow(state, p.data)  # the model moved to another device
                    self.update(p, p.grad.data, state, group)
                    versions.bump(p.data)  # a graph that saved p sees the step (as in PyTorch)
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
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}, as PyTorch.

        A copy: moments are new arrays and hyper-parameters (the lr as a scheduler left it, the
        betas) are copied, so later steps do not change it. ``load_state_dict`` restores it
        bitwise; ``zerograd.io.save_checkpoint`` writes it to disk.

        Example:
            >>> sd = opt.state_dict(); opt2.load_state_dict(sd)
        """
        index, groups = {}, []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            hp = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            groups.append({**hp, "params": ids})
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: _copy_value(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict`` returned (moments, step counts, every group's
        hyper-parameters); the parameter groups must have the same sizes as this optimizer's."""
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError(
                f"{name}: expected a dict with 'state' and 'param_groups', received "
                f"{sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__}"
            )
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(s["params"]) for g, s in zip(self.param_groups, groups)
        ):
            raise ValueError(
                f"{name}: the parameter groups do not match this optimizer's: expected sizes "
                f"{[len(g['params']) for g in self.param_groups]}, received "
                f"{[len(s['params']) for s in groups]}"
            )
        params = {}
        for group, saved in zip(self.param_groups, groups):
            for p, i in zip(group["params"], saved["params"]):
                params[int(i)] = p
        new_state = {}
        for i, st in state_dict["state"].items():
            p = params.get(int(i))
            if p is None:
                raise ValueError(f"{name}: state for parameter {i}, which no group holds")
            new_state[p] = {}
            for k, v in st.items():
                if hasattr(v, "dtype") and getattr(v, "ndim", 0):
                    if tuple(v.shape) != tuple(p.shape):
                        raise ValueError(
                            f"{name}: state {k!r} of parameter {i} expected shape "
                            f"{tuple(p.shape)}, received {tuple(v.shape)}"
                        )
                    v = v.astype(p.dtype, copy=False) if v.dtype.kind == "f" else v
                    v = backend.to_device(v, p.device).copy()
                else:
                    v = _copy_value(v)
                new_state[p][k] = v
        new_groups = []
        for group, saved in zip(self.param_groups, groups):
            hp = {
                k: _like(group.get(k), copy.deepcopy(v)) for k, v in saved.items() if k != "params"
            }
            self._check_hyperparameters({**group, **hp})  # a hand-edited or damaged lr, betas
            new_groups.append(hp)
        for group, hp in zip(self.param_groups, new_groups):
            group.update(hp)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in g.items() if k != "params"]
        return "\n".join(lines + [")"])


def _copy_value(v):
    return v.copy() if hasattr(v, "copy") else copy.deepcopy(v)


def _like(current, v):
    """``v`` with the tuples of ``current`` restored (a JSON round trip turns them into lists)."""
    if isinstance(current, tuple) and isinstance(v, list):
        if len(current) == len(v):
            return tuple(_like(c, x) for c, x in zip(current, v))
        return tuple(v)
    if isinstance(current, list) and isinstance(v, list) and len(current) == len(v):
        return [_like(c, x) for c, x in zip(current, v)]
    return v


def _first_array(state: dict, like):
    """The first array in a parameter's state (``like`` when it holds none)."""
    for v in state.values():
        if isinstance(v, backend.np.ndarray) or backend.is_device_array(v):
            return v
    return like


def _follow(state: dict, like) -> None:
    """Move a parameter's state arrays to the device of ``like`` (its data), as the parameter went."""
    device = backend.device_of(like)
    for key, v in state.items():
        is_array = isinstance(v, backend.np.ndarray) or backend.is_device_array(v)
        if is_array and backend.device_of(v) != device:
            state[key] = backend.to_device(v, device)
