"""Text generation for causal language models: greedy, temperature, top-k, top-p, a KV cache."""

from __future__ import annotations

import numpy as np

from zerograd.autograd import no_grad
from zerograd.tensor import Tensor


def _filter(logits: np.ndarray, top_k: int | None, top_p: float | None) -> np.ndarray:
    """Set logits outside the top-k / the smallest nucleus with mass >= top_p to -inf."""
    out = logits.copy()
    if top_k is not None and top_k < out.shape[-1]:
        kth = np.sort(out, axis=-1)[:, -top_k][:, None]
        out[out < kth] = -np.inf
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-out, axis=-1, kind="stable")
        sorted_logits = np.take_along_axis(out, order, axis=-1)
        p = np.exp(sorted_logits - sorted_logits[:, :1])
        p /= p.sum(axis=-1, keepdims=True)
        before = np.cumsum(p, axis=-1) - p  # mass of the tokens ranked above each one
        drop = before >= top_p  # keep a token while the mass above it is still below top_p
        sorted_logits[drop] = -np.inf
        np.put_along_axis(out, order, sorted_logits, axis=-1)
    return out


def generate(
    model,
    input_ids,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    do_sample: bool = False,
    seed: int | None = None,
    use_cache: bool = True,
    eos_token_id: int | None = None,
) -> np.ndarray:
    """Continue ``input_ids`` (B, T) by ``max_new_tokens`` tokens; returns (B, T + new) ids.

    Greedy unless ``do_sample``; sampling uses ``temperature``, ``top_k``, ``top_p`` and a generator
    seeded by ``seed`` (the same seed gives the same text). With ``use_cache`` each step feeds one
    token and reuses the keys and values of the earlier ones.
    """
    ids = np.asarray(
        input_ids.numpy() if isinstance(input_ids, Tensor) else input_ids, dtype=np.int64
    )
    if ids.ndim == 1:
        ids = ids[None]
    rng = np.random.default_rng(seed)
    was = model.training
    model.eval()
    done = np.zeros(len(ids), bool)
    past = None
    with no_grad():
        for _ in range(max_new_tokens):
            if use_cache:
                feed = ids if past is None else ids[:, -1:]
                logits, past = model(feed, past_key_values=past, use_cache=True)
            else:
                logits = model(ids)
            last = logits.numpy()[:, -1, :].astype(np.float64)  # (B, vocab)
            if do_sample:
                last = _filter(last / max(temperature, 1e-8), top_k, top_p)
                p = np.exp(last - last.max(axis=-1, keepdims=True))
                p /= p.sum(axis=-1, keepdims=True)
                nxt = np.array([rng.choice(p.shape[-1], p=row) for row in p])
            else:
                nxt = last.argmax(axis=-1)
            if eos_token_id is not None:
                nxt = np.where(done, eos_token_id, nxt)
                done |= nxt == eos_token_id
            ids = np.concatenate([ids, nxt[:, None]], axis=1)
            if eos_token_id is not None and done.all():
                break
    model.train(was)
    return ids
