"""Keras models: subclassed ``Model``, functional ``Model(inputs, outputs)`` and ``Sequential``."""

from __future__ import annotations

import numpy as np

from zerograd.keras.base import (
    InputLayer,
    KerasTensor,
    Layer,
    _as_tensors,
    _flatten,
    snake_case,
    unique_name,
)
from zerograd.keras.data_adapters import only_numbers
from zerograd.keras.functional import init_graph, run_graph
from zerograd.keras.layer_state import layer_scope
from zerograd.keras.training import TrainingMixin
from zerograd.tensor import Tensor

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]


class UnknownArgumentError(TypeError, ValueError):
    """An unrecognized keyword argument (a TypeError; a ValueError too, as Keras raises)."""


class Model(TrainingMixin, Layer):
    """A Keras model. ``Model(inputs=..., outputs=...)`` builds a functional graph; subclasses make
    layers in ``__init__`` and define ``call(self, inputs, training=None)``.

    Example:
        >>> inputs = keras.Input(shape=(784,))
        >>> outputs = keras.layers.Dense(10, activation='softmax')(inputs)
        >>> model = keras.Model(inputs=inputs, outputs=outputs)
    """

    _accepts_strings = True  # each layer checks its own inputs

    def __init__(self, *args, **kwargs):
        if len(args) > 2:
            raise TypeError(
                f"{type(self).__name__}: expected at most 2 positional arguments (inputs, outputs), "
                f"received {len(args)}"
            )
        inputs = kwargs.pop("inputs", args[0] if args else None)
        outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
        unknown = sorted(set(kwargs) - {"name", "trainable", "dtype"})
        if unknown:
            raise UnknownArgumentError(
                f"{type(self).__name__}: unrecognized keyword arguments {unknown}; a Model takes "
                "inputs, outputs, name, trainable and dtype"
            )
        if (inputs is None) != (outputs is None):
            raise ValueError(
                f"{type(self).__name__}: a functional model needs both inputs and outputs, "
                f"received inputs={inputs!r}, outputs={outputs!r}"
            )
        default = "functional" if inputs is not None else snake_case(type(self).__name__)
        kwargs["name"] = kwargs.get("name") or unique_name(default)
        super().__init__(**kwargs)
        self.compiled = False
        self.__dict__["_functional"] = inputs is not None
        if inputs is not None:
            init_graph(self, inputs, outputs)

    # --- functional graph (functional.py) ---------------------------------------------------------
    @property
    def inputs(self) -> list:
        """The input KerasTensors (functional models, and Sequential models once built)."""
        return list(self._graph_part("_inputs", "inputs"))

    @property
    def outputs(self) -> list:
        return list(self._graph_part("_outputs", "outputs"))

    @property
    def input(self):
        ins = self._graph_part("_inputs", "input")
        return ins if self.__dict__.get("_multi_in") else ins[0]

    @property
    def output(self):
        outs = self._graph_part("_outputs", "output")
        if self.__dict__.get("_output_keys") is not None:
            return dict(zip(self._output_keys, outs))
        return outs if self.__dict__.get("_multi_out") else outs[0]

    @property
    def input_shape(self):
        """The input KerasTensor's shape (a list of shapes for several inputs)."""
        shapes = [kt.shape for kt in self._graph_part("_inputs", "input_shape")]
        return shapes if len(shapes) > 1 else shapes[0]

    @property
    def output_shape(self):
        shapes = [kt.shape for kt in self._graph_part("_outputs", "output_shape")]
        return shapes if len(shapes) > 1 else shapes[0]

    def _graph_part(self, key: str, what: str) -> list:
        part = self.__dict__.get(key)
        if not part:
            raise AttributeError(
                f"{type(self).__name__} '{self.name}' has no {what}: it is not a functional model "
                "(nor a Sequential model built with an input shape)"
            )
        return part

    @property
    def layers(self) -> list:
        """The model's layers; as Keras's, without the ops applied to symbolic tensors."""
        return [la for la in self._graph_layers() if not la._is_operation]

    def _graph_layers(self) -> list:
        """Every layer of the model, ``keras.ops`` calls on symbolic tensors (OpLayer) included."""
        return [m for m in self._modules.values() if isinstance(m, Layer)]

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called ``name``, or the one at ``index`` (exactly one of them)."""
        who = f"{type(self).__name__} '{self.name}'.get_layer"
        if name is not None and index is not None:
            raise ValueError(
                f"{who}: give a layer name or an index, not both; received name={name!r}, "
                f"index={index!r}"
            )
        layers = self.layers
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise TypeError(
                    f"{who}: index must be an int, received {type(index).__name__} {index!r}"
                )
            if not -len(layers) <= index < len(layers):
                raise ValueError(
                    f"{who}: index {index} is out of range; the model has {len(layers)} layers"
                )
            return layers[index]
        if name is None:
            raise ValueError(f"{who}: give a layer name or an index, received neither")
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"{who}: no layer named {name!r}; the layers are {[la.name for la in layers]}"
        )

    def call(self, inputs, training=None, mask=None):
        """Run the functional graph; ``mask`` (one per input) rides on the inputs, as Keras's."""
        if not self._functional:
            raise NotImplementedError(f"{type(self).__name__}: subclassed models define call()")
        _put_masks(inputs, mask, self)
        return run_graph(self, inputs, training)

    def __call__(self, inputs, *args, **kwargs):
        if not self._functional and not self.built and not _is_kt(inputs):
            self.built = True
            if self.__dict__.get("_build_input_shape") is None and hasattr(inputs, "shape"):
                # Keras's build_config: a loaded subclassed model is built on this shape
                self.__dict__["_build_input_shape"] = tuple(inputs.shape)
        return super().__call__(inputs, *args, **kwargs)

    def _autocasts(self) -> bool:
        """Subclassed models cast float inputs to their compute dtype (Keras); a functional
        model's inputs take the dtypes of its ``keras.Input`` tensors instead."""
        return self.autocast and not self._functional

    def _array_float_dtype(self):
        if self._functional:
            floats = [str(kt.dtype) for kt in self._inputs if kt.dtype.kind == "f"]
            return floats[0] if floats else None
        return super()._array_float_dtype()

    def get_build_config(self) -> dict | None:
        """Keras's ``build_config``: the input shape of a subclassed model's first call."""
        shape = self.__dict__.get("_build_input_shape")
        return None if shape is None else {"input_shape": shape}

    def build_from_config(self, config: dict) -> None:
        """Build from ``get_build_config()``'s dict (a subclassed model is called on zeros)."""
        shape = (config or {}).get("input_shape")
        if shape is not None and not self.built:
            self.build(tuple(shape))

    def build(self, input_shape=None) -> None:
        """Subclassed models build their layers on the first call; ``build(shape)`` makes that
        call on zeros of ``shape`` (None axes taken as 1)."""
        if self._functional or input_shape is None:
            return
        from zerograd.autograd import no_grad

        self.__dict__.setdefault("_build_input_shape", tuple(input_shape))
        zeros = np.zeros(tuple(1 if d is None else d for d in input_shape), dtype=np.float32)
        with no_grad():
            was = self.training
            self.eval()
            self(zeros)
            self.train(was)

    # --- summary, config, weights ------------------------------------------------------------------
    def summary(
        self,
        line_length: int | None = None,
        positions=None,
        print_fn=None,
        expand_nested: bool = False,
        show_trainable: bool = False,
        layer_range=None,
    ) -> None:
        """Print layers, output shapes and parameter counts (as Keras's summary); layers not built
        yet show '?' and '0 (unbuilt)'."""
        for arg, value in (("positions", positions), ("layer_range", layer_range)):
            if value is not None:
                raise ValueError(f"Model.summary: {arg}= is not supported, received {value!r}")
        if expand_nested:
            raise ValueError("Model.summary: expand_nested=True is not supported")
        if line_length is not None and (
            isinstance(line_length, bool)
            or not isinstance(line_length, (int, np.integer))
            or line_length < 40
        ):
            raise ValueError(
                f"Model.summary: line_length must be an integer >= 40, received {line_length!r}"
            )
        print_fn = print_fn or print
        line_length = line_length or 78
        rows = [
            (
                f"{layer.name} ({layer._summary_type})",
                _shape_text(layer),
                f"{layer.count_params():,}" if layer.built else "0 (unbuilt)",
                "Y" if layer.trainable else "N",
            )
            for layer in self._summary_layers()
        ]
        total = sum(v.size for v in self.weights)
        trainable = sum(v.size for v in self.trainable_weights)
        w = (line_length - 20) // 2
        extra = f"{'Trainable':>10}" if show_trainable else ""
        print_fn(f'Model: "{self.name}"')
        print_fn("=" * line_length)
        print_fn(f"{'Layer (type)':<{w}}{'Output Shape':<{w}}{'Param #':>20}{extra}")
        print_fn("=" * line_length)
        for name, shape, n, flag in rows:
            print_fn(f"{name:<{w}}{shape:<{w}}{n:>20}{f'{flag:>10}' if show_trainable else ''}")
        print_fn("=" * line_length)
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")

    def _summary_layers(self) -> list:
        return [
            m
            for m in self._modules.values()
            if isinstance(m, Layer) and not isinstance(m, InputLayer)
        ]

    def get_config(self) -> dict:
        """Keras 3's config: the functional graph, or a subclass's name and trainable flag."""
        from zerograd.keras.saving.model_config import model_config

        return model_config(self)

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """Rebuild the model (fresh weights) from ``get_config()``'s dict."""
        from zerograd.keras.saving.model_config import model_from_keras_config
        from zerograd.keras.saving.registry import custom_object_scope

        with custom_object_scope(custom_objects or {}):
            return model_from_keras_config(cls, config, custom_objects)

    def to_json(self, **kwargs) -> str:
        """The model's architecture as a JSON string (``keras.models.model_from_json`` reads it)."""
        import json

        from zerograd.keras.saving import serialize_keras_object

        return json.dumps(serialize_keras_object(self), **kwargs)

    def save(self, filepath, overwrite: bool = True, **kwargs) -> None:
        """Architecture, weights and compiled state in one file; '.keras' is Keras 3's format.
        With ``overwrite=False`` an existing file is never replaced (FileExistsError)."""
        from zerograd.keras import saving

        saving.save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        """Weights keyed by structure: '.weights.h5' is Keras's h5 layout, else safetensors.
        With ``overwrite=False`` an existing file is never replaced (FileExistsError)."""
        from zerograd.keras.saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch: bool = False) -> None:
        """Weights from ``save_weights`` (zerograd or Keras) or a '.keras' file; a file that cannot
        be read, or does not fit the model, raises ``zerograd.io.FileFormatError``."""
        from zerograd.keras.saving import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch)


def _put_masks(inputs, mask, model) -> None:
    """Attach ``mask`` (a structure like ``inputs``) to the input tensors as their Keras masks."""
    if mask is None:
        return
    from zerograd.keras.mask_flow import set_mask

    flat_in, flat_mask = _flatten(inputs), _flatten(mask)
    if len(flat_in) != len(flat_mask):
        raise ValueError(
            f"{type(model).__name__} '{model.name}': expected one mask per input "
            f"({len(flat_in)}), received {len(flat_mask)}"
        )
    for x, m in zip(flat_in, flat_mask):
        if m is not None:
            set_mask(x, m if isinstance(m, Tensor) else Tensor(np.asarray(m, dtype=bool)))


def _is_kt(x) -> bool:
    return any(isinstance(t, KerasTensor) for t in _flatten(x))


def _shape_text(layer) -> str:
    shape = layer.output_shape_seen
    return str(shape).replace("None", "None") if shape is not None else "?"


class Sequential(Model):
    """A linear stack of layers: ``Sequential([keras.Input(shape=(784,)), Dense(64), ...])``.

    Once the input shape is known (an ``Input``, ``input_shape=`` on the first layer, or the first
    call) the stack is a graph: ``model.inputs``/``outputs`` and each layer's ``input``/``output``
    are KerasTensors, as in a functional model.
    """

    def __init__(self, layers=None, trainable: bool = True, name: str | None = None, **kwargs):
        super().__init__(name=name or unique_name("sequential"), trainable=trainable, **kwargs)
        self.__dict__["_input_kt"] = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        """Append a layer; ``keras.Input(...)`` (or an InputLayer) first sets the input shape."""
        if isinstance(layer, KerasTensor):
            if not isinstance(layer.layer, InputLayer):
                raise ValueError(
                    f"Sequential '{self.name}'.add: a KerasTensor must come from keras.Input, "
                    f"received {layer}"
                )
            layer = layer.layer
        if isinstance(layer, InputLayer):
            if self.layers or self._input_kt is not None:
                raise ValueError(
                    f"Sequential '{self.name}'.add: an Input can only come first, before any layer"
                )
            self.__dict__["_input_kt"] = layer.output
            self._build_from(layer.shape)
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential '{self.name}'.add: expected a keras Layer, received "
                f"{type(layer).__name__}"
            )
        if layer.name in self._modules:
            raise ValueError(
                f"Sequential '{self.name}'.add: layer names must be unique; '{layer.name}' is "
                "already in the model"
            )
        self._modules[layer.name] = layer  # not an attribute: names like "inputs" are taken
        if self.__dict__.get("_outputs"):
            self._append_to_graph(layer)
        elif len(self.layers) == 1 and layer._input_shape_arg is not None:
            self._build_from(layer._input_shape_arg)

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self.layers:
            raise TypeError(f"Sequential '{self.name}'.pop: there are no layers in the model")
        name = list(self._modules)[-1]
        layer = self._modules.pop(name)
        self.__dict__.pop(name, None)
        if self.__dict__.get("_known_shape") is not None:
            self._build_from(self._known_shape)
        return layer

    def _build_from(self, shape, dtype=None) -> None:
        """Call every layer on a symbolic input of ``shape`` (batch axis excluded): builds the
        layers and records ``inputs``/``outputs`` and each layer's ``input``/``output``."""
        from zerograd.keras.base import Input

        shape = tuple(shape)
        kt = self.__dict__.get("_input_kt")
        if kt is None or tuple(kt.shape[1:]) != shape:
            kt = Input(shape=shape, dtype=dtype)
        d = self.__dict__
        d["_input_kt"], d["_known_shape"] = kt, shape
        d["_inputs"], d["_outputs"] = [kt], [kt]
        d["_multi_in"] = d["_multi_out"] = False
        for layer in self.layers:
            self._append_to_graph(layer)
        self.built = True

    def _append_to_graph(self, layer) -> None:
        with layer_scope(self):  # weight paths start with the model's name, as Keras's
            out = layer(self._outputs[0])
        if isinstance(out, (list, tuple)):
            raise ValueError(
                f"Sequential '{self.name}': every layer must have one output; '{layer.name}' "
                f"returned {len(out)}"
            )
        self.__dict__["_outputs"] = [out]

    def build(self, input_shape=None) -> None:
        """Build the layers for inputs of ``input_shape`` (batch axis included)."""
        if input_shape is not None and self.__dict__.get("_known_shape") is None:
            self._build_from(tuple(input_shape)[1:])

    def _autocasts(self) -> bool:
        return False  # each layer casts its own inputs

    def _array_float_dtype(self):
        kt = self.__dict__.get("_input_kt")
        return str(kt.dtype) if kt is not None and kt.dtype.kind == "f" else None

    def call(self, inputs, training=None, mask=None):
        """Each layer in turn; a given ``mask`` reaches the first layer on its input (Keras)."""
        _put_masks(inputs, mask, self)
        x = inputs
        for layer in self.layers:
            x = layer(x, training=training)
        return x

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (list, tuple)) and not only_numbers(inputs):
            if len(inputs) != 1:  # one input: [x] is x (as Keras), more is a mistake
                raise ValueError(
                    f"Sequential '{self.name}' expects one input, received a {type(inputs).__name__} "
                    f"of {len(inputs)}"
                )
            inputs = inputs[0]
        if self.__dict__.get("_known_shape") is None and self.layers:
            shape = inputs.shape if hasattr(inputs, "shape") else np.shape(inputs)
            dtype = getattr(inputs, "dtype", None)
            if dtype is not None and np.dtype(dtype) == np.float64:
                dtype = None  # NumPy floats run as the default float dtype
            self._build_from(tuple(shape)[1:], dtype)
        if _is_kt(inputs):
            return Layer._symbolic_call(self, inputs, kwargs)
        kt = self.__dict__.get("_input_kt")
        if kt is not None and self.layers and hasattr(inputs, "shape"):
            inputs = self._check_input_rank(kt, inputs)
        return Layer.__call__(self, inputs, *args, **kwargs)

    def _check_input_rank(self, kt, inputs):
        """As Keras: a trailing axis of 1 is added or dropped to match the input's rank; any
        other rank is an error naming the expected shape."""
        from zerograd.keras.functional import _adjust_rank

        if len(inputs.shape) != len(kt.shape):
            inputs = _adjust_rank(kt, _as_tensors(inputs))
        if len(inputs.shape) != len(kt.shape):
            raise ValueError(
                f"Sequential '{self.name}' expected input of shape {kt.shape}, received shape "
                f"{tuple(inputs.shape)}"
            )
        return inputs

    def get_config(self) -> dict:
        """Keras 3's Sequential config: the InputLayer (when the shape is known), then layers."""
        from zerograd.keras.saving.model_config import sequential_config

        return sequential_config(self)


from zerograd.keras.saving import load_model, model_from_json, save_model  # noqa: E402, F401 - keras.models.*
from zerograd.keras.saving.clone import clone_model  # noqa: E402, F401
