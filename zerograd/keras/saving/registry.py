"""Custom-object registry: the only names a saved config may resolve to besides built-ins.

Loading never imports a module named in a file: a class or function resolves only if it was
registered with ``register_keras_serializable``, passed as ``custom_objects=``, put in scope with
``custom_object_scope``, or is one of zerograd.keras's own public classes.
"""

from __future__ import annotations

import inspect
import threading

_GLOBAL_OBJECTS: dict = {}  # "package>name" -> object
_GLOBAL_NAMES: dict = {}  # object -> "package>name"
_scope = threading.local()


def get_custom_objects() -> dict:
    """The live global dict of registered objects ('package>name' -> class or function)."""
    return _GLOBAL_OBJECTS


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Decorator registering a class or function under ``'package>name'`` for deserialization.

    Example:
        >>> @register_keras_serializable(package="MyLayers")
        ... class Scale(keras.layers.Layer): ...
    """
    if not isinstance(package, str) or ">" in package:
        raise ValueError(
            f"register_keras_serializable: package must be a string without '>', received {package!r}"
        )

    def decorate(obj):
        key = f"{package}>{name or obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(
                f"register_keras_serializable: class {obj.__name__} must define get_config() "
                "to be serializable"
            )
        _GLOBAL_OBJECTS[key] = obj
        _GLOBAL_NAMES[obj] = key
        return obj

    return decorate


def get_registered_name(obj) -> str:
    """The name ``obj`` is registered under, else its Python name."""
    try:
        return _GLOBAL_NAMES[obj]
    except (KeyError, TypeError):
        return getattr(obj, "__name__", type(obj).__name__)


def _scoped() -> dict:
    merged: dict = {}
    for objects in getattr(_scope, "stack", []):
        merged.update(objects)
    return merged


def get_registered_object(name: str, custom_objects=None, module_objects=None):
    """The object registered (or passed, or in scope) under ``name``; None when there is none."""
    for table in (_scoped(), _GLOBAL_OBJECTS, custom_objects or {}, module_objects or {}):
        if name in table:
            return table[name]
    return None


def lookup_custom(names, custom_objects=None):
    """First of ``names`` found in custom_objects=, the scope, or the global registry."""
    tables = (custom_objects or {}, _scoped(), _GLOBAL_OBJECTS)
    for name in names:
        if not name:
            continue
        for table in tables:
            if name in table:
                return table[name]
    return None


class CustomObjectScope:
    """``with custom_object_scope({'Name': cls}):`` makes the names resolvable while loading."""

    def __init__(self, custom_objects=None):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(
                f"custom_object_scope: expected a dict of name -> object, received {type(custom_objects).__name__}"
            )
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        if not hasattr(_scope, "stack"):
            _scope.stack = []
        _scope.stack.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scope.stack.pop()


custom_object_scope = CustomObjectScope
