"""Text generation for causal language models: greedy, temperature, top-k, top-p, repetition
penalty, stop tokens, a KV cache, streaming, and batched prompts with left padding."""

from __future__ import annotations

import inspect

import numpy as np

from zerograd.autograd import no_grad
from zerograd.models import checks
from zerograd.models.generation_config import GenerationConfig, eos_list
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


_DEFAULTS = dict(
    temperature=1.0,
    top_k=None,
    top_p=None,
    do_sample=False,
    repetition_penalty=1.0,
    eos_token_id=None,
    pad_token_id=None,
    max_new_tokens=None,
)


def _settings(generation_config, given: dict) -> dict:
    """The decoding settings: an argument given > the generation config > the defaults."""
    if generation_config is None:
        base = {}
    elif isinstance(generation_config, GenerationConfig):
        base = generation_config.to_kwargs()
    elif isinstance(generation_config, dict):
        base = GenerationConfig(**generation_config).to_kwargs()
    else:
        raise TypeError(
            "generate: generation_config must be a GenerationConfig or a dict, received "
            f"{type(generation_config).__name__}"
        )
    out = dict(_DEFAULTS)
    out.update(base)
    out.update({k: v for k, v in given.items() if v is not None})
    return out


def _check(ids, s: dict, seed, use_cache) -> np.ndarray:
    """The arguments of ``generate`` checked (types and ranges, as transformers' GenerationConfig);
    returns the prompt as an int64 array (B, T)."""
    ids = checks.integer_array("generate", "input_ids", ids)
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
    if s["max_new_tokens"] is None:
        raise ValueError(
            "generate: max_new_tokens is required (neither given nor in the generation config)"
        )
    argcheck.integer("generate", "max_new_tokens", s["max_new_tokens"], 0)
    argcheck.flag("generate", "do_sample", s["do_sample"])
    argcheck.flag("generate", "use_cache", use_cache)
    if s["do_sample"]:
        argcheck.number("generate", "temperature", s["temperature"], 0.0, low_open=True)
    else:
        argcheck.number("generate", "temperature", s["temperature"])
    if s["top_k"] is not None:
        argcheck.integer("generate", "top_k", s["top_k"], 0)
    if s["top_p"] is not None:
        argcheck.number("generate", "top_p", s["top_p"], 0.0, 1.0, low_open=True)
    argcheck.number(
        "generate", "repetition_penalty", s["repetition_penalty"], 0.0, low_open=True, finite=True
    )
    if seed is not None:
        argcheck.integer("generate", "seed", seed, 0)
    s["eos_token_id"] = eos_list("generate", s["eos_token_id"])
    argcheck.integer("generate", "pad_token_id", s["pad_token_id"], 0, allow_none=True)
    return ids


def _mask(attention_mask, ids: np.ndarray, pad, eos) -> np.ndarray | None:
    """The prompt's attention mask (B, T) of 0/1, left padding only; inferred from ``pad`` (as
    transformers does) when not given and the prompt holds pad tokens that are not stop tokens."""
    if attention_mask is None:
        if pad is None or (eos and pad in eos) or not (ids == pad).any():
            return None
        mask = (ids != pad).astype(np.int64)
    else:
        mask = checks.integer_array("generate", "attention_mask", attention_mask)
        mask = mask[None] if mask.ndim == 1 else mask
        if mask.shape != ids.shape:
            raise ValueError(
                f"generate: expected attention_mask of the input_ids' shape {ids.shape}, received "
                f"{mask.shape}"
            )
        if ((mask != 0) & (mask != 1)).any():
            raise ValueError("generate: attention_mask must hold only 0 and 1")
    if not mask[:, -1].all():
        row = int(np.flatnonzero(mask[:, -1] == 0)[0])
        raise ValueError(
            f"generate: prompt {row} is padded on the right (its attention_mask ends in 0); "
            "a decoder continues the last token, so pad prompts on the left"
        )
    if (np.diff(mask, axis=1) < 0).any():
        raise ValueError(
            "generate: attention_mask has padding (0) after real tokens; only left padding is "
            "supported"
        )
    return mask


def _streamer(streamer):
    """(put, end) for a callback (called with each step's new ids) or an object with put/end."""
    if streamer is None:
        return None, None
    if hasattr(streamer, "put"):
        return streamer.put, getattr(streamer, "end", None)
    if callable(streamer):
        return streamer, None
    raise TypeError(
        "generate: streamer must be callable or have put(ids) (and end()), received "
        f"{type(streamer).__name__}"
    )


def _penalize(logits: np.ndarray, ids: np.ndarray, penalty: float) -> np.ndarray:
    """transformers' repetition penalty: each token already in the row (prompt included) has its
    logit divided by ``penalty`` when positive, multiplied when negative."""
    rows = np.arange(len(ids))[:, None]
    seen = logits[rows, ids]  # (B, T); a repeated token writes the same value twice
    logits[rows, ids] = np.where(seen < 0, seen * penalty, seen / penalty)
    return logits


def _limit(model):
    """(name, value) of the model's context length, if its config says."""
    config = getattr(model, "config", None)
    for name in ("n_positions", "max_position_embeddings"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return name, value
    return None, None


def generate(
    model,
    input_ids,
    max_new_tokens: int | None = None,
    temperature: float | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
    do_sample: bool | None = None,
    seed: int | None = None,
    use_cache: bool = True,
    eos_token_id: int | list[int] | None = None,
    *,
    repetition_penalty: float | None = None,
    pad_token_id: int | None = None,
    attention_mask=None,
    streamer=None,
    generation_config: GenerationConfig | dict | None = None,
) -> np.ndarray:
    """Continue ``input_ids`` (B, T) by up to ``max_new_tokens`` tokens; returns (B, T + new) ids.

    Greedy unless ``do_sample``; sampling uses ``temperature``, ``top_k``, ``top_p`` and a generator
    seeded by ``seed`` (the same seed gives the same text). With ``use_cache`` each step feeds one
    token and reuses the keys and values of the earlier ones.

    Args:
        repetition_penalty: > 1 discourages tokens already in the row (prompt included), as
            transformers: positive logits divided by it, negative ones multiplied.
        eos_token_id: a stop token or a list of them. A row that stopped is filled with
            ``pad_token_id`` (default: the first stop token); generation ends when all stopped.
        pad_token_id: the filler after a stop, and the padding of left-padded prompts.
        attention_mask: (B, T) of 1 (token) / 0 (left padding) for prompts of different lengths;
            inferred from ``pad_token_id`` when not given. The model gets it, extended by a 1 per
            new token, if its forward takes ``attention_mask`` (its positions are its own).
        streamer: called with each step's new ids (an int64 array (B,)) as they are produced, or
            an object with ``put(ids)`` and ``end()`` (e.g. ``TextStreamer``).
        generation_config: defaults for the settings not given (``load_generation_config``).

    Example:
        >>> ids = generate(model, prompt, 32, eos_token_id=[2, 32000], repetition_penalty=1.1)
    """
    s = _settings(
        generation_config,
        dict(
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            do_sample=do_sample,
            repetition_penalty=repetition_penalty,
            eos_token_id=eos_token_id,
            pad_token_id=pad_token_id,
        ),
    )
    ids = _check(input_ids, s, seed, use_cache)
    n_new, eos, penalty = s["max_new_tokens"], s["eos_token_id"], s["repetition_penalty"]
    name, limit = _limit(model)
    if limit is not None and ids.shape[1] + n_new > limit:
        raise ValueError(
            f"generate: a prompt of {ids.shape[1]} tokens plus max_new_tokens={n_new} "
            f"exceeds the model's {name}={limit}"
        )
    mask = _mask(attention_mask, ids, s["pad_token_id"], eos)
    takes_mask = "attention_mask" in inspect.signature(model.forward).parameters
    if mask is not None and not takes_mask:
        if not mask.all():
            raise ValueError(
                f"generate: {type(model).__name__}.forward takes no attention_mask, so prompts "
                "cannot be padded; pass prompts of equal length"
            )
        mask = None
    put, end = _streamer(streamer)
    fill = s["pad_token_id"] if s["pad_token_id"] is not None else (eos[0] if eos else None)
    stops = np.array(eos or [], dtype=np.int64)
    rng = np.random.default_rng(seed)
    was = model.training
    model.eval()
    done = np.zeros(len(ids), bool)
    past = None
    try:
        with no_grad():
            for _ in range(n_new):
                extra = {} if mask is None else {"attention_mask": mask}
                if use_cache:
                    feed = ids if past is None else ids[:, -1:]
                    logits, past = model(feed, past_key_values=past, use_cache=True, **extra)
                else:
                    logits = model(ids, **extra)
                last = (
                    logits[:, -1, :].numpy().astype(np.float64)
                )  # (B, vocab): one row off the device
                if penalty != 1.0:
                    last = _penalize(last, ids, penalty)
                if s["do_sample"]:
                    last = _filter(last / s["temperature"], s["top_k"], s["top_p"])
                    p = np.exp(last - last.max(axis=-1, keepdims=True))
                    p /= p.sum(axis=-1, keepdims=True)
                    nxt = np.array([rng.choice(p.shape[-1], p=row) for row in p])
                else:
                    nxt = last.argmax(axis=-1)
                if eos:
                    nxt = np.where(done, fill, nxt)
                    done |= np.isin(nxt, stops)
                ids = np.concatenate([ids, nxt[:, None]], axis=1)
                if mask is not None:
                    mask = np.concatenate([mask, np.ones((len(mask), 1), mask.dtype)], axis=1)
                if put is not None:
                    put(nxt.astype(np.int64))
                if eos and done.all():
                    break
            if end is not None:
                end()
    finally:
        model.train(was)
    return ids
