"""``generation_config.json``: the decoding defaults a Hugging Face model directory ships (stop
tokens, sampling settings), read into the keyword arguments ``generate`` takes.

Example:
    >>> cfg = load_generation_config('model_dir')
    >>> cfg.eos_token_id
    [128001, 128008, 128009]
    >>> ids = generate(model, prompt, 64, generation_config=cfg)
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

from zerograd.io.errors import FileFormatError
from zerograd.ops import argcheck


@dataclass
class GenerationConfig:
    """Decoding defaults; None means "not set" (``generate``'s own default then applies).

    ``eos_token_id`` is a list of stop tokens (a single id in the file becomes a list of one).
    """

    max_new_tokens: int | None = None
    do_sample: bool | None = None
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None
    bos_token_id: int | None = None
    eos_token_id: list[int] | None = None
    pad_token_id: int | None = None

    def __post_init__(self):
        owner = "GenerationConfig"
        for name in ("max_new_tokens", "top_k", "bos_token_id", "pad_token_id"):
            argcheck.integer(owner, name, getattr(self, name), 0, allow_none=True)
        if self.do_sample is not None:
            argcheck.flag(owner, "do_sample", self.do_sample)
        for name in ("temperature", "top_p", "repetition_penalty"):
            argcheck.number(owner, name, getattr(self, name), 0.0, allow_none=True)
        self.eos_token_id = eos_list(owner, self.eos_token_id)

    @classmethod
    def from_pretrained(cls, path) -> GenerationConfig:
        """``load_generation_config(path)``: a model directory's generation_config.json."""
        return load_generation_config(path)

    def to_kwargs(self) -> dict:
        """The fields that are set, as ``generate`` keyword arguments (bos_token_id left out)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out.pop("bos_token_id")
        return {k: v for k, v in out.items() if v is not None}


def eos_list(owner: str, value) -> list[int] | None:
    """Stop tokens as a list of ints >= 0 (an int becomes a list of one); None stays None."""
    if value is None:
        return None
    if argcheck.is_integer(value):
        return [argcheck.integer(owner, "eos_token_id", value, 0)]
    if isinstance(value, (list, tuple)) and value and all(argcheck.is_integer(v) for v in value):
        bad = [int(v) for v in value if v < 0]
        if bad:
            raise ValueError(
                f"{owner}: eos_token_id must hold integers >= 0, received {list(value)!r}"
            )
        return [int(v) for v in value]
    raise TypeError(
        f"{owner}: eos_token_id must be an integer or a non-empty list of integers, received "
        f"{argcheck.show(value)}"
    )


def load_generation_config(path) -> GenerationConfig:
    """Read ``generation_config.json`` (a model directory or the file itself).

    Keys other than the fields of GenerationConfig (``max_length``, ``transformers_version``, ...)
    are ignored; a missing file gives an empty config (every default from ``generate``).

    Raises:
        FileNotFoundError: ``path`` is neither a directory nor a file.
        FileFormatError: not JSON, or a field of the wrong type, named with the file.
    """
    owner = "load_generation_config"
    path = os.fspath(path)
    file = os.path.join(path, "generation_config.json") if os.path.isdir(path) else path
    if not os.path.exists(path):
        raise FileNotFoundError(f"{owner}: no directory or file at {path!r}")
    if not os.path.isfile(file):
        return GenerationConfig()
    try:
        with open(file, encoding="utf-8") as f:
            raw = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FileFormatError(file, f"not valid JSON ({e})", owner) from None
    if not isinstance(raw, dict):
        raise FileFormatError(file, f"expected a JSON object, received {type(raw).__name__}", owner)
    names = {f.name for f in dataclasses.fields(GenerationConfig)}
    try:
        return GenerationConfig(**{k: v for k, v in raw.items() if k in names})
    except (TypeError, ValueError) as e:
        raise FileFormatError(file, str(e), owner) from None
