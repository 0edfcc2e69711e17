"""LoRA (Hu et al., 2021): a frozen Linear plus a trainable low-rank update B @ A, scaled by alpha / r."""

from __future__ import annotations

import logging
import math
from fnmatch import fnmatch

import numpy as np

import zerograd.nn as nn
import zerograd.nn.functional as F
from zerograd import backend, versions
from zerograd.autograd import no_grad
from zerograd.ops import argcheck
from zerograd.tensor import Tensor

logger = logging.getLogger(__name__)


def _check_lora_args(owner: str, r, alpha, dropout) -> None:
    """rank >= 1, alpha > 0, dropout in [0, 1) (1 would zero the adapter's input for good)."""
    argcheck.integer(owner, "r", r, 1)
    argcheck.number(owner, "alpha", alpha, 0.0, low_open=True)
    argcheck.number(owner, "dropout", dropout, 0.0, 1.0, high_open=True)


class LoRALinear(nn.Module):
    """``base(x) + scaling * (dropout(x) @ A.T) @ B.T`` with A (r, in) random and B (out, r) zero,
    so training starts exactly at the base model."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16, dropout: float = 0.0):
        super().__init__()
        _check_lora_args("LoRALinear", r, alpha, dropout)
        if not isinstance(base, nn.Linear):
            raise TypeError(
                f"LoRALinear: base must be an nn.Linear, received {type(base).__name__}"
            )
        self.base = base
        base.requires_grad_(False)
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        dt = base.weight.dtype
        self.lora_A = nn.Parameter(np.empty((r, base.in_features), dt))
        self.lora_B = nn.Parameter(np.zeros((base.out_features, r), dt))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        for p in (self.lora_A, self.lora_B):  # beside the base weight, on its device
            p.data = backend.to_device(p.data, base.weight.device)
        self.lora_dropout = nn.Dropout(dropout)
        self.merged = False

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def forward(self, x: Tensor) -> Tensor:
        y = self.base(x)
        if self.merged:
            return y
        return y + F.linear(F.linear(self.lora_dropout(x), self.lora_A), self.lora_B) * self.scaling

    def merge(self) -> None:
        """Fold the update into the base weight (faster inference; outputs unchanged); a second
        call changes nothing (and logs a warning)."""
        if self.merged:
            logger.warning("LoRALinear.merge: the adapter is already merged; nothing to do")
        else:
            with no_grad():
                self.base.weight.data += self.scaling * (self.lora_B.data @ self.lora_A.data)
            versions.bump(self.base.weight.data)  # a graph that saved the weight sees the change
            self.merged = True

    def unmerge(self) -> None:
        """Subtract the update from the base weight again; on an unmerged adapter it changes
        nothing (and logs a warning)."""
        if not self.merged:
            logger.warning("LoRALinear.unmerge: the adapter is not merged; nothing to do")
        else:
            with no_grad():
                self.base.weight.data -= self.scaling * (self.lora_B.data @ self.lora_A.data)
            versions.bump(self.base.weight.data)
            self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}"


def apply_lora(
    model: nn.Module,
    r: int = 8,
    alpha: float = 16,
    dropout: float = 0.0,
    target_modules=("query", "value"),
) -> nn.Module:
    """Wrap every Linear whose name (or dotted path) matches ``target_modules`` in a LoRALinear and
    freeze everything else; returns the model.

    Example:
        >>> apply_lora(bert, r=8, target_modules=['query', 'value'])
        >>> count_parameters(bert)      # (trainable, total)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"apply_lora: model must be an nn.Module, received {type(model).__name__}")
    _check_lora_args("apply_lora", r, alpha, dropout)
    if isinstance(target_modules, str):
        target_modules = [target_modules]
    if not isinstance(target_modules, (list, tuple)) or not all(
        isinstance(t, str) for t in target_modules
    ):
        raise TypeError(
            "apply_lora: target_modules must be a str or a list of str (names or fnmatch "
            f"patterns), received {target_modules!r}"
        )
    linears = [p for p, m in model.named_modules() if isinstance(m, nn.Linear)]
    adapted = [p for p, m in model.named_modules() if isinstance(m, LoRALinear)]
    model.requires_grad_(False)
    found = 0
    for path, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):  # its base is adapted already: never wrap it twice
            continue
        for name, child in list(module.named_children()):
            full = f"{path}.{name}" if path else name
            if isinstance(child, nn.Linear) and any(
                name == t or fnmatch(full, t) for t in target_modules
            ):
                setattr(module, name, LoRALinear(child, r, alpha, dropout))
                found += 1
    if not found:
        shown = ", ".join(linears[:20]) + (
            f", ... ({len(linears) - 20} more)" if len(linears) > 20 else ""
        )
        again = (
            f"; {len(adapted)} layers already carry LoRA adapters ({', '.join(adapted[:5])}): "
            "apply_lora was called before"
            if adapted
            else ""
        )
        raise ValueError(
            f"apply_lora: no Linear layer matches target_modules={list(target_modules)}; the "
            f"Linear layers are: {shown or 'none'}{again}"
        )
    trainable, total = count_parameters(model)
    logger.info(
        "apply_lora: %d Linear layers adapted; %d of %d parameters trainable (%.2f%%)",
        found,
        trainable,
        total,
        100 * trainable / total,
    )
    return model


def lora_layers(model: nn.Module) -> list:
    """The LoRALinear modules of ``model``, in module order."""
    return [m for m in model.modules() if isinstance(m, LoRALinear)]


def merge(model: nn.Module) -> None:
    """Fold every adapter into its base weight (outputs unchanged; ``unmerge`` undoes it).

    Example:
        >>> merge(model); model.eval()(ids)       # inference without the extra matmuls
    """
    layers = lora_layers(model)
    if not layers:
        raise ValueError(f"merge: {type(model).__name__} has no LoRA layers (call apply_lora)")
    for m in layers:
        m.merge()


def unmerge(model: nn.Module) -> None:
    """Take every merged adapter back out of its base weight (to train or save it again)."""
    layers = lora_layers(model)
    if not layers:
        raise ValueError(f"unmerge: {type(model).__name__} has no LoRA layers (call apply_lora)")
    for m in layers:
        m.unmerge()


def lora_state_dict(model: nn.Module) -> dict:
    """The adapter tensors alone: {'...lora_A': Tensor, '...lora_B': Tensor}."""
    return {k: v for k, v in model.state_dict().items() if ".lora_" in k or k.startswith("lora_")}


def save_lora(model: nn.Module, path) -> None:
    """Write the adapters alone (the ``lora_A``/``lora_B`` tensors) as safetensors, atomically.

    Example:
        >>> save_lora(model, 'adapters.safetensors')
    """
    from zerograd.io import save_safetensors

    state = lora_state_dict(model)
    if not state:
        raise ValueError(f"save_lora: {type(model).__name__} has no LoRA layers (call apply_lora)")
    save_safetensors(state, path, metadata={"format": "zerograd-lora"})


def load_lora(model: nn.Module, path) -> None:
    """Load adapters saved by ``save_lora`` into a model with the same LoRA layers.

    Raises:
        FileFormatError: the file is not a readable safetensors file, or its adapters do not fit
            the model (missing or unexpected tensors, wrong shapes or dtypes), named in the message.

    Example:
        >>> apply_lora(model, r=8); load_lora(model, 'adapters.safetensors')
    """
    from zerograd.io import FileFormatError, load_safetensors

    own = lora_state_dict(model)
    if not own:
        raise ValueError(f"load_lora: {type(model).__name__} has no LoRA layers (call apply_lora)")
    try:
        saved = load_safetensors(path, arrays=True)
    except FileFormatError as e:
        raise FileFormatError(e.path, e.problem, "load_lora") from None

    def short(names, n=12):
        more = f", ... ({len(names) - n} more)" if len(names) > n else ""
        return "[" + ", ".join(map(repr, names[:n])) + more + "]"

    missing = sorted(set(own) - set(saved))
    unexpected = sorted(set(saved) - set(own))
    if missing or unexpected:
        raise FileFormatError(
            path,
            f"adapters do not fit the model (missing {short(missing)}, "
            f"unexpected {short(unexpected)})",
            "load_lora",
        )
    for k, v in saved.items():
        if v.dtype.kind != "f":
            raise FileFormatError(
                path, f"tensor {k!r}: expected floating point, received {v.dtype}", "load_lora"
            )
        if own[k].shape != v.shape:
            raise FileFormatError(
                path,
                f"tensor {k!r}: expected shape {own[k].shape}, received {v.shape}",
                "load_lora",
            )
    merged = [m for m in lora_layers(model) if m.merged]
    for m in merged:  # a merged base weight holds the old update: take it out first
        m.unmerge()
    for k, v in saved.items():
        own[k].copy_(v.astype(own[k].dtype, copy=False))
    for m in merged:
        m.merge()


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return sum(p.size for p in params if p.requires_grad), sum(p.size for p in params)


def freeze(model: nn.Module, patterns=("*",)) -> int:
    """Stop gradients for parameters whose names match any fnmatch pattern; returns how many."""
    return _set(model, patterns, False)


def unfreeze(model: nn.Module, patterns=("*",)) -> int:
    """Let parameters whose names match any fnmatch pattern train again; returns how many.

    Example:
        >>> freeze(model); unfreeze(model, ['classifier.*', 'bert.encoder.layer.5.*'])
    """
    return _set(model, patterns, True)


def _set(model, patterns, flag: bool) -> int:
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    n = 0
    for name, p in model.named_parameters():
        if any(fnmatch(name, pat) for pat in patterns):
            p.requires_grad = flag
            n += 1
    return n


def replace_head(model: nn.Module, name: str, new_head: nn.Module) -> nn.Module:
    """Swap the sub-module at dotted ``name`` (e.g. 'classifier') for ``new_head``."""
    *parents, last = name.split(".")
    owner = model
    for p in parents:
        owner = getattr(owner, p)
    if not isinstance(getattr(owner, last, None), nn.Module):
        raise ValueError(f"replace_head: {type(model).__name__} has no sub-module {name!r}")
    setattr(owner, last, new_head)
    return model
