"""Reading Llama-family Hugging Face directories: config.json, and model.safetensors or the shards
that model.safetensors.index.json lists; weights of any float dtype cast to the model's."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zerograd.io import FileFormatError
from zerograd.models import pretrained
from zerograd.models.llama_config import MODEL_TYPES, LlamaConfig

INDEX = "model.safetensors.index.json"
DTYPES = ("float32", "float64", "float16")


def key_map(n_layer: int, qkv_bias: bool, o_bias: bool, mlp_bias: bool, tied: bool) -> dict:
    """Our names -> Hugging Face names (ours under ``model.``, the head ``lm_head.weight``)."""
    attn = [f"self_attn.{p}_proj.weight" for p in "qkvo"]
    attn += [f"self_attn.{p}_proj.bias" for p in "qkv" if qkv_bias]
    attn += ["self_attn.o_proj.bias"] if o_bias else []
    mlp = [f"mlp.{p}_proj.{w}" for p in ("gate", "up", "down") for w in ("weight", "bias")]
    mlp = [n for n in mlp if mlp_bias or n.endswith("weight")]
    norms = ["input_layernorm.weight", "post_attention_layernorm.weight"]
    names = ["embed_tokens.weight"]
    names += [f"layers.{i}.{n}" for i in range(n_layer) for n in attn + mlp + norms]
    names += ["norm.weight"]
    out = {n: ("model." + n, None) for n in names}
    if not tied:
        out["lm_head.weight"] = ("lm_head.weight", None)
    return out


def read_weights(path, loader: str) -> tuple[dict, Path]:
    """{Hugging Face name: array} from model.safetensors or the index's shards, and the file that
    problems with the set of tensors name (the single file or the index)."""
    path = Path(path)
    single, index = path / "model.safetensors", path / INDEX
    if single.exists() or not index.exists():
        return pretrained.read_weights(path, loader), single
    from zerograd.io import load_json, load_safetensors

    spec = load_json(index, loader=loader)
    wmap = spec.get("weight_map")
    if not isinstance(wmap, dict) or not wmap:
        raise FileFormatError(index, "expected a non-empty 'weight_map' object", loader)
    shards = {}
    for name, shard in wmap.items():
        if not isinstance(shard, str) or Path(shard).name != shard or not shard:
            raise FileFormatError(
                index,
                f"tensor {name!r}: the shard must be a file name, received {shard!r:.80}",
                loader,
            )
        shards.setdefault(shard, []).append(name)
    weights = {}
    for shard, names in shards.items():
        f = path / shard
        if not f.exists():
            raise FileFormatError(index, f"lists shard {shard!r}, which is missing", loader)
        try:
            arrays = load_safetensors(f, arrays=True)
        except FileFormatError as e:
            raise FileFormatError(e.path, e.problem, loader) from None
        lacking = [n for n in names if n not in arrays]
        if lacking:
            raise FileFormatError(
                f, f"lacks tensors the index places in it: {pretrained._short(lacking)}", loader
            )
        weights.update({n: arrays[n] for n in names})
    return weights, index


def load(cls, path, dtype=None):
    """``cls.from_pretrained``: config checked against the weights' shapes, then loaded."""
    loader = f"{cls.__name__}.from_pretrained"
    if dtype is not None:
        try:
            dtype = np.dtype(dtype).name
        except TypeError:
            pass  # not a NumPy dtype (a torch dtype, a typo): refused below, by name
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(f"{loader}: dtype must be one of {', '.join(DTYPES)}, received {dtype!r}")
    raw = pretrained.read_config(path, None, loader)
    if raw["model_type"] not in MODEL_TYPES:
        raise FileFormatError(
            Path(path) / "config.json",
            f"expected model_type {', '.join(map(repr, MODEL_TYPES))}, received "
            f"{raw['model_type']!r}",
            loader,
        )
    config = pretrained.config_from_file(LlamaConfig, raw, path, loader)
    weights, source = read_weights(path, loader)
    c = config
    H, K, D, C = c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.hidden_size
    expect = {
        "embed_tokens.weight": (("vocab_size", "hidden_size"), (c.vocab_size, C)),
        "layers.0.self_attn.q_proj.weight": (
            ("num_attention_heads", "head_dim", "hidden_size"),
            (H * D, C),
        ),
        "layers.0.self_attn.k_proj.weight": (
            ("num_key_value_heads", "head_dim", "hidden_size"),
            (K * D, C),
        ),
        "layers.0.mlp.gate_proj.weight": (
            ("intermediate_size", "hidden_size"),
            (c.intermediate_size, C),
        ),
    }
    prefixes = ("model.", "")
    try:
        pretrained.check_sizes(
            path,
            weights,
            config,
            expect,
            ("num_hidden_layers", r"(?:model\.)?layers\.(\d+)\."),
            prefixes,
            loader,
        )
    except FileFormatError as e:
        if source.name != INDEX or e.path.endswith("config.json"):
            raise
        raise FileFormatError(source, e.problem, loader) from None
    model = pretrained.build(cls, config, path, loader)
    if dtype is not None and dtype != "float32":
        model.to(dtype=dtype)
    # rotary_emb.inv_freq: a buffer older checkpoints saved; lm_head: written by some tools even
    # when tied to the embedding
    ignore = ("rotary_emb.inv_freq",) + (("lm_head.weight",) if c.tie_word_embeddings else ())
    hf = {
        ours: (name[len("model.") :] if name.startswith("model.") else name, fn)
        for ours, (name, fn) in model.key_map().items()
    }
    pretrained.load_mapped(model, weights, hf, prefixes=prefixes, ignore=ignore, source=source)
    return model
