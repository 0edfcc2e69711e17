"""Checks of model configs and forward arguments: a wrong value fails when the config or model is
built (not at the first forward), and bad token ids fail before any embedding lookup.

Example:
    >>> GPTConfig(n_embd=32, n_head=5)
    Traceback (most recent call last):
    ValueError: GPTConfig: n_embd (32) must be divisible by n_head (5)
"""

from __future__ import annotations

import numpy as np

from zerograd.ops import argcheck
from zerograd.tensor import Tensor


def check_config(
    cfg,
    sizes: tuple = (),
    probabilities: tuple = (),
    epsilons: tuple = (),
    heads: tuple[str, str] | None = None,
) -> None:
    """Every field in ``sizes`` a positive int, in ``probabilities`` in [0, 1], in ``epsilons``
    a positive number, and ``heads`` = (width, heads): the width divisible by the heads."""
    owner = type(cfg).__name__
    for name in sizes:
        argcheck.positive(owner, name, getattr(cfg, name))
    for name in probabilities:
        argcheck.probability(owner, name, getattr(cfg, name))
    for name in epsilons:
        argcheck.number(owner, name, getattr(cfg, name), 0.0, low_open=True)
    if heads is not None:
        width, n = (getattr(cfg, h) for h in heads)
        if width % n:
            raise ValueError(f"{owner}: {heads[0]} ({width}) must be divisible by {heads[1]} ({n})")


def integer_array(owner: str, name: str, x) -> np.ndarray:
    """A Tensor, array or nested list of integers as an int64 array; floats (which would be
    truncated silently) and booleans are a TypeError, as in PyTorch's embedding."""
    a = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype.kind not in "iu" and not (a.size == 0 and a.dtype.kind == "f"):
        raise TypeError(f"{owner}: expected integer {name}, received dtype {a.dtype}")
    return a.astype(np.int64)


def token_ids(owner: str, x, vocab_size: int) -> np.ndarray:
    """``input_ids`` checked to be integers of shape (B, T), T >= 1, each in [0, vocab_size)."""
    ids = integer_array(owner, "input_ids", x)
    if ids.ndim != 2:
        raise ValueError(f"{owner}: expected input_ids of shape (B, T), received {ids.shape}")
    if ids.shape[1] == 0:
        raise ValueError(
            f"{owner}: expected at least one token per sequence, received input_ids of shape "
            f"{ids.shape}"
        )
    if ids.size:
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= vocab_size:
            raise ValueError(
                f"{owner}: input_ids: token indices must be in [0, {vocab_size}) "
                f"(vocab_size), received min {lo} max {hi}"
            )
    return ids
