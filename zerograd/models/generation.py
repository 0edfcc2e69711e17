"""Text generation for causal language models: greedy, temperature, top-k, top-p, a KV cache."""

from __future__ import annotations

import numpy as np

from zerograd.autograd import no_grad
from zerograd.models import checks
from zerograd.ops import argcheck


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


def _check(input_ids, max_new_tokens, temperature, top_k, top_p, do_sample, seed, use_cache, eos):
    """The arguments of ``generate`` checked (types and ranges, as transformers' GenerationConfig);
    returns the prompt as an int64 array (B, T)."""
    ids = checks.integer_array("generate", "input_ids", input_ids)
    if ids.ndim == 1:
        ids = ids[None]
    if ids.ndim != 2:
        raise ValueError(
            f"generate: expected input_ids of shape (T,) or (B, T), received shape {ids.shape}"
        )
    if ids.size == 0:
        raise ValueError(
            f"generate: expected a non-empty prompt (at least one token), received input_ids of "
            f"shape {ids.shape}"
        )
    argcheck.integer("generate", "max_new_tokens", max_new_tokens, 0)
    argcheck.flag("generate", "do_sample", do_sample)
    argcheck.flag("generate", "use_cache", use_cache)
    if do_sample:
        argcheck.number("generate", "temperature", temperature, 0.0, low_open=True)
    else:
        argcheck.number("generate", "temperature", temperature)
    if top_k is not None:
        argcheck.integer("generate", "top_k", top_k, 0)
    if top_p is not None:
        argcheck.number("generate", "top_p", top_p, 0.0, 1.0, low_open=True)
    if seed is not None:
        argcheck.integer("generate", "seed", seed, 0)
    if eos is not None:
        argcheck.integer("generate", "eos_token_id", eos, 0)
    return ids


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
    ids = _check(
        input_ids,
        max_new_tokens,
        temperature,
        top_k,
        top_p,
        do_sample,
        seed,
        use_cache,
        eos_token_id,
    )
    limit = getattr(getattr(model, "config", None), "n_positions", None)
    if isinstance(limit, int) and ids.shape[1] + max_new_tokens > limit:
        raise ValueError(
            f"generate: a prompt of {ids.shape[1]} tokens plus max_new_tokens={max_new_tokens} "
            f"exceeds the model's n_positions={limit}"
        )
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
                last = _filter(last / temperature, top_k, top_p)
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
