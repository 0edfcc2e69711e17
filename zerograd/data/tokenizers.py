"""Tokenizers: Hugging Face ``tokenizer.json`` files through the ``tokenizers`` package, byte-level
BPE training, and a character-level tokenizer."""

from __future__ import annotations

import os

import numpy as np

from zerograd.io.errors import FileFormatError
from zerograd.ops import argcheck


class Tokenizer:
    """A wrapper of a ``tokenizers.Tokenizer`` with batch encoding to NumPy int64 arrays.

    The file's own truncation length (if any) is the default ``max_length``; padding is always to
    the longest text of the batch, or to ``max_length`` with ``padding='max_length'``.

    Example:
        >>> tok = Tokenizer.from_file('model/tokenizer.json')
        >>> batch = tok.encode_batch(['hello', 'a longer sentence'], max_length=16)
        >>> batch['input_ids'].shape, batch['attention_mask'].shape
    """

    def __init__(self, inner):
        self.inner = inner
        trunc, pad = inner.truncation, inner.padding
        self.model_max_length = trunc["max_length"] if trunc else None
        if pad:
            self.pad_token_id = pad["pad_id"]
        else:
            found = [inner.token_to_id(t) for t in ("[PAD]", "<pad>", "<|endoftext|>")]
            self.pad_token_id = next((i for i in found if i is not None), 0)
        inner.no_padding()  # padding is done here, truncation per call

    @classmethod
    def from_file(cls, path) -> Tokenizer:
        """Load a Hugging Face ``tokenizer.json``.

        Raises:
            FileNotFoundError: no file at ``path``.
            FileFormatError: a file the ``tokenizers`` package cannot parse, named in the message.
        """
        from tokenizers import Tokenizer as HFTokenizer

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Tokenizer.from_file: no file at {path!r}")
        try:
            inner = HFTokenizer.from_file(path)
        except Exception as e:  # noqa: BLE001 - the package raises its own exception type
            raise FileFormatError(
                path, f"not a valid tokenizer.json ({e})", "Tokenizer.from_file"
            ) from None
        except BaseException as e:  # a Rust panic is a BaseException (pyo3's PanicException)
            if type(e).__name__ != "PanicException":
                raise
            raise FileFormatError(
                path, f"not a valid tokenizer.json (the parser failed: {e})", "Tokenizer.from_file"
            ) from None
        return cls(inner)

    @property
    def vocab_size(self) -> int:
        return self.inner.get_vocab_size()

    def token_to_id(self, token: str) -> int | None:
        return self.inner.token_to_id(token)

    def _truncate(self, truncation: bool, max_length: int | None, op: str) -> None:
        argcheck.flag(op, "truncation", truncation)
        if max_length is not None:
            argcheck.positive(op, "max_length", max_length)
        length = max_length or self.model_max_length
        if truncation and length:
            self.inner.enable_truncation(length)  # the package keeps the special tokens
        else:
            self.inner.no_truncation()

    def encode(
        self, text: str, max_length: int | None = None, truncation: bool = True
    ) -> np.ndarray:
        """Token ids of one text (special tokens included) as an int64 array."""
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer.encode: expected a str, received {type(text).__name__}")
        self._truncate(truncation, max_length, "Tokenizer.encode")
        return np.array(self.inner.encode(text).ids, dtype=np.int64)

    def encode_batch(
        self,
        texts,
        padding: bool | str = True,
        truncation: bool = True,
        max_length: int | None = None,
    ) -> dict:
        """Encode a list of texts.

        Args:
            texts: list of str.
            padding: True / 'longest' (to the longest text), 'max_length', or False (the texts
                must then encode to equal lengths).
            truncation: cut to ``max_length`` (default: the file's own limit, if any).
            max_length: the length to cut (and, with ``padding='max_length'``, pad) to.

        Returns:
            {'input_ids', 'attention_mask', 'token_type_ids'}: int64 arrays (B, T).
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        if padding not in (True, False, "longest", "max_length"):
            raise ValueError(
                f"Tokenizer.encode_batch: padding must be True, False, 'longest' or 'max_length', received {padding!r}"
            )
        if padding == "max_length" and not max_length:
            raise ValueError("Tokenizer.encode_batch: padding='max_length' needs max_length")
        if not texts or not all(isinstance(t, str) for t in texts):
            raise TypeError("Tokenizer.encode_batch: expected a non-empty list of str")
        self._truncate(truncation, max_length, "Tokenizer.encode_batch")
        encs = self.inner.encode_batch(texts)
        lengths = [len(e.ids) for e in encs]
        if padding is False and len(set(lengths)) > 1:
            raise ValueError(
                f"Tokenizer.encode_batch: padding=False needs texts of equal length, received lengths {sorted(set(lengths))}"
            )
        width = max(max(lengths), max_length) if padding == "max_length" else max(lengths)
        ids = np.full((len(encs), width), self.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        types = np.zeros((len(encs), width), dtype=np.int64)
        for i, e in enumerate(encs):
            n = len(e.ids)
            ids[i, :n], mask[i, :n], types[i, :n] = e.ids, 1, e.type_ids
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        """Text of a sequence of ids (padding and special tokens dropped by default)."""
        ids = _ids("Tokenizer.decode", ids, self.vocab_size)
        argcheck.flag("Tokenizer.decode", "skip_special_tokens", skip_special_tokens)
        return self.inner.decode(ids.tolist(), skip_special_tokens=skip_special_tokens)

    def decode_batch(self, batch, skip_special_tokens: bool = True) -> list[str]:
        """Texts of each row of ``batch`` (a 2-D array or a list of id lists)."""
        return [self.decode(r, skip_special_tokens) for r in batch]

    def save(self, path) -> None:
        """Write the tokenizer as a ``tokenizer.json`` (atomically)."""
        from zerograd.io import atomic_path

        with atomic_path(path) as tmp:
            self.inner.save(os.fspath(tmp))


def train_bpe(texts, vocab_size: int = 1000, min_frequency: int = 2) -> Tokenizer:
    """Train a byte-level BPE tokenizer (every byte has a token: no unknown text).

    Args:
        texts: an iterable of strings.
        vocab_size: the size to merge up to (256 bytes + merges + '<|endoftext|>').
        min_frequency: the fewest occurrences for a pair to be merged.

    Returns:
        A Tokenizer whose decode(encode(text)) == text.

    Example:
        >>> tok = train_bpe(['hello world'] * 10, vocab_size=300)
        >>> tok.decode(tok.encode('hello'))
        'hello'
    """
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, pre_tokenizers, trainers

    argcheck.integer("train_bpe", "vocab_size", vocab_size)
    argcheck.positive("train_bpe", "min_frequency", min_frequency)
    if isinstance(texts, str):
        raise TypeError("train_bpe: expected an iterable of str, received one str")
    if vocab_size < 257:
        raise ValueError(
            f"train_bpe: vocab_size must be >= 257 (256 bytes + 1), received {vocab_size}"
        )
    inner = HFTokenizer(models.BPE())
    inner.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    inner.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    inner.train_from_iterator((t for t in texts), trainer=trainer)
    return Tokenizer(inner)


def _ids(op: str, ids, vocab_size: int) -> np.ndarray:
    """A 1-D sequence of integer ids, each in [0, vocab_size), as an int64 array."""
    a = ids.numpy() if hasattr(ids, "numpy") else np.asarray(ids)
    if a.size == 0:
        return np.zeros(0, np.int64)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer ids, received dtype {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"{op}: expected a 1-D sequence of ids, received shape {a.shape}")
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi >= vocab_size:
        raise ValueError(
            f"{op}: ids must be in [0, {vocab_size}) (vocab_size), received min {lo} max {hi}"
        )
    return a.astype(np.int64)


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
        """The vocabulary of ``text``'s characters, sorted."""
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        """One id per character; characters not seen in ``fit`` become 0 ('<unk>')."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.encode: expected a str, received {type(text).__name__}")
        return [self.stoi.get(c, 0) for c in text]

    def decode(self, ids) -> str:
        """The characters of ``ids`` in [0, vocab_size) ('<unk>' dropped)."""
        ids = _ids("CharTokenizer.decode", ids, self.vocab_size)
        return "".join(self.itos[i] for i in ids.tolist() if i)

    def save(self, path) -> None:
        """Write the characters as JSON (atomically)."""
        from zerograd.io import save_json

        save_json({"type": "char", "chars": self.itos[1:]}, path)

    @classmethod
    def load(cls, path) -> CharTokenizer:
        """Read a file written by ``save``; anything else is a FileFormatError naming the file."""
        from zerograd.io import load_json

        spec = load_json(path, loader="CharTokenizer.load")
        chars = spec.get("chars")
        if (
            spec.get("type") != "char"
            or not isinstance(chars, list)
            or not all(isinstance(c, str) and len(c) == 1 for c in chars)
        ):
            raise FileFormatError(
                path,
                "expected a saved CharTokenizer (type 'char', a list of characters), "
                f"received keys {sorted(spec)[:20]}",
                "CharTokenizer.load",
            )
        return cls(chars)
