"""Checks of what a model file holds, before and while a model is rebuilt from it.

``check_model_config`` checks the shape of config.json (the keys and types the rebuild relies
on) and names the first thing wrong; ``file_errors`` is the boundary around the rebuild: an error
raised while rebuilding from a file's contents becomes a ``FileFormatError`` naming the file and
what could not be rebuilt, with the original error kept as its cause.
"""

from __future__ import annotations

import contextlib
import math

from zerograd.io.errors import FileFormatError

# raised by constructors and the rebuild on values of the wrong type or shape from a file;
# MemoryError: a config asking for absurd sizes (a layer of 10**12 units)
REBUILD_ERRORS = (
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    AttributeError,
    RecursionError,
    OverflowError,
    MemoryError,
)
GRAPH_CLASSES = ("Sequential", "Functional", "Model")
# elements one sample of a model's input may have: 2**28 (a 512**3 volume is 2**27). Building a
# model runs its layers on zeros of the input shape, so a file declaring (None, 2**40) would
# allocate terabytes before any weight is read
MAX_INPUT_ELEMENTS = 2**28
SHAPE_KEYS = ("batch_shape", "batch_input_shape", "shape", "build_input_shape", "input_shape")


def _short(value, n: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def _describe(e: BaseException) -> str:
    if isinstance(e, MemoryError):
        return f"it asks for more memory than is available ({type(e).__name__}: {e})"
    if isinstance(e, KeyError) and e.args:
        return f"missing key {e.args[0]!r} (KeyError)"
    return f"{type(e).__name__}: {e}"


@contextlib.contextmanager
def file_errors(path, loader: str, part: str):
    """Turn an error raised while rebuilding from the file's ``part`` into a FileFormatError."""
    try:
        yield
    except FileFormatError:
        raise
    except REBUILD_ERRORS as e:
        raise FileFormatError(path, f"{part}: {_describe(e)}", loader=loader) from e


class _Checker:
    def __init__(self, path, loader: str):
        self.path, self.loader = path, loader

    def fail(self, where: str, expected: str, found) -> FileFormatError:
        return FileFormatError(
            self.path,
            f"config.json: {where} must be {expected}, found {_short(found)}",
            loader=self.loader,
        )

    def dict_(self, value, where: str, keys=()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, "a JSON object", value)
        missing = [k for k in keys if k not in value]
        if missing:
            raise FileFormatError(
                self.path,
                f"config.json: {where} is missing {missing} (it has {_short(sorted(value))})",
                loader=self.loader,
            )
        return value

    def list_(self, value, where: str) -> list:
        if not isinstance(value, list):
            raise self.fail(where, "a JSON list", value)
        return value

    def str_(self, value, where: str, optional: bool = False):
        if not (isinstance(value, str) or (optional and value is None)):
            raise self.fail(where, "a string" + (" or null" if optional else ""), value)
        return value

    def shape(self, value, where: str, batch: bool = True) -> None:
        ok = isinstance(value, list) and all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in value
        )
        if not ok:
            raise self.fail(where, "a shape (a list of non-negative integers or null)", value)
        sample = value[1:] if batch else value
        if math.prod(d or 1 for d in sample) > MAX_INPUT_ELEMENTS:
            raise FileFormatError(
                self.path,
                f"config.json: {where} {value} declares more than {MAX_INPUT_ELEMENTS} elements "
                "per sample; refusing to build it (no real model takes inputs that large)",
                loader=self.loader,
            )

    def input_shapes(self, config) -> None:
        """Every input and build shape anywhere in the config (nested models included)."""
        stack = [(config, "")]
        while stack:
            value, where = stack.pop()
            if isinstance(value, list):
                stack.extend((v, f"{where}[{i}]") for i, v in enumerate(value))
                continue
            if not isinstance(value, dict):
                continue
            if value.get("class_name") == "InputLayer" and isinstance(value.get("config"), dict):
                inner = value["config"]
                for key in ("batch_shape", "batch_input_shape", "shape"):
                    if inner.get(key) is not None:
                        self.shape(inner[key], f"{where}.config.{key}"[1:], key != "shape")
            for key in ("build_input_shape", "input_shape"):
                shape = value.get(key)
                if isinstance(shape, list) and not (shape and isinstance(shape[0], list)):
                    self.shape(shape, f"{where}.{key}"[1:])
            stack.extend((v, f"{where}.{k}") for k, v in value.items() if k not in SHAPE_KEYS)

    def history(self, value, where: str, names: set) -> None:
        ok = (
            isinstance(value, list)
            and len(value) == 3
            and isinstance(value[0], str)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:])
        )
        if not ok:
            raise self.fail(where, "a [layer name, node index, tensor index] triple", value)
        if value[0] not in names:
            raise FileFormatError(
                self.path,
                f"config.json: {where} names layer {value[0]!r}, which is not among the "
                f"model's layers {_short(sorted(names))}",
                loader=self.loader,
            )

    def layer(self, entry, where: str) -> str | None:
        self.dict_(entry, where, ("class_name", "config"))
        self.str_(entry["class_name"], f"{where}.class_name")
        for key in ("module", "registered_name"):
            self.str_(entry.get(key), f"{where}.{key}", optional=True)
        inner = entry["config"]
        if inner is not None and not isinstance(inner, (dict, str)):
            raise self.fail(f"{where}.config", "a JSON object", inner)
        name = entry.get("name", inner.get("name") if isinstance(inner, dict) else None)
        return self.str_(name, f"{where}.name", optional=True)


def check_model_config(config: dict, path, loader: str = "load_model") -> None:
    """Raise FileFormatError naming the first key of a model's config.json that is missing or of
    the wrong type (the top level, the layer list, the functional graph's ends and nodes)."""
    c = _Checker(path, loader)
    c.dict_(config, "the top level", ("class_name", "config"))
    c.input_shapes(config)
    c.str_(config["class_name"], "class_name")
    for key in ("module", "registered_name"):
        c.str_(config.get(key), key, optional=True)
    for key in ("compile_config", "build_config"):
        if config.get(key) is not None:
            c.dict_(config[key], key)
    inner = config["config"]
    graph = config["class_name"] in GRAPH_CLASSES or (isinstance(inner, dict) and "layers" in inner)
    if not graph:
        if inner is not None:
            c.dict_(inner, "config")
        return
    if isinstance(inner, dict) and "nodes" in inner and "input_layers" not in inner:
        return  # zerograd's format before Keras's: checked while it is rebuilt
    inner = c.dict_(inner, "config", ("layers",))
    c.str_(inner.get("name"), "config.name", optional=True)
    names = set()
    for i, entry in enumerate(c.list_(inner["layers"], "config.layers")):
        name = c.layer(entry, f"config.layers[{i}]")
        names.add(name)
        if "inbound_nodes" in entry:
            for j, node in enumerate(c.list_(entry["inbound_nodes"], f"{name}.inbound_nodes")):
                if isinstance(node, dict):  # Keras 3 nodes; older lists are left to the rebuild
                    c.list_(node.get("args", []), f"{name}.inbound_nodes[{j}].args")
                    c.dict_(node.get("kwargs", {}), f"{name}.inbound_nodes[{j}].kwargs")
    if inner.get("build_input_shape") is not None:
        c.shape(inner["build_input_shape"], "config.build_input_shape")
    for key in ("input_layers", "output_layers"):
        if key not in inner:
            continue
        ends = inner[key]
        if isinstance(ends, dict):  # Keras's dict inputs / outputs: {key: triple}
            ends = list(ends.values())
        ends = ends if isinstance(ends, list) and ends and isinstance(ends[0], list) else [ends]
        for k, end in enumerate(ends):
            c.history(end, f"config.{key}[{k}]" if len(ends) > 1 else f"config.{key}", names)
    if config["class_name"] == "Functional" and "input_layers" not in inner:
        raise c.fail("config.input_layers", "present in a Functional model", sorted(inner))
