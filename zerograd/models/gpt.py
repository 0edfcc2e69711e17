"""GPT (the GPT-2 architecture): learned positions, pre-LayerNorm blocks, causal self-attention,
GELU-tanh MLP, output head tied to the token embedding. Shapes: B batch, T tokens, C channels."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import zerograd.nn as nn
import zerograd.nn.functional as F
from zerograd.autograd import is_grad_enabled
from zerograd.models import checks, pretrained
from zerograd.ops.shape import concat


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

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise a TypeError/ValueError naming the first field of a wrong type or value."""
        checks.check_config(
            self,
            sizes=("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"),
            probabilities=("embd_pdrop", "resid_pdrop", "attn_pdrop"),
            epsilons=("layer_norm_epsilon",),
            heads=("n_embd", "n_head"),
        )

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
        # token i sees earlier tokens and itself (the last query aligned with the last key: after
        # a cache too); as is_causal, not a mask, so the blocked path skips the masked blocks
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal="lower_right", dropout_p=self.attn_p, training=self.training
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
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT: expected a GPTConfig, received {type(config).__name__}")
        config.validate()  # again: fields may have been changed since the config was made
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
        ids = checks.token_ids("GPT", input_ids, self.config.vocab_size)  # (B, T) int64
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
            t = checks.integer_array("GPT", "targets", targets)
            if t.shape != (B, T):
                raise ValueError(
                    f"GPT: expected targets of the input_ids' shape {(B, T)}, received {t.shape}"
                )
            loss = F.cross_entropy(
                logits.reshape((-1, logits.shape[-1])), t.reshape(-1).astype(np.int64)
            )
            return loss, logits
        return (logits, cache) if use_cache else logits

    def key_map(self) -> dict:
        """{our parameter name: (Hugging Face name, transform)}, written out from the config:
        a LoRA-wrapped layer keeps its plain name here (``save_pretrained`` merges it)."""
        return gpt_key_map(self.config.n_layer)

    @classmethod
    def from_pretrained(cls, path, device=None) -> GPT:
        """Load config.json + model.safetensors of a Hugging Face GPT-2 directory; ``device``
        ('cpu', 'cuda', 'cuda:N') is where the model goes.

        Raises:
            FileFormatError: a broken, inconsistent or incomplete file, named in the message.

        Example:
            >>> gpt = GPT.from_pretrained('gpt2/')
        """
        loader = "GPT.from_pretrained"
        device = pretrained.check_device(device, loader)
        config = pretrained.config_from_file(
            GPTConfig, pretrained.read_config(path, "gpt2", loader), path, loader
        )
        weights = pretrained.read_weights(path, loader)
        prefixes = ("transformer.", "")
        c = config
        pretrained.check_sizes(
            path,
            weights,
            config,
            {
                "wte.weight": (("vocab_size", "n_embd"), (c.vocab_size, c.n_embd)),
                "wpe.weight": (("n_positions", "n_embd"), (c.n_positions, c.n_embd)),
            },
            ("n_layer", r"(?:transformer\.)?h\.(\d+)\."),
            prefixes,
            loader,
        )
        model = pretrained.build(cls, config, path, loader)
        pretrained.load_mapped(
            model,
            weights,
            model.key_map(),
            prefixes=prefixes,
            ignore=(".attn.bias", ".attn.masked_bias", "lm_head.weight"),
            source=Path(path) / "model.safetensors",
        )
        return pretrained.place(model, device)

    def save_pretrained(self, path) -> None:
        """Write config.json + model.safetensors that Hugging Face's GPT2LMHeadModel loads; LoRA
        adapters are merged into the weights written (the model itself is left as it is)."""
        key_map = {ours: ("transformer." + hf, fn) for ours, (hf, fn) in self.key_map().items()}
        inverse = {ours: _transpose for ours in key_map if _is_conv1d(ours)}
        pretrained.save_mapped(self, path, self.config.to_dict(), key_map, inverse)

    def generate(self, input_ids, max_new_tokens: int, **kwargs) -> np.ndarray:
        from zerograd.models.generation import generate

        return generate(self, input_ids, max_new_tokens, **kwargs)


def gpt_key_map(n_layer: int) -> dict:
    """Our names -> Hugging Face GPT2Model names (the same, listed; Conv1D weights transposed)."""
    per_block = [
        f"{m}.{p}"
        for m in ("ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj")
        for p in ("weight", "bias")
    ]
    names = ["wte.weight", "wpe.weight"]
    names += [f"h.{i}.{n}" for i in range(n_layer) for n in per_block]
    names += ["ln_f.weight", "ln_f.bias"]
    return {n: (n, _transpose if _is_conv1d(n) else None) for n in names}


def _is_conv1d(name: str) -> bool:
    """Hugging Face's GPT-2 stores these as Conv1D, weight (in, out): the transpose of Linear's."""
    return name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight"))


def _transpose(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.T)
