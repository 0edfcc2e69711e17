"""Atomic file replacement: write a temporary file next to the target, then rename it into place.

Temporary files are named ``.{name}.zgtmp-{pid}-{random}``: the name says which target and which
process they belong to, so a save killed mid-way (SIGKILL, power loss) leaves a file that the next
save of the same target recognises and removes once its writer is gone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

TMP_MARK = ".zgtmp-"
_OPEN: set[str] = set()  # names of the temps this process is writing now


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate the process there: never probe, keep its temps
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # exists under another user, or cannot tell: keep it
        return True
    return True


def temp_prefix(path) -> str:
    """The name every temporary file of ``path`` starts with (``.{name}.zgtmp-``)."""
    return f".{Path(path).name}{TMP_MARK}"


def clean_stale_temps(path) -> list[Path]:
    """Remove the temporary files (or directories) of ``path`` left by writers no longer running.

    A temp belongs to ``path`` when it sits in the same directory and is named
    ``.{name}.zgtmp-{pid}-{random}``; it is stale when no process ``pid`` exists. Temps of live
    processes (another save in progress) and those this process is writing are left alone.

    Args:
        path: the target file whose leftovers to remove.

    Returns:
        The paths removed.

    Example:
        >>> clean_stale_temps('run/ckpt.safetensors')
        []
    """
    path = Path(path)
    prefix = temp_prefix(path)
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid_text = entry.name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit() or entry.name in _OPEN:
            continue
        # a temp named with our own pid that we are not writing: a dead process had this pid
        if int(pid_text) != os.getpid() and _pid_alive(int(pid_text)):
            continue
        stale = Path(entry.path)
        with contextlib.suppress(FileNotFoundError):  # another cleaner may have been faster
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(stale)
            else:
                stale.unlink()
            removed.append(stale)
    return removed


def _new_temp(path: Path) -> Path:
    """Create an empty private file with a unique temp name of ``path``."""
    for _ in range(100):
        tmp = path.parent / f"{temp_prefix(path)}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        _OPEN.add(tmp.name)
        return tmp
    raise FileExistsError(f"atomic_path: could not create a temporary file beside {str(path)!r}")


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (a no-op where directories cannot be opened, as on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _publish_new(tmp: Path, path: Path) -> None:
    """Move ``tmp`` to ``path`` only if ``path`` does not exist, even against a concurrent writer."""
    try:
        os.link(tmp, path)  # fails with FileExistsError if the target appeared meanwhile
    except FileExistsError:
        raise FileExistsError(
            f"atomic_path: {str(path)!r} already exists and overwrite=False; nothing was written"
        ) from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # no hard links on this file system: claim the name exclusively, then fill it
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise FileExistsError(
                f"atomic_path: {str(path)!r} already exists and overwrite=False; nothing was written"
            ) from None
        os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; on success it becomes ``path``.

    If the body raises, the temporary file is removed and the previous ``path`` (if any) is left
    untouched, so a failed save never destroys the last good file. Before writing, temporaries of
    the same target left by killed processes are removed (see ``clean_stale_temps``).

    Args:
        path: the file to create or replace (its directory is created if needed).
        overwrite: with False an existing ``path`` is never replaced, even by a save racing with
            another: ``FileExistsError`` naming the file is raised instead.

    Example:
        >>> with atomic_path('model.safetensors') as tmp:
        ...     tmp.write_bytes(data)
    """
    path = Path(path)
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(
            f"atomic_path: {str(path)!r} already exists and overwrite=False; nothing was written"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path)
    tmp = _new_temp(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # the bytes reach the disk before the rename makes them live
            os.fsync(f.fileno())
        # the temp is private (0600): give it the mode a plain open() would have given (or keep
        # the replaced file's mode), so a saved model is as readable as any other file
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        if overwrite:
            os.replace(tmp, path)
        else:
            _publish_new(tmp, path)
        _fsync_dir(path.parent)
    finally:
        _OPEN.discard(tmp.name)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
