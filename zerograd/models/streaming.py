"""Streaming generated text: token ids in as ``generate`` produces them, finished text out.

A character can take several tokens (a Chinese character is three bytes, and byte-level BPE may
split it), so a piece is released only once the decoded text no longer ends in an incomplete
character (decoded as U+FFFD).

Example:
    >>> streamer = TextStreamer(tok, callback=lambda s: sys.stdout.write(s))
    >>> generate(model, prompt, 64, streamer=streamer)
"""

from __future__ import annotations

import numpy as np

from zerograd.ops import argcheck

_INCOMPLETE = "\ufffd"  # what a decoder writes for bytes that are not (yet) a whole character


class TextStreamer:
    """Decodes one sequence incrementally; ``put`` returns (and passes to ``callback``) the text
    completed by the new tokens, ``end`` whatever is left.

    Args:
        tokenizer: a ``zerograd.data.Tokenizer``, a ``tokenizers.Tokenizer``, or any object with
            ``decode(ids)``.
        callback: called with each non-empty piece of text.
        skip_special_tokens: leave special tokens (end of turn, ...) out of the text.

    Example:
        >>> s = TextStreamer(tok)
        >>> generate(model, prompt, 20, streamer=s)
        >>> s.text  # everything streamed so far
    """

    def __init__(self, tokenizer, callback=None, skip_special_tokens: bool = True):
        if not hasattr(getattr(tokenizer, "inner", tokenizer), "decode"):
            raise TypeError(
                "TextStreamer: tokenizer must have a decode method, received "
                f"{type(tokenizer).__name__}"
            )
        if callback is not None and not callable(callback):
            raise TypeError(f"TextStreamer: callback must be callable, received {callback!r}")
        self.skip_special_tokens = argcheck.flag(
            "TextStreamer", "skip_special_tokens", skip_special_tokens
        )
        self.tokenizer, self.callback = tokenizer, callback
        self.tokens: list[int] = []
        self.text = ""  # the text released so far

    def _decode(self) -> str:
        inner = getattr(self.tokenizer, "inner", self.tokenizer)
        if hasattr(inner, "id_to_token"):  # the tokenizers package (also inside our wrapper)
            return inner.decode(self.tokens, skip_special_tokens=self.skip_special_tokens)
        return self.tokenizer.decode(np.array(self.tokens, dtype=np.int64))

    def _release(self, final: bool) -> str:
        full = self._decode()
        if not final and full.endswith(_INCOMPLETE):
            return ""
        # decoding is prefix-stable for the tokenizers used here; should it not be, the new tail
        # is still what goes out (text already released cannot be taken back)
        piece = full[len(self.text) :]
        self.text += piece
        if piece and self.callback is not None:
            self.callback(piece)
        return piece

    def put(self, token_ids) -> str:
        """Add the newest token(s) (an int, or an array of one sequence's ids: shape (), (1,) or
        (n,)); returns the text they complete ('' while a character is unfinished)."""
        a = np.asarray(token_ids)
        if a.dtype.kind not in "iu":
            raise TypeError(
                f"TextStreamer.put: expected integer token ids, received dtype {a.dtype}"
            )
        if a.ndim > 1 and a.shape[0] != 1:
            raise ValueError(
                "TextStreamer.put: streams one sequence; received ids of shape "
                f"{a.shape} (a batch of {a.shape[0]})"
            )
        self.tokens.extend(int(t) for t in a.reshape(-1))
        return self._release(final=False)

    def end(self) -> str:
        """Release the rest (even an unfinished character); returns it."""
        return self._release(final=True)
