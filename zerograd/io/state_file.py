"""One file for a training state: named arrays as safetensors tensors, everything else one JSON
record in the safetensors header, with a CRC-32 over the record and every tensor's bytes.

Checkpoints (``zerograd.io.checkpoint``) and Keras backups (``BackupAndRestore``) are both written
and read here: the file is replaced atomically (a kill mid-way leaves the previous one), reading
runs no code (no pickle), and any damage (truncation, flipped bits in a tensor, a header of another
kind, JSON that does not parse or nests without end) is a ``FileFormatError`` naming the file.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from zerograd.io.atomic import atomic_path
from zerograd.io.errors import FileFormatError

# the header's entries (safetensors metadata: str -> str)
FORMAT_KEY, RECORD_KEY, CRC_KEY = "format", "record", "crc32"


def checksum(text: str, arrays: dict) -> str:
    """CRC-32 (8 hex digits) of the JSON text, then every tensor's name and bytes in name order."""
    crc = zlib.crc32(text.encode("utf-8"))
    for name in sorted(arrays):
        crc = zlib.crc32(name.encode("utf-8"), crc)
        a = arrays[name]
        crc = zlib.crc32(memoryview(a).cast("B") if a.size else b"", crc)
    return f"{crc:08x}"


def header(fmt: str, text: str, arrays: dict) -> dict:
    """The safetensors metadata of a state file holding record ``text`` and ``arrays``."""
    return {FORMAT_KEY: fmt, RECORD_KEY: text, CRC_KEY: checksum(text, arrays)}


def write_state_file(path, fmt: str, record, arrays: dict, overwrite: bool = True, default=None):
    """Write ``record`` (JSON-serialisable; ``default`` as for ``json.dumps``) and the C-contiguous
    NumPy ``arrays`` to ``path`` as one file of kind ``fmt``, atomically."""
    from safetensors.numpy import save_file

    text = json.dumps(record, ensure_ascii=False, default=default)  # fails before any write
    with atomic_path(path, overwrite=overwrite) as tmp:
        save_file(arrays, str(tmp), metadata=header(fmt, text, arrays))


def read_state_file(path, fmt: str, loader: str, what: str) -> tuple[dict, object]:
    """``(arrays, record)`` of a state file of kind ``fmt``; ``loader`` and ``what`` (e.g.
    ``'a zerograd checkpoint'``) name the caller and the kind in the errors.

    Raises:
        FileNotFoundError: no file at ``path``.
        FileFormatError: the file is not a complete, uncorrupted state file of kind ``fmt``.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{loader}: no file at {str(path)!r}")

    def bad(problem: str):
        return FileFormatError(path, problem, loader=loader)

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = dict(f.metadata() or {})
            arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise bad(f"not a readable safetensors file, truncated or corrupt ({e})") from None
    if meta.get(FORMAT_KEY) != fmt or RECORD_KEY not in meta:
        raise bad(f"not {what} (header format {meta.get(FORMAT_KEY)!r:.60}, expected {fmt!r})")
    text = meta[RECORD_KEY]
    if meta.get(CRC_KEY) != checksum(text, arrays):
        raise bad("corrupt: the checksum of its contents does not match")
    try:
        record = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:  # RecursionError: nesting without end
        raise bad(f"its JSON record is not valid JSON ({e})") from None
    return arrays, record
