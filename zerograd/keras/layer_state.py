"""The state of a Keras layer: weights made by ``add_weight`` (names, paths, Keras order),
trainability and freezing, and losses (``add_loss`` and weight regularizers)."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from zerograd.nn.module import Module
from zerograd.nn.parameter import Parameter
from zerograd.tensor import Tensor

_scope: list = []  # the layers whose __call__ is running, outermost first (weight paths)
_entry: list = [None]  # the outermost layer of the running call: it owns the loss reset
_training: list = []  # the training value resolved by each running call, outermost first


@contextmanager
def layer_scope(layer):
    """Run ``layer``'s build and call: weight paths get its name; the outermost call first clears
    the losses of the previous forward pass (``layer.losses`` holds the latest pass only)."""
    outermost = _entry[0] is None
    if outermost:
        _entry[0] = layer
        layer._clear_losses()
    _scope.append(layer)
    _training.append(None)
    try:
        yield
    finally:
        _scope.pop()
        _training.pop()
        if outermost:
            _entry[0] = None


def resolve_training(explicit, default, mode: bool) -> bool:
    """The training flag of the running call, as Keras resolves it: the explicit argument, else
    the enclosing call's, else the default of ``call``'s signature, else the layer's mode
    (``train()``/``eval()``; Keras layers start in inference mode). Nested calls inherit it."""
    value = explicit
    if value is None and len(_training) > 1:
        value = _training[-2]
    if value is None:
        value = default
    if value is None:
        value = mode
    if _training:
        _training[-1] = value
    return value


def _trainable(v) -> bool:
    return getattr(v, "trainable", v.requires_grad)


class LayerStateMixin:
    """Weights, ``trainable`` and losses of a Keras layer (mixed into ``Layer``)."""

    def _init_state(self) -> None:
        d = self.__dict__
        d["_tracked_weights"] = []  # add_weight's variables, in creation order
        d["_unassigned"] = {}  # id(variable) -> its _parameters key until assigned an attribute
        d["_losses"] = []

    # --- weights ---------------------------------------------------------------------------------
    def add_weight(
        self,
        *args,
        shape=None,
        initializer=None,
        dtype=None,
        trainable: bool = True,
        autocast: bool = True,
        regularizer=None,
        constraint=None,
        aggregation="none",
        overwrite_with_gradient: bool = False,
        name: str | None = None,
    ):
        """Create a weight (a ``keras.Variable``) tracked by this layer.

        Keras's signature; positionally ``(shape, initializer, dtype)``. zerograd's own layers also
        use the short form ``add_weight(name, shape, initializer, regularizer)``. The initializer
        defaults to glorot_uniform for float weights and zeros otherwise, as Keras's.

        Example:
            >>> self.kernel = self.add_weight(shape=(4, 3), initializer="zeros", name="kernel")
        """
        from zerograd.keras import constraints, regularizers
        from zerograd.keras.variables import Variable

        if "_parameters" not in self.__dict__ or "name" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}.add_weight: call super().__init__() first, as the first "
                "statement of __init__"
            )
        owner = f"{type(self).__name__} '{self.name}'.add_weight"
        if args and isinstance(args[0], str):  # zerograd's short form
            if len(args) > 4:
                raise TypeError(f"{owner}: at most 4 positional arguments, received {len(args)}")
            given = dict(zip(("name", "shape", "initializer", "regularizer"), args))
            name, shape = given["name"], given.get("shape", shape)
            initializer = given.get("initializer", initializer)
            regularizer = given.get("regularizer", regularizer)
        elif args:
            if len(args) > 3:
                raise TypeError(f"{owner}: at most 3 positional arguments, received {len(args)}")
            named = {"shape": shape, "initializer": initializer, "dtype": dtype}
            for key, value in zip(list(named), args):
                if named[key] is not None:
                    raise TypeError(f"{owner}: {key} given both positionally and by keyword")
                named[key] = value
            shape, initializer, dtype = named.values()
        if overwrite_with_gradient:
            raise ValueError(f"{owner}: overwrite_with_gradient=True is not supported")
        from zerograd.keras.keras_tensor import standardize_shape

        shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
        shape = () if shape is None else standardize_shape(shape, owner)
        if any(d is None for d in shape):
            raise ValueError(f"{owner}: the shape must be fully defined, received {shape}")
        if initializer is None:
            is_float = dtype is None or np.dtype(dtype).kind in "fc"
            initializer = "glorot_uniform" if is_float else "zeros"
        dtype = dtype if dtype is not None else getattr(self, "variable_dtype", None)
        from zerograd.keras.saving.budget import charge_weight  # bounded while a file loads

        charge_weight(owner, shape, dtype)
        v = Variable(initializer, shape, dtype, trainable, autocast, aggregation, name)
        v.trainable = trainable and self._trainable
        v.declared_trainable = bool(trainable)
        v.regularizer = regularizers.get(regularizer)
        v.constraint = constraints.get(constraint)
        inside = [la.name for la in _scope]
        if not _scope or _scope[-1] is not self:
            inside.append(self.name)
        v.path = "/".join([*inside, v.name])
        self._track(v, name)
        return v

    def _track(self, v, name: str | None) -> None:
        """Register ``v`` (as the attribute ``name`` where that is free); Keras order is kept in
        ``_tracked_weights``; a later ``self.w = v`` renames its key."""
        current = self.__dict__.get(name, None) if name else None
        settable = (
            name is not None
            and name.isidentifier()
            and not hasattr(type(self), name)
            and (current is None or isinstance(current, Parameter))
        )
        if settable:
            setattr(self, name, v)
            key = name
        else:
            key, n = v.name, 1
            while key in self._parameters:
                key, n = f"{v.name}_{n}", n + 1
            self._parameters[key] = v
        self._unassigned[id(v)] = key
        self._tracked_weights.append(v)

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        unassigned = d.get("_unassigned")
        if unassigned and isinstance(value, Parameter) and id(value) in unassigned:
            key = unassigned.pop(id(value))
            if key != name:
                self._parameters.pop(key, None)
        if "_modules" in d and not name.startswith("_"):
            old = d.get(name)
            if old is not value and isinstance(old, (list, tuple, dict)):
                if isinstance(old, (TrackedList, TrackedDict)):
                    old._owner = None
                _register(self, name, ())
            value = tracked(self, name, value)
        super().__setattr__(name, value)

    def _own_weights(self) -> list:
        tracked = list(self._tracked_weights)
        ids = {id(v) for v in tracked}
        others = [p for p in self._parameters.values() if p is not None and id(p) not in ids]
        declared = [getattr(v, "declared_trainable", _trainable(v)) for v in tracked]
        return (
            [v for v, t in zip(tracked, declared) if t]
            + [p for p in others if p.requires_grad]
            + [v for v, t in zip(tracked, declared) if not t]
            + [p for p in others if not p.requires_grad]
        )

    def _sublayers(self) -> list:
        return [m for m in self._modules.values() if m is not None]

    @property
    def weights(self) -> list:
        """All weights: this layer's (trainable first), then each sub-layer's, each once."""
        out, seen = [], set()
        groups = [self._own_weights()] + [
            m.weights if isinstance(m, LayerStateMixin) else list(m.parameters())
            for m in self._sublayers()
        ]
        for group in groups:
            for v in group:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def trainable_weights(self) -> list:
        """The weights that training updates (none when the layer is frozen)."""
        return [v for v in self.weights if _trainable(v)] if self.trainable else []

    @property
    def non_trainable_weights(self) -> list:
        return [v for v in self.weights if not _trainable(v)] if self.trainable else self.weights

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """Freeze (False) or unfreeze this layer and every layer inside it; weights declared
        non-trainable (BatchNormalization's moving statistics) stay so."""
        value = bool(value)
        self.__dict__["_trainable"] = value
        for v in self._own_weights():
            if not hasattr(v, "declared_trainable"):  # a Parameter assigned directly: trainable
                v.requires_grad = value and v.dtype.kind in "fc"
            elif v.declared_trainable:
                v.trainable = value
        for m in self._sublayers():
            if isinstance(m, LayerStateMixin):
                m.trainable = value
            else:
                m.requires_grad_(value)

    def get_weights(self) -> list:
        """The weights as NumPy arrays, in the order of ``weights``."""
        return [np.array(v.numpy(), copy=True) for v in self.weights]

    def set_weights(self, weights) -> None:
        """Copy arrays into the weights, in the order of ``weights``."""
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(
                f"{type(self).__name__} '{self.name}'.set_weights: expected {len(own)} arrays, "
                f"received {len(weights)}"
            )
        for v, w in zip(own, weights):
            w = np.asarray(w)
            if w.shape != tuple(v.shape):
                raise ValueError(
                    f"{type(self).__name__} '{self.name}'.set_weights: expected an array of shape "
                    f"{tuple(v.shape)} for {getattr(v, 'path', 'a weight')}, received {w.shape}"
                )
            v.copy_(w.astype(v.data.dtype))

    def count_params(self) -> int:
        """The number of scalars in the weights; as Keras, an error before the layer is built."""
        if not self.built:
            raise ValueError(
                f"{type(self).__name__} '{self.name}'.count_params: the layer isn't built yet; "
                "call it on data or build(input_shape) first"
            )
        return int(sum(v.size for v in self.weights))

    # --- losses ----------------------------------------------------------------------------------
    def add_loss(self, loss) -> None:
        """Add a scalar loss (or a list of them) computed in ``call``; ``fit`` adds it to the loss."""
        for value in loss if isinstance(loss, (list, tuple)) else [loss]:
            if not isinstance(value, Tensor):
                if not isinstance(value, (int, float, np.number, np.ndarray)):
                    raise ValueError(
                        f"{type(self).__name__} '{self.name}'.add_loss: expected a tensor, "
                        f"received {type(value).__name__}"
                    )
                value = Tensor(np.asarray(value, dtype=np.float32))
            self._losses.append(value)

    def _add_activity_losses(self, outputs) -> None:
        """Keras's activity regularization: the penalty of each output, over the batch size."""
        for out in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
            if isinstance(out, Tensor):
                loss = self.activity_regularizer(out)
                self.add_loss(loss / out.shape[0] if out.ndim > 0 and out.shape[0] else loss)

    def _layers_inside(self) -> list:
        return [m for m in self.modules() if isinstance(m, LayerStateMixin)]

    def _clear_losses(self) -> None:
        for m in self._layers_inside():
            m._losses.clear()

    @property
    def losses(self) -> list:
        """Losses added during the latest forward pass (this layer's and its sub-layers'), then
        the regularizer penalties of the trainable weights."""
        out = [value for m in self._layers_inside() for value in m._losses]
        for v in self.trainable_weights:
            regularizer = getattr(v, "regularizer", None)
            if regularizer is not None:
                out.append(regularizer(v))
        return out


def _register(owner, attr: str, items) -> None:
    """Register the modules among ``items`` ((key, value) pairs) as ``attr.key`` sub-modules.
    Modules already registered keep their place; new ones go last (Keras's tracking order)."""
    modules = None if owner is None else owner.__dict__.get("_modules")
    if modules is None:  # no owner, or one being rebuilt by copy/pickle: it brings its modules
        return
    prefix = attr + "."
    new = [(f"{prefix}{key}", v) for key, v in items if isinstance(v, Module)]
    if [(k, m) for k, m in modules.items() if k.startswith(prefix)] == new:
        return
    key_of = {id(v): k for k, v in new}
    result, placed = [], set()
    for k, m in modules.items():
        if not k.startswith(prefix):
            result.append((k, m))
        elif id(m) in key_of and id(m) not in placed:
            result.append((key_of[id(m)], m))
            placed.add(id(m))
    result += [(k, v) for k, v in new if id(v) not in placed]
    modules.clear()
    modules.update(result)


def _sync(coll) -> None:
    owner = getattr(coll, "_owner", None)  # absent while pickle rebuilds the list
    _register(
        owner,
        getattr(coll, "_attr", ""),
        coll.items() if isinstance(coll, dict) else enumerate(coll),
    )


def _syncing(method):
    def wrapper(self, *args, **kwargs):
        out = method(self, *args, **kwargs)
        _sync(self)
        return out

    wrapper.__name__ = method.__name__
    return wrapper


class TrackedList(list):
    """A list attribute of a layer: the layers in it are the layer's sub-layers."""

    def __init__(self, items=(), owner=None, attr: str = ""):
        super().__init__(items)
        self._owner, self._attr = owner, attr
        _sync(self)

    for _name in ("append", "extend", "insert", "remove", "pop", "clear", "__setitem__",
                  "__delitem__", "__iadd__", "sort", "reverse"):  # fmt: skip
        locals()[_name] = _syncing(getattr(list, _name))
    del _name


class TrackedDict(dict):
    """A dict attribute of a layer: the layers in it are the layer's sub-layers."""

    def __init__(self, items=(), owner=None, attr: str = ""):
        super().__init__(items)
        self._owner, self._attr = owner, attr
        _sync(self)

    for _name in ("__setitem__", "__delitem__", "pop", "popitem", "clear", "update", "setdefault"):
        locals()[_name] = _syncing(getattr(dict, _name))
    del _name


def tracked(owner, attr: str, value):
    """Plain lists and dicts holding layers (or empty) become tracked; a tuple's layers register."""
    if type(value) not in (list, tuple, dict):
        return value
    items = list(value.values()) if isinstance(value, dict) else list(value)
    if items and not any(isinstance(v, Module) for v in items):
        return value
    if isinstance(value, tuple):
        _register(owner, attr, enumerate(value))
        return value
    return (TrackedList if isinstance(value, list) else TrackedDict)(value, owner, attr)
