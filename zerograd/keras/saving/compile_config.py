"""The compiled state written with a model (optimizer, loss, metrics) and compiling from it."""

from __future__ import annotations


def _find(model, attr: str):
    """The compile helper object (CompileLoss / CompileMetrics) a model holds, if any."""
    for value in vars(model).values():
        if type(value).__name__ == attr:
            return value
    return None


def _loss_spec(model):
    compiled = _find(model, "CompileLoss")
    if compiled is not None:
        return compiled.loss, compiled.loss_weights
    fns = list(getattr(model, "loss_fns", []) or [])
    return (fns[0] if len(fns) == 1 else fns or None), getattr(model, "loss_weights", None)


def _metric_spec(model):
    compiled = _find(model, "CompileMetrics")
    if compiled is not None:
        return compiled.user
    return getattr(model, "_metric_specs", None) or None, None


def get_compile_config(model):
    """Keras's ``compile_config`` of a compiled model; None for other objects."""
    from zerograd.keras.saving.serialization import serialize_keras_object

    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        return None
    if not hasattr(model, "fit"):
        return None
    loss, loss_weights = _loss_spec(model)
    metrics, weighted = _metric_spec(model)
    return {
        "optimizer": serialize_keras_object(model.optimizer),
        "loss": serialize_keras_object(_loss_name(loss)),
        "loss_weights": serialize_keras_object(loss_weights),
        "metrics": serialize_keras_object(metrics),
        "weighted_metrics": serialize_keras_object(weighted),
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }


def _loss_name(loss):
    """A built-in Loss made from a string ('mse') is written back as that string."""
    from zerograd.keras import losses

    if isinstance(loss, (list, tuple)):
        return [_loss_name(x) for x in loss]
    if isinstance(loss, dict):
        return {k: _loss_name(v) for k, v in loss.items()}
    name = getattr(loss, "name", None)
    names = getattr(losses, "NAMES", {})
    if isinstance(loss, losses.Loss) and name in names and type(loss) is names[name]:
        if not any(v for k, v in getattr(loss, "options", {}).items()):
            return name
    return loss


def compile_from_config(model, config: dict, custom_objects=None) -> None:
    """``model.compile(...)`` with the optimizer, loss and metrics a compile_config names."""
    from zerograd.keras.saving.serialization import deserialize_keras_object

    def load(value):
        return deserialize_keras_object(value, custom_objects)

    kwargs = {
        "optimizer": load(config.get("optimizer")) or "rmsprop",
        "loss": load(config.get("loss")),
        "metrics": load(config.get("metrics")),
    }
    if config.get("loss_weights") is not None:
        kwargs["loss_weights"] = load(config["loss_weights"])
    if config.get("weighted_metrics"):
        kwargs["weighted_metrics"] = load(config["weighted_metrics"])
    model.compile(**kwargs)
