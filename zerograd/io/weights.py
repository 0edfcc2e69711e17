"""safetensors files of named tensors, through the ``safetensors`` package's NumPy API.

Only tensors and a string-to-string metadata header are stored: loading runs no code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zerograd.io.atomic import atomic_path
from zerograd.tensor import Tensor


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

    arrays = {}
    for name, v in tensors.items():
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


def load_safetensors(path, arrays: bool = False) -> dict:
    """Read a safetensors file into a name -> Tensor dict (or NumPy arrays with ``arrays=True``).

    Args:
        path: the file.
        arrays: return NumPy arrays instead of Tensors.

    Returns:
        {name: Tensor} in the file's order.

    Example:
        >>> state = load_safetensors('weights.safetensors'); model.load_state_dict(state)
    """
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_safetensors: no file at {str(path)!r}")
    try:
        out = load_file(str(path))
    except Exception as e:  # noqa: BLE001 - the package raises its own error types
        raise ValueError(
            f"load_safetensors: {str(path)!r} is not a readable safetensors file ({e})"
        ) from None
    return out if arrays else {k: Tensor(v) for k, v in out.items()}


def read_metadata(path) -> dict:
    """The string metadata header of a safetensors file ({} when there is none)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return dict(f.metadata() or {})
