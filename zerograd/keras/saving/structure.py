"""Weights keyed by the model's structure, as Keras 3 does: ``layers/dense_1/vars/0``.

A layer's place in its model (its class within the layer list, or its attribute name) names its
weights, never its global unique name, so two identical models built in one process exchange
weights. Layers whose Keras twin keeps weights in sub-layers zerograd does not have (attention projections)
are mapped onto those paths here.
"""

from __future__ import annotations

import re

from zerograd.keras.base import Layer


def keras_snake(name: str) -> str:
    """Keras's snake case of a class name: 'MaxPooling2D' -> 'max_pooling2d'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _class_key(layer) -> str:
    from zerograd.keras.models import Model, Sequential

    if type(layer) is Model:
        return "functional" if layer.__dict__.get("_functional") else "model"
    if type(layer) is Sequential:
        return "sequential"
    return keras_snake(type(layer).__name__)


def _own(layer, names) -> list:
    return [getattr(layer, n) for n in names if getattr(layer, n, None) is not None]


def _special(layer, path):
    """Keras layouts of layers whose weights live in sub-layers; None for the generic rule."""
    from zerograd.keras.layers import MultiHeadAttention

    if isinstance(layer, MultiHeadAttention) and "query_kernel" in layer._parameters:
        out = [(f"{path}/vars", layer.name, [])]
        for part, keras_name in (
            ("query", "query"),
            ("key", "key"),
            ("gate", "gate"),  # only with use_gate=True; Keras files it as "_gate_dense"
            ("value", "value"),
            ("output", "attention_output"),
        ):
            if part == "gate" and not getattr(layer, "use_gate", False):
                continue
            ws = _own(layer, (f"{part}_kernel", f"{part}_bias"))
            group = "_gate_dense" if part == "gate" else f"{part}_dense"
            out.append((f"{path}/{group}/vars", keras_name, ws))
        return out
    return None


def _direct_params(layer) -> list:
    """The layer's own weights as Keras orders them: declared-trainable ones first, each group
    in creation order (``add_weight``'s record), then any other parameter."""
    own = [p for p in layer._parameters.values() if p is not None]
    ids = {id(p) for p in own}
    tracked = [v for v in layer.__dict__.get("_tracked_weights", ()) if id(v) in ids]
    ordered = [v for v in tracked if getattr(v, "declared_trainable", True)]
    ordered += [v for v in tracked if not getattr(v, "declared_trainable", True)]
    done = {id(v) for v in ordered}
    return ordered + [p for p in own if id(p) not in done]


def _name_key(name: str) -> str:
    return f"~{name}" if name.startswith("_") else name


def layer_entries(layer, path: str, seen: set) -> list:
    """[(group path, layer name, [parameters])] for ``layer`` and everything inside it."""
    if id(layer) in seen:
        return []
    seen.add(id(layer))
    special = _special(layer, path)
    if special is not None:
        return special
    from zerograd.keras.models import Model

    join = (lambda a, b: f"{a}/{b}") if path else (lambda a, b: b)
    entries = [(join(path, "vars"), layer.name, _direct_params(layer))]
    children = [(k, m) for k, m in layer._modules.items() if isinstance(m, Layer)]
    if isinstance(layer, Model) and (
        layer.__dict__.get("_functional") or type(layer).__name__ == "Sequential"
    ):
        entries += _container(layer.layers, join(path, "layers"), seen)
        return entries
    if isinstance(layer, Model):  # subclassed: attributes before 'layers' by name, then the list
        early = sorted((k for k, _ in children if _name_key(k) < "layers"), key=_name_key)
        for key in early:
            entries += layer_entries(layer._modules[key], join(path, key), seen)
        entries += _container([m for _, m in children], join(path, "layers"), seen)
        return entries
    for key, child in sorted(children, key=lambda kv: _name_key(kv[0])):
        entries += layer_entries(child, join(path, key), seen)
    return entries


def _container(layers, path: str, seen: set) -> list:
    used: dict = {}
    entries = []
    for layer in layers:
        base = _class_key(layer)
        used[base] = used.get(base, -1) + 1
        name = base if used[base] == 0 else f"{base}_{used[base]}"
        entries += layer_entries(layer, f"{path}/{name}", seen)
    return entries


def model_entries(model) -> list:
    """Every weight group of ``model``: [(path, layer name, [parameters])]."""
    return layer_entries(model, "", set())


def weights_by_path(model) -> dict:
    """{'layers/dense/vars/0': parameter, ...} for every weight of ``model``."""
    out = {}
    for group, _, params in model_entries(model):
        for i, p in enumerate(params):
            out[f"{group}/{i}"] = p
    return out


def assign(
    model, arrays: dict, source: str, skip_optimizer: bool = True, loader: str = "load_weights"
) -> None:
    """Copy ``arrays`` ({path: array}) into ``model``'s weights; every mismatch reported at once
    as a FileFormatError naming ``source`` (an unbuilt model is a ValueError saying so)."""
    import numpy as np

    from zerograd.io.errors import FileFormatError

    want = weights_by_path(model)
    have = {k: v for k, v in arrays.items() if not (skip_optimizer and k.startswith("optimizer/"))}
    if not want and have:
        raise ValueError(
            f"{loader}: model '{model.name}' has no weights yet (it is not built) but "
            f"{source!r} holds {len(have)}; call the model on a batch, or build(input_shape), first"
        )
    missing = sorted(set(want) - set(have))
    unexpected = sorted(set(have) - set(want))
    wrong = [
        f"{k}: expected {tuple(want[k].shape)}, file has {tuple(np.shape(have[k]))}"
        for k in sorted(set(want) & set(have))
        if tuple(want[k].shape) != tuple(np.shape(have[k]))
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing from the file: {missing}")
        if unexpected:
            parts.append(f"in the file but not in the model: {unexpected}")
        if wrong:
            parts.append(f"shape mismatches: {wrong}")
        raise FileFormatError(
            source,
            f"the weights do not match model '{model.name}' ({type(model).__name__}): "
            + "; ".join(parts),
            loader=loader,
        )
    for k, p in want.items():
        p.copy_(np.asarray(have[k]).astype(p.dtype))
