"""Training checkpoints: model, optimizer, scheduler, data position, step and RNG states in one
atomically replaced safetensors file, for an exact resume after a crash.

Tensors (weights, optimizer moments) are stored as safetensors; everything else (hyper-parameters,
scheduler and loader state, step, RNG states, ``extra``) is JSON in the file's metadata header,
with a CRC-32 over the JSON and every tensor's bytes (``zerograd.io.state_file``, the format Keras
backups share). Nothing is unpickled; loading runs no code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zerograd import backend
from zerograd.io.errors import FileFormatError
from zerograd.io.state_file import read_state_file, write_state_file
from zerograd.tensor import Tensor

FORMAT = "zerograd.checkpoint"
VERSION = 1
_SECTIONS = ("model", "optimizer", "scheduler", "loader")


# --- encoding: nested Python values <-> JSON + named arrays -------------------------------------
class _Encoder:
    """Turns nested dicts/lists/tuples/numbers/arrays into JSON values, moving arrays aside."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def tensor(self, name: str, a) -> dict:
        a = backend.to_numpy(a.data if isinstance(a, Tensor) else a)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"save_checkpoint: {name!r} expected a numeric array, got {a.dtype}")
        if name in self.arrays:  # two paths that join to one name
            name = f"{name}#{len(self.arrays)}"
        self.arrays[name] = a if a.flags.c_contiguous else a.copy(order="C")  # keeps 0-d
        return {"__tensor__": name}

    def __call__(self, v, name: str):
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, np.generic):
            return {**self.tensor(name, np.asarray(v)), "__scalar__": True}
        if isinstance(v, Tensor) or hasattr(v, "__array_interface__") or backend.is_device_array(v):
            return self.tensor(name, v)
        if isinstance(v, tuple):
            return {"__tuple__": [self(x, f"{name}.{i}") for i, x in enumerate(v)]}
        if isinstance(v, list):
            return [self(x, f"{name}.{i}") for i, x in enumerate(v)]
        if isinstance(v, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in v):
                return {k: self(x, f"{name}.{k}") for k, x in v.items()}
            return {"__items__": [[self(k, name), self(x, f"{name}.{k}")] for k, x in v.items()]}
        raise TypeError(
            f"save_checkpoint: cannot store {name!r} of type {type(v).__name__}: expected "
            "tensors, arrays, numbers, strings, None, lists, tuples or dicts of these"
        )


def _decode(v, arrays: dict, where: str):
    if isinstance(v, list):
        return [_decode(x, arrays, where) for x in v]
    if not isinstance(v, dict):
        return v
    if "__tensor__" in v:
        a = arrays.get(v["__tensor__"])
        if a is None:
            raise ValueError(f"{where} names tensor {v['__tensor__']!r}, which the file lacks")
        return a[()] if v.get("__scalar__") else a
    if "__tuple__" in v:
        return tuple(_decode(x, arrays, where) for x in v["__tuple__"])
    if "__items__" in v:
        return {_decode(k, arrays, where): _decode(x, arrays, where) for k, x in v["__items__"]}
    return {k: _decode(x, arrays, where) for k, x in v.items()}


# --- public API -----------------------------------------------------------------------------------
def save_checkpoint(
    path,
    *,
    model=None,
    optimizer=None,
    scheduler=None,
    step: int | None = None,
    extra: dict | None = None,
    loader=None,
    overwrite: bool = True,
) -> None:
    """Write everything needed to resume training exactly, as one file, atomically.

    The file is written completely under a temporary name and then renamed over ``path``: a save
    killed at any moment leaves the previous checkpoint intact (and the next save removes the
    leftover temporary). The states of zerograd's, NumPy's and Python's random generators are
    always saved.

    Args:
        path: the checkpoint file (e.g. ``'run/ckpt.safetensors'``).
        model: a ``Module``: its ``state_dict()`` (parameters and buffers).
        optimizer: an ``Optimizer``: moments, step counts, every group's hyper-parameters.
        scheduler: an LR scheduler (anything with ``state_dict``/``load_state_dict``).
        step: the training step (or any int) to resume from.
        extra: more JSON-like values (numbers, strings, lists, dicts, arrays) to keep.
        loader: a ``DataLoader``: its position in the current epoch and generator state.
        overwrite: with False an existing ``path`` is never replaced (``FileExistsError``).

    Example:
        >>> save_checkpoint('ckpt.safetensors', model=model, optimizer=opt, step=step)
    """
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, np.integer))):
        raise TypeError(f"save_checkpoint: expected step to be an int, received {step!r}")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"save_checkpoint: expected extra to be a dict, received {extra!r:.80}")
    enc = _Encoder()
    meta = {"version": VERSION, "step": None if step is None else int(step)}
    meta["rng"] = backend.get_rng_state()
    meta["extra"] = enc(extra, "extra")
    for section, obj in zip(_SECTIONS, (model, optimizer, scheduler, loader)):
        if obj is None:
            continue
        if not hasattr(obj, "state_dict"):
            raise TypeError(
                f"save_checkpoint: expected {section} to have state_dict(), received "
                f"{type(obj).__name__}"
            )
        meta[section] = {"class": type(obj).__name__, "state": enc(obj.state_dict(), section)}
    write_state_file(path, FORMAT, meta, enc.arrays, overwrite=overwrite)


def read_checkpoint(path) -> dict:
    """The decoded contents of a checkpoint: {'step', 'extra', 'rng', 'model', 'optimizer',
    'scheduler', 'loader'} (a section not saved is None; states hold NumPy arrays).

    Raises:
        FileNotFoundError: no file at ``path``.
        FileFormatError: the file is not a complete, uncorrupted zerograd checkpoint.

    Example:
        >>> read_checkpoint('ckpt.safetensors')['step']
        1200
    """
    path = Path(path)

    def bad(problem):
        return FileFormatError(path, problem, loader="load_checkpoint")

    arrays, meta = read_state_file(path, FORMAT, "load_checkpoint", "a zerograd checkpoint")
    if not isinstance(meta, dict):
        raise bad(f"expected a JSON object as its record, received {type(meta).__name__}")
    if meta.get("version") != VERSION:
        raise bad(f"expected checkpoint version {VERSION}, received {meta.get('version')!r:.60}")
    step = meta.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise bad(f"expected the step to be an int or null, received {step!r:.60}")
    out = {"step": step, "rng": meta.get("rng")}
    try:
        out["extra"] = _decode(meta.get("extra"), arrays, "extra")
        for section in _SECTIONS:
            entry = meta.get(section)
            if entry is not None and not (isinstance(entry, dict) and "state" in entry):
                raise ValueError(f"section {section!r} is malformed")
            out[section] = None if entry is None else _decode(entry["state"], arrays, section)
            out[f"{section}_class"] = None if entry is None else entry.get("class")
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as e:
        raise bad(str(e)) from None
    return out


def load_checkpoint(
    path,
    *,
    model=None,
    optimizer=None,
    scheduler=None,
    loader=None,
    restore_rng: bool = True,
) -> dict:
    """Restore a checkpoint written by ``save_checkpoint`` into the objects given.

    The whole file is read and checked (checksum, form, RNG states) before anything is changed. With ``restore_rng`` the
    random generators continue exactly where they were at the save, so a resumed run draws the
    same dropout masks and shuffles as one never interrupted.

    Args:
        path: the checkpoint file.
        model: the model to load into (built as for the saved run); each object given must
            have been saved.
        optimizer: the optimizer to load into.
        scheduler: the learning-rate scheduler to load into.
        loader: the DataLoader whose position to restore.
        restore_rng: also restore zerograd's, NumPy's and Python's generators.

    Returns:
        What ``read_checkpoint`` returns: 'step', 'extra', and every section's state.

    Raises:
        FileNotFoundError: no file at ``path``.
        FileFormatError: a bad file, or a state that does not fit the object given (named). An
            object whose state does not fit is left unchanged, but those loaded before it (in the
            order model, optimizer, scheduler, loader) are not.
        ValueError: the checkpoint lacks a part asked for, or holds another optimizer or
            scheduler class.

    Example:
        >>> ckpt = load_checkpoint('ckpt.safetensors', model=model, optimizer=opt)
        >>> start = ckpt['step'] + 1
    """
    data = read_checkpoint(path)
    targets = dict(zip(_SECTIONS, (model, optimizer, scheduler, loader)))
    for section, obj in targets.items():
        if obj is not None and data[section] is None:
            raise ValueError(
                f"load_checkpoint: {str(path)!r} holds no {section} state (it was saved without "
                f"{section}=)"
            )
        saved_class = data[f"{section}_class"]
        if obj is not None and section in ("optimizer", "scheduler"):
            if saved_class != type(obj).__name__:
                raise ValueError(
                    f"load_checkpoint: {str(path)!r} holds the state of {section} class "
                    f"{saved_class}, received {section}={type(obj).__name__}"
                )
    if restore_rng and data["rng"] is not None:
        current = backend.get_rng_state()
        try:  # checked before any object changes; set_rng_state changes nothing when it raises
            backend.set_rng_state(data["rng"])
        except (TypeError, ValueError) as e:
            raise FileFormatError(path, f"bad RNG state ({e})", loader="load_checkpoint") from None
        backend.set_rng_state(current)
    for section, obj in targets.items():
        if obj is None:
            continue
        try:
            obj.load_state_dict(data[section])
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
            # a state of the wrong form, or one that does not fit the object given
            raise FileFormatError(
                path,
                f"the {section} state does not fit the {section} given: {e}",
                loader="load_checkpoint",
            ) from None
    if restore_rng and data["rng"] is not None:
        backend.set_rng_state(data["rng"])
    return data
