"""JSON config files: atomic writes, and reads that say which file is broken."""

from __future__ import annotations

import json
import math
from pathlib import Path

from zerograd.io.atomic import atomic_path
from zerograd.io.errors import FileFormatError


def save_json(obj, path, indent: int = 2) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (sorted as given, UTF-8, not ASCII-escaped).

    Args:
        obj: JSON-serialisable value (dicts, lists, str, numbers, bools, None).
        path: destination file.

    Example:
        >>> save_json({'model_type': 'bert', 'hidden_size': 384}, 'out/config.json')
    """
    try:  # fails before any write
        text = json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"
    except ValueError:  # NaN or infinity: not JSON (json.dumps would write the non-standard NaN)
        where = _non_finite(obj, "")
        raise ValueError(
            f"save_json: {str(path)!r}: JSON cannot hold NaN or infinity, received {where}; "
            "replace it (e.g. with None) before saving"
        ) from None
    except TypeError as e:
        raise TypeError(
            f"save_json: {str(path)!r}: {e} (only dict, list, str, numbers, bool, None)"
        ) from None
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _non_finite(obj, where: str) -> str:
    """Where in ``obj`` the first NaN/infinity is, as ``['key'][0] = nan``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return f"{where or 'the value'} = {obj}"
    items = (
        obj.items()
        if isinstance(obj, dict)
        else enumerate(obj)
        if isinstance(obj, (list, tuple))
        else ()
    )
    for k, v in items:
        found = _non_finite(v, f"{where}[{k!r}]")
        if found:
            return found
    return ""


_JSON_NAMES = {dict: "object", list: "array", str: "string", int: "number", float: "number"}


def load_json(path, expect: type | None = dict, loader: str = "load_json"):
    """Read a JSON file; a missing file is FileNotFoundError, a broken one FileFormatError.

    Args:
        path: the file.
        expect: the type the top-level value must have (None: any).
        loader: the name the error messages give (the caller's, e.g. 'BERT.from_pretrained').

    Returns:
        The parsed value.

    Raises:
        FileFormatError: the file is not UTF-8 JSON, or its top-level value is not ``expect``.

    Example:
        >>> cfg = load_json('model/config.json')
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{loader}: no file at {str(path)!r}")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FileFormatError(path, f"is not valid JSON ({e})", loader) from None
    except RecursionError:  # '[[[[...' nested deeper than the parser's stack
        raise FileFormatError(path, "is not valid JSON (nested too deeply)", loader) from None
    if expect is not None and not isinstance(value, expect):
        want = _JSON_NAMES.get(expect, expect.__name__)
        got = _JSON_NAMES.get(type(value), type(value).__name__)
        raise FileFormatError(
            path,
            f"expected a JSON {expect.__name__} ({want}) at the top level, "
            f"received {type(value).__name__} ({got})",
            loader,
        )
    return value
