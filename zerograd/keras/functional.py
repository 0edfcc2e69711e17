"""The graph of a functional model: the layer calls between ``keras.Input`` tensors and the
outputs, found from the KerasTensors, and replayed on real tensors."""

from __future__ import annotations

import logging

from zerograd.keras.base import InputLayer, KerasTensor, Layer, _flatten, live_layers


def _symbols(x) -> list:
    """The KerasTensors inside ``x`` (a KerasTensor, or lists, tuples and dicts of them)."""
    if isinstance(x, KerasTensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for item in x for t in _symbols(item)]
    if isinstance(x, dict):
        return [t for item in x.values() for t in _symbols(item)]
    return []


def parents(kt: KerasTensor) -> list:
    """The KerasTensors the call that made ``kt`` consumed: its first argument, the other
    positional arguments and the keyword arguments."""
    if kt.inbound is None:
        return []
    return _symbols(kt.inbound) + _symbols(list(kt.args)) + _symbols(kt.kwargs)


def _resolve(x, values: dict):
    if isinstance(x, KerasTensor):
        return values[id(x)]
    if isinstance(x, (list, tuple)):
        return type(x)(_resolve(t, values) for t in x)
    if isinstance(x, dict):
        return {k: _resolve(v, values) for k, v in x.items()}
    return x


def init_graph(model, inputs, outputs) -> None:
    """Record the graph of ``Model(inputs, outputs)``: its inputs, outputs, the KerasTensors in
    call order (``_nodes``) and its layers as sub-modules, in the order they are first used."""
    if isinstance(outputs, Layer):
        outputs = chain_uncalled_layers(inputs, outputs)
    d = model.__dict__
    # dicts of inputs/outputs: calls take and return dicts with these keys; as Keras flattens a
    # dict in the order of its sorted keys, so do the layers, weights and logs
    d["_input_keys"] = sorted(inputs) if isinstance(inputs, dict) else None
    d["_output_keys"] = sorted(outputs) if isinstance(outputs, dict) else None
    inputs = [inputs[k] for k in d["_input_keys"]] if isinstance(inputs, dict) else inputs
    outputs = [outputs[k] for k in d["_output_keys"]] if isinstance(outputs, dict) else outputs
    d["_inputs"], d["_outputs"] = _flatten(inputs), _flatten(outputs)
    d["_multi_in"] = isinstance(inputs, (list, tuple))
    d["_multi_out"] = isinstance(outputs, (list, tuple))
    for kt in d["_inputs"] + d["_outputs"]:
        if not isinstance(kt, KerasTensor):
            raise TypeError(
                f"Model '{model.name}': inputs and outputs must be KerasTensors (from keras.Input "
                f"and layer calls), received {type(kt).__name__}"
            )
    order, seen = [], set()

    def visit(kt: KerasTensor) -> None:  # iterative enough: graphs are shallow in practice
        if id(kt) in seen:
            return
        seen.add(id(kt))
        if not any(kt is i for i in d["_inputs"]):
            for parent in parents(kt):
                visit(parent)
        order.append(kt)

    for out in d["_outputs"]:
        visit(out)
    for kt in order:
        if kt.inbound is None and not any(kt is i for i in d["_inputs"]):
            raise ValueError(
                f"Model '{model.name}': an output depends on the input {kt.name}, which is not "
                f"among the model's inputs {[i.name for i in d['_inputs']]}"
            )
    d["_nodes"] = [kt for kt in order if kt.inbound is not None]
    layers = [kt.layer for kt in d["_inputs"]]
    for kt in order:
        if not any(kt.layer is la for la in layers):
            layers.append(kt.layer)
    names = [la.name for la in layers]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(
            f"Model '{model.name}': layer names must be unique; {repeated} name more than one "
            "layer (pass distinct name= arguments)"
        )
    for layer in layers:  # as sub-modules only: a layer named "inputs" must not hide the property
        model._modules[layer.name] = layer
    model.built = True


def _adjust_rank(kt, t):
    """As Keras: an input one axis short of an Input whose last axis is 1 gains that axis, and
    one with an extra trailing axis of 1 loses it ((N, 28, 28) into Input((28, 28, 1)))."""
    if t.ndim + 1 == len(kt.shape) and kt.shape[-1] == 1:
        return t.reshape(*t.shape, 1)
    if t.ndim == len(kt.shape) + 1 and t.shape[-1] == 1:
        return t.reshape(*t.shape[:-1])
    return t


def run_graph(model, inputs, training=None):
    """Replay the recorded layer calls on real tensors (``Model.call`` of a functional model)."""
    keys = model.__dict__.get("_input_keys")
    if keys is not None and isinstance(inputs, dict):
        missing = [k for k in keys if k not in inputs]
        if missing:
            raise ValueError(
                f"Model '{model.name}' expected inputs {keys}, missing {missing} in the dict given"
            )
        inputs = [inputs[k] for k in keys]
    given = _flatten(inputs) if model._multi_in else [inputs]
    if len(given) != len(model._inputs):
        raise ValueError(
            f"Model '{model.name}' expected {len(model._inputs)} inputs, received {len(given)}"
        )
    given = [_adjust_rank(kt, _in_input_dtype(kt, t)) for kt, t in zip(model._inputs, given)]
    values = {id(kt): t for kt, t in zip(model._inputs, given)}
    for kt_in, t in zip(model._inputs, given):
        want = kt_in.shape[1:]
        got = tuple(t.shape[1:])
        if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got)):
            raise ValueError(
                f"Model '{model.name}' expected input {kt_in.name} of shape "
                f"(batch, {', '.join(map(str, want))}), received shape {tuple(t.shape)}"
            )
    done = {}
    for kt in model._nodes:
        if id(kt) in values:
            continue
        key = id(kt.layer), id(kt.inbound), tuple(id(a) for a in kt.args)
        if key not in done:
            kwargs = {"training": training, **_resolve(kt.kwargs, values)}
            done[key] = kt.layer(
                _resolve(kt.inbound, values), *_resolve(list(kt.args), values), **kwargs
            )
        out = done[key]
        index = int(kt.name.rsplit("_out", 1)[1]) if "_out" in (kt.name or "") else 0
        values[id(kt)] = _flatten(out)[index] if isinstance(out, (list, tuple)) else out
    outs = [values[id(o)] for o in model._outputs]
    if model.__dict__.get("_output_keys") is not None:
        return dict(zip(model._output_keys, outs))
    return outs if model._multi_out else outs[0]


def _in_input_dtype(kt: KerasTensor, t):
    """A float input cast to its ``keras.Input``'s float dtype (Keras standardizes inputs so);
    other inputs as given; the Keras mask rides along."""
    dtype = getattr(t, "dtype", None)
    if dtype is None or dtype.kind != "f" or kt.dtype.kind != "f" or dtype == kt.dtype:
        return t
    y = t.astype(str(kt.dtype))
    mask = getattr(t, "_keras_mask", None)
    if mask is not None:
        y._keras_mask = mask
    return y


def chain_uncalled_layers(inputs, output_layer: Layer):
    """``Model(inputs=Input(...), outputs=Dense(...))`` with layers made but never called: connect
    the layers created after the input, in creation order, ending at ``output_layer``."""
    start = min(getattr(kt, "creation_index", -1) for kt in _flatten(inputs))
    chain = sorted(
        (
            la
            for la in list(live_layers)
            if start < la.creation_index <= output_layer.creation_index
            and not la.built
            and not isinstance(la, InputLayer)
            and not hasattr(la, "fit")  # models are not links of the chain
        ),
        key=lambda la: la.creation_index,
    )
    logging.getLogger("zerograd.keras").warning(
        "Model: outputs is a layer, not a tensor; connecting the uncalled layers %s in the order "
        "they were made",
        [la.name for la in chain],
    )
    x = inputs
    for layer in chain:
        x = layer(x)
    return x
