"""Module: the base of every layer and model."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import NamedTuple

from zerograd import backend
from zerograd.nn.parameter import Parameter
from zerograd.tensor import Tensor


class IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


class Module:
    """Base class of layers and models: holds Parameters, buffers and sub-modules.

    Assigning a ``Parameter`` or a ``Module`` as an attribute registers it; ``forward`` says what the
    module computes and calling the module runs it.

    Example:
        >>> class Affine(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.w = nn.Parameter(zg.ones(3))
        ...     def forward(self, x):
        ...         return x * self.w
        >>> Affine()(zg.ones(2, 3)).shape
        (2, 3)
    """

    training: bool

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = []

    # --- registration --------------------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        params, modules, buffers = d["_parameters"], d["_modules"], d["_buffers"]
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        else:
            for registry, kind, ok in (
                (params, "parameter", value is None),
                (modules, "sub-module", value is None),
                (buffers, "buffer", value is None or isinstance(value, Tensor)),
            ):
                if name in registry:
                    if not ok:
                        raise TypeError(
                            f"{type(self).__name__}: cannot assign {type(value).__name__} as {kind} "
                            f"'{name}' (expected a {kind} or None)"
                        )
                    registry[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_modules", "_buffers"):
            self.__dict__[registry].pop(name, None)
        object.__delattr__(self, name)

    def _check_name(self, method: str, name, kind: str) -> None:
        """A registry name: a non-empty str without '.', not an attribute of another kind."""
        where = f"{type(self).__name__}.{method}"
        if not isinstance(name, str):
            raise TypeError(f"{where}: name must be a str, received {type(name).__name__}")
        if not name or "." in name:
            raise ValueError(
                f"{where}: name must be a non-empty str without '.', received {name!r}"
            )
        d = self.__dict__
        known = name in d["_parameters"] or name in d["_buffers"] or name in d["_modules"]
        if not known and getattr(self, name, None) is not None:  # a None slot may be registered
            raise ValueError(f"{where}: attribute {name!r} already exists (not a {kind})")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or an absent ``None`` slot, as a bias-free layer has)."""
        self._check_name("register_parameter", name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"{type(self).__name__}.register_parameter: expected a Parameter or None for "
                f"{name!r}, received {type(param).__name__}; wrap it in nn.Parameter"
            )
        if param is None:
            self._parameters[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A non-trainable tensor saved in ``state_dict`` (running statistics, masks)."""
        self._check_name("register_buffer", name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"{type(self).__name__}.register_buffer: expected a Tensor or None for {name!r}, "
                f"received {type(tensor).__name__}"
            )
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        self._check_name("add_module", name, "sub-module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(
                f"{type(self).__name__}.add_module: expected a Module for {name!r}, received "
                f"{type(module).__name__}"
            )
        self._modules[name] = module
        object.__setattr__(self, name, module)

    # --- calling -------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        for hook in self._forward_hooks:
            result = hook(self, args, out)
            out = out if result is None else result
        return out

    def register_forward_hook(self, hook) -> None:
        """``hook(module, inputs, output)`` runs after forward; a non-None return replaces output."""
        self._forward_hooks.append(hook)

    # --- traversal -----------------------------------------------------------------------------
    def named_modules(self, prefix: str = "", memo=None) -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(name, parameter) pairs, each parameter once even when shared."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, m in modules:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, m in modules:
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # --- modes and bulk changes ----------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise TypeError(
                f"{type(self).__name__}.train: mode must be True or False, received {mode!r}"
            )
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.data[...] = 0

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze (True) every parameter."""
        if not isinstance(requires_grad, (bool, backend.np.bool_)):
            raise TypeError(
                f"{type(self).__name__}.requires_grad_: requires_grad must be True or False, "
                f"received {requires_grad!r}"
            )
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def apply(self, fn) -> Module:
        """Call ``fn(module)`` on every sub-module, children first, then self."""
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}.apply: fn must be callable, received {fn!r}")
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, device=None, dtype=None) -> Module:
        """Move parameters and buffers in place to ``device`` and/or cast floats to ``dtype``."""
        dtype = backend.as_dtype(dtype)
        if dtype is not None and dtype.kind != "f":  # as PyTorch: integer parameters cannot learn
            raise TypeError(
                f"{type(self).__name__}.to: dtype must be a floating-point dtype, received {dtype}"
            )
        for t in list(self.parameters()) + list(self.buffers()):
            if t.data is None:
                continue
            if dtype is not None and t.dtype.kind == "f":
                t.data = t.data.astype(dtype)
            if device is not None:
                t.data = backend.to_device(t.data, backend.normalize_device(device))
            if t.grad is not None:
                t.grad = Tensor._make(backend.to_device(t.grad.data.astype(t.dtype), t.device))
        return self

    def float(self) -> Module:
        return self.to(dtype="float32")

    def double(self) -> Module:
        return self.to(dtype="float64")

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self) -> Module:
        return self.to("cuda")

    # --- state ---------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict:
        """Parameters and persistent buffers by dotted name (tensors share memory with the module)."""
        out = OrderedDict()
        for mod_name, m in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name, p in m._parameters.items():
                if p is not None:
                    out[pre + name] = p
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[pre + name] = b
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values into parameters and buffers; with ``strict``, any mismatch is one error.

        Values may be Tensors or arrays (NumPy, or anything with ``__array__``). Mismatched shapes
        are always an error; missing and unexpected keys are errors when ``strict``.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not (hasattr(state_dict, "keys") and hasattr(state_dict, "__getitem__")):
            raise TypeError(f"{where}: expected a dict, received {type(state_dict).__name__}")
        if not isinstance(strict, (bool, backend.np.bool_)):
            raise TypeError(f"{where}: strict must be True or False, received {strict!r}")
        for k in state_dict.keys():
            v = state_dict[k]
            if not (hasattr(v, "shape") and (isinstance(v, Tensor) or hasattr(v, "__array__"))):
                raise TypeError(
                    f"{where}: expected a Tensor or array for {k!r}, received {type(v).__name__}"
                )
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        for k, t in own.items():
            if k in state_dict:
                v = state_dict[k]
                shape = tuple(v.shape) if hasattr(v, "shape") else ()
                if t.data is not None and shape != tuple(t.shape):
                    mismatched.append(f"{k}: expected shape {tuple(t.shape)}, received {shape}")
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatches: " + "; ".join(mismatched))
        if problems:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: " + "\n  ".join(["", *problems]).lstrip()
            )
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            array = v.data if isinstance(v, Tensor) else v
            if t.data is None:  # lazy parameter: take the loaded shape
                t.data = _as_array(array).copy()
            else:
                t.copy_(_as_array(array).astype(t.dtype, copy=False))
        return IncompatibleKeys(missing, unexpected)

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(
            p.size
            for p in self.parameters()
            if p.data is not None and (p.requires_grad or not trainable_only)
        )

    # --- printing ------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"


def _as_array(v):
    """NumPy/CuPy arrays pass through; anything else array-like becomes a NumPy array."""
    return v if hasattr(v, "dtype") and hasattr(v, "astype") else backend.np.asarray(v)
