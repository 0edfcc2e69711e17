"""Tokenizers: Hugging Face ``tokenizer.json`` files through the ``tokenizers`` package, byte-level
BPE training, and a character-level tokenizer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np


class Tokenizer:
    """A wrapper of a ``tokenizers.Tokenizer`` with batch encoding to NumPy arrays.

    Example:
        >>> tok = Tokenizer.from_file('model/tokenizer.json')
        >>> batch = tok.encode_batch(['hello', 'a longer sentence'], max_length=16)
        >>> batch['input_ids'].shape, batch['attention_mask'].shape
    """

    def __init__(self, inner):
        self.inner = inner

    @classmethod
    def from_file(cls, path) -> Tokenizer:
        from tokenizers import Tokenizer as HFTokenizer

        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"Tokenizer.from_file: no file at {path!r}")
        try:
            return cls(HFTokenizer.from_file(path))
        except Exception as e:  # noqa: BLE001 - the package raises its own exception type
            raise ValueError(
                f"Tokenizer.from_file: {path!r} is not a valid tokenizer.json ({e})"
            ) from None

    @property
    def vocab_size(self) -> int:
        return self.inner.get_vocab_size()

    def token_to_id(self, token: str):
        return self.inner.token_to_id(token)

    def _configure(self, truncation: bool, max_length: int | None) -> None:
        """Padding is done here; truncation by the package (it keeps the special tokens)."""
        self.inner.no_padding()
        if truncation and max_length:
            self.inner.enable_truncation(max_length)
        else:
            self.inner.no_truncation()

    def encode(
        self, text: str, max_length: int | None = None, truncation: bool = True
    ) -> list[int]:
        self._configure(truncation, max_length)
        return self.inner.encode(text).ids

    def encode_batch(
        self,
        texts,
        padding: bool | str = True,
        truncation: bool = True,
        max_length: int | None = None,
    ) -> dict:
        """{'input_ids', 'attention_mask', 'token_type_ids'} as int64 arrays (B, T), padded to the
        longest text (or to ``max_length`` with ``padding='max_length'``)."""
        self._configure(truncation, max_length)
        encs = self.inner.encode_batch(list(texts))
        width = (
            max_length if padding == "max_length" and max_length else max(len(e.ids) for e in encs)
        )
        pad_id = self.inner.token_to_id("[PAD]") or 0
        ids = np.full((len(encs), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        types = np.zeros((len(encs), width), dtype=np.int64)
        for i, e in enumerate(encs):
            n = len(e.ids)
            ids[i, :n], mask[i, :n], types[i, :n] = e.ids, 1, e.type_ids
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return self.inner.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def decode_batch(self, batch, skip_special_tokens: bool = True) -> list[str]:
        return [self.decode(r, skip_special_tokens) for r in batch]

    def save(self, path) -> None:
        self.inner.save(os.fspath(path))


def train_bpe(texts, vocab_size: int = 1000, min_frequency: int = 2) -> Tokenizer:
    """Train a byte-level BPE tokenizer on an iterable of strings."""
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        list(texts),
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=["<|endoftext|>"],
    )
    return Tokenizer(bpe._tokenizer)


class CharTokenizer:
    """One id per character seen in the training text (plus '<unk>' at id 0).

    Example:
        >>> tok = CharTokenizer.fit('床前明月光')
        >>> tok.decode(tok.encode('明月'))
        '明月'
    """

    def __init__(self, chars: list[str]):
        self.itos = ["<unk>", *chars]
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def fit(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(c, 0) for c in text]

    def decode(self, ids) -> str:
        return "".join(self.itos[int(i)] if 0 < int(i) < len(self.itos) else "" for i in ids)

    def save(self, path) -> None:
        Path(path).write_text(
            json.dumps({"type": "char", "chars": self.itos[1:]}, ensure_ascii=False)
        )

    @classmethod
    def load(cls, path) -> CharTokenizer:
        try:
            spec = json.loads(Path(path).read_text())
            assert spec["type"] == "char"
        except (ValueError, KeyError, AssertionError, TypeError):
            raise ValueError(
                f"CharTokenizer.load: {os.fspath(path)!r} is not a saved CharTokenizer"
            ) from None
        return cls(spec["chars"])
