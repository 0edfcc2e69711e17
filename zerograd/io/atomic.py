"""Atomic file replacement: write next to the target, then ``os.replace`` it into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; on success it replaces ``path``.

    If the body raises, the temporary file is removed and the previous ``path`` (if any) is left
    untouched, so a failed save never destroys the last good file.

    Args:
        path: the file to create or replace (its directory is created if needed).

    Example:
        >>> with atomic_path('model.safetensors') as tmp:
        ...     tmp.write_bytes(data)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # the bytes reach the disk before the rename makes them live
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
