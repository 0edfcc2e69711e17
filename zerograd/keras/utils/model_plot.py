"""``model_to_dot`` and ``plot_model``: a model's layer graph in Graphviz's DOT language, rendered
with the ``dot`` program when it is installed."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from pathlib import Path

from zerograd.keras.base import InputLayer, _flatten


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(_shape_text(s) for s in shape)
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


class _InputStub:
    """The input node of a Sequential model built from an ``input_shape`` argument."""

    trainable = False
    kind = "InputLayer"

    def __init__(self, model):
        self.name, self.key = "input_layer", f"input_{id(model)}"


class _Graph:
    """Nodes (one per layer, in order) with their input/output shapes and dtypes, and edges."""

    def __init__(self):
        self.nodes: list = []  # (key, layer, in_shape, out_shape, dtype, cluster)
        self.edges: list = []  # (key_from, key_to)

    def add_node(self, layer, in_shape, out_shape, dtype, cluster=None) -> str:
        key = getattr(layer, "key", None) or str(id(layer))
        if all(n[0] != key for n in self.nodes):
            self.nodes.append((key, layer, in_shape, out_shape, dtype, cluster))
        return key

    def add_edge(self, a: str, b: str) -> None:
        if (a, b) not in self.edges:
            self.edges.append((a, b))


def _is_model(layer) -> bool:
    from zerograd.keras.models import Model

    return isinstance(layer, Model)


def _add_model(graph: _Graph, model, expand: bool, cluster=None):
    """Add ``model``'s layers; returns (entry keys, exit keys) for linking a nested model."""
    from zerograd.keras.models import Sequential

    if isinstance(model, Sequential):
        known = model.__dict__.get("_known_shape")
        shape = (None, *known) if known is not None else None
        prev, entries = [], []
        kt = model.__dict__.get("_input_kt")
        if shape is not None:
            stub = kt.layer if kt is not None else _InputStub(model)
            dtype = getattr(kt, "dtype", None)
            prev = entries = [graph.add_node(stub, shape, shape, dtype, cluster)]
        for layer in model.layers:
            if isinstance(layer, InputLayer) and entries:
                continue
            out = layer.output_shape_seen
            keys = _add_layer(graph, layer, shape, out, None, expand, cluster)
            for p in prev:
                graph.add_edge(p, keys[0])
            entries = entries or [keys[0]]
            prev, shape = [keys[1]], out
        return entries, prev
    if not model.__dict__.get("_functional"):
        keys = [
            _add_layer(graph, layer, None, layer.output_shape_seen, None, expand, cluster)
            for layer in model.layers
        ]
        return [k[0] for k in keys[:1]], [k[1] for k in keys[-1:]]
    tensor_key = {}
    entries = []
    for kt in model._inputs:
        tensor_key[id(kt)] = graph.add_node(
            kt.layer, kt.shape, kt.shape, getattr(kt, "dtype", None), cluster
        )
        entries.append(tensor_key[id(kt)])
    for kt in model._nodes:
        parents = _flatten(kt.inbound)
        in_shape = (
            [p.shape for p in parents]
            if isinstance(kt.inbound, (list, tuple))
            else parents[0].shape
        )
        siblings = [n for n in model._nodes if n.layer is kt.layer and n.inbound is kt.inbound]
        out_shape = kt.shape if len(siblings) == 1 else [n.shape for n in siblings]
        first, last = _add_layer(
            graph, kt.layer, in_shape, out_shape, getattr(kt, "dtype", None), expand, cluster
        )
        for p in parents:
            graph.add_edge(tensor_key[id(p)], first)
        tensor_key[id(kt)] = last
    return entries, [tensor_key[id(o)] for o in model._outputs]


def _add_layer(graph, layer, in_shape, out_shape, dtype, expand, cluster):
    if expand and _is_model(layer):
        entries, exits = _add_model(graph, layer, expand, cluster=(layer, cluster))
        if entries and exits:
            return entries[0], exits[0]
    key = graph.add_node(layer, in_shape, out_shape, dtype, cluster)
    return key, key


def _label(layer, in_shape, out_shape, dtype, opts) -> str:
    kind = getattr(layer, "kind", None) or type(layer).__name__
    title = f"{layer.name} ({kind})" if opts["show_layer_names"] else kind
    rows = [f'<tr><td colspan="2" bgcolor="#cfe2f3"><b>{html.escape(title)}</b></td></tr>']
    if opts["show_layer_activations"] and getattr(layer, "activation", None) is not None:
        act = layer.activation
        act = act if isinstance(act, str) else getattr(act, "__name__", type(act).__name__)
        rows.append(f'<tr><td colspan="2">Activation: {html.escape(str(act))}</td></tr>')
    if opts["show_shapes"]:
        rows.append(
            f"<tr><td>Input shape: {html.escape(_shape_text(in_shape))}</td>"
            f"<td>Output shape: {html.escape(_shape_text(out_shape))}</td></tr>"
        )
    if opts["show_dtype"]:
        name = getattr(dtype, "name", dtype) or "float32"
        rows.append(f'<tr><td colspan="2">Output dtype: {html.escape(str(name))}</td></tr>')
    if opts["show_trainable"]:
        rows.append(f'<tr><td colspan="2">Trainable: {"Y" if layer.trainable else "N"}</td></tr>')
    return '<<table border="0" cellborder="1" cellspacing="0">' + "".join(rows) + "</table>>"


def model_to_dot(
    model,
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = True,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    subgraph: bool = False,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    splines: str = "ortho",
) -> str:
    """The DOT text of ``model``'s layer graph (a node per layer, an edge per connection).

    Example:
        >>> print(keras.utils.model_to_dot(model, show_shapes=True))
    """
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"model_to_dot: expected rankdir 'TB' or 'LR', received {rankdir!r}")
    if subgraph:
        raise ValueError("model_to_dot: subgraph=True is not supported by zerograd")
    if not getattr(model, "built", False):
        raise ValueError(
            f"model_to_dot: model '{model.name}' is not built yet; call it on data or give its "
            "first layer an input shape"
        )
    opts = dict(
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
    )
    graph = _Graph()
    _add_model(graph, model, expand_nested)
    lines = [
        "digraph G {",
        f"  graph [rankdir={rankdir}, concentrate=true, dpi={int(dpi)}, splines={splines}];",
        "  node [shape=plain, fontname=Helvetica];",
    ]
    clusters: dict = {}
    for key, layer, in_shape, out_shape, dtype, cluster in graph.nodes:
        line = f"  {key} [label={_label(layer, in_shape, out_shape, dtype, opts)}];"
        clusters.setdefault(cluster, []).append(line)
    lines += clusters.pop(None, [])
    for (inner, _), body in clusters.items():
        lines.append(f"  subgraph cluster_{id(inner)} {{")
        lines.append(f'    label="{html.escape(inner.name)}";')
        lines += ["  " + b for b in body]
        lines.append("  }")
    lines += [f"  {a} -> {b};" for a, b in graph.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_model(
    model,
    to_file="model.png",
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = False,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    splines: str = "ortho",
) -> None:
    """Draw the model's layer graph into ``to_file``; the format follows the extension (png, svg,
    pdf...). A ``.dot`` file gets the DOT text; other formats need Graphviz's ``dot`` program.

    Example:
        >>> keras.utils.plot_model(model, "model.png", show_shapes=True)
    """
    dot = model_to_dot(
        model,
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        rankdir=rankdir,
        expand_nested=expand_nested,
        dpi=dpi,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
        splines=splines,
    )
    path = Path(to_file)
    fmt = path.suffix[1:].lower() or "png"
    if fmt in ("dot", "gv"):
        path.write_text(dot)
        return
    program = shutil.which("dot")
    if program is None:
        raise ImportError(
            "plot_model needs Graphviz's `dot` program to draw a "
            f"{fmt} file (install Graphviz: apt-get install graphviz, or see "
            "https://graphviz.org/download/); without it, write the DOT text with "
            "to_file='model.dot'",
            name="graphviz",
        )
    if not path.suffix:
        path = path.with_suffix(".png")
    result = subprocess.run(
        [program, f"-T{fmt}", "-o", os.fspath(path)], input=dot.encode(), capture_output=True
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"plot_model: Graphviz could not write {path} as {fmt}: "
            f"{result.stderr.decode(errors='replace').strip()}"
        )
