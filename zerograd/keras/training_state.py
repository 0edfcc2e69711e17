"""The whole state of a Keras training run in one safetensors file, for ``BackupAndRestore``:
the model's weights, the optimizer's slots, iteration count and learning rate, the metrics' state,
every random generator (zerograd's shared one, NumPy's and Python's global ones, the private
generators of seeded layers and ``SeedGenerator``s) and a JSON record of where the run stands.

The arrays are safetensors tensors; everything else is one JSON record in the safetensors header,
checksummed with them (``zerograd.io.state_file``, shared with ``zerograd.io.checkpoint``), so a
backup is one file, replaced atomically, and reading it runs no code (no pickle).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zerograd import backend
from zerograd.io.errors import FileFormatError
from zerograd.io.state_file import read_state_file, write_state_file
from zerograd.keras.layers.random_state import RandomState
from zerograd.keras.optimizers.state import param_of
from zerograd.keras.random import SeedGenerator

FORMAT = "zerograd.keras.BackupAndRestore"
VERSION = 1
_LOADER = "BackupAndRestore"


# --- what a backup holds -------------------------------------------------------------------------
def layer_generators(model) -> dict:
    """{key: numpy Generator}: the private generators of seeded random layers and the
    ``SeedGenerator``s held by the model's layers, keyed by the layer's place in the model (not
    its name: names are numbered per process) and the attribute."""
    out = {}
    for i, module in enumerate(model.modules()):
        for attr, value in sorted(vars(module).items()):
            if isinstance(value, RandomState) and value._own is not None:
                out[f"{i}:{type(module).__name__}.{attr}"] = value._own
            elif isinstance(value, SeedGenerator):
                out[f"{i}:{type(module).__name__}.{attr}"] = value.generator
    return out


def set_layer_generators(model, states: dict, source) -> None:
    """Put each layer generator back in the state ``states`` holds for it."""
    generators = layer_generators(model)
    missing = sorted(set(states) - set(generators))
    if missing:
        raise FileFormatError(
            source,
            f"the backup holds random generators {missing} that the model does not have "
            f"(the model has {sorted(generators)}); was it made by another model?",
            loader=_LOADER,
        )
    for key, state in states.items():
        try:
            generators[key].bit_generator.state = backend.bit_generator_from_state(state).state
        except ValueError as e:
            raise FileFormatError(
                source, f"bad state of random generator {key!r} ({e})", loader=_LOADER
            ) from None


def flat_metrics(model) -> list:
    """Every metric object fit updates, flat (compiled metrics expanded)."""
    out = []
    for m in getattr(model, "metrics", None) or []:
        subs = getattr(m, "metrics", None)
        out.extend(subs if isinstance(subs, list) else [m])
    return out


def metric_variables(model) -> list:
    return [v for m in flat_metrics(model) for v in m.variables]


def optimizer_record(opt) -> tuple[dict, list]:
    """(JSON record, slot arrays) of a Keras optimizer."""
    if opt is None:
        return {"class": None}, []
    lr = opt._learning_rate
    record = {
        "class": type(opt).__name__,
        "iterations": int(opt._iterations),
        "learning_rate": lr if isinstance(lr, float) else None,
        "built": bool(opt.built),
    }
    slots = opt.slot_arrays() if opt.built else []
    record["slots"] = [name for name, _ in slots]
    return record, [backend.to_numpy(a) for _, a in slots]


def _json_value(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.generic,)):
        return value.item()
    return value


def collect(model, record: dict, with_metrics: bool) -> tuple[dict, dict]:
    """(tensors, JSON record) of the model, its optimizer and (``with_metrics``) its metrics,
    with ``record`` (epoch, step, RNG states, ...) merged into the record."""
    tensors = {}
    weights = model.weights
    for i, v in enumerate(weights):
        tensors[f"model/{i:05d}"] = np.array(v.numpy(), order="C")
    opt_record, slots = optimizer_record(getattr(model, "optimizer", None))
    for i, a in enumerate(slots):
        tensors[f"optimizer/{i:05d}"] = np.array(a, order="C")
    metric_values = metric_variables(model) if with_metrics else []
    for i, v in enumerate(metric_values):
        tensors[f"metrics/{i:05d}"] = np.array(v.numpy(), order="C")
    state = {
        "format": FORMAT,
        "version": VERSION,
        "weights": [str(getattr(v, "path", None) or getattr(v, "name", "")) for v in weights],
        "optimizer": opt_record,
        "metrics": len(metric_values),
        "layer_rng": {k: g.bit_generator.state for k, g in layer_generators(model).items()},
        **record,
    }
    return tensors, state


# --- file ------------------------------------------------------------------------------------------
def write(path, tensors: dict, state: dict) -> None:
    """One state file (``zerograd.io.state_file``), replaced atomically: a kill mid-way leaves
    the previous one."""
    write_state_file(path, FORMAT, state, tensors, default=_json_value)


def read(path) -> tuple[dict, dict]:
    """(tensors, state) of a backup file; any damage is a ``FileFormatError`` naming the file."""
    path = Path(path)
    tensors, state = read_state_file(path, FORMAT, _LOADER, "a BackupAndRestore backup")
    _check_state(path, state, tensors)
    return tensors, state


def _check_state(path, state, tensors: dict) -> None:
    def bad(problem: str):
        return FileFormatError(path, problem, loader=_LOADER)

    if not isinstance(state, dict):
        raise bad(f"the state record must be a JSON object, received {type(state).__name__}")
    need = {
        "version": int,
        "epoch": int,
        "step": int,
        "weights": list,
        "optimizer": dict,
        "metrics": int,
        "layer_rng": dict,
        "rng": dict,
    }
    for key, kind in need.items():
        if key not in state:
            raise bad(f"the state record misses {key!r} (it has {sorted(state)})")
        if not isinstance(state[key], kind) or isinstance(state[key], bool):
            raise bad(
                f"{key!r} must be a JSON {kind.__name__}, received {type(state[key]).__name__}"
            )
    if state["version"] != VERSION:
        raise bad(f"unknown backup version {state['version']} (this zerograd reads {VERSION})")
    if state["epoch"] < 0 or state["step"] < 0:
        raise bad(f"epoch and step must be >= 0, received {state['epoch']}, {state['step']}")
    if not isinstance(state.get("history") or {}, dict):
        raise bad(f"'history' must be a JSON object, received {state['history']!r:.60}")
    _check_optimizer_record(bad, state["optimizer"])
    _check_rngs(path, state)
    counts = {
        "model": len(state["weights"]),
        "optimizer": len(state["optimizer"].get("slots") or []),
        "metrics": state["metrics"],
    }
    for group, n in counts.items():
        found = sorted(k for k in tensors if k.startswith(group + "/"))
        if found != [f"{group}/{i:05d}" for i in range(n)]:
            raise bad(f"the record names {n} {group} arrays, the file holds {len(found)}")


def _check_optimizer_record(bad, record: dict) -> None:
    """The types and ranges ``optimizer_record`` writes (a damaged or hand-edited record would
    otherwise give a raw error, or NaN weights from a NaN learning rate)."""
    kinds = {"class": (str, type(None)), "iterations": int, "built": bool, "slots": list}
    for key, kind in kinds.items():
        value = record.get(key)
        if key == "class" or value is not None:
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise bad(f"the optimizer record's {key!r} has the wrong type: {value!r:.60}")
    if record.get("iterations", 0) < 0:
        raise bad(f"the optimizer's iterations must be >= 0, received {record['iterations']}")
    lr = record.get("learning_rate")
    if lr is not None and (
        isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 <= lr < float("inf")
    ):
        raise bad(
            f"the optimizer's learning_rate must be a finite number >= 0, received {lr!r:.60}"
        )


def _check_rngs(path, state: dict) -> None:
    """Every random state is one its generator accepts (tried on throwaway generators, and on
    the global ones with their state put back), so that a bad one fails before any is set."""
    saved = backend.get_rng_state()
    for key in ("rng", "epoch_rng"):
        if state.get(key) is None:
            continue
        try:  # set_rng_state changes nothing when it raises
            backend.set_rng_state(state[key])
        except (TypeError, ValueError) as e:
            raise FileFormatError(path, f"bad random state {key!r} ({e})", _LOADER) from None
        backend.set_rng_state(saved)
    for key, value in state["layer_rng"].items():
        try:
            backend.bit_generator_from_state(value)
        except ValueError as e:
            raise FileFormatError(
                path, f"bad state of random generator {key!r}: {e}", _LOADER
            ) from None


# --- restoring -----------------------------------------------------------------------------------
def restore_model(model, tensors: dict, state: dict, source) -> None:
    """Weights and the optimizer's state (building the optimizer if it is not yet)."""
    weights = model.weights
    paths = state["weights"]
    if len(paths) != len(weights):
        raise FileFormatError(
            source,
            f"the backup holds {len(paths)} weights, the model has {len(weights)}; the backup "
            "was made by another model",
            loader=_LOADER,
        )
    arrays = [tensors[f"model/{i:05d}"] for i in range(len(weights))]
    for v, a, p in zip(weights, arrays, paths):
        if tuple(a.shape) != tuple(v.shape):
            raise FileFormatError(
                source,
                f"weight {p!r} has shape {tuple(a.shape)} in the backup, the model's has "
                f"{tuple(v.shape)}",
                loader=_LOADER,
            )
    for v, a in zip(weights, arrays):
        v.copy_(a.astype(v.data.dtype, copy=False))
    _restore_optimizer(model, tensors, state["optimizer"], source)


def _restore_optimizer(model, tensors: dict, record: dict, source) -> None:
    opt = getattr(model, "optimizer", None)
    if opt is None or record.get("class") is None:
        return
    if record["class"] != type(opt).__name__:
        raise FileFormatError(
            source,
            f"the backup holds the state of a {record['class']} optimizer, the model is "
            f"compiled with {type(opt).__name__}",
            loader=_LOADER,
        )
    if record.get("built") and not opt.built:
        opt.build([param_of(v) for v in model.trainable_weights])
    names = record.get("slots") or []
    if names:
        arrays = [tensors[f"optimizer/{i:05d}"] for i in range(len(names))]
        try:
            opt.set_slot_arrays(arrays)
        except ValueError as e:
            raise FileFormatError(
                source, f"the optimizer state does not fit the model ({e})", loader=_LOADER
            ) from None
    opt._iterations = int(record.get("iterations", 0))
    restore_learning_rate(model, record)


def restore_learning_rate(model, record: dict) -> None:
    """The learning rate of the backup's moment (one a callback set), unless it is a schedule."""
    opt = getattr(model, "optimizer", None)
    if opt is not None and record.get("learning_rate") is not None:
        if isinstance(opt._learning_rate, float):
            opt._learning_rate = float(record["learning_rate"])


def restore_metrics(model, tensors: dict, state: dict, source) -> bool:
    """The metrics' state; False (nothing done) when the model's metrics differ in number."""
    variables = metric_variables(model)
    if len(variables) != state["metrics"]:
        return False
    for i, v in enumerate(variables):
        a = tensors[f"metrics/{i:05d}"]
        if tuple(a.shape) != tuple(v.shape):
            raise FileFormatError(
                source,
                f"metric state {i} has shape {tuple(a.shape)}, expected {tuple(v.shape)}",
                loader=_LOADER,
            )
        v.assign(a)
    return True


def set_rng(state: dict, source) -> None:
    try:
        backend.set_rng_state(state)
    except (TypeError, ValueError) as e:
        raise FileFormatError(source, f"bad random state ({e})", loader=_LOADER) from None
