"""zerograd's first model format, still readable: a zip of config.json (zerograd's own graph
config) and model.weights.safetensors keyed by ``state_dict`` names."""

from __future__ import annotations


def legacy_model_from_config(cls, config: dict):
    """A model from the pre-Keras-format config ('layers' by name, 'nodes' by index)."""
    from zerograd.keras.base import Input
    from zerograd.keras.layers import deserialize
    from zerograd.keras.models import Model, Sequential

    if issubclass(cls, Sequential) or isinstance(config.get("layers"), list):
        model = Sequential(name=config["name"])
        for spec in config["layers"]:
            cfg = {k: v for k, v in spec["config"].items() if k != "input_shape"}
            model.add(deserialize({**spec, "config": cfg}))
        if config.get("input_shape"):
            model._build_from(tuple(config["input_shape"]))
        return model
    layers = {
        name: deserialize(spec)
        for name, spec in config["layers"].items()
        if spec["class_name"] != "InputLayer"
    }
    tensors = [Input(shape=tuple(i["shape"]), dtype=i["dtype"]) for i in config["inputs"]]
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


def load_legacy(config: dict, arrays: dict, compile: bool):  # noqa: A002 - Keras's name
    """A model from zerograd's first zip format (``arrays``: weights keyed by state_dict names)."""
    from zerograd.keras.models import Model, Sequential

    cls = {"Sequential": Sequential, "Functional": Model}.get(config.get("class_name"))
    if cls is None:
        raise ValueError(f"load_model: unknown model class {config.get('class_name')!r}")
    model = legacy_model_from_config(cls, config["config"])
    model.load_state_dict(arrays)
    spec = config.get("compile")
    if compile and spec and all(spec["loss"]):
        model.compile(
            optimizer=spec["optimizer"],
            loss=spec["loss"][0] if len(spec["loss"]) == 1 else spec["loss"],
            metrics=[m for m in spec["metrics"] if m],
        )
    return model
