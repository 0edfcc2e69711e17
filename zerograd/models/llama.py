"""The Llama family (Llama 2/3, Qwen2, Mistral, SmolLM, TinyLlama): RoPE positions, pre-RMSNorm
blocks, grouped-query attention with a KV cache of the key/value heads only, a SwiGLU MLP, tied or
untied output head. Shapes: B batch, T new tokens, P cached tokens, S = P + T keys, C channels,
H query heads, K key/value heads, D head_dim."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import zerograd.nn as nn
import zerograd.nn.functional as F
from zerograd.models import checks, llama_io, pretrained
from zerograd.models.llama_config import LlamaConfig
from zerograd.models.rope import RotaryTables
from zerograd.ops.rope import rotary_embedding
from zerograd.ops.shape import concat
from zerograd.ops.swiglu import swiglu
from zerograd.tensor import Tensor


class LlamaAttention(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.H, self.K, self.D = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        H, K, D = self.H, self.K, self.D
        self.q_proj = nn.Linear(c.hidden_size, H * D, bias=c.qkv_bias)
        self.k_proj = nn.Linear(c.hidden_size, K * D, bias=c.qkv_bias)
        self.v_proj = nn.Linear(c.hidden_size, K * D, bias=c.qkv_bias)
        self.o_proj = nn.Linear(H * D, c.hidden_size, bias=c.attention_bias)
        self.attn_p = c.attention_dropout

    def forward(self, x, cos, sin, bias, past=None):
        B, T, _ = x.shape
        H, K, D = self.H, self.K, self.D
        if T == 1:  # decoding: (B, 1, H, D) is (B, H, 1, D) in memory, one op instead of two
            q = self.q_proj(x).reshape((B, H, T, D))
            k = self.k_proj(x).reshape((B, K, T, D))
            v = self.v_proj(x).reshape((B, K, T, D))
        else:
            q = self.q_proj(x).reshape((B, T, H, D)).swapaxes(1, 2)  # (B, H, T, D)
            k = self.k_proj(x).reshape((B, T, K, D)).swapaxes(1, 2)  # (B, K, T, D)
            v = self.v_proj(x).reshape((B, T, K, D)).swapaxes(1, 2)  # (B, K, T, D)
        q, k = rotary_embedding(q, cos, sin), rotary_embedding(k, cos, sin)
        if past is not None:  # the KV cache: rotated keys and values of earlier tokens
            k = concat([_tensor(past[0]), k], axis=2)  # (B, K, S, D)
            v = concat([_tensor(past[1]), v], axis=2)
        if bias is None and T > 1:  # causal only: grouped-query attention without a bias
            # the blocked (flash) attention skips the keys above the diagonal and reads each
            # key/value head in place for its H / K query heads; the plain paths repeat them
            y = F.scaled_dot_product_attention(
                q,
                k,
                v,
                dropout_p=self.attn_p,
                is_causal="lower_right",
                training=self.training,
                enable_gqa=True,
            )  # (B, H, T, D)
            y = y.swapaxes(1, 2).reshape((B, T, H * D))
            return self.o_proj(y), (k, v)
        # grouped-query attention: the H / K query heads that share a key/value head are stacked
        # along the query axis, so every head reads its keys without a repeated copy
        q = q.reshape((B, K, (H // K) * T, D))
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=self.attn_p, training=self.training
        )  # (B, K, H / K * T, D)
        if T == 1:  # (B, K, H / K, D) is (B, 1, H * D) in memory
            return self.o_proj(y.reshape((B, T, H * D))), (k, v)
        y = y.reshape((B, H, T, D)).swapaxes(1, 2).reshape((B, T, H * D))
        return self.o_proj(y), (k, v)


class LlamaMLP(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=c.mlp_bias)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=c.mlp_bias)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=c.mlp_bias)

    def forward(self, x):  # SwiGLU
        return self.down_proj(swiglu(self.gate_proj(x), self.up_proj(x)))


class LlamaBlock(nn.Module):
    def __init__(self, c: LlamaConfig, window: int | None):
        super().__init__()
        self.window = window  # None: full causal attention
        self.input_layernorm = nn.RMSNorm(c.hidden_size, eps=c.rms_norm_eps)
        self.self_attn = LlamaAttention(c)
        self.post_attention_layernorm = nn.RMSNorm(c.hidden_size, eps=c.rms_norm_eps)
        self.mlp = LlamaMLP(c)

    def forward(self, x, cos, sin, bias, past=None):
        a, kv = self.self_attn(self.input_layernorm(x), cos, sin, bias, past)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), kv


class Llama(nn.Module):
    """A Llama-family causal language model (Llama, Qwen2, Mistral checkpoints).

    ``forward(input_ids, attention_mask=None, position_ids=None, past_key_values=None,
    use_cache=False, labels=None)``:

    - ``input_ids`` (B, T) token ids.
    - ``attention_mask`` (B, P + T) of 1 (token) and 0 (padding, for left-padded batches), covering
      the cached tokens and the new ones, as transformers'.
    - ``position_ids`` (B, T); by default the positions after the cache, or with an attention_mask
      the count of real tokens before each one (left padding does not shift the positions).
    - ``past_key_values``: one (k, v) per layer, each (B, K, P, D) (arrays or Tensors).

    Returns the logits (B, T, vocab); with ``use_cache`` ``(logits, past)``, past holding each
    layer's (k, v) Tensors (B, K, P + T, D); with ``labels`` (B, T) ``(loss, logits)``, the loss
    the next-token cross-entropy (labels shifted inside, -100 ignored) as transformers'.

    Example:
        >>> cfg = LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64,
        ...                   num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
        >>> Llama(cfg)(np.zeros((1, 8), dtype=np.int64)).shape
        (1, 8, 100)
    """

    def __init__(self, config: LlamaConfig):
        super().__init__()
        if not isinstance(config, LlamaConfig):
            raise TypeError(f"Llama: expected a LlamaConfig, received {type(config).__name__}")
        config.validate()  # again: fields may have been changed since the config was made
        self.config = c = config
        pad = (
            c.pad_token_id if c.pad_token_id is not None and c.pad_token_id < c.vocab_size else None
        )
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=pad)
        windows = c.layer_windows()
        self.layers = nn.ModuleList([LlamaBlock(c, w) for w in windows])
        self.norm = nn.RMSNorm(c.hidden_size, eps=c.rms_norm_eps)
        if not c.tie_word_embeddings:
            self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        self.rope = RotaryTables(
            c.head_dim, c.rope_theta, c.rope_scaling, c.max_position_embeddings
        )
        self.apply(_init_weights(c.initializer_range))

    def forward(
        self,
        input_ids,
        attention_mask=None,
        position_ids=None,
        past_key_values=None,
        use_cache: bool = False,
        labels=None,
    ):
        c = self.config
        ids = checks.token_ids("Llama", input_ids, c.vocab_size)  # (B, T) int64
        B, T = ids.shape
        past = past_key_values or None
        P = 0 if past is None else _check_past(past, B, c)
        keep = _check_mask(attention_mask, B, P + T)  # (B, S) bool, or None: nothing padded
        pos = self._positions(position_ids, keep, B, T, P)  # (B or 1, T)
        x = self.embed_tokens(ids)  # (B, T, C)
        xp, dtype = x.xp, x.dtype
        cos, sin = self.rope(pos, dtype)  # (B or 1, 1, T, D)
        if xp is not np:
            cos, sin = xp.asarray(cos), xp.asarray(sin)
        rep = c.num_attention_heads // c.num_key_value_heads
        # None: the causal mask alone (no padding, no window cutting in), which the attention
        # applies itself; with one token there is nothing to mask
        biases = {
            w: None
            if keep is None and (w is None or P + T <= w)
            else _mask(xp, keep, B, T, P, w, rep, dtype)
            for w in {b.window for b in self.layers}
        }
        cache = []
        for i, block in enumerate(self.layers):
            x, kv = block(x, cos, sin, biases[block.window], None if past is None else past[i])
            cache.append(kv)
        h = self.norm(x)
        W = self.embed_tokens.weight if c.tie_word_embeddings else None
        logits = F.linear(h, W) if W is not None else self.lm_head(h)  # (B, T, vocab)
        if labels is not None:
            return self._loss(logits, labels, B, T), logits
        return (logits, cache) if use_cache else logits

    def _positions(self, position_ids, keep, B: int, T: int, P: int) -> np.ndarray:
        if position_ids is not None:
            pos = checks.integer_array("Llama", "position_ids", position_ids)
            if pos.ndim == 1:
                pos = pos[None]
            if pos.ndim != 2 or pos.shape[1] != T or pos.shape[0] not in (1, B):
                raise ValueError(
                    f"Llama: expected position_ids of shape ({B}, {T}) (or (1, {T})), received "
                    f"{pos.shape}"
                )
            if pos.size and pos.min() < 0:
                raise ValueError(
                    f"Llama: position_ids must be non-negative, received min {int(pos.min())}"
                )
            return pos
        if keep is None:
            return np.arange(P, P + T)[None]
        # left padding: a token's position counts the real tokens before it, as transformers
        return np.maximum(np.cumsum(keep, axis=1) - 1, 0)[:, P:]

    def _loss(self, logits, labels, B: int, T: int):
        y = checks.integer_array("Llama", "labels", labels)
        if y.shape != (B, T):
            raise ValueError(
                f"Llama: expected labels of the input_ids' shape {(B, T)}, received {y.shape}"
            )
        # token t predicts label t + 1; the last has nothing to predict (ignored)
        shifted = np.concatenate([y[:, 1:], np.full((B, 1), -100, np.int64)], axis=1)
        return F.cross_entropy(logits.reshape((B * T, -1)), shifted.reshape(-1), ignore_index=-100)

    def key_map(self) -> dict:
        """{our parameter name: (Hugging Face name, None)}: the same names under ``model.``, the
        head as ``lm_head.weight``; a LoRA-wrapped layer keeps its plain name here."""
        c = self.config
        return llama_io.key_map(
            c.num_hidden_layers, c.qkv_bias, c.attention_bias, c.mlp_bias, c.tie_word_embeddings
        )

    @classmethod
    def from_pretrained(cls, path, dtype=None, device=None) -> Llama:
        """Load a Hugging Face Llama, Qwen2 or Mistral directory: config.json and model.safetensors,
        or shards listed in model.safetensors.index.json; float32/float16/bfloat16 weights.

        Args:
            path: the model directory.
            dtype: the model's parameter dtype, 'float32' (default), 'float64' or 'float16'; the
                weights are cast on loading.
            device: where the model goes: 'cpu' (default), 'cuda' or 'cuda:N'.

        Raises:
            FileFormatError: a broken, inconsistent or incomplete file, named in the message.

        Example:
            >>> model = Llama.from_pretrained('TinyLlama-1.1B/', dtype='float32')
        """
        device = pretrained.check_device(device, f"{cls.__name__}.from_pretrained")
        return pretrained.place(llama_io.load(cls, path, dtype), device)

    def save_pretrained(self, path) -> None:
        """Write config.json + model.safetensors that transformers' AutoModelForCausalLM loads;
        LoRA adapters are merged into the weights written (the model itself is left as it is)."""
        Path(path).mkdir(parents=True, exist_ok=True)
        pretrained.save_mapped(self, path, self.config.to_dict(), self.key_map())

    def generate(self, input_ids, max_new_tokens: int, **kwargs) -> np.ndarray:
        from zerograd.models.generation import generate

        return generate(self, input_ids, max_new_tokens, **kwargs)


def _tensor(a) -> Tensor:
    return a if isinstance(a, Tensor) else Tensor._make(a)


def _init_weights(std: float):
    """transformers' initialisation: N(0, initializer_range) weights, zero biases, unit norms."""

    def init(m) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, std)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
            if getattr(m, "padding_idx", None) is not None:
                m.weight.data[m.padding_idx] = 0

    return init


def _check_past(past, B: int, c: LlamaConfig) -> int:
    """The cached length P; the cache checked for one (k, v) per layer of shape (B, K, P, D)."""
    n = c.num_hidden_layers
    if not isinstance(past, (list, tuple)) or len(past) != n:
        got = f"{len(past)} entries" if isinstance(past, (list, tuple)) else type(past).__name__
        raise ValueError(
            f"Llama: past_key_values must hold one (k, v) per layer ({n}), received {got}"
        )
    shape = tuple(getattr(past[0][0], "shape", ()))
    want = (B, c.num_key_value_heads, shape[2] if len(shape) == 4 else -1, c.head_dim)
    if shape != want:
        raise ValueError(
            f"Llama: expected cached keys of shape (B, num_key_value_heads, P, head_dim) = "
            f"{want}, received {shape}"
        )
    return shape[2]


def _check_mask(mask, B: int, S: int):
    """The attention_mask as a boolean (B, S) array, or None when it masks nothing."""
    if mask is None:
        return None
    m = mask.numpy() if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype.kind not in "biu":
        raise TypeError(f"Llama: expected an integer or boolean attention_mask, received {m.dtype}")
    if m.shape != (B, S):
        raise ValueError(
            f"Llama: expected attention_mask of shape (B, past + new tokens) = {(B, S)}, "
            f"received {m.shape}"
        )
    keep = m != 0
    return None if keep.all() else keep


def _mask(xp, keep, B: int, T: int, P: int, window, rep: int, dtype):
    """The additive attention bias (B or 1, 1, rep * T, S) of one window type, or None: causal,
    the sliding window (key j seen by query i when i - window < j <= i, in cache slots), padding.
    Masked scores get the dtype's lowest finite value, not -inf, so that a padding query that
    sees nothing keeps finite numbers. Tiled ``rep`` times for the stacked query heads."""
    S = P + T
    allowed = {}
    if keep is not None:
        allowed["attention_mask"] = xp.asarray(keep[:, None, None, :])  # (B, 1, 1, S)
    if window is not None and S > window:
        allowed["sliding_window"] = ~xp.tri(T, S, P - window, dtype=bool)  # (T, S)
    shape = (B if keep is not None else 1, 1, T, S)
    fill = float(np.finfo(dtype).min)
    bias = F.attention_bias(
        xp, shape, dtype, causal="lower_right", allowed=allowed, fill=fill, op="Llama"
    )
    if bias is None or rep == 1:
        return bias
    bias = bias.reshape((-1, 1, T, S))
    return xp.tile(bias, (1, 1, rep, 1))
