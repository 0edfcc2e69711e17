"""Atomic file replacement: write next to the target, then ``os.replace`` it into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
        # mkstemp makes the file private (0600): give it the mode a plain open() would have given
        # (or keep the replaced file's mode), so a saved model is as readable as any other file
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
