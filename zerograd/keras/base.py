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
from zerograd.keras import devices, dtype_policies, mask_flow
from zerograd.keras.autocast_scope import VariablesInComputeDtype
from zerograd.keras.keras_tensor import (  # noqa: F401 - KerasTensor and helpers live there
    FREE_AXIS,
    LARGER_FREE_AXES,
    KerasTensor,
    _dummy,
    _flatten,
    _is_symbolic,
    _to_dummy,
    standardize_shape,
)
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


def _marks_built(build):
    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        build(self, *args, **kwargs)
        self.built = True

    return wrapper


class Layer(LayerStateMixin, dtype_policies.LayerDTypeMixin, Module):
    """Base of Keras layers: built on first call from the input shape; callable on KerasTensors.
    Weights, ``trainable`` and losses live in ``LayerStateMixin`` (layer_state.py); ``dtype``
    (a dtype policy: "float32", "float64", "float16", "mixed_float16") in ``LayerDTypeMixin``
    (dtype_policies.py); variables read in the compute dtype inside ``call`` in autocast_scope.py.
    """

    _is_operation = False  # True for a keras.ops call on symbolic tensors (not in model.layers)
    _accepts_strings = False  # string arrays: only lookups, Lambda and models (their layers check)

    @property
    def _summary_type(self) -> str:
        return type(self).__name__

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
        autocast: bool = True,
        **kwargs,
    ):
        from zerograd.keras import regularizers

        super().__init__()
        self.__dict__["training"] = False  # as Keras: a layer called directly runs in inference
        self._init_state()
        self.activity_regularizer = regularizers.get(activity_regularizer)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}")
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(
                f"{type(self).__name__}: name must be a string without '/', received "
                f"{type(name).__name__} {name!r}"
            )
        if not isinstance(trainable, (bool, np.bool_)):
            raise TypeError(
                f"{type(self).__name__}: trainable must be a bool, received "
                f"{type(trainable).__name__} {trainable!r}"
            )
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._init_dtype(dtype, autocast)  # autocast=False: float inputs keep their dtype
        if batch_input_shape is not None and input_shape is None:  # Keras 2's spelling
            input_shape = tuple(batch_input_shape)[1:]
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if input_shape is not None:
            input_shape = standardize_shape(input_shape, f"{type(self).__name__} '{self.name}'")
        self._input_shape_arg = input_shape
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
        if inputs is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': inputs to a layer should be tensors, "
                "received None"
            )
        floats = self._array_float_dtype()
        inputs = _as_tensors(inputs, floats)
        if not self._accepts_strings and isinstance(inputs, Tensor) and inputs.dtype.kind in "USO":
            raise TypeError(
                f"{type(self).__name__} '{self.name}' expected numeric input, received dtype "
                f"{inputs.dtype} (shape {tuple(inputs.shape)})"
            )
        args = tuple(_as_tensors(a, floats) if isinstance(a, np.ndarray) else a for a in args)
        if self._autocasts():  # as Keras: float inputs in the layer's compute dtype
            try:
                inputs, args = self._cast_inputs(inputs), self._cast_inputs(args)
            except (TypeError, ValueError) as e:
                raise type(e)(
                    f"{type(self).__name__} '{self.name}': could not convert the inputs to the "
                    f"layer's dtype {self.compute_dtype}: {e}"
                ) from e
            kwargs = {k: v if k == "mask" else self._cast_inputs(v) for k, v in kwargs.items()}
        with layer_scope(self):
            self._ensure_built(inputs)
            training = resolve_training(
                kwargs.pop("training", None), self._training_default(), self.training
            )
            if self._accepts_training():
                kwargs["training"] = training
            # --- masks (see mask_flow) ---
            previous_mask = mask_flow.fill_mask_argument(self, inputs, args, kwargs)
            with VariablesInComputeDtype(self):  # mixed precision: variables in compute dtype
                out = self.call(inputs, *args, **kwargs)
            if out is None and self._accepts_strings and hasattr(self, "train_step"):
                raise ValueError(
                    f"{type(self).__name__} '{self.name}'.call returned None; a model's call "
                    "must return its outputs"
                )
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
        symbols = _flatten(inputs) + list(args) + list(kwargs.values())
        has_free = any(isinstance(t, KerasTensor) and None in t.shape[1:] for t in symbols)
        out, free = self._run_on_free_sizes(inputs, args, kwargs, has_free)
        outs = _flatten(out)
        if any(not hasattr(o, "shape") for o in outs):
            raise ValueError(
                f"{type(self).__name__} '{self.name}'.call returned {type(out).__name__}; a layer "
                "called on symbolic inputs (a functional model) must return tensors"
            )
        shapes = [[None, *o.shape[1:]] for o in outs]
        again = outs
        if has_free:
            try:
                again = _flatten(self._run_on_zeros(inputs, args, kwargs, free=free + 1))
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
        mask_flow.symbolic_masks(outs, made, KerasTensor, again)  # masks
        self.output_shape_seen = made[0].shape
        result = made if isinstance(out, (list, tuple)) else made[0]
        self.__dict__.setdefault("_nodes_io", []).append((inputs, result))
        return result

    def _run_on_free_sizes(self, inputs, args, kwargs, has_free: bool):
        """The pass on zeros, and the size its free axes took: FREE_AXIS, else (when the layer
        rejects it) each of LARGER_FREE_AXES; the first error is raised when all fail."""
        sizes = (FREE_AXIS, *LARGER_FREE_AXES) if has_free else (FREE_AXIS,)
        first_error = None
        for free in sizes:
            try:
                return self._run_on_zeros(inputs, args, kwargs, free=free), free
            except (ValueError, TypeError) as error:
                first_error = first_error or error
        raise first_error

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
        cfg = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": dtype_policies.serialize(self.dtype_policy),
        }
        if self.activity_regularizer is not None:
            from zerograd.keras import regularizers

            cfg["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self._input_shape_arg is not None:
            cfg["input_shape"] = list(self._input_shape_arg)
        return cfg

    @classmethod
    def from_config(cls, config: dict):
        """``cls(**config)``; zerograd's own layers also read the configs Keras writes (keys of
        Keras-only options left at their neutral value are dropped, any other is an error)."""
        if (cls.__module__ or "").startswith("zerograd."):
            from zerograd.keras.saving.keras_compat import builtin_kwargs

            return cls(**builtin_kwargs(cls, config))
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _as_tensors(x, float_dtype=None):
    """Tensors from arrays (float64 ones in ``float_dtype``, default: the default float dtype).
    A nested list of Python numbers is one tensor (ints as int32, as Keras converts them); a list
    of arrays or tensors is several inputs."""
    if isinstance(x, (list, tuple)) and _numbers_only(x):
        a = np.asarray(x)
        return _as_tensors(a.astype("int32") if a.dtype == np.int64 else a, float_dtype)
    if isinstance(x, (list, tuple)):
        return [_as_tensors(t, float_dtype) for t in x]
    if isinstance(x, dict):  # inputs by name (functional models made with a dict of Inputs)
        return {k: _as_tensors(v, float_dtype) for k, v in x.items()}
    if isinstance(x, Tensor):
        return x
    a = x if backend.is_device_array(x) else np.asarray(x)
    if a.dtype == np.float64:
        a = a.astype(float_dtype or backend.get_default_dtype())
    return Tensor(a, device=devices.current())  # as Keras: on the current device


def _dtype_name(who: str, dtype) -> DTypeName:
    try:
        return DTypeName(dtype)
    except TypeError:
        raise ValueError(
            f"{who}: invalid dtype {dtype!r}; expected a name such as 'float32', 'int32' or 'bool'"
        ) from None


def _numbers_only(x) -> bool:
    """True for a non-empty (nested) list or tuple whose leaves are all Python numbers."""
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and all(_numbers_only(v) for v in x)
    return isinstance(x, (bool, int, float, np.generic))


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
        shape = standardize_shape(shape, "Input", "shape")
        if batch_size is not None and (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 0
        ):
            raise ValueError(
                f"Input: batch_size must be a non-negative int or None, received {batch_size!r}"
            )
        if dtype is not None:
            dtype = _dtype_name("Input", dtype)
        super().__init__(name=name or unique_name("input_layer"), **kwargs)
        self.shape = shape
        self.batch_size = batch_size
        self._given_dtype = str(DTypeName(dtype)) if dtype is not None else None
        kt = KerasTensor((batch_size, *self.shape), self, None, name=self.name)
        kt.creation_index = self.creation_index
        kt.dtype = DTypeName(dtype or backend.get_default_dtype())
        self.__dict__["_nodes_io"] = [(kt, kt)]
        self.built = True

    def call(self, inputs, training=None):
        return inputs

    @property
    def dtype(self) -> str:
        """The input's dtype (Keras's InputLayer reports it, not a policy's)."""
        return str(self.output.dtype)

    def get_config(self):
        return {"name": self.name, "shape": list(self.shape), "dtype": self._given_dtype}


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
