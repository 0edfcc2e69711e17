"""Keras models: subclassed ``Model``, functional ``Model(inputs, outputs)`` and ``Sequential``."""

from __future__ import annotations

import numpy as np

from zerograd.keras.base import InputLayer, KerasTensor, Layer, _flatten, snake_case, unique_name
from zerograd.keras.training import TrainingMixin


class Model(TrainingMixin, Layer):
    """A Keras model. ``Model(inputs=..., outputs=...)`` builds a functional graph; subclasses make
    layers in ``__init__`` and define ``call(self, inputs, training=None)``.

    Example:
        >>> inputs = keras.Input(shape=(784,))
        >>> outputs = keras.layers.Dense(10, activation='softmax')(inputs)
        >>> model = keras.Model(inputs=inputs, outputs=outputs)
    """

    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop("inputs", args[0] if args else None)
        outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
        default = "functional" if inputs is not None else snake_case(type(self).__name__)
        name = kwargs.pop("name", None) or unique_name(default)
        super().__init__(
            name=name, **{k: v for k, v in kwargs.items() if k in ("trainable", "dtype")}
        )
        self.compiled = False
        self.__dict__["_functional"] = inputs is not None
        if inputs is not None:
            self._init_graph(inputs, outputs)

    # --- functional graph ------------------------------------------------------------------------
    def _init_graph(self, inputs, outputs) -> None:
        if isinstance(outputs, Layer):
            outputs = _chain_uncalled_layers(inputs, outputs)
        self.__dict__["_inputs"] = _flatten(inputs)
        self.__dict__["_outputs"] = _flatten(outputs)
        self.__dict__["_multi_in"] = isinstance(inputs, (list, tuple))
        self.__dict__["_multi_out"] = isinstance(outputs, (list, tuple))
        order, seen = [], set()

        def visit(kt: KerasTensor) -> None:
            if id(kt) in seen:
                return
            seen.add(id(kt))
            for parent in _flatten(kt.inbound) if kt.inbound is not None else []:
                visit(parent)
            order.append(kt)

        for out in self._outputs:
            visit(out)
        for kt in order:
            if kt.inbound is None and not any(kt is i for i in self._inputs):
                raise ValueError(
                    f"Model '{self.name}': output depends on an input that is not in inputs ({kt.name})"
                )
        self.__dict__["_nodes"] = [kt for kt in order if kt.inbound is not None]
        layers = []
        for kt in order:
            if kt.layer not in layers:
                layers.append(kt.layer)
        for layer in layers:
            self.add_module(layer.name, layer)
        self.built = True

    @property
    def layers(self) -> list:
        return [m for m in self._modules.values() if isinstance(m, Layer)]

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"Model '{self.name}' has no layer named {name!r}")

    def call(self, inputs, training=None, mask=None):
        if not self._functional:
            raise NotImplementedError(f"{type(self).__name__}: subclassed models define call()")
        given = _flatten(inputs) if self._multi_in else [inputs]
        if len(given) != len(self._inputs):
            raise ValueError(
                f"Model '{self.name}' expected {len(self._inputs)} inputs, received {len(given)}"
            )
        values = {id(kt): t for kt, t in zip(self._inputs, given)}
        for kt_in, t in zip(self._inputs, given):
            want = kt_in.shape[1:]
            if tuple(t.shape[1:]) != tuple(want) and None not in want:
                raise ValueError(
                    f"Model '{self.name}' expected input {kt_in.name} of shape (batch, {', '.join(map(str, want))}), received shape {t.shape}"
                )
        done = {}
        for kt in self._nodes:
            if id(kt) in values:
                continue
            key = id(kt.layer), id(kt.inbound)
            if key not in done:
                args = [values[id(p)] for p in _flatten(kt.inbound)]
                arg = args if isinstance(kt.inbound, (list, tuple)) else args[0]
                done[key] = kt.layer(arg, **{**kt.kwargs, "training": training})
            out = done[key]
            siblings = _flatten(out)
            index = int(kt.name.rsplit("_out", 1)[1]) if "_out" in (kt.name or "") else 0
            values[id(kt)] = siblings[index] if isinstance(out, (list, tuple)) else out
        outs = [values[id(o)] for o in self._outputs]
        return outs if self._multi_out else outs[0]

    def __call__(self, inputs, *args, **kwargs):
        if not self._functional and not self.built and not _is_kt(inputs):
            self.built = True
        return super().__call__(inputs, *args, **kwargs)

    def build(self, input_shape) -> None:
        """Subclassed models build their layers on the first real call."""

    # --- summary, config, weights ------------------------------------------------------------------
    def summary(self, print_fn=None, line_length: int = 78) -> None:
        """Print layers, output shapes and parameter counts (as Keras's summary)."""
        print_fn = print_fn or print
        rows = [
            (
                f"{layer.name} ({type(layer).__name__})",
                _shape_text(layer),
                f"{layer.count_params():,}",
            )
            for layer in self._summary_layers()
        ]
        total = self.count_params()
        trainable = sum(p.size for p in self.parameters() if p.requires_grad)
        w = (line_length - 20) // 2
        print_fn(f'Model: "{self.name}"')
        print_fn("=" * line_length)
        print_fn(f"{'Layer (type)':<{w}}{'Output Shape':<{w}}{'Param #':>20}")
        print_fn("=" * line_length)
        for name, shape, n in rows:
            print_fn(f"{name:<{w}}{shape:<{w}}{n:>20}")
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

    def get_weights(self) -> list:
        return [p.numpy().copy() for p in self.parameters()]

    def get_config(self) -> dict:
        if not self._functional:
            raise NotImplementedError(
                f"{type(self).__name__} is a subclassed model: save its weights with save_weights()"
            )
        index = {id(kt): i for i, kt in enumerate(self._inputs + self._nodes)}
        nodes = []
        for kt in self._nodes:
            parents = [index[id(p)] for p in _flatten(kt.inbound)]
            nodes.append(
                {
                    "layer": kt.layer.name,
                    "inbound": parents,
                    "list": isinstance(kt.inbound, (list, tuple)),
                    "name": kt.name,
                    "kwargs": {
                        k: v
                        for k, v in kt.kwargs.items()
                        if isinstance(v, (int, float, str, bool, type(None)))
                    },
                }
            )
        return {
            "name": self.name,
            "layers": {
                layer.name: {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            },
            "inputs": [
                {"name": kt.name, "shape": list(kt.shape[1:]), "dtype": str(kt.dtype)}
                for kt in self._inputs
            ],
            "nodes": nodes,
            "outputs": [index[id(o)] for o in self._outputs],
            "multi_in": self._multi_in,
            "multi_out": self._multi_out,
        }

    @classmethod
    def from_config(cls, config: dict):
        from zerograd.keras.base import Input
        from zerograd.keras.layers import deserialize

        layers = {}
        for name, spec in config["layers"].items():
            if spec["class_name"] != "InputLayer":
                layers[name] = deserialize(spec)
        tensors = [
            Input(shape=tuple(i["shape"]), dtype=i["dtype"], name=None) for i in config["inputs"]
        ]
        calls = {}
        for node in config["nodes"]:
            parents = [tensors[i] for i in node["inbound"]]
            arg = parents if node["list"] else parents[0]
            key = node["layer"], tuple(node["inbound"])
            if key not in calls:
                calls[key] = layers[node["layer"]](arg, **node["kwargs"])
            out = calls[key]
            index = int(node["name"].rsplit("_out", 1)[1]) if "_out" in node["name"] else 0
            tensors.append(out[index] if isinstance(out, (list, tuple)) else out)
        ins = [tensors[i] for i in range(len(config["inputs"]))]
        outs = [tensors[i] for i in config["outputs"]]
        return Model(
            inputs=ins if config["multi_in"] else ins[0],
            outputs=outs if config["multi_out"] else outs[0],
            name=config["name"],
        )

    def save(self, filepath, overwrite: bool = True) -> None:
        """Architecture (JSON) and weights (safetensors) in one zip file; written atomically."""
        from zerograd.keras.saving import save_model

        save_model(self, filepath)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        from zerograd.keras.saving import save_weights

        save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
        from zerograd.keras.saving import load_weights

        load_weights(self, filepath)


def _is_kt(x) -> bool:
    return any(isinstance(t, KerasTensor) for t in _flatten(x))


def _chain_uncalled_layers(inputs, output_layer: Layer):
    """``Model(inputs=Input(...), outputs=Dense(...))`` with layers made but never called: connect
    the layers created after the input, in creation order, ending at ``output_layer``."""
    import gc
    import logging

    start = min(getattr(kt, "creation_index", -1) for kt in _flatten(inputs))
    layers = [
        o
        for o in gc.get_objects()
        if isinstance(o, Layer) and not isinstance(o, (InputLayer, Model))
    ]
    chain = sorted(
        (
            la
            for la in layers
            if start < la.creation_index <= output_layer.creation_index and not la.built
        ),
        key=lambda la: la.creation_index,
    )
    logging.getLogger("zerograd.keras").warning(
        "Model: outputs is a layer, not a tensor; connecting the uncalled layers %s in the order they were made",
        [la.name for la in chain],
    )
    x = inputs
    for layer in chain:
        x = layer(x)
    return x


def _shape_text(layer) -> str:
    shape = layer.output_shape_seen
    return str(shape).replace("None", "None") if shape is not None else "?"


class Sequential(Model):
    """A linear stack of layers: ``Sequential([Dense(64, activation='relu', input_shape=(784,)), ...])``."""

    def __init__(self, layers=None, name: str | None = None, **kwargs):
        super().__init__(name=name or unique_name("sequential"), **kwargs)
        self.__dict__["_input_kt"] = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        """Append a layer (a KerasTensor from ``Input`` sets the input shape)."""
        if isinstance(layer, KerasTensor):
            self.__dict__["_input_kt"] = layer
            self._build_from(layer.shape[1:])
            return
        if isinstance(layer, InputLayer):
            self._build_from(layer.shape)
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential '{self.name}': expected a keras Layer, received {type(layer).__name__}"
            )
        self.add_module(layer.name, layer)
        if len(self.layers) == 1 and layer._input_shape_arg is not None:
            self._build_from(layer._input_shape_arg)
        elif self.__dict__.get("_known_shape") is not None:
            self._build_from(self._known_shape)

    def pop(self) -> Layer:
        name = list(self._modules)[-1]
        layer = self._modules.pop(name)
        self.__dict__.pop(name, None)
        return layer

    def _build_from(self, shape) -> None:
        """Run zeros of the input shape through the stack: builds every layer, records output shapes."""
        from zerograd.autograd import no_grad
        from zerograd.tensor import Tensor

        self.__dict__["_known_shape"] = tuple(shape)
        dtype = getattr(self._input_kt, "dtype", None) or np.float32
        x = Tensor(np.zeros((2, *shape), dtype=dtype))
        with no_grad():
            was = self.training
            self.eval()
            for layer in self.layers:
                x = layer(x, training=False)
            self.train(was)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        x = inputs
        for layer in self.layers:
            x = layer(x, training=training)
        return x

    def __call__(self, inputs, *args, **kwargs):
        if _is_kt(inputs):
            return Layer._symbolic_call(self, inputs, kwargs)
        return Layer.__call__(self, inputs, *args, **kwargs)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ],
            "input_shape": list(self._known_shape) if self.__dict__.get("_known_shape") else None,
        }

    @classmethod
    def from_config(cls, config: dict):
        from zerograd.keras.layers import deserialize

        model = cls(name=config["name"])
        for spec in config["layers"]:
            spec = {
                **spec,
                "config": {k: v for k, v in spec["config"].items() if k != "input_shape"},
            }
            model.add(deserialize(spec))
        if config.get("input_shape"):
            model._build_from(tuple(config["input_shape"]))
        return model


from zerograd.keras.saving import load_model  # noqa: E402, F401 - keras.models.load_model, as Keras
