"""``serialize_keras_object`` / ``deserialize_keras_object`` in Keras 3's dict format.

An object becomes ``{"module", "class_name", "config", "registered_name"}``; built-in classes carry
Keras's public module ("keras.layers", "keras.optimizers", ...) so the dicts (and the files written
from them) read the same in real Keras. Deserializing resolves names through the registry and
zerograd.keras's own public classes only: nothing named in a config is imported or executed.
"""

from __future__ import annotations

import inspect
import types

import numpy as np

from zerograd.keras.saving.registry import custom_object_scope, get_registered_name, lookup_custom

PLAIN = (str, int, float, bool)
FUNCTIONAL_MODULE = "keras.src.models.functional"
# Keras public module -> the zerograd.keras module holding the same public names
CATEGORIES = (
    "schedules",
    "layers",
    "initializers",
    "regularizers",
    "constraints",
    "optimizers",
    "losses",
    "metrics",
    "activations",
    "models",
)


def _builtin_tables() -> dict:
    """{category: {public name: object}} for zerograd.keras's own classes and functions."""
    import importlib

    tables = {}
    for cat in CATEGORIES:
        mod = importlib.import_module(f"zerograd.keras.{cat}")
        tables[cat] = {k: v for k, v in vars(mod).items() if not k.startswith("_")}
    from zerograd.keras.models import Model, Sequential

    tables["models"] = {"Sequential": Sequential, "Functional": Model, "Model": Model}
    tables["activations"] = dict(tables["activations"].get("ALL", {}))
    return tables


def _category_of_module(module: str | None) -> str | None:
    """'keras.layers' -> 'layers'; 'keras' -> 'models'; a module outside Keras -> None."""
    if not module or not (module == "keras" or module.startswith("keras.")):
        return None
    parts = module.split(".")
    for cat in CATEGORIES:
        if cat in parts:
            return cat
    return "models" if module == "keras" else None


def _public_module(obj) -> tuple[str | None, str]:
    """Keras's (module, class_name) for a zerograd built-in object, else (None, name)."""
    cls = obj if inspect.isclass(obj) else type(obj)
    mod = cls.__module__ or ""
    if mod.startswith("zerograd.keras."):
        from zerograd.keras.models import Model, Sequential

        if cls is Sequential:
            return "keras", "Sequential"
        if cls is Model:  # Keras writes its Functional class by its private module
            return FUNCTIONAL_MODULE, "Functional"
        cat = mod.split(".")[2]
        if cat == "schedules":
            return "keras.optimizers.schedules", cls.__name__
        if cat in CATEGORIES:
            return f"keras.{cat}", cls.__name__
    return None, cls.__name__


def serialize_keras_object(obj):
    """A JSON-ready dict describing ``obj`` (layer, model, optimizer, loss, metric, initializer,
    regularizer, activation, or plain data), as Keras 3 writes it.

    Example:
        >>> serialize_keras_object(keras.regularizers.L1(0.005))["class_name"]
        'L1'
    """
    if obj is None or isinstance(obj, PLAIN):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        if obj.ndim == 0:
            return obj.item()
        return {
            "class_name": "__numpy__",
            "config": {"value": obj.tolist(), "dtype": str(obj.dtype)},
        }
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.dtype):
        return str(obj)
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)) or (
        callable(obj) and not hasattr(obj, "get_config")
    ):
        return _serialize_function(obj)
    if not hasattr(obj, "get_config"):
        raise TypeError(
            f"serialize_keras_object: cannot serialize {obj!r} of type {type(obj).__name__}: "
            "a class must define get_config()"
        )
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(
            f"serialize_keras_object: {type(obj).__name__}.get_config() must return a dict, "
            f"received {type(config).__name__}"
        )
    module, class_name = _public_module(obj)
    # Keras names its backend-specific optimizer classes (and Functional) by registered_name
    registered = class_name if module in (FUNCTIONAL_MODULE, "keras.optimizers") else None
    if module is None:
        module = type(obj).__module__
        registered = get_registered_name(type(obj))
    out = {
        "module": None if module == "__main__" else module,
        "class_name": class_name,
        "config": serialize_keras_object(config),
        "registered_name": registered,
    }
    from zerograd.keras.saving.compile_config import get_compile_config

    build_config = _build_config(obj)
    if build_config is not None:
        out["build_config"] = build_config
    compile_config = get_compile_config(obj)
    if compile_config is not None:
        out["compile_config"] = compile_config
    return out


def _serialize_function(fn):
    name = getattr(fn, "__name__", None)
    if name == "<lambda>":
        raise ValueError(
            "serialize_keras_object: a lambda cannot be saved (loading never runs code); "
            "use a named function registered with @keras.saving.register_keras_serializable()"
        )
    registered = get_registered_name(fn)
    tables = _builtin_tables()
    for cat in ("activations", "losses"):
        for key, value in tables[cat].items():
            if value is fn and not inspect.isclass(value):  # as Keras 3 writes its own
                return {
                    "module": "builtins",
                    "class_name": "function",
                    "config": key,
                    "registered_name": "function",
                }
    module = getattr(fn, "__module__", None)
    return {
        "module": None if module == "__main__" else module,
        "class_name": "function",
        "config": registered,
        "registered_name": registered,
    }


def _where(custom_objects) -> str:
    passed = sorted(custom_objects) if custom_objects else []
    return (
        f"custom_objects= ({passed or 'none given'}), custom_object_scope, the names registered "
        "with @keras.saving.register_keras_serializable(), and zerograd.keras's built-in objects"
    )


def resolve(class_name, module, registered_name, custom_objects=None, category=None):
    """The class or function a config names, from the registry or the built-ins only."""
    found = lookup_custom([registered_name, class_name], custom_objects)
    if found is not None:
        return found
    cat = category or _category_of_module(module)
    tables = _builtin_tables()
    for c in [cat] if cat else CATEGORIES:
        if class_name in tables.get(c, {}):
            return tables[c][class_name]
    known = sorted(
        {
            k
            for c in ([cat] if cat else CATEGORIES)
            for k, v in tables.get(c, {}).items()
            if inspect.isclass(v)
        }
        | set(custom_objects or {})
    )
    raise ValueError(
        f"deserialize_keras_object: unknown object {class_name!r} (module {module!r}, "
        f"registered_name {registered_name!r}); {_known_text(class_name, known)}; looked in "
        f"{_where(custom_objects)}. Register it with @keras.saving.register_keras_serializable() "
        f"or pass custom_objects={{{class_name!r}: ...}}"
    )


def _known_text(name, known: list, show_all: int = 30) -> str:
    """The known names (or the closest few of many) for an error about an unknown ``name``."""
    import difflib

    if len(known) <= show_all:
        return f"the known names are {known}"
    close = difflib.get_close_matches(str(name), known, n=8, cutoff=0.5)
    if not close:  # case-insensitive prefix: 'dense' -> 'Dense', 'DenseFeatures'
        close = [k for k in known if k.lower().startswith(str(name).lower()[:3])][:8]
    if not close:
        return f"none of the {len(known)} known names is close"
    return f"the closest of the {len(known)} known names are {close}"


def deserialize_keras_object(config, custom_objects=None, safe_mode: bool = True, **kwargs):
    """Rebuild an object from ``serialize_keras_object``'s dict (or a plain value).

    Only registered, passed (``custom_objects=``), scoped or built-in names resolve.

    Example:
        >>> reg = deserialize_keras_object(serialize_keras_object(keras.regularizers.L1(0.01)))
    """
    module_objects = kwargs.pop("module_objects", None)
    if kwargs:
        raise TypeError(f"deserialize_keras_object: unexpected arguments {sorted(kwargs)}")
    if config is None:
        return None
    if isinstance(config, str):
        found = lookup_custom([config], {**(module_objects or {}), **(custom_objects or {})})
        return config if found is None else found
    if isinstance(config, PLAIN):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects) for x in config]
    if not isinstance(config, dict):
        raise TypeError(
            f"deserialize_keras_object: expected a dict, a list or a plain value, received {type(config).__name__}"
        )
    if "class_name" not in config or "config" not in config:
        return {k: deserialize_keras_object(v, custom_objects) for k, v in config.items()}
    class_name, inner = config["class_name"], config["config"]
    special = _special(class_name, inner)
    if special is not _NOT_SPECIAL:
        return special
    if class_name == "function":
        name = inner if isinstance(inner, str) else config.get("registered_name")
        short = name.rsplit(">", 1)[-1] if isinstance(name, str) else None
        found = lookup_custom([config.get("registered_name"), name, short], custom_objects)
        if found is None:
            found = _builtin_function(name, config.get("module"), custom_objects)
        return found
    module, registered = config.get("module"), config.get("registered_name")
    cls = None
    if module_objects and class_name in module_objects:
        cls = lookup_custom([registered, class_name], custom_objects) or module_objects[class_name]
    if cls is None:
        cls = resolve(class_name, module, registered, custom_objects)
    with custom_object_scope(custom_objects or {}):
        obj = instantiate(cls, inner or {}, custom_objects)
    _build_subclassed(obj, config.get("build_config"))
    if "compile_config" in config and hasattr(obj, "compile"):
        from zerograd.keras.saving.compile_config import compile_from_config

        compile_from_config(obj, config["compile_config"], custom_objects)
    return obj


_NOT_SPECIAL = object()


def _build_subclassed(obj, build_config) -> None:
    """A subclassed model's weights exist once it is called: build it on the recorded shape."""
    from zerograd.keras.models import Model, Sequential

    shape = (build_config or {}).get("input_shape")
    if shape is None or not isinstance(obj, Model) or isinstance(obj, Sequential):
        return
    if not obj.__dict__.get("_functional") and not obj.built:
        obj.build(tuple(shape))


def _build_config(obj):
    """Keras's ``build_config`` of a subclassed model whose input shape is known."""
    from zerograd.keras.models import Model

    shape = obj.__dict__.get("_build_input_shape") if isinstance(obj, Model) else None
    return None if shape is None else {"input_shape": list(shape)}


def _special(class_name, inner):
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name in ("__lambda__", "__typespec__"):
        raise ValueError(
            f"deserialize_keras_object: the config holds a {class_name[2:-2]} (Python code); "
            "zerograd never runs code from a saved file (safe_mode=False does not change that): "
            "define it as a registered function"
        )
    if class_name == "__ellipsis__":
        return Ellipsis
    return _NOT_SPECIAL


def _builtin_function(name, module, custom_objects):
    tables = _builtin_tables()
    cat = _category_of_module(module)
    for c in [cat] if cat in ("activations", "losses", "metrics") else ["activations", "losses"]:
        if name in tables[c]:
            return tables[c][name]
    known = sorted(
        {
            k
            for c in ("activations", "losses")
            for k, v in tables[c].items()
            if callable(v) and not inspect.isclass(v)
        }
    )
    raise ValueError(
        f"deserialize_keras_object: unknown function {name!r} (module {module!r}); "
        f"{_known_text(name, known)}; looked in {_where(custom_objects)}"
    )


def instantiate(cls, config: dict, custom_objects=None):
    """``cls.from_config(config)``; for zerograd's built-in classes Keras-only keys holding their
    neutral value (None, False, the default) are dropped and any other unknown key is an error."""
    if not inspect.isclass(cls):
        return cls
    from zerograd.keras.saving.model_config import is_model_class, model_from_keras_config

    if is_model_class(cls):
        return model_from_keras_config(cls, config, custom_objects)
    if not (cls.__module__ or "").startswith("zerograd."):
        kwargs = dict(config)
    else:
        from zerograd.keras.saving.keras_compat import builtin_kwargs

        kwargs = builtin_kwargs(cls, config, custom_objects)
    from_config = getattr(cls, "from_config", None)
    return from_config(kwargs) if from_config is not None else cls(**kwargs)
