"""Keras IntegerLookup and StringLookup: tokens -> vocabulary indices (or one-hot, multi-hot,
count vectors), from a given vocabulary or one learnt by ``adapt``; ``invert=True`` maps indices
back to tokens. Index layout as Keras: [mask token (int mode only)] + [OOV] * num_oov_indices +
tokens. No weights and no gradient: outputs are new constants."""

from __future__ import annotations

import collections
import numbers
import os

import numpy as np

from zerograd.keras.base import Layer
from zerograd.keras.layers.categorical import encode
from zerograd.tensor import Tensor

_MODES = ("int", "one_hot", "multi_hot", "count")


class _IndexLookup(Layer):
    """What IntegerLookup and StringLookup share: the vocabulary, adapt, lookups and encodings."""

    _accepts_strings = True  # tokens

    _strings = False

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                 idf_weights, invert, output_mode, sparse, pad_to_max_tokens, vocabulary_dtype,
                 oov_method="floormod", salt=None, vocabulary_size=None, encoding="utf-8",
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        me = self._me
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 1
        ):
            raise ValueError(
                f"{me}: max_tokens must be None or an int > 1, received {max_tokens!r}"
            )
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{me}: pad_to_max_tokens=True needs max_tokens, received None")
        if (
            isinstance(num_oov_indices, bool)
            or not isinstance(num_oov_indices, int)
            or (num_oov_indices < 0)
        ):
            raise ValueError(
                f"{me}: num_oov_indices must be an int >= 0, received {num_oov_indices!r}"
            )
        output_mode = "multi_hot" if output_mode == "binary" else output_mode
        if output_mode not in _MODES:
            raise ValueError(
                f"{me}: output_mode must be one of {_MODES} ('tf_idf' is not supported), "
                f"received output_mode={output_mode!r}"
            )
        if invert and output_mode != "int":
            raise ValueError(f"{me}: invert=True needs output_mode='int', received {output_mode!r}")
        for arg, v in (("sparse", sparse or None), ("idf_weights", idf_weights), ("salt", salt)):
            if v is not None:
                raise ValueError(f"{me}: {arg} is not supported, received {arg}={v!r}")
        if oov_method != "floormod":
            raise ValueError(
                f"{me}: oov_method must be 'floormod' ('farmhash' is not supported), received "
                f"oov_method={oov_method!r}"
            )
        if self._strings and num_oov_indices > 1:
            raise ValueError(
                f"{me}: num_oov_indices > 1 (hashed string OOV buckets) is not supported, "
                f"received num_oov_indices={num_oov_indices}"
            )
        self.max_tokens, self.num_oov_indices = max_tokens, num_oov_indices
        self.mask_token, self.oov_token, self.invert = mask_token, oov_token, bool(invert)
        self.output_mode, self.sparse, self.pad_to_max_tokens = (
            output_mode,
            False,
            pad_to_max_tokens,
        )
        self.vocabulary_dtype, self.oov_method, self.salt = vocabulary_dtype, oov_method, None
        self._tokens, self.encoding = None, encoding
        if isinstance(vocabulary, str):  # a text file, one token a line
            if not os.path.isfile(vocabulary):
                raise FileNotFoundError(
                    f"{me}: the vocabulary file {vocabulary!r} does not exist (a str vocabulary "
                    "is the path of a text file, one token a line)"
                )
            with open(vocabulary, encoding="utf-8") as f:
                vocabulary = [line.rstrip("\n") for line in f]
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)
            if vocabulary_size is not None and vocabulary_size != self.vocabulary_size():
                raise ValueError(
                    f"{me}: vocabulary_size={vocabulary_size} does not match the vocabulary's "
                    f"{self.vocabulary_size()} entries"
                )

    @property
    def _me(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    def _oov_start(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self) -> int:
        return self._oov_start() + self.num_oov_indices

    def _token(self, v):
        """One token as a Python value (str or int), or a TypeError naming the layer."""
        if self._strings:
            if isinstance(v, bytes):
                return v.decode(self.encoding)
            if not isinstance(v, str):
                raise TypeError(
                    f"{self._me}: expected string tokens, received {type(v).__name__} {v!r}"
                )
            return str(v)
        if isinstance(v, str) and v.strip().lstrip("-").isdigit():  # a vocabulary file's line
            return int(v)
        if isinstance(v, (bool, np.bool_)) or not isinstance(
            v, (numbers.Integral, float, np.floating)
        ):
            raise TypeError(
                f"{self._me}: expected integer tokens, received {type(v).__name__} {v!r}"
            )
        if v != int(v):
            raise ValueError(f"{self._me}: expected integer tokens, received {v!r}")
        return int(v)

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Use ``vocabulary`` (tokens, optionally led by the mask and OOV tokens)."""
        if idf_weights is not None:
            raise ValueError(f"{self._me}: idf_weights is not supported (no 'tf_idf' mode)")
        tokens = [self._token(v) for v in np.asarray(vocabulary).reshape(-1)]
        if not tokens:
            raise ValueError(f"{self._me}: the vocabulary must not be empty")
        start = self._token_start()
        special = [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices
        if tokens[:start] == special:
            tokens = tokens[start:]
        repeated = sorted({t for t, n in collections.Counter(tokens).items() if n > 1}, key=str)
        if repeated:
            raise ValueError(f"{self._me}: the vocabulary repeats tokens {repeated}")
        for name, t in (("mask_token", self.mask_token), ("oov_token", self.oov_token)):
            if t is not None and t in tokens and (name == "mask_token" or self.invert):
                raise ValueError(f"{self._me}: the vocabulary holds the {name} {t!r}")
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise ValueError(
                f"{self._me}: the vocabulary has {start + len(tokens)} entries (special tokens "
                f"included), more than max_tokens={self.max_tokens}"
            )
        self._tokens = tokens
        self._index = {t: i + start for i, t in enumerate(tokens)}

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The tokens in index order (with the mask and OOV tokens first by default)."""
        tokens = list(self._tokens or [])
        if not include_special_tokens:
            return tokens
        return (
            [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices + tokens
        )

    def vocabulary_size(self) -> int:
        """The number of indices, special tokens included."""
        return self._token_start() + len(self._tokens or [])

    def adapt(self, data, steps=None) -> None:
        """Learn the vocabulary from ``data`` (an array or an iterable of batches): tokens by
        descending count (ties: descending token), at most ``max_tokens`` indices in all."""
        if isinstance(data, (np.ndarray, Tensor, str, bytes)) or np.isscalar(data):
            batches = [data]
        else:
            batches = [b for i, b in enumerate(data) if steps is None or i < steps]
        counts = collections.Counter()
        for b in batches:
            arr = np.asarray(b.data if isinstance(b, Tensor) else b).reshape(-1)
            counts.update(self._token(v) for v in arr)
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        if not counts:
            raise ValueError(f"{self._me}: adapt received no tokens")
        tokens = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens is not None:
            tokens = tokens[: self.max_tokens - self._token_start()]
        self.set_vocabulary(tokens)

    def _lookup(self, x: np.ndarray) -> np.ndarray:
        """Indices (int64) of tokens ``x``; -1 for the mask token outside 'int' mode."""
        uniq, inverse = np.unique(x.reshape(-1), return_inverse=True)
        out = np.empty(len(uniq), np.int64)
        for i, v in enumerate(uniq):
            t = self._token(v)
            if self.mask_token is not None and t == self.mask_token:
                out[i] = 0 if self.output_mode == "int" else -1
            elif t in self._index:
                out[i] = self._index[t]
            elif self.num_oov_indices == 0:
                raise ValueError(
                    f"{self._me}: token {t!r} is not in the vocabulary and num_oov_indices=0"
                )
            else:  # one OOV index, or (integers) the token modulo the OOV indices
                out[i] = self._oov_start() + (0 if self._strings else t % self.num_oov_indices)
        return out[inverse].reshape(x.shape)

    def _invert(self, idx: np.ndarray):
        vocab = self.get_vocabulary()
        oov = [self.oov_token]
        table = np.array(vocab + oov, dtype=object)
        idx = np.where((idx < 0) | (idx >= len(vocab)), len(vocab), idx)
        idx = np.where((idx >= self._oov_start()) & (idx < self._token_start()), len(vocab), idx)
        out = table[idx]
        return out.astype(str) if self._strings else Tensor(out.astype(np.int64))

    def call(self, inputs):
        if self._tokens is None:
            raise ValueError(
                f"{self._me}: give a vocabulary or call adapt(data) before using the layer"
            )
        x = np.asarray(inputs.data if isinstance(inputs, Tensor) else inputs)
        if self.invert:
            return self._invert(x.astype(np.int64))
        idx = self._lookup(x)
        if self.output_mode == "int":
            return Tensor(idx)
        depth = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
        return Tensor(encode(self, idx, depth, self.output_mode, "float32", skip_negative=True))

    def get_config(self):
        return {
            **super().get_config(),
            "invert": self.invert,
            "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices,
            "oov_token": self.oov_token,
            "mask_token": self.mask_token,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "vocabulary_dtype": self.vocabulary_dtype,
            "idf_weights": None,
            "vocabulary": None if self._tokens is None else list(self._tokens),
            "vocabulary_size": None if self._tokens is None else self.vocabulary_size(),
            "oov_method": self.oov_method,
            "salt": None,
        }


class IntegerLookup(_IndexLookup):
    """Integer tokens -> indices: ``IntegerLookup(vocabulary=[12, 36, 1138, 42])`` maps 12 to 1,
    36 to 2, ... and unknown tokens to the OOV index 0.

    Example:
        >>> IntegerLookup(vocabulary=[12, 36, 1138, 42])(np.array([[12, 1000]])).numpy()
        array([[1, 0]])
    """

    def __init__(self, max_tokens=None, num_oov_indices: int = 1, mask_token=None,
                 oov_token: int = -1, vocabulary=None, vocabulary_dtype: str = "int64",
                 idf_weights=None, invert: bool = False, output_mode: str = "int",
                 sparse: bool = False, pad_to_max_tokens: bool = False, **kwargs):  # fmt: skip
        name = kwargs.get("name") or type(self).__name__
        if vocabulary_dtype != "int64":
            raise ValueError(
                f"IntegerLookup '{name}': vocabulary_dtype must be 'int64', received "
                f"{vocabulary_dtype!r}"
            )
        for arg, v in (("mask_token", mask_token), ("oov_token", oov_token)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral)):
                raise TypeError(f"IntegerLookup '{name}': {arg} must be an int, received {v!r}")
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, sparse, pad_to_max_tokens,
                         vocabulary_dtype, **kwargs)  # fmt: skip


class StringLookup(_IndexLookup):
    """String tokens -> indices: ``StringLookup(vocabulary=['a', 'b'])`` maps 'a' to 1, 'b' to 2
    and unknown strings to the OOV index 0 ('[UNK]'). Eager only: inputs are NumPy string arrays
    (or lists); ``invert=True`` returns a NumPy string array.

    Example:
        >>> StringLookup(vocabulary=['a', 'b'])(np.array([['a', 'z']])).numpy()
        array([[1, 0]])
    """

    _strings = True

    def __init__(self, max_tokens=None, num_oov_indices: int = 1, mask_token=None,
                 oov_token: str = "[UNK]", vocabulary=None, idf_weights=None,
                 invert: bool = False, output_mode: str = "int", pad_to_max_tokens: bool = False,
                 sparse: bool = False, encoding: str = "utf-8", **kwargs):  # fmt: skip
        dtype = kwargs.pop("vocabulary_dtype", "string")  # in Keras's configs; always 'string'
        if dtype != "string":
            raise ValueError(f"StringLookup: vocabulary_dtype must be 'string', received {dtype!r}")
        for arg, v in (("mask_token", mask_token), ("oov_token", oov_token)):
            if v is not None and not isinstance(v, str):
                raise TypeError(
                    f"StringLookup '{kwargs.get('name') or 'string_lookup'}': {arg} must be a "
                    f"string, received {type(v).__name__} {v!r}"
                )
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, sparse, pad_to_max_tokens, "string",
                         encoding=encoding, **kwargs)  # fmt: skip

    def __call__(self, inputs, *args, **kwargs):
        x = inputs.data if isinstance(inputs, Tensor) else inputs
        if self.invert or np.asarray(x).dtype.kind in "USO":  # strings: no Tensor can hold them
            if not self.built:
                self.built = True
            return self.call(x, *args, **kwargs)
        return super().__call__(inputs, *args, **kwargs)

    def get_config(self):
        return {**super().get_config(), "encoding": self.encoding}
