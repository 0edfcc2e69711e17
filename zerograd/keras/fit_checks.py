"""Argument checks of ``fit``/``evaluate``/``predict``: every check is O(1) in the data size (types,
ranges, lengths of small containers, dict keys), run once per call before any batch is drawn.

Each error names the method, the argument, what was expected and what was received, e.g.
``fit: batch_size must be a positive integer or None, received -1``. Also here: ``predict`` on
zero samples, which returns outputs with 0 rows.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from zerograd.ops import argcheck


def _verbose(what: str, verbose) -> None:
    if isinstance(verbose, str) and verbose == "auto":
        return
    if isinstance(verbose, bool) or not isinstance(verbose, numbers.Integral) or verbose < 0:
        raise ValueError(
            f"{what}: verbose must be 'auto' or an integer >= 0 (0 silent, 1 progress bar, 2 one "
            f"line per epoch), received {verbose!r}"
        )


def _callbacks(what: str, callbacks) -> None:
    if callbacks is None or type(callbacks).__name__ == "CallbackList":
        return
    if callable(getattr(callbacks, "set_model", None)):  # one Callback: Keras wraps it in a list
        return
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            f"{what}: callbacks must be a list of keras.callbacks.Callback or None, received "
            f"{type(callbacks).__name__}"
        )
    for i, cb in enumerate(callbacks):
        if not callable(getattr(cb, "set_model", None)):
            raise TypeError(
                f"{what}: callbacks must be a list of keras.callbacks.Callback, received "
                f"callbacks[{i}] of type {type(cb).__name__}"
            )


def _input_keys(model, what: str, x) -> None:
    """A dict of inputs naming keys the model has no input for: a warning, and the extra keys are
    dropped (as Keras does; a dataset's dict often carries more columns than the model uses)."""
    inputs = model.__dict__.get("_inputs")
    if not (isinstance(x, dict) and model.__dict__.get("_functional") and inputs):
        return
    names = [kt.name for kt in inputs]
    unknown = sorted(str(k) for k in x if k not in names)
    missing = [n for n in names if n not in x]
    if missing:
        raise ValueError(
            f"{what}: model '{model.name}' has inputs {names}; x given as a dict misses "
            f"{missing}" + (f" and has unknown keys {unknown}" if unknown else "")
        )
    if unknown:
        warnings.warn(
            f"{what}: model '{model.name}' has inputs {names}; the keys {unknown} of the dict "
            "given as x are not inputs of the model and are ignored",
            stacklevel=3,
        )


def _validation_data(data) -> None:
    """A tuple/list of 2 or 3 entries, or a source of batches; a lone array has no targets."""
    if data is None:
        return
    if isinstance(data, (tuple, list)):
        if len(data) not in (2, 3):
            raise ValueError(
                "fit: validation_data must be (x, y) or (x, y, sample_weight), received a "
                f"{type(data).__name__} of length {len(data)}"
            )
        return
    if isinstance(data, dict) or (hasattr(data, "shape") and hasattr(data, "dtype")):
        raise ValueError(
            "fit: validation_data must be (x, y) or (x, y, sample_weight) (or a source of such "
            f"batches), received a single {type(data).__name__} (no targets)"
        )


def _validation_freq(value) -> None:
    if argcheck.is_integer(value):
        if value < 1:
            raise ValueError(
                f"fit: validation_freq must be a positive integer or a list of epochs (1-based), "
                f"received {value!r}"
            )
        return
    if isinstance(value, (list, tuple, set, range)):
        bad = [v for v in value if not argcheck.is_integer(v) or v < 1]
        if bad:
            raise ValueError(
                "fit: validation_freq given as a list must hold epoch numbers >= 1, received "
                f"{bad[:5]!r}"
            )
        return
    raise TypeError(
        "fit: validation_freq must be a positive integer or a list of epochs, received "
        f"{argcheck.show(value)}"
    )


def _num_classes(model, y):
    """The number of classes a class_weight may name: the one-hot width of ``y`` or the width of
    the model's single output (2 for one sigmoid unit); None when unknown."""
    if hasattr(y, "shape") and len(y.shape) > 1 and y.shape[-1] > 1:
        return int(y.shape[-1])
    try:
        outputs = model.outputs
    except (AttributeError, ValueError, TypeError, KeyError, IndexError, RuntimeError):
        return None
    if not outputs or len(outputs) != 1:
        return None
    width = outputs[0].shape[-1] if len(outputs[0].shape) else None
    if not isinstance(width, int):
        return None
    return 2 if width == 1 else width


def _class_weight(model, class_weight, y) -> None:
    if class_weight is None:
        return
    if not isinstance(class_weight, dict):
        raise TypeError(
            "fit: class_weight must be a dict mapping class indices to weights, received "
            f"{type(class_weight).__name__}"
        )
    keys = list(class_weight)
    bad = [k for k in keys if not argcheck.is_integer(k) or k < 0]
    if bad:
        raise ValueError(
            f"fit: class_weight keys must be class indices (integers >= 0), received {bad[:5]!r}"
        )
    values = list(class_weight.values())
    bad = [
        v
        for v in values
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0
    ]
    if bad:
        raise ValueError(
            f"fit: class_weight values must be finite numbers >= 0, received {bad[:5]!r}"
        )
    n = _num_classes(model, y)
    unknown = sorted(int(k) for k in keys if n is not None and k >= n)
    if unknown:
        raise ValueError(
            f"fit: class_weight names classes {unknown} but the model has {n} classes "
            f"(0 to {n - 1})"
        )


def _targets(model, what: str, x, y, step: str) -> None:
    """Arrays without targets for a model compiled with a loss (and Keras's own step)."""
    from zerograd.keras import data_adapters as da
    from zerograd.keras.training_steps import StepsMixin

    if y is not None or x is None or da.is_batch_iterable(x) or da.is_py_dataset(x):
        return
    if model.__dict__.get("_compile_loss") is None:
        return
    if getattr(type(model), step, None) is not getattr(StepsMixin, step):
        return  # a custom step may need no targets
    raise ValueError(
        f"{what}: y is None, but model '{model.name}' was compiled with a loss, which needs "
        "targets; pass y (or x as a generator/dataset yielding (x, y) batches)"
    )


def check_fit(model, args: dict) -> None:
    """Check the arguments of ``fit`` (a dict of its keyword values) before any data is read."""
    _verbose("fit", args["verbose"])
    _callbacks("fit", args["callbacks"])
    for name in ("batch_size", "steps_per_epoch", "validation_steps", "validation_batch_size"):
        argcheck.integer("fit", name, args[name], 1, allow_none=True)
    argcheck.size("fit", "epochs", args["epochs"])
    argcheck.size("fit", "initial_epoch", args["initial_epoch"])
    argcheck.number("fit", "validation_split", args["validation_split"], 0.0, 1.0, high_open=True)
    _validation_data(args["validation_data"])
    _validation_freq(args["validation_freq"])
    _input_keys(model, "fit", args["x"])
    y = args["y"]
    _targets(model, "fit", args["x"], y, "train_step")
    _class_weight(model, args["class_weight"], y if hasattr(y, "shape") else None)


def check_evaluate(model, x, y, batch_size, steps, callbacks, verbose) -> None:
    """Check the arguments of ``evaluate``."""
    _verbose("evaluate", verbose)
    _callbacks("evaluate", callbacks)
    argcheck.integer("evaluate", "batch_size", batch_size, 1, allow_none=True)
    argcheck.integer("evaluate", "steps", steps, 1, allow_none=True)
    _input_keys(model, "evaluate", x)
    _targets(model, "evaluate", x, y, "test_step")


def check_predict(model, x, batch_size, steps, callbacks, verbose) -> None:
    """Check the arguments of ``predict``."""
    _verbose("predict", verbose)
    _callbacks("predict", callbacks)
    argcheck.integer("predict", "batch_size", batch_size, 1, allow_none=True)
    argcheck.integer("predict", "steps", steps, 1, allow_none=True)
    _input_keys(model, "predict", x)


def predict_no_samples(model, iterator):
    """``predict`` over zero samples: outputs with 0 rows and the model's other axes, e.g.
    ``(0, classes)``. The model runs once on one sample of zeros (some ops refuse an empty
    batch) and that row is dropped. Other empty sources (generators) are an error."""
    from zerograd.autograd import no_grad
    from zerograd.keras import data_adapters as da

    adapter = iterator.adapter
    if not (isinstance(adapter, da.ArrayAdapter) and adapter.size == 0):
        raise ValueError("predict: the input data gave no batches")
    probe = da.map_structure(lambda a: np.zeros((1, *a.shape[1:]), a.dtype), adapter.whole())
    with no_grad():
        out = model.predict_step(iterator.prepare(probe))
    return da.map_structure(lambda a: da.to_numpy(a)[:0], out)
