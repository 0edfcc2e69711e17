"""PyTorch twins of zerograd's GPT and BERT for the device benchmarks (``benchmarks.gpu``).

A twin holds the zerograd model's weights under Hugging Face's parameter names. It is the
transformers model (``GPT2LMHeadModel``, ``BertModel``) where transformers is installed, otherwise
a small hand-written torch module with the same names and the same computation (the lent GPU
machines carry torch but not transformers), so the comparison runs with torch alone.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# --- weights -------------------------------------------------------------------------------------


def gpt_state(model) -> dict:
    """A zerograd GPT's weights as a GPT2LMHeadModel state dict of NumPy arrays (Conv1D weights
    transposed to (in, out); the tied output head is the token embedding)."""
    from zerograd import backend

    params = dict(model.named_parameters())
    out = {}
    for ours, (hf, fn) in model.key_map().items():
        a = backend.to_numpy(params[ours].data)
        # a copy: on the CPU to_numpy gives the live array, which the optimizer updates in place
        out["transformer." + hf] = np.array(a.T if fn is not None else a, order="C", copy=True)
    return out


def bert_state(model) -> dict:
    """A zerograd BERT's weights as a BertModel state dict of NumPy arrays."""
    from zerograd import backend

    params = dict(model.named_parameters())
    return {
        hf: backend.to_numpy(params[ours].data).copy() for ours, (hf, _) in model.key_map().items()
    }


def _load(twin: nn.Module, state: dict, ignore: tuple) -> None:
    """Load ``state`` into ``twin``; every parameter must be given, except names ending in
    ``ignore`` (tied heads, constant buffers)."""
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    res = twin.load_state_dict(sd, strict=False)
    missing = [k for k in res.missing_keys if not k.endswith(ignore)]
    if missing or res.unexpected_keys:
        raise RuntimeError(
            f"benchmarks.gpu: the torch twin {type(twin).__name__} does not match the zerograd "
            f"weights: missing {missing[:5]}, unexpected {res.unexpected_keys[:5]}"
        )


def _transformers():
    try:
        import transformers
    except Exception:  # noqa: BLE001 - missing or broken: the hand-written twin serves
        return None
    return transformers


def gpt_twin(shape: dict, state: dict, prefer: str = "auto"):
    """(model, forward(ids) -> logits, kind) holding ``state``; ``prefer``: 'auto' (transformers
    when installed), 'transformers' or 'handwritten'."""
    tf = _transformers() if prefer != "handwritten" else None
    if prefer == "transformers" and tf is None:
        raise RuntimeError("benchmarks.gpu: --gpu-twin transformers, but transformers is missing")
    if tf is not None:
        cfg = tf.GPT2Config(
            vocab_size=shape["vocab"],
            n_positions=shape["n_positions"],
            n_embd=shape["n_embd"],
            n_layer=shape["n_layer"],
            n_head=shape["n_head"],
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            layer_norm_epsilon=1e-5,
            activation_function="gelu_new",
        )
        model = tf.GPT2LMHeadModel(cfg)
        _load(model, state, ("lm_head.weight", "attn.bias", "attn.masked_bias"))
        if model.lm_head.weight.data_ptr() != model.transformer.wte.weight.data_ptr():
            raise RuntimeError("benchmarks.gpu: GPT2LMHeadModel's output head is not tied")
        return model, lambda ids: model(ids, use_cache=False).logits, "transformers"
    model = TorchGPT2(shape)
    _load(model, state, ())
    return model, model, "handwritten"


def bert_twin(shape: dict, state: dict, prefer: str = "auto"):
    """(model, forward(ids, mask) -> (hidden, pooled), kind) holding ``state``."""
    tf = _transformers() if prefer != "handwritten" else None
    if prefer == "transformers" and tf is None:
        raise RuntimeError("benchmarks.gpu: --gpu-twin transformers, but transformers is missing")
    if tf is not None:
        cfg = tf.BertConfig(
            vocab_size=shape["vocab"],
            hidden_size=shape["hidden"],
            num_hidden_layers=shape["layers"],
            num_attention_heads=shape["heads"],
            intermediate_size=shape["intermediate"],
            max_position_embeddings=shape["max_positions"],
            hidden_act="gelu",
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            layer_norm_eps=1e-12,
        )
        model = tf.BertModel(cfg, add_pooling_layer=True)
        _load(model, state, ("position_ids", "token_type_ids"))

        def forward(ids, mask):
            out = model(input_ids=ids, attention_mask=mask)
            return out.last_hidden_state, out.pooler_output

        return model, forward, "transformers"
    model = TorchBert(shape)
    _load(model, state, ())
    return model, model, "handwritten"


# --- GPT-2, by hand: the names of GPT2LMHeadModel --------------------------------------------------


class _Conv1D(nn.Module):
    """Hugging Face's GPT-2 projection: weight (in, out), y = x @ W + b."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * 0.02)
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        y = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight)
        return y.reshape(*x.shape[:-1], y.shape[-1])


class _GPTAttention(nn.Module):
    def __init__(self, d: int, h: int):
        super().__init__()
        self.h = h
        self.c_attn = _Conv1D(d, 3 * d)
        self.c_proj = _Conv1D(d, d)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (
            t.view(B, T, self.h, C // self.h).transpose(1, 2)
            for t in self.c_attn(x).split(C, dim=2)
        )  # 3 x (B, h, T, d)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class _GPTMLP(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.c_fc = _Conv1D(d, 4 * d)
        self.c_proj = _Conv1D(4 * d, d)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class _GPTBlock(nn.Module):
    def __init__(self, d: int, h: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.attn = _GPTAttention(d, h)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.mlp = _GPTMLP(d)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class _GPTBody(nn.Module):
    def __init__(self, s: dict):
        super().__init__()
        self.wte = nn.Embedding(s["vocab"], s["n_embd"])
        self.wpe = nn.Embedding(s["n_positions"], s["n_embd"])
        self.h = nn.ModuleList([_GPTBlock(s["n_embd"], s["n_head"]) for _ in range(s["n_layer"])])
        self.ln_f = nn.LayerNorm(s["n_embd"], eps=1e-5)


class TorchGPT2(nn.Module):
    """GPT-2 in plain torch, parameters named as GPT2LMHeadModel's; ``forward(ids)`` -> logits."""

    def __init__(self, shape: dict):
        super().__init__()
        self.transformer = _GPTBody(shape)

    def forward(self, ids):
        t = self.transformer
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = t.wte(ids) + t.wpe(pos)[None]  # (B, T, C)
        for block in t.h:
            x = block(x)
        return F.linear(t.ln_f(x), t.wte.weight)  # tied head: (B, T, vocab)


# --- BERT, by hand: the names of BertModel ----------------------------------------------------------


class _BertEmbeddings(nn.Module):
    def __init__(self, s: dict):
        super().__init__()
        self.word_embeddings = nn.Embedding(s["vocab"], s["hidden"])
        self.position_embeddings = nn.Embedding(s["max_positions"], s["hidden"])
        self.token_type_embeddings = nn.Embedding(2, s["hidden"])
        self.LayerNorm = nn.LayerNorm(s["hidden"], eps=1e-12)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1], device=ids.device)
        types = torch.zeros_like(ids)
        x = self.word_embeddings(ids) + self.position_embeddings(pos)[None]
        return self.LayerNorm(x + self.token_type_embeddings(types))


class _BertSelfAttention(nn.Module):
    def __init__(self, s: dict):
        super().__init__()
        self.h = s["heads"]
        self.query = nn.Linear(s["hidden"], s["hidden"])
        self.key = nn.Linear(s["hidden"], s["hidden"])
        self.value = nn.Linear(s["hidden"], s["hidden"])

    def forward(self, x, keep):
        B, T, C = x.shape
        q, k, v = (
            f(x).view(B, T, self.h, C // self.h).transpose(1, 2)
            for f in (self.query, self.key, self.value)
        )  # 3 x (B, h, T, d)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        return y.transpose(1, 2).reshape(B, T, C)


class _BertOutput(nn.Module):
    """BertSelfOutput / BertOutput: dense, then LayerNorm of the sum with the residual."""

    def __init__(self, n_in: int, s: dict):
        super().__init__()
        self.dense = nn.Linear(n_in, s["hidden"])
        self.LayerNorm = nn.LayerNorm(s["hidden"], eps=1e-12)

    def forward(self, h, residual):
        return self.LayerNorm(self.dense(h) + residual)


class _BertAttention(nn.Module):
    def __init__(self, s: dict):
        super().__init__()
        self.self = _BertSelfAttention(s)
        self.output = _BertOutput(s["hidden"], s)

    def forward(self, x, keep):
        return self.output(self.self(x, keep), x)


class _BertIntermediate(nn.Module):
    def __init__(self, s: dict):
        super().__init__()
        self.dense = nn.Linear(s["hidden"], s["intermediate"])

    def forward(self, x):
        return F.gelu(self.dense(x))


class _BertLayer(nn.Module):
    def __init__(self, s: dict):
        super().__init__()
        self.attention = _BertAttention(s)
        self.intermediate = _BertIntermediate(s)
        self.output = _BertOutput(s["intermediate"], s)

    def forward(self, x, keep):
        a = self.attention(x, keep)
        return self.output(self.intermediate(a), a)


class _BertEncoder(nn.Module):
    def __init__(self, s: dict):
        super().__init__()
        self.layer = nn.ModuleList([_BertLayer(s) for _ in range(s["layers"])])


class _BertPooler(nn.Module):
    def __init__(self, s: dict):
        super().__init__()
        self.dense = nn.Linear(s["hidden"], s["hidden"])


class TorchBert(nn.Module):
    """BertModel in plain torch (post-LN, exact GELU), parameters named as BertModel's;
    ``forward(ids, mask)`` -> (last hidden state (B, T, C), pooled (B, C))."""

    def __init__(self, shape: dict):
        super().__init__()
        self.embeddings = _BertEmbeddings(shape)
        self.encoder = _BertEncoder(shape)
        self.pooler = _BertPooler(shape)

    def forward(self, ids, mask):
        keep = mask.bool()[:, None, None, :]  # (B, 1, 1, T): True = attend
        x = self.embeddings(ids)  # (B, T, C)
        for layer in self.encoder.layer:
            x = layer(x, keep)
        return x, torch.tanh(self.pooler.dense(x[:, 0]))
