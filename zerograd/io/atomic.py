"""Atomic file replacement: write a temporary file next to the target, then rename it into place.

Temporary files are named ``.{name}.zgtmp-{pid}-{host}-{random}`` (``host``: 8 hex digits of the
machine's name): the name says which target, which process and which machine they belong to, so
a save killed mid-way (SIGKILL, power loss) leaves a file that the next save of the same target
recognises and removes once its writer is gone. On a shared file system (NFS) a process cannot
see another machine's processes: a temp written from another machine is removed only once it
has not changed for ``FOREIGN_TEMP_AGE_S`` seconds, so a save in progress there is never broken.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import socket
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

TMP_MARK = ".zgtmp-"
# a temp from another machine untouched this long is a dead writer's: a live save writes its
# file continuously and renames it within seconds of the last byte
FOREIGN_TEMP_AGE_S = 24 * 3600
_OPEN: set[str] = set()  # names of the temps this process is writing now


def _host_tag() -> str:
    """8 hex digits naming this machine (short, so temp names stay far below NAME_MAX)."""
    return f"{zlib.crc32(socket.gethostname().encode('utf-8', 'replace')):08x}"


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
    except (PermissionError, OSError, OverflowError):  # another user's, or no such pid: keep it
        return True
    return True


def temp_prefix(path) -> str:
    """The name every temporary file of ``path`` starts with (``.{name}.zgtmp-``)."""
    return f".{Path(path).name}{TMP_MARK}"


def clean_stale_temps(path) -> list[Path]:
    """Remove the temporary files (or directories) of ``path`` left by writers no longer running.

    A temp belongs to ``path`` when it sits in the same directory and is named
    ``.{name}.zgtmp-{pid}-{host}-{random}`` (or ``-{pid}-{random}``, taken as this machine's).
    One written on this machine is stale when no process ``pid`` exists; one written on another
    machine when it has not been modified for ``FOREIGN_TEMP_AGE_S`` seconds. Temps of live
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
        if entry.name in _OPEN or not _is_stale(entry, entry.name[len(prefix) :].split("-")):
            continue
        stale = Path(entry.path)
        with contextlib.suppress(FileNotFoundError):  # another cleaner may have been faster
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(stale)
            else:
                stale.unlink()
            removed.append(stale)
    return removed


def _is_stale(entry: os.DirEntry, parts: list) -> bool:
    """Whether the temp ``entry`` (its name after the prefix split at '-') has no live writer."""
    if not parts[0].isdigit():
        return False  # not a name atomic_path makes
    if len(parts) >= 3 and parts[1] != _host_tag():  # another machine's: judged by its age
        try:
            return time.time() - entry.stat(follow_symlinks=False).st_mtime >= FOREIGN_TEMP_AGE_S
        except OSError:
            return False
    # a temp named with our own pid that we are not writing: a dead process had this pid
    return int(parts[0]) == os.getpid() or not _pid_alive(int(parts[0]))


def _new_temp(path: Path) -> Path:
    """Create an empty private file with a unique temp name of ``path``."""
    for _ in range(100):
        tmp = path.parent / f"{temp_prefix(path)}{os.getpid()}-{_host_tag()}-{secrets.token_hex(4)}"
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
        try:
            os.replace(tmp, path)
        except BaseException:  # no empty file left to pass for a checkpoint
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise


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
    if path.is_dir():  # os.replace would fail late, naming the temporary file
        raise IsADirectoryError(
            f"atomic_path: {str(path)!r} is a directory; expected the path of a file to write"
        )
    if path.parent.exists() and not path.parent.is_dir():
        raise NotADirectoryError(
            f"atomic_path: cannot write {str(path)!r}: {str(path.parent)!r} is a file, not a "
            "directory"
        )
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
