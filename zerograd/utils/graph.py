"""Export the computational graph as Graphviz DOT text."""

from __future__ import annotations

from zerograd.tensor import Tensor


def to_dot(y: Tensor, show_dtype: bool = False) -> str:
    """The graph that produced ``y``: tensors as boxes (with shapes), ops as ellipses.

    Example:
        >>> x = zg.ones(2, 3, requires_grad=True)
        >>> print(zg.utils.to_dot((x * 2).sum()))   # paste into `dot -Tpng`
    """
    lines = ["digraph zerograd {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    seen, stack = set(), [y]

    def label(t: Tensor) -> str:
        name = f"{t.name}\\n" if t.name else ""
        extra = f" {t.dtype}" if show_dtype else ""
        return f"{name}{tuple(t.shape)}{extra}"

    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        color = "lightblue" if t.creator is None and t.requires_grad else "white"
        lines.append(
            f'  t{id(t)} [label="{label(t)}", shape=box, style=filled, fillcolor={color}];'
        )
        fn = t.creator
        if fn is None:
            continue
        lines.append(f"  f{id(fn)} -> t{id(t)};")
        if id(fn) in seen:  # an op with several outputs: drawn once
            continue
        seen.add(id(fn))
        lines.append(
            f'  f{id(fn)} [label="{type(fn).__name__}", shape=ellipse, style=filled, fillcolor=lightgrey];'
        )
        for x in fn.inputs:
            lines.append(f"  t{id(x)} -> f{id(fn)};")
            stack.append(x)
    lines.append("}")
    return "\n".join(lines) + "\n"
