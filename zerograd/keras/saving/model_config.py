"""Model configs in Keras 3's format: Sequential's layer list and the functional graph (layers with
their ``inbound_nodes``, ``input_layers``, ``output_layers``), written and read."""

from __future__ import annotations

import inspect

from zerograd.keras import dtype_policies
from zerograd.keras.saving.serialization import deserialize_keras_object, serialize_keras_object


def _flat(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _tensor_index(kt) -> int:
    name = kt.name or ""
    return int(name.rsplit("_out", 1)[1]) if "_out" in name else 0


def is_model_class(cls) -> bool:
    from zerograd.keras.models import Model

    return inspect.isclass(cls) and issubclass(cls, Model)


def _input_layer_config(name: str, shape, dtype) -> dict:
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {
            "batch_shape": [None, *shape],
            "dtype": str(dtype or "float32"),
            "sparse": False,
            "ragged": False,
            "name": name,
            "optional": False,
        },
        "registered_name": None,
    }


def sequential_config(model) -> dict:
    """Keras's Sequential config: an InputLayer entry (when the input shape is known) then layers."""
    shape = model.__dict__.get("_known_shape")
    layers = []
    if shape is not None:
        kt = model.__dict__.get("_input_kt")
        dtype = getattr(kt, "dtype", None) or "float32"
        name = getattr(kt, "name", None) or "input_layer"
        layers.append(_input_layer_config(name, shape, dtype))
    layers += [serialize_keras_object(layer) for layer in model.layers]
    config = {
        "name": model.name,
        "trainable": model.trainable,
        "dtype": dtype_policies.serialize(model.dtype_policy),  # Keras writes it, never reads it
        "layers": layers,
    }
    if shape is not None:
        config["build_input_shape"] = [None, *shape]
    return config


def functional_config(model) -> dict:
    """Keras's functional config of a zerograd ``Model(inputs, outputs)``."""
    from zerograd.keras.layers import MultiHeadAttention

    node_of, counts, inbound = {}, {}, {}
    for kt in model._nodes:
        key = id(kt.layer), id(kt.inbound)
        if key not in node_of:
            node_of[key] = counts.get(id(kt.layer), 0)
            counts[id(kt.layer)] = node_of[key] + 1
            inbound.setdefault(id(kt.layer), []).append(kt)

    def history(kt) -> list:
        if kt.inbound is None:
            return [kt.layer.name, 0, 0]
        return [kt.layer.name, node_of[id(kt.layer), id(kt.inbound)], _tensor_index(kt)]

    def tensor(kt) -> dict:
        return {
            "class_name": "__keras_tensor__",
            "config": {
                "shape": list(kt.shape),
                "dtype": str(getattr(kt, "dtype", None) or "float32"),
                "keras_history": history(kt),
            },
        }

    def convert(value):
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        if hasattr(value, "inbound") and hasattr(value, "layer"):
            return tensor(value)
        return serialize_keras_object(value)

    layers = []
    for layer in model._graph_layers():  # ops on symbolic tensors included, as Keras's config
        if type(layer).__name__ == "InputLayer":
            kt = next(k for k in model._inputs if k.layer is layer)
            entry = _input_layer_config(layer.name, kt.shape[1:], getattr(kt, "dtype", None))
            entry["name"], entry["inbound_nodes"] = layer.name, []
            layers.append(entry)
            continue
        entry = serialize_keras_object(layer)
        nodes = []
        for kt in inbound.get(id(layer), []):
            packed = isinstance(kt.inbound, (list, tuple))
            if isinstance(layer, MultiHeadAttention) and packed and len(kt.inbound) == 3:
                q, v, k = kt.inbound  # recorded as [query, value, key]; Keras: mha(query, value)
                args = [convert(q), convert(v)] + ([] if k is v else [convert(k)])
            else:
                args = [convert(list(kt.inbound) if packed else kt.inbound)]
            args += [convert(a) for a in getattr(kt, "args", ())]
            kwargs = {k: convert(v) for k, v in kt.kwargs.items()}
            nodes.append({"args": args, "kwargs": kwargs})
        entry["name"], entry["inbound_nodes"] = layer.name, nodes
        layers.append(entry)

    def ends(kts, multi):
        out = [history(kt) for kt in kts]
        return out if multi else out[0]

    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layers,
        "input_layers": ends(model._inputs, model._multi_in),
        "output_layers": ends(model._outputs, model._multi_out),
    }


def model_config(model) -> dict:
    """The config ``model.get_config()`` returns: functional, or a subclass's name/trainable."""
    if model.__dict__.get("_functional"):
        return functional_config(model)
    return {"name": model.name, "trainable": model.trainable}


def model_from_keras_config(cls, config: dict, custom_objects=None, make_layer=None):
    """Rebuild a Sequential, functional or subclassed model from its Keras-format config;
    ``make_layer(entry)``, when given, makes each layer instead of its config (clone_model)."""
    from zerograd.keras.models import Model, Sequential

    if "nodes" in config and "input_layers" not in config:  # zerograd's format before Keras's
        from zerograd.keras.saving.legacy import legacy_model_from_config

        return legacy_model_from_config(cls, config)
    if issubclass(cls, Sequential) and "layers" in config:
        return _sequential_from_config(cls, config, custom_objects, make_layer)
    if "input_layers" in config and (cls is Model or _functional_like(cls)):
        model = _functional_from_config(config, custom_objects, make_layer)
        if cls is not Model:
            model = cls(inputs=model._in_struct, outputs=model._out_struct, name=config["name"])
        return model
    try:
        return cls(**config)
    except TypeError as e:
        raise TypeError(
            f"{cls.__name__}.from_config could not rebuild the model from {sorted(config)} ({e}); "
            "a subclassed model must define get_config() returning its constructor arguments"
        ) from e


def _functional_like(cls) -> bool:
    params = inspect.signature(cls.__init__).parameters
    return "inputs" in params and "outputs" in params


def _input_from_config(cfg: dict):
    from zerograd.keras.base import Input

    unsupported = [k for k in ("sparse", "ragged", "optional") if cfg.get(k)]
    if unsupported:
        raise ValueError(
            f"InputLayer '{cfg.get('name')}': zerograd does not support {unsupported} inputs"
        )
    shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
    shape = shape[1:] if shape is not None else cfg.get("shape")
    return Input(shape=tuple(shape), dtype=cfg.get("dtype"), name=cfg.get("name"))


def _layer_entry(cfg: dict, custom_objects, make_layer=None):
    if make_layer is not None:
        return make_layer(cfg)
    cfg = {k: v for k, v in cfg.items() if k not in ("inbound_nodes", "name", "build_config")}
    return deserialize_keras_object(cfg, custom_objects)


def _sequential_from_config(cls, config: dict, custom_objects, make_layer=None):
    model = cls(name=config.get("name"))
    for entry in config["layers"]:
        if entry.get("class_name") == "InputLayer":
            model.add(_input_from_config(entry["config"]))
        else:
            model.add(_layer_entry(entry, custom_objects, make_layer))
    shape = config.get("build_input_shape")
    if shape and not model.__dict__.get("_known_shape"):
        model._build_from(tuple(shape[1:]))
    if config.get("trainable") is False:
        model.trainable = False
    return model


def _functional_from_config(config: dict, custom_objects, make_layer=None):
    from zerograd.keras.models import Model

    made, tensors, pending = {}, {}, []
    for entry in config["layers"]:
        name = entry.get("name") or entry["config"].get("name")
        if entry.get("class_name") == "InputLayer":
            tensors[name, 0, 0] = _input_from_config(entry["config"])
            continue
        made[name] = _layer_entry(entry, custom_objects, make_layer)
        for i, node in enumerate(entry.get("inbound_nodes", [])):
            pending.append((name, i, node))

    def resolve(value):
        if isinstance(value, (list, tuple)):
            return [resolve(v) for v in value]
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            key = tuple(value["config"]["keras_history"])
            if key not in tensors:
                raise KeyError(key)
            return tensors[key]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    while pending:
        progress = False
        for item in list(pending):
            name, index, node = item
            try:
                args = resolve(node.get("args", []))
                kwargs = resolve(node.get("kwargs", {}))
            except KeyError:
                continue
            out = made[name](*args, **kwargs)
            for j, t in enumerate(_flat(out)):
                tensors[name, index, j] = t
            pending.remove(item)
            progress = True
        if not progress:
            missing = sorted({p[0] for p in pending})
            raise ValueError(
                f"Model.from_config: the inputs of layers {missing} are never produced in the config"
            )

    def ends(spec):
        if spec and isinstance(spec[0], list):
            return [tensors[tuple(s)] for s in spec]
        return tensors[tuple(spec)]

    ins, outs = ends(config["input_layers"]), ends(config["output_layers"])
    model = Model(inputs=ins, outputs=outs, name=config.get("name"))
    model.__dict__["_in_struct"], model.__dict__["_out_struct"] = ins, outs
    if config.get("trainable") is False:
        model.trainable = False
    return model
