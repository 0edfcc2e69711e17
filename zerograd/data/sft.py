"""Supervised fine-tuning data: chat conversations (JSONL of ``{"messages": [...]}``) rendered with
the model's chat template and tokenized, with labels on the assistant's tokens only.

How the assistant's tokens are found: each assistant message i is located by rendering the
conversation prefix by prefix. ``render(messages[:i], add_generation_prompt=True)`` ends where
the reply begins and ``render(messages[:i + 1])`` ends after it (its end-of-turn token
included); both must be prefixes of the whole rendering (checked, with a clear error otherwise).
The whole text is tokenized once and each token whose character span (the tokenizer's offsets)
overlaps a reply's span is supervised. Limits: a template that renders earlier turns differently
once more follow (e.g. one that drops the reasoning of past turns) fails the prefix check; a token
that straddles the start of a reply (a merge across the header and the reply) is supervised whole.

Labels are aligned with ``input_ids`` (transformers' convention: the model shifts them), -100 where
no loss is taken.

Example:
    >>> ds = SFTDataset('chat.jsonl', 'model_dir/tokenizer.json', 'model_dir', max_length=512)
    >>> loader = DataLoader(ds, batch_size=8, shuffle=True, collate_fn=ds.collate)
    >>> batch = next(iter(loader))  # {'input_ids', 'labels', 'attention_mask'}: (B, T) Tensors
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np

from zerograd.data.dataset import Dataset
from zerograd.io.errors import FileFormatError
from zerograd.ops import argcheck
from zerograd.tensor import Tensor

IGNORE = -100  # the label of a token that takes no loss (cross_entropy's ignore_index)
_log = logging.getLogger(__name__)


def read_conversations(path) -> list[list[dict]]:
    """The conversations of a JSONL file, one ``{"messages": [{"role", "content"}, ...]}`` a line
    (blank lines skipped).

    Raises:
        FileNotFoundError: no file at ``path``.
        FileFormatError: a line that is not JSON, not such an object, or holds a bad message; the
            message names the file and the line number.
    """
    return [messages for _, messages in _read_lines(path, "read_conversations")]


def _read_lines(path, owner: str) -> list[tuple[int, list[dict]]]:
    """(line number, messages) of each conversation of a JSONL file."""
    from zerograd.models.chat import check_messages

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{owner}: no file at {path!r}")
    out = []
    with open(path, "rb") as f:  # bytes, decoded line by line: a bad byte names its line
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise FileFormatError(
                    path, f"line {n}: not UTF-8 text ({e.reason})", owner
                ) from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise FileFormatError(path, f"line {n}: not valid JSON ({e.msg})", owner) from None
            messages = obj.get("messages") if isinstance(obj, dict) else None
            if not isinstance(messages, list) or not messages:
                got = sorted(obj)[:10] if isinstance(obj, dict) else type(obj).__name__
                raise FileFormatError(
                    path,
                    f'line {n}: expected {{"messages": [...]}} with at least one message, '
                    f"received {got}",
                    owner,
                )
            try:
                out.append((n, check_messages(messages, owner)))
            except (TypeError, ValueError) as e:
                problem = str(e).split(": ", 1)[1]
                raise FileFormatError(path, f"line {n}: {problem}", owner) from None
    if not out:
        raise FileFormatError(path, "no conversations (the file is empty)", owner)
    return out


def assistant_spans(template, messages, **extra) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans [start, end) of the assistant's replies
    (each with the end-of-turn text the template writes after it), found prefix by prefix."""
    full = template.render(messages, **extra)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = template.render(messages[:i], add_generation_prompt=True, **extra) if i else ""
        after = template.render(messages[: i + 1], **extra)
        if not (full.startswith(before) and full.startswith(after) and len(after) >= len(before)):
            raise ValueError(
                f"message {i}: the chat template does not render the conversation up to this "
                "reply as a prefix of the whole conversation, so the reply cannot be located "
                "(the template renders earlier turns differently once more follow)"
            )
        if len(after) > len(before):
            spans.append((len(before), len(after)))
    return full, spans


def tokenize_conversation(template, tokenizer, messages, **extra) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, labels) int64 arrays of one conversation: labels -100 except on the tokens of
    the assistant's replies."""
    from zerograd.models.chat import encode_plain

    text, spans = assistant_spans(template, messages, **extra)
    enc = encode_plain(tokenizer, text)
    ids = np.array(enc.ids, dtype=np.int64)
    if not len(ids):
        return ids, ids.copy()
    offsets = np.array(enc.offsets, dtype=np.int64).reshape(-1, 2)
    keep = np.zeros(len(ids), bool)
    for start, end in spans:
        keep |= (offsets[:, 0] < end) & (offsets[:, 1] > start)
    return ids, np.where(keep, ids, IGNORE)


def _tokenizer(tokenizer):
    """A Tokenizer from one, from a ``tokenizers.Tokenizer``, or from a tokenizer.json (or its
    directory)."""
    if isinstance(tokenizer, (str, os.PathLike)):
        from zerograd.data.tokenizers import Tokenizer

        path = os.fspath(tokenizer)
        if os.path.isdir(path):
            path = os.path.join(path, "tokenizer.json")
        return Tokenizer.from_file(path)
    return tokenizer


class SFTDataset(Dataset):
    """Chat conversations as ``(input_ids, labels, attention_mask)`` int64 samples.

    Args:
        data: a JSONL file of ``{"messages": [...]}`` lines, or a list of conversations (each a
            list of messages or a ``{"messages": [...]}`` dict).
        tokenizer: a ``zerograd.data.Tokenizer``, a ``tokenizers.Tokenizer`` or a tokenizer.json
            path (or its directory).
        template: a ``ChatTemplate``, a model directory, or a Jinja template string.
        max_length: the longest sample (with ``packing``: the length of every row).
        truncation: cut a conversation longer than ``max_length`` (a conversation left with no
            assistant token is dropped, with a warning); False: such a conversation is an error.
        packing: concatenate the conversations into rows of exactly ``max_length`` tokens (the
            last row padded). Consecutive rows overlap by one token so that every supervised token
            is predicted exactly once; the first token of each conversation takes no loss (it
            would be predicted from the previous one). Attention still crosses conversations
            within a row (no block-diagonal mask), as in most packed SFT.
        pad_token_id: the padding id (default: the template files' pad_token, else the
            tokenizer's own, else the eos_token; it only fills, the mask and labels hide it).
        template_kwargs: extra template variables (e.g. a system prompt switch).

    Example:
        >>> ds = SFTDataset('chat.jsonl', tok, tmpl, max_length=256, packing=True)
        >>> loader = DataLoader(ds, batch_size=4, collate_fn=ds.collate)
    """

    def __init__(
        self,
        data,
        tokenizer,
        template,
        max_length: int | None = None,
        truncation: bool = False,
        packing: bool = False,
        pad_token_id: int | None = None,
        template_kwargs: dict | None = None,
    ):
        from zerograd.models.chat import as_template, check_messages

        owner = "SFTDataset"
        argcheck.flag(owner, "truncation", truncation)
        argcheck.flag(owner, "packing", packing)
        argcheck.integer(owner, "max_length", max_length, 2 if packing else 1, allow_none=True)
        if packing and max_length is None:
            raise ValueError(f"{owner}: packing=True needs max_length (the length of each row)")
        self.tokenizer = _tokenizer(tokenizer)
        self.template = as_template(template)
        self.max_length, self.truncation, self.packing = max_length, truncation, packing
        self.pad_token_id = argcheck.integer(
            owner, "pad_token_id", _pad_id(pad_token_id, self.tokenizer, self.template), 0
        )
        if isinstance(data, (str, os.PathLike)):
            lines = _read_lines(data, owner)
            conversations = [m for _, m in lines]
            names = [f"{os.fspath(data)!r} line {n}" for n, _ in lines]
        elif isinstance(data, (list, tuple)) and data:
            names = [f"conversation {i}" for i in range(len(data))]
            conversations = []
            for name, c in zip(names, data):
                try:
                    conversations.append(
                        check_messages(c.get("messages") if isinstance(c, dict) else c, owner)
                    )
                except (TypeError, ValueError) as e:
                    raise type(e)(f"{owner}: {name}: {str(e).split(': ', 1)[1]}") from None
        else:
            raise TypeError(
                f"{owner}: data must be a JSONL path or a non-empty list of conversations, "
                f"received {type(data).__name__}"
            )
        examples, self.dropped = [], 0
        for name, conv in zip(names, conversations):
            try:
                ids, labels = tokenize_conversation(
                    self.template, self.tokenizer, conv, **(template_kwargs or {})
                )
            except ValueError as e:
                problem = str(e).split(": ", 1)[1] if str(e).startswith("apply_") else str(e)
                raise ValueError(f"{owner}: {name}: {problem}") from None
            if not (labels != IGNORE).any():
                raise ValueError(
                    f"{owner}: {name} has no assistant tokens to learn from (roles "
                    f"{[m['role'] for m in conv]})"
                )
            if not packing and max_length is not None and len(ids) > max_length:
                if not truncation:
                    raise ValueError(
                        f"{owner}: {name} has {len(ids)} tokens, more than "
                        f"max_length={max_length}; pass truncation=True to cut it (or "
                        "packing=True)"
                    )
                ids, labels = ids[:max_length], labels[:max_length]
                if not (labels[1:] != IGNORE).any():
                    self.dropped += 1
                    continue
            examples.append((ids, labels))
        if self.dropped:
            _log.warning(
                "SFTDataset: %d conversation(s) had no assistant token within max_length=%d and "
                "were dropped",
                self.dropped,
                max_length,
            )
        if not examples:
            raise ValueError(f"{owner}: no conversation left after truncation to {max_length}")
        self.examples = self._pack(examples) if packing else examples

    def _pack(self, examples):
        """Rows of max_length from the concatenated conversations, overlapping by one token."""
        L = self.max_length
        ids = np.concatenate([e[0] for e in examples])
        labels = np.concatenate([e[1] for e in examples])
        starts = np.cumsum([0] + [len(e[0]) for e in examples[:-1]])
        labels[starts] = IGNORE  # a conversation's first token is not predicted from the last one
        rows, n = [], len(ids)
        for a in range(0, max(n - 1, 1), L - 1):
            r_ids, r_lab = ids[a : a + L].copy(), labels[a : a + L].copy()
            r_lab[0] = IGNORE  # the overlap: context here, predicted in the row before
            rows.append((r_ids, r_lab))
        return rows

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index):
        ids, labels = self.examples[index]
        width = self.max_length if self.packing else len(ids)
        return _pad(ids, labels, width, self.pad_token_id)

    def collate(self, samples, padding: str = "longest") -> dict:
        """A batch of samples padded on the right: {'input_ids', 'labels', 'attention_mask'} as
        int64 Tensors (B, T), T the longest sample (or ``max_length`` with
        ``padding='max_length'``); padding has label -100 and mask 0."""
        argcheck.choice("SFTDataset.collate", "padding", padding, ("longest", "max_length"))
        if padding == "max_length" and self.max_length is None:
            raise ValueError("SFTDataset.collate: padding='max_length' needs max_length")
        width = max(len(s[0]) for s in samples)
        if padding == "max_length":
            width = max(width, self.max_length)
        rows = [_pad(s[0][s[2] == 1], s[1][s[2] == 1], width, self.pad_token_id) for s in samples]
        ids, labels, mask = (np.stack(x) for x in zip(*rows))
        return {"input_ids": Tensor(ids), "labels": Tensor(labels), "attention_mask": Tensor(mask)}


def _pad_id(given, tokenizer, template) -> int:
    """The padding id: given > the config's pad_token > the tokenizer's guess > eos_token > 0."""
    if given is not None:
        return given
    inner = getattr(tokenizer, "inner", tokenizer)
    special = template.special_tokens
    found = [inner.token_to_id(special[k]) for k in ("pad_token",) if special.get(k)]
    found.append(getattr(tokenizer, "pad_token_id", None))
    if special.get("eos_token"):
        found.append(inner.token_to_id(special["eos_token"]))
    return next((i for i in found if i is not None), 0)


def _pad(ids: np.ndarray, labels: np.ndarray, width: int, pad: int):
    """(input_ids, labels, attention_mask) of one sample, padded on the right to ``width``."""
    n = len(ids)
    out_ids = np.full(width, pad, dtype=np.int64)
    out_lab = np.full(width, IGNORE, dtype=np.int64)
    mask = np.zeros(width, dtype=np.int64)
    out_ids[:n], out_lab[:n], mask[:n] = ids, labels, 1
    return out_ids, out_lab, mask
