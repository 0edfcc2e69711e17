"""MultiheadAttention and TransformerEncoderLayer with PyTorch's parameter names and layouts."""

from __future__ import annotations

import numpy as np

from zerograd import backend
from zerograd.nn import init
from zerograd.nn.layers.activation import Dropout
from zerograd.nn.layers.linear import Linear
from zerograd.nn.layers.norm import LayerNorm
from zerograd.nn.module import Module
from zerograd.nn.parameter import Parameter
from zerograd.ops import argcheck
from zerograd.ops.activation import gelu
from zerograd.ops.attention import attention_bias, scaled_dot_product_attention
from zerograd.ops.elementwise import relu
from zerograd.ops.linalg import linear
from zerograd.tensor import Tensor


class MultiheadAttention(Module):
    """Attention with ``num_heads`` heads; q, k, v projected by ``in_proj_weight`` (3E, E).

    Masks as PyTorch: in ``attn_mask`` (L, S) or (B*heads, L, S) and ``key_padding_mask`` (B, S),
    True means "may NOT attend"; a float ``attn_mask`` is added to the scores.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim=None,
        vdim=None,
        batch_first: bool = False,
    ):
        super().__init__()
        owner = "MultiheadAttention"
        embed_dim = argcheck.positive(owner, "embed_dim", embed_dim)
        num_heads = argcheck.positive(owner, "num_heads", num_heads)
        dropout = argcheck.probability(owner, "dropout", dropout)
        kdim = None if kdim is None else argcheck.positive(owner, "kdim", kdim)
        vdim = None if vdim is None else argcheck.positive(owner, "vdim", vdim)
        argcheck.flag(owner, "bias", bias)
        argcheck.flag(owner, "batch_first", batch_first)
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads {num_heads}"
            )
        if add_bias_kv or add_zero_attn:
            raise ValueError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = (
            embed_dim,
            num_heads,
            dropout,
            batch_first,
        )
        self.kdim, self.vdim = kdim or embed_dim, vdim or embed_dim
        self.head_dim = embed_dim // num_heads
        dt = backend.get_default_dtype()
        E = embed_dim
        self.separate = self.kdim != E or self.vdim != E
        if self.separate:
            self.q_proj_weight = Parameter(np.empty((E, E), dt))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dt))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dt))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dt))
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * E, dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias)
        for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            if getattr(self, name, None) is not None:
                init.xavier_uniform_(getattr(self, name))
        if bias:
            init.zeros_(self.out_proj.bias)

    def _project(self, query, key, value):
        E, b = self.embed_dim, self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
        if self.separate:
            Wq, Wk, Wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        else:
            W = self.in_proj_weight
            Wq, Wk, Wv = W[:E], W[E : 2 * E], W[2 * E :]
        return linear(query, Wq, bq), linear(key, Wk, bk), linear(value, Wv, bv)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask=None,
        need_weights: bool = True,
        attn_mask=None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ):
        unbatched = query.ndim == 2
        if query.ndim not in (2, 3) or query.shape[-1] != self.embed_dim:
            raise ValueError(
                f"MultiheadAttention expected query of shape (L, B, {self.embed_dim}) or (B, L, {self.embed_dim}) with batch_first, received shape {query.shape}"
            )
        for what, t in (("query", query), ("key", key), ("value", value)):
            argcheck.same_dtype("MultiheadAttention", t, self.out_proj.weight, what)
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(
                f"MultiheadAttention expected key and value with the query's {query.ndim} "
                f"dimensions, received shapes {key.shape} and {value.shape}"
            )
        batch = () if unbatched else (0,) if self.batch_first else (1,)
        if (
            key.shape[:-1] != value.shape[:-1]
            or key.shape[-1] != self.kdim
            or value.shape[-1] != self.vdim
            or any(key.shape[i] != query.shape[i] for i in batch)
        ):
            raise ValueError(
                f"MultiheadAttention expected key (..., {self.kdim}) and value (..., {self.vdim}) "
                f"of the same length and the query's batch size, received shapes query "
                f"{query.shape}, key {key.shape}, value {value.shape}"
            )
        if unbatched:
            query, key, value = query.expand_dims(0), key.expand_dims(0), value.expand_dims(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.reshape((1, -1))
        elif not self.batch_first:
            query, key, value = query.swapaxes(0, 1), key.swapaxes(0, 1), value.swapaxes(0, 1)
        B, L, _ = query.shape
        S = key.shape[1]
        h, d = self.num_heads, self.head_dim
        q, k, v = self._project(query, key, value)
        q = q.reshape((B, L, h, d)).swapaxes(1, 2)  # (B, h, L, d)
        k = k.reshape((B, S, h, d)).swapaxes(1, 2)  # (B, h, S, d)
        v = v.reshape((B, S, h, d)).swapaxes(1, 2)
        bias = self._bias(q.xp, (B, h, L, S), q.dtype, attn_mask, key_padding_mask, is_causal)
        y = scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=bias,
            dropout_p=self.dropout,
            training=self.training,
            return_weights=need_weights,
        )
        y, weights = y if need_weights else (y, None)  # (B, h, L, d), (B, h, L, S)
        out = y.swapaxes(1, 2).reshape((B, L, self.embed_dim))  # (B, L, E)
        out = self.out_proj(out)
        if unbatched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.swapaxes(0, 1)
        if not need_weights:
            return out, None
        w = weights.mean(axis=1) if average_attn_weights else weights
        return out, (w.squeeze(0) if unbatched else w)

    def _bias(self, xp, shape, dtype, attn_mask, key_padding_mask, is_causal):
        """PyTorch's masks (boolean True = may NOT attend, or additive float) as one additive
        bias for scores of ``shape`` (B, h, L, S)."""
        B, h, L, S = shape
        masks = {}
        for name, m in (("attn_mask", attn_mask), ("key_padding_mask", key_padding_mask)):
            kind = np.dtype(getattr(m, "dtype", bool)).kind
            if m is not None and kind not in "bf":
                raise TypeError(
                    f"MultiheadAttention: expected a bool or floating {name}, received dtype "
                    f"{m.dtype}"
                )
        if attn_mask is not None:
            m = attn_mask.data if isinstance(attn_mask, Tensor) else xp.asarray(attn_mask)
            if m.ndim == 3:  # (B * heads, L, S)
                if m.shape != (B * h, L, S):
                    raise ValueError(
                        f"MultiheadAttention expected a 3-D attn_mask of shape {(B * h, L, S)} "
                        f"(batch * heads, L, S), received shape {m.shape}"
                    )
                m = m.reshape(shape)
            masks["attn_mask"] = m
        if key_padding_mask is not None:
            kp = key_padding_mask
            kp = kp.data if isinstance(kp, Tensor) else xp.asarray(kp)
            if kp.shape != (B, S):
                raise ValueError(
                    f"MultiheadAttention expected key_padding_mask of shape (B, S) = {(B, S)}, "
                    f"received shape {kp.shape}"
                )
            masks["key_padding_mask"] = kp[:, None, None, :]
        return attention_bias(
            xp,
            shape,
            dtype,
            causal=is_causal and attn_mask is None,  # with a mask, is_causal is only a hint
            allowed={n: ~m for n, m in masks.items() if m.dtype == bool},
            additive={n: m for n, m in masks.items() if m.dtype != bool},
            op="MultiheadAttention",
        )

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual and LayerNorm (post-norm by
    default, pre-norm with ``norm_first=True``), as PyTorch's layer."""

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation="relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
    ):
        super().__init__()
        owner = "TransformerEncoderLayer"
        argcheck.positive(owner, "d_model", d_model)
        argcheck.positive(owner, "nhead", nhead)
        argcheck.positive(owner, "dim_feedforward", dim_feedforward)
        argcheck.probability(owner, "dropout", dropout)
        argcheck.number(owner, "layer_norm_eps", layer_norm_eps, 0.0, low_open=True)
        argcheck.flag(owner, "norm_first", norm_first)
        if d_model % nhead:
            raise ValueError(f"{owner}: d_model {d_model} must be divisible by nhead {nhead}")
        if not isinstance(activation, str) and not callable(activation):
            raise TypeError(
                f"{owner}: activation must be 'relu', 'gelu' or a callable, received "
                f"{type(activation).__name__}"
            )
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            if activation not in ("relu", "gelu"):
                raise ValueError(
                    f"TransformerEncoderLayer: activation must be 'relu' or 'gelu', received {activation!r}"
                )
            activation = relu if activation == "relu" else gelu
        self.activation = activation

    def _sa(self, x, mask, padding_mask, is_causal):
        out = self.self_attn(
            x,
            x,
            x,
            key_padding_mask=padding_mask,
            need_weights=False,
            attn_mask=mask,
            is_causal=is_causal,
        )[0]
        return self.dropout1(out)

    def _ff(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(
        self, src: Tensor, src_mask=None, src_key_padding_mask=None, is_causal: bool = False
    ) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff(x))
