"""GPT (the GPT-2 architecture): learned positions, pre-LayerNorm blocks, causal self-attention,
GELU-tanh MLP, output head tied to the token embedding. Shapes: B batch, T tokens, C channels."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

import zerograd.nn as nn
import zerograd.nn.functional as F
from zerograd.autograd import is_grad_enabled
from zerograd.models import pretrained
from zerograd.ops.shape import concat
from zerograd.tensor import Tensor


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    embd_pdrop: float = 0.1
    resid_pdrop: float = 0.1
    attn_pdrop: float = 0.1
    layer_norm_epsilon: float = 1e-5

    @classmethod
    def from_dict(cls, d: dict) -> GPTConfig:
        return pretrained.config_from_dict(cls, d, "gpt2")

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "model_type": "gpt2",
            "architectures": ["GPT2LMHeadModel"],
            "activation_function": "gelu_new",
            "n_inner": None,
            "tie_word_embeddings": True,
        }


class CausalSelfAttention(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.h = c.n_head
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd)  # q, k, v in one GEMM
        self.c_proj = nn.Linear(c.n_embd, c.n_embd)
        self.attn_p = c.attn_pdrop
        self.resid_dropout = nn.Dropout(c.resid_pdrop)

    def forward(self, x, past=None):
        B, T, C = x.shape
        if type(self.c_attn) is nn.Linear and is_grad_enabled():
            # three GEMMs on slices of the fused weight: the backward then scatters the (C, C)
            # weight slices rather than three (B, T, 3C) activation gradients
            W, b = self.c_attn.weight, self.c_attn.bias
            q, k, v = (
                F.linear(x, W[i * C : (i + 1) * C], b[i * C : (i + 1) * C]) for i in range(3)
            )
        else:  # inference, or a wrapped layer (LoRA): one GEMM
            q, k, v = self.c_attn(x).split(3, axis=2)  # 3 x (B, T, C)

        def heads(t):  # (B, T, C) -> (B, h, T, d)
            return t.reshape((B, T, self.h, C // self.h)).swapaxes(1, 2)

        q, k, v = heads(q), heads(k), heads(v)
        if past is not None:  # the KV cache: keys and values of earlier tokens
            k, v = concat([past[0], k], axis=2), concat([past[1], v], axis=2)
        S = k.shape[2]
        # token i sees earlier tokens and itself; one token after a cache sees every key (None)
        bias = F.attention_bias(q.xp, (T, S), q.dtype, causal="lower_right")  # (T, S)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=self.attn_p, training=self.training
        )
        y = y.swapaxes(1, 2).reshape((B, T, C))
        return self.resid_dropout(self.c_proj(y)), (k, v)


class MLP(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd)
        self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd)
        self.dropout = nn.Dropout(c.resid_pdrop)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)
        self.attn = CausalSelfAttention(c)
        self.ln_2 = nn.LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)
        self.mlp = MLP(c)

    def forward(self, x, past=None):
        a, kv = self.attn(self.ln_1(x), past)  # pre-LN: normalise, attend, add
        x = x + a
        return x + self.mlp(self.ln_2(x)), kv


class GPT(nn.Module):
    """``forward(input_ids, past_key_values=None, use_cache=False, targets=None)``.

    Returns logits (B, T, vocab); with ``use_cache`` also the new cache (one (k, v) per layer);
    with ``targets`` (B, T) returns (loss, logits).

    Example:
        >>> gpt = GPT(GPTConfig(vocab_size=100, n_positions=64, n_embd=32, n_layer=2, n_head=4))
        >>> gpt(np.zeros((1, 8), dtype=np.int64)).shape
        (1, 8, 100)
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.apply(pretrained.init_weights)
        for name, p in self.named_parameters():  # scaled init of residual projections (GPT-2)
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / np.sqrt(2 * config.n_layer))

    def forward(self, input_ids, past_key_values=None, use_cache: bool = False, targets=None):
        ids = input_ids.numpy() if isinstance(input_ids, Tensor) else np.asarray(input_ids)
        ids = ids.astype(np.int64)
        B, T = ids.shape
        start = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        if start + T > self.config.n_positions:
            raise ValueError(
                f"GPT: {start + T} tokens exceed the model's n_positions={self.config.n_positions}"
            )
        pos = np.arange(start, start + T)[None, :]
        x = self.drop(self.wte(ids) + self.wpe(pos))  # (B, T, C)
        cache = []
        for i, block in enumerate(self.h):
            x, kv = block(x, None if past_key_values is None else past_key_values[i])
            cache.append(kv)
        logits = F.linear(self.ln_f(x), self.wte.weight)  # tied output head: (B, T, vocab)
        if targets is not None:
            t = targets.numpy() if isinstance(targets, Tensor) else np.asarray(targets)
            loss = F.cross_entropy(
                logits.reshape((-1, logits.shape[-1])), Tensor(t.reshape(-1).astype(np.int64))
            )
            return loss, logits
        return (logits, cache) if use_cache else logits

    def key_map(self) -> dict:
        return {
            name: (name, _transpose if _is_conv1d(name) else None) for name in self.state_dict()
        }

    @classmethod
    def from_pretrained(cls, path) -> GPT:
        config = GPTConfig.from_dict(pretrained.read_config(path, "gpt2"))
        model = cls(config)
        pretrained.load_mapped(
            model,
            pretrained.read_weights(path),
            model.key_map(),
            prefixes=("transformer.", ""),
            ignore=(".attn.bias", ".attn.masked_bias", "lm_head.weight"),
        )
        return model

    def save_pretrained(self, path) -> None:
        key_map = {ours: ("transformer." + hf, fn) for ours, (hf, fn) in self.key_map().items()}
        inverse = {ours: _transpose for ours in key_map if _is_conv1d(ours)}
        pretrained.save_mapped(self, path, self.config.to_dict(), key_map, inverse)

    def generate(self, input_ids, max_new_tokens: int, **kwargs) -> np.ndarray:
        from zerograd.models.generation import generate

        return generate(self, input_ids, max_new_tokens, **kwargs)


def _is_conv1d(name: str) -> bool:
    """Hugging Face's GPT-2 stores these as Conv1D, weight (in, out): the transpose of Linear's."""
    return name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight"))


def _transpose(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.T)
