"""safetensors files of named tensors: written with the ``safetensors`` package, read here.

A safetensors file is an 8-byte little-endian header length, a JSON header {name: {dtype, shape,
data_offsets}} (plus an optional ``__metadata__`` of strings), then the raw bytes. Reading checks
the whole header against the file's size before any tensor is allocated, so a file that lies
(offsets past its end, a shape that does not match its bytes) is a FileFormatError naming the file
and the tensor, and a huge claimed size allocates nothing. Loading runs no code.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from zerograd.io.atomic import atomic_path
from zerograd.io.errors import FileFormatError
from zerograd.tensor import Tensor

# the safetensors package refuses headers above 100 MB; so do we, before reading them
MAX_HEADER_BYTES = 100 * 1024 * 1024
MAX_DIMS = 32  # NumPy's own limit is 64 (32 before NumPy 2)

# safetensors dtype -> NumPy dtype (little-endian); BF16 is widened to float32 on reading
DTYPES = {
    "BOOL": np.dtype("?"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F64": np.dtype("<f8"),
}


def save_safetensors(tensors: dict, path, metadata: dict | None = None) -> None:
    """Write a name -> Tensor (or array) dict to a safetensors file, atomically.

    Args:
        tensors: {name: Tensor | array}; names are strings.
        path: destination file; a previous file survives a failed save.
        metadata: optional {str: str} header entries.

    Example:
        >>> save_safetensors(model.state_dict(), 'weights.safetensors')
    """
    from safetensors.numpy import save_file

    if not isinstance(tensors, dict):
        raise TypeError(
            f"save_safetensors: expected a dict of name -> Tensor, received {type(tensors).__name__}"
        )
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(
            f"save_safetensors: metadata must be a dict of str to str, received "
            f"{type(metadata).__name__}"
        )
    arrays = {}
    for name, v in tensors.items():
        if name == "__metadata__" or name == "":
            raise ValueError(
                f"save_safetensors: {name!r} cannot name a tensor (the header reserves "
                "'__metadata__'; names must be non-empty)"
            )
        if not isinstance(name, str):
            raise TypeError(f"save_safetensors: expected str names, received {name!r}")
        a = v.numpy() if isinstance(v, Tensor) else np.asarray(v)
        if a.dtype.kind not in "biuf":
            raise TypeError(
                f"save_safetensors: {name!r} expected a numeric array, received dtype {a.dtype}"
            )
        arrays[name] = np.ascontiguousarray(a)
    if metadata is not None and not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise TypeError(f"save_safetensors: metadata must map str to str, received {metadata!r}")
    with atomic_path(path) as tmp:
        save_file(arrays, str(tmp), metadata=metadata)


def _bad(path, problem: str, loader: str) -> FileFormatError:
    return FileFormatError(path, f"not a readable safetensors file: {problem}", loader)


def _clip(value, n: int = 80) -> str:
    """repr of a value read from a file, cut short: a hostile header may hold megabytes."""
    r = repr(value)
    return r if len(r) <= n else r[: n - 5] + " ...]"


def _entry(path, loader: str, name, spec, data_len: int) -> tuple:
    """(begin, end, NumPy dtype, shape) of one header entry, every field checked."""

    def bad(problem):
        return _bad(path, f"tensor {_clip(name)}: {problem}", loader)

    if not isinstance(spec, dict):
        raise bad(f"expected an object in the header, received {type(spec).__name__}")
    missing = [k for k in ("dtype", "shape", "data_offsets") if k not in spec]
    if missing:
        raise bad(f"header entry has no {', '.join(missing)}")
    dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise bad(f"unsupported dtype {_clip(dtype)} (known: {', '.join(DTYPES)})")
    if not isinstance(shape, list) or not all(
        type(d) is int and d >= 0 for d in shape
    ):  # bool is an int: excluded by the exact type check
        raise bad(f"shape must be a list of non-negative integers, received {_clip(shape)}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(type(o) is int and o >= 0 for o in offsets)
        or offsets[0] > offsets[1]
    ):
        raise bad(
            f"data_offsets must be [begin, end] with 0 <= begin <= end, received {_clip(offsets)}"
        )
    if len(shape) > MAX_DIMS:
        raise bad(f"{len(shape)} dimensions, more than the {MAX_DIMS} that NumPy arrays may have")
    if math.prod(d for d in shape if d) * DTYPES[dtype].itemsize >= 2**63:
        raise bad(f"shape {_clip(shape)} is larger than any array can be")  # even with a zero in it
    begin, end = offsets
    need = math.prod(shape) * DTYPES[dtype].itemsize
    if end - begin != need:
        raise bad(
            f"dtype {dtype} and shape {shape} need {need} bytes, "
            f"but data_offsets {offsets} span {end - begin}"
        )
    if end > data_len:
        raise bad(
            f"data_offsets {offsets} go past the end of the data ({data_len} bytes): "
            "the file is truncated or its header is wrong"
        )
    return begin, end, dtype, tuple(shape)


def _read_header(path, loader: str) -> tuple[dict, dict, int]:
    """({name: (begin, end, dtype, shape)}, metadata, data start) of a checked header."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{loader}: no file at {str(path)!r}")
    size = p.stat().st_size
    with open(p, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise _bad(
                path, f"truncated: {size} bytes, too short for the 8-byte header length", loader
            )
        n = int.from_bytes(head, "little")
        if n > MAX_HEADER_BYTES or n > size - 8:
            raise _bad(
                path,
                f"header length {n} bytes is larger than the "
                + (f"{MAX_HEADER_BYTES}-byte limit" if n > MAX_HEADER_BYTES else "rest of the file")
                + f" ({size - 8} bytes): truncated, or not a safetensors file",
                loader,
            )
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(path, f"the header is not valid JSON ({e})", loader) from None
    except RecursionError:
        raise _bad(path, "the header is not valid JSON (nested too deeply)", loader) from None
    if not isinstance(header, dict):
        raise _bad(
            path, f"the header must be a JSON object, received {type(header).__name__}", loader
        )
    metadata = header.pop("__metadata__", None)
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise _bad(path, "__metadata__ must map strings to strings", loader)
    data_len = size - 8 - n
    entries = {k: _entry(path, loader, k, v, data_len) for k, v in header.items()}
    covered = 0  # the data must be the tensors' bytes back to back, as the format requires
    for name, (begin, end, _, _) in sorted(entries.items(), key=lambda kv: kv[1][:2]):
        if begin != covered:
            raise _bad(
                path,
                f"tensor {_clip(name)}: data_offsets start at {begin}, expected {covered} "
                "(tensors overlap or leave a gap)",
                loader,
            )
        covered = end
    if covered != data_len:
        raise _bad(
            path,
            f"{data_len} bytes of data after the header, but the tensors account for {covered}",
            loader,
        )
    return entries, metadata, 8 + n


def load_safetensors(path, arrays: bool = False) -> dict:
    """Read a safetensors file into a name -> Tensor dict (or NumPy arrays with ``arrays=True``).

    BF16 tensors come back as float32. A missing file is FileNotFoundError; a file that is not a
    valid safetensors file is ``FileFormatError`` naming it and what is wrong.

    Args:
        path: the file.
        arrays: return NumPy arrays instead of Tensors.

    Returns:
        {name: Tensor} in the order of the tensors' bytes in the file.

    Example:
        >>> state = load_safetensors('weights.safetensors'); model.load_state_dict(state)
    """
    entries, _, start = _read_header(path, "load_safetensors")
    out = {}
    with open(path, "rb") as f:
        for name, (begin, end, dtype, shape) in sorted(entries.items(), key=lambda kv: kv[1][0]):
            f.seek(start + begin)
            dt = DTYPES[dtype]
            a = np.fromfile(f, dtype=dt, count=(end - begin) // dt.itemsize)
            if dtype == "BF16":  # the upper half of a float32
                a = (a.astype(np.uint32) << 16).view(np.float32)
            out[name] = a.reshape(shape)
    return out if arrays else {k: Tensor(v) for k, v in out.items()}


def read_metadata(path) -> dict:
    """The string metadata header of a safetensors file ({} when there is none).

    Example:
        >>> read_metadata('adapters.safetensors')['format']
        'zerograd-lora'
    """
    return dict(_read_header(path, "read_metadata")[1])
