"""Containers: Sequential, ModuleList, ModuleDict."""

from __future__ import annotations

from collections import OrderedDict

from zerograd.nn.module import Module


def _index(owner, i, n: int) -> int:
    """A list index into ``n`` modules, with errors naming the container, as PyTorch."""
    if isinstance(i, bool) or not isinstance(i, int):
        raise TypeError(
            f"{type(owner).__name__}: indices must be integers or slices, received "
            f"{type(i).__name__} {i!r}"
        )
    if not -n <= i < n:
        raise IndexError(f"{type(owner).__name__}: index {i} is out of range for {n} modules")
    return i % n


class Sequential(Module):
    """Modules applied in order: ``Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))``."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self._modules)), module)
        return self

    def __getitem__(self, i):
        items = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*items[i])
        return items[_index(self, i, len(items))]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleList(Module):
    """A list of sub-modules whose parameters are registered."""

    def __init__(self, modules=None):
        super().__init__()
        for m in modules or ():
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules) -> ModuleList:
        if (
            not hasattr(modules, "__iter__")
            or isinstance(modules, Module)
            and not isinstance(modules, (ModuleList, Sequential))
        ):
            raise TypeError(
                f"ModuleList.extend: expected an iterable of Modules, received "
                f"{type(modules).__name__}"
            )
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index`` (as list.insert)."""
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"ModuleList.insert: index must be an integer, received {index!r}")
        items = list(self._modules.values())
        index = max(0, min(len(items), index + len(items) if index < 0 else index))
        if not isinstance(module, Module):
            raise TypeError(
                f"ModuleList.insert: expected a Module, received {type(module).__name__}"
            )
        items.insert(index, module)
        for name in list(self._modules):
            delattr(self, name)
        for i, m in enumerate(items):
            self.add_module(str(i), m)

    def __getitem__(self, i):
        items = list(self._modules.values())
        return ModuleList(items[i]) if isinstance(i, slice) else items[_index(self, i, len(items))]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of sub-modules whose parameters are registered."""

    def __init__(self, modules=None):
        super().__init__()
        for name, m in (modules or {}).items():
            self.add_module(name, m)

    def __getitem__(self, name: str) -> Module:
        return self._modules[name]

    def __setitem__(self, name: str, module: Module) -> None:
        self.add_module(name, module)

    def __contains__(self, name: str) -> bool:
        return name in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()
