"""Keras's autocast scope: inside the ``call`` of a mixed-precision layer (policy
"mixed_float16") the layer's float variables are read in its compute dtype (float16) while they
stay float32; the gradient flows back through the cast to the float32 variable.

The rules are Keras 3's (``Layer.__call__`` and ``AutocastScope``): with no scope open, a layer
whose compute and variable dtypes differ opens one in its compute dtype; inside a scope, a layer
with ``autocast=False`` opens one that casts nothing, and a layer of another compute dtype (the
float32 final softmax of a mixed model) opens one in its own. Variables made with
``autocast=False`` (BatchNormalization's) are never cast.

zerograd reads a variable through the layer's attribute (``self.kernel``): while ``call`` runs,
that attribute holds the cast tensor (a variable already in the scope's dtype stays itself), and
the variable stays in ``_parameters``.
"""

from __future__ import annotations

_stack: list = []  # the dtype of each open scope, innermost last (None: a scope casting nothing)


def current_dtype():
    """The dtype the innermost open scope casts float variables to (None: no cast)."""
    return _stack[-1] if _stack else None


def _scope_of(layer) -> tuple[bool, str | None]:
    """(whether ``layer`` opens a scope, the dtype its variables are read in), as Keras."""
    policy = layer.dtype_policy
    compute = policy.compute_dtype
    if _stack:
        if not layer.__dict__.get("autocast", True):
            return True, None
        return _stack[-1] != compute, compute
    if compute != policy.variable_dtype:
        return True, compute
    return False, None


class VariablesInComputeDtype:
    """``with VariablesInComputeDtype(layer):`` around ``layer.call``; cheap when nothing is cast
    (a float32 layer outside any scope)."""

    __slots__ = ("layer", "pushed", "swapped")

    def __init__(self, layer):
        self.layer = layer
        self.pushed = False
        self.swapped = ()

    def __enter__(self):
        push, dtype = _scope_of(self.layer)
        if push:
            _stack.append(dtype)
            self.pushed = True
        if push or dtype is not None:  # a scope casting nothing puts the variables back
            self.swapped = _swap_in(self.layer, dtype)
        return self

    def __exit__(self, *exc):
        for attrs, name, previous in reversed(self.swapped):
            attrs[name] = previous
        if self.pushed:
            _stack.pop()
        return False


def _swap_in(layer, dtype: str | None) -> list:
    """Put a ``dtype`` copy (a differentiable cast) of each autocast float variable of ``layer``
    in place of its attribute; also those of its direct sub-layers when ``layer`` is not a model,
    since a layer may read them in its ``call`` (an RNN steps its cell's ``call``). Returns the
    (attributes, name, previous value) triples to put back."""
    from zerograd.keras.variables import Variable

    layers = [layer]
    if not hasattr(layer, "train_step"):  # a model calls its layers, each opens its own scope
        layers += [m for m in layer.__dict__["_modules"].values() if hasattr(m, "dtype_policy")]
    swapped = []
    for owner in layers:
        attrs = owner.__dict__
        for name, v in attrs["_parameters"].items():
            if (
                isinstance(v, Variable)
                and v.autocast
                and v.data.dtype.kind == "f"
                and name in attrs
            ):
                value = v if dtype is None or v.data.dtype == dtype else v.astype(dtype)
                swapped.append((attrs, name, attrs[name]))
                attrs[name] = value
    return swapped
