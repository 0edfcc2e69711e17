"""A model directory's tokenizer settings: the chat template(s) and the special tokens, from
``tokenizer_config.json``, ``special_tokens_map.json``, ``chat_template.jinja`` and
``additional_chat_templates/*.jinja`` (as transformers reads them).

Example:
    >>> cfg = load_tokenizer_config('model_dir')
    >>> cfg.special_tokens['eos_token'], type(cfg.chat_template)
    ('<|im_end|>', <class 'str'>)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from zerograd.io.errors import FileFormatError

# the named special tokens transformers passes to every template (its SPECIAL_TOKENS_ATTRIBUTES)
SPECIAL_TOKENS = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)


def token_text(owner: str, name: str, value):
    """A special token given as a string or as an AddedToken dict ({'content': ...})."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    raise TypeError(
        f"{owner}: {name} must be a string or an AddedToken dict with a 'content' string, "
        f"received {value!r}"
    )


@dataclass
class TokenizerConfig:
    """What a model directory says about its tokenizer: the chat template(s) and special tokens.

    ``chat_template`` is None, one template string, or a dict of named templates; ``special_tokens``
    maps 'bos_token', 'eos_token', ... to their text; ``raw`` is tokenizer_config.json as read.
    """

    chat_template: str | dict | None = None
    special_tokens: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    path: str = ""


def _read_json(path: str, loader: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FileFormatError(path, f"not valid JSON ({e})", loader) from None
    if not isinstance(obj, dict):
        raise FileFormatError(
            path, f"expected a JSON object, received {type(obj).__name__}", loader
        )
    return obj


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_tokenizer_config(path) -> TokenizerConfig:
    """Read a model directory's (or one file's) tokenizer_config.json, special_tokens_map.json and
    chat template files.

    Args:
        path: a model directory, or the path of a tokenizer_config.json.

    Returns:
        A TokenizerConfig (the template None when the files have none).

    Raises:
        FileNotFoundError: no such directory or file.
        FileFormatError: a JSON file that cannot be parsed, or a malformed ``chat_template`` entry.
    """
    owner = "load_tokenizer_config"
    path = os.fspath(path)
    if os.path.isdir(path):
        folder, file = path, os.path.join(path, "tokenizer_config.json")
    elif os.path.isfile(path):
        folder, file = os.path.dirname(path), path
    else:
        raise FileNotFoundError(f"{owner}: no directory or file at {path!r}")
    raw = _read_json(file, owner) if os.path.isfile(file) else {}
    legacy = os.path.join(folder, "special_tokens_map.json")
    fallback = _read_json(legacy, owner) if os.path.isfile(legacy) else {}
    special = {}
    for name in SPECIAL_TOKENS:
        where = file if raw.get(name) is not None else legacy
        value = raw.get(name) if raw.get(name) is not None else fallback.get(name)
        try:
            text = token_text(owner, name, value)
        except TypeError as e:
            raise FileFormatError(where, str(e).split(": ", 1)[1], owner) from None
        if text is not None:
            special[name] = text
    templates = {}
    jinja_file = os.path.join(folder, "chat_template.jinja")
    if os.path.isfile(jinja_file):
        templates["default"] = _read_text(jinja_file)
    extra_dir = os.path.join(folder, "additional_chat_templates")
    if os.path.isdir(extra_dir):
        for name in sorted(os.listdir(extra_dir)):
            if name.endswith(".jinja"):
                templates[name[: -len(".jinja")]] = _read_text(os.path.join(extra_dir, name))
    if templates:  # the files take priority over the config's entry, as in transformers
        template = templates["default"] if list(templates) == ["default"] else templates
    else:
        template = _config_template(raw.get("chat_template"), file)
    return TokenizerConfig(template, special, raw, folder)


def _config_template(entry, file: str):
    """The ``chat_template`` entry of tokenizer_config.json: a string or a list of named ones."""
    if entry is None or isinstance(entry, str):
        return entry
    ok = isinstance(entry, list) and all(
        isinstance(t, dict)
        and isinstance(t.get("name"), str)
        and isinstance(t.get("template"), str)
        for t in entry
    )
    if not ok:
        raise FileFormatError(
            file,
            "chat_template must be a string or a list of {'name': str, 'template': str}, "
            f"received {str(entry)[:80]!r}",
            "load_tokenizer_config",
        )
    return {t["name"]: t["template"] for t in entry}
