"""The Keras layer protocol over zerograd.nn.Module: names, lazy build, symbolic calls, config."""

from __future__ import annotations

import functools
import itertools
import re
import weakref
from collections import defaultdict

import numpy as np

from zerograd import backend
from zerograd.autograd import no_grad
from zerograd.keras import mask_flow
from zerograd.keras.layer_state import LayerStateMixin, layer_scope, resolve_training
from zerograd.keras.variables import DTypeName
from zerograd.nn.module import Module
from zerograd.tensor import Tensor

_name_counts: dict = defaultdict(int)
_creation = itertools.count()
live_layers: weakref.WeakSet = weakref.WeakSet()  # for Model(inputs, outputs=<an uncalled layer>)


def unique_name(base: str) -> str:
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def snake_case(name: str) -> str:
    """Keras's layer names: acronyms stay whole (LSTMCell -> lstm_cell, Conv2DTranspose ->
    conv2d_transpose, GRU -> gru)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class KerasTensor:
    """A symbolic tensor of a functional model: a shape (batch axis None), a dtype name and the
    layer call that produced it."""

    sparse = ragged = False

    def __init__(self, shape, layer=None, inbound=None, kwargs=None, name=None, dtype=None):
        self.shape = tuple(shape)
        self.layer, self.inbound, self.kwargs = layer, inbound, kwargs or {}
        self.args = ()
        self.name = name
        self.dtype = DTypeName(dtype or backend.get_default_dtype())

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


def _flatten(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _is_symbolic(x) -> bool:
    return any(isinstance(t, KerasTensor) for t in _flatten(x))


# sizes of the unknown non-batch axes in the passes on zeros: large enough for convolution and
# pooling windows, small enough to stay cheap; a second pass with FREE_AXIS + 1 finds the output
# axes that follow them
FREE_AXIS = 32


def _to_dummy(x, free: int = FREE_AXIS):
    """Zeros in place of KerasTensors (in lists and tuples too); other values as they are."""
    if isinstance(x, KerasTensor):
        return _dummy(x, free=free)
    if isinstance(x, (list, tuple)):
        return type(x)(_to_dummy(t, free) for t in x)
    return x


def _dummy(kt: KerasTensor, batch: int = 2, free: int = FREE_AXIS):
    """Zeros of ``kt``'s shape: ``batch`` rows, ``free`` for its other unknown axes."""
    shape = tuple((batch if i == 0 else free) if d is None else d for i, d in enumerate(kt.shape))
    dtype = getattr(kt, "dtype", None) or backend.get_default_dtype()
    return Tensor(np.zeros(shape, dtype=dtype))


def _marks_built(build):
    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        build(self, *args, **kwargs)
        self.built = True

    return wrapper


class Layer(LayerStateMixin, Module):
    """Base of Keras layers: built on first call from the input shape; callable on KerasTensors.
    Weights, ``trainable`` and losses live in ``LayerStateMixin`` (layer_state.py)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:  # as Keras: a layer is built once its build() has run
            cls.build = _marks_built(cls.__dict__["build"])

    def __init__(
        self,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
        input_shape=None,
        input_dim=None,
        activity_regularizer=None,
        **kwargs,
    ):
        from zerograd.keras import regularizers

        super().__init__()
        self.__dict__["training"] = False  # as Keras: a layer called directly runs in inference
        self._init_state()
        self.activity_regularizer = regularizers.get(activity_regularizer)
        kwargs.pop("batch_input_shape", None)
        kwargs.pop("autocast", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._input_shape_arg = tuple(input_shape) if input_shape is not None else None
        self.built = False
        self._trainable = trainable
        self.creation_index = next(_creation)
        live_layers.add(self)
        self.output_shape_seen = None

    # --- calling ---------------------------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights once the input shape (batch axis included) is known."""

    def call(self, inputs, training=None, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define call()")

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def _ensure_built(self, inputs) -> None:
        if not self.built:
            if isinstance(inputs, dict):
                self.build({k: tuple(t.shape) for k, t in inputs.items()})
                self.built = True
                return
            shapes = [tuple(t.shape) for t in _flatten(inputs)]
            self.build(shapes if isinstance(inputs, (list, tuple)) else shapes[0])
            self.built = True

    def __call__(self, inputs, *args, **kwargs):
        """Build on the first call, then run ``call``. Every tensor argument (positional or
        keyword) may be symbolic: the call then adds a node to a functional graph."""
        if _is_symbolic(inputs) or _is_symbolic(args) or _is_symbolic(list(kwargs.values())):
            return self._symbolic_call(inputs, kwargs, args)
        inputs = _as_tensors(inputs)
        args = tuple(_as_tensors(a) if isinstance(a, np.ndarray) else a for a in args)
        with layer_scope(self):
            self._ensure_built(inputs)
            training = resolve_training(
                kwargs.pop("training", None), self._training_default(), self.training
            )
            if self._accepts_training():
                kwargs["training"] = training
            # --- masks (see mask_flow) ---
            previous_mask = mask_flow.fill_mask_argument(self, inputs, args, kwargs)
            out = self.call(inputs, *args, **kwargs)
            mask_flow.attach_output_masks(self, inputs, out, previous_mask)
            # --- end masks ---
            if self.activity_regularizer is not None:
                self._add_activity_losses(out)
        first = _flatten(out)[0]
        self.output_shape_seen = (None, *first.shape[1:]) if hasattr(first, "shape") else None
        return out

    def _accepts_training(self) -> bool:
        cls = type(self)
        if "_takes_training" not in cls.__dict__:
            import inspect

            param = inspect.signature(cls.call).parameters.get("training")
            cls._takes_training = param is not None
            default = None if param is None else param.default
            cls._training_by_default = None if default is inspect.Parameter.empty else default
        return cls._takes_training

    def _training_default(self):
        """The default of ``training`` in ``call``'s signature (None when absent)."""
        self._accepts_training()
        return type(self).__dict__["_training_by_default"]

    def _symbolic_call(self, inputs, kwargs, args=()):
        """Run the layer on zeros of the symbolic shapes to learn the output shapes (twice when an
        input has a free axis besides the batch: output axes that follow it stay None). The
        outputs remember the call: ``inbound`` (the first argument), ``args`` (the other
        positional ones) and ``kwargs``, any of which may hold KerasTensors."""
        out = self._run_on_zeros(inputs, args, kwargs, free=FREE_AXIS)
        outs = _flatten(out)
        shapes = [[None, *o.shape[1:]] for o in outs]
        symbols = _flatten(inputs) + list(args) + list(kwargs.values())
        if any(isinstance(t, KerasTensor) and None in t.shape[1:] for t in symbols):
            try:
                again = _flatten(self._run_on_zeros(inputs, args, kwargs, free=FREE_AXIS + 1))
            except (ValueError, TypeError):  # the layer needs that axis fixed: keep the first run's
                again = outs
            for shape, o in zip(shapes, again):
                for i, d in enumerate(o.shape[1:], start=1):
                    shape[i] = shape[i] if shape[i] == d else None
        made = [
            KerasTensor(shape, self, inputs, kwargs, name=f"{self.name}_out{i}")
            for i, shape in enumerate(shapes)
        ]
        for kt, o in zip(made, outs):
            kt.dtype = DTypeName(o.dtype)
            kt.args = tuple(args)
        mask_flow.symbolic_masks(outs, made, KerasTensor)  # masks
        self.output_shape_seen = made[0].shape
        result = made if isinstance(out, (list, tuple)) else made[0]
        self.__dict__.setdefault("_nodes_io", []).append((inputs, result))
        return result

    def _run_on_zeros(self, inputs, args, kwargs, free: int):
        """Call the layer in inference mode on zeros in place of the KerasTensors (free axes of
        size ``free``); the losses it adds are dropped."""
        flat = _flatten(inputs)
        dummies = [_to_dummy(t, free) for t in flat]
        mask_flow.dummy_masks(flat, dummies, Tensor)  # masks
        first = dummies if isinstance(inputs, (list, tuple)) else dummies[0]
        with no_grad():
            was = self.training
            self.eval()
            try:
                out = self(  # in inference: a pass on zeros must not move BN statistics
                    first,
                    *[_to_dummy(a, free) for a in args],
                    **{**{k: _to_dummy(v, free) for k, v in kwargs.items()}, "training": False},
                )
            finally:
                self.train(was)
        self._clear_losses()  # the losses of a pass on zeros mean nothing
        return out

    @property
    def input(self):
        """The symbolic input of this layer's first call in a functional graph."""
        return self._node_io(0, "input")

    @property
    def output(self):
        """The symbolic output of this layer's first call in a functional graph."""
        return self._node_io(1, "output")

    def _node_io(self, index: int, what: str):
        nodes = self.__dict__.get("_nodes_io")
        if not nodes:
            raise AttributeError(
                f"{type(self).__name__} '{self.name}' has never been called on a symbolic input "
                f"(keras.Input) and thus has no defined {what}"
            )
        return nodes[0][index]

    # --- masks (see mask_flow) --------------------------------------------------------------------
    @property
    def supports_masking(self) -> bool:
        """Whether outputs get ``compute_mask``'s mask: by default, when compute_mask is overridden."""
        explicit = self.__dict__.get("_supports_masking")
        if explicit is not None:
            return explicit
        return type(self).compute_mask is not Layer.compute_mask

    @supports_masking.setter
    def supports_masking(self, value: bool) -> None:
        self.__dict__["_supports_masking"] = bool(value)

    def compute_mask(self, inputs, mask=None):
        """The mask of the outputs, given the inputs and their mask (by default, the same one)."""
        return mask

    # --- config ----------------------------------------------------------------------------------
    def get_config(self) -> dict:
        cfg = {"name": self.name, "trainable": self.trainable}
        if self.activity_regularizer is not None:
            from zerograd.keras import regularizers

            cfg["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self._input_shape_arg is not None:
            cfg["input_shape"] = list(self._input_shape_arg)
        return cfg

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _as_tensors(x):
    if isinstance(x, (list, tuple)):
        return [_as_tensors(t) for t in x]
    if isinstance(x, dict):  # inputs by name (functional models made with a dict of Inputs)
        return {k: _as_tensors(v) for k, v in x.items()}
    if isinstance(x, Tensor):
        return x
    a = np.asarray(x)
    if a.dtype == np.float64:
        a = a.astype(backend.get_default_dtype())
    return Tensor(a)


class InputLayer(Layer):
    """The layer behind ``keras.Input``: its output is the input's KerasTensor."""

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        sparse=None,
        ragged=None,
        batch_shape=None,
        input_tensor=None,
        optional=False,
        name=None,
        **kwargs,
    ):
        if shape is None and "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if batch_shape is None and "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        for flag, value in (("sparse", sparse), ("ragged", ragged), ("optional", optional)):
            if value:
                raise ValueError(f"Input: {flag}=True is not supported, received {flag}={value!r}")
        if input_tensor is not None:
            raise ValueError("Input: tensor= (wrapping an existing tensor) is not supported")
        if shape is not None and batch_shape is not None:
            raise ValueError(
                f"Input: give shape or batch_shape, not both; received shape={shape}, "
                f"batch_shape={batch_shape}"
            )
        if batch_shape is not None:
            batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
        if shape is None:
            raise ValueError("Input: shape (or batch_shape) is required, received neither")
        if isinstance(shape, int):
            shape = (shape,)
        super().__init__(name=name or unique_name("input_layer"), **kwargs)
        self.shape = tuple(shape)
        self.batch_size = batch_size
        self.input_dtype = str(DTypeName(dtype)) if dtype is not None else None
        kt = KerasTensor((batch_size, *self.shape), self, None, name=self.name)
        kt.creation_index = self.creation_index
        kt.dtype = DTypeName(dtype or backend.get_default_dtype())
        self.__dict__["_nodes_io"] = [(kt, kt)]
        self.built = True

    def call(self, inputs, training=None):
        return inputs

    def get_config(self):
        return {"name": self.name, "shape": list(self.shape), "dtype": self.input_dtype}


def Input(  # noqa: N802 - Keras's name
    shape=None,
    batch_size=None,
    dtype=None,
    sparse=None,
    ragged=None,
    batch_shape=None,
    name=None,
    tensor=None,
    optional=False,
) -> KerasTensor:
    """A symbolic input of a functional model: ``inputs = keras.Input(shape=(784,))``.

    ``shape`` excludes the batch axis (``None`` for a free axis); ``batch_shape`` includes it.
    ``dtype`` is a name such as ``"int32"`` (default float32).
    """
    layer = InputLayer(
        shape, batch_size, dtype, sparse, ragged, batch_shape, tensor, optional, name
    )
    return layer.output
