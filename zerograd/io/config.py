"""JSON config files: atomic writes, and reads that say which file is broken."""

from __future__ import annotations

import json
from pathlib import Path

from zerograd.io.atomic import atomic_path


def save_json(obj, path, indent: int = 2) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (sorted as given, UTF-8, not ASCII-escaped).

    Args:
        obj: JSON-serialisable value (dicts, lists, str, numbers, bools, None).
        path: destination file.

    Example:
        >>> save_json({'model_type': 'bert', 'hidden_size': 384}, 'out/config.json')
    """
    text = json.dumps(obj, indent=indent, ensure_ascii=False) + "\n"  # fails before any write
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def load_json(path, expect: type | None = dict):
    """Read a JSON file; a missing file is FileNotFoundError, bad JSON a ValueError naming it.

    Args:
        path: the file.
        expect: the type the top-level value must have (None: any).

    Returns:
        The parsed value.

    Example:
        >>> cfg = load_json('model/config.json')
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_json: no file at {str(path)!r}")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"load_json: {str(path)!r} is not valid JSON ({e})") from None
    if expect is not None and not isinstance(value, expect):
        raise ValueError(
            f"load_json: expected a JSON {expect.__name__} in {str(path)!r}, received {type(value).__name__}"
        )
    return value
