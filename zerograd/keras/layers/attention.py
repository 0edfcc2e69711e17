"""Keras MultiHeadAttention: per-head projections with Keras's weight shapes."""

from __future__ import annotations

import zerograd.nn.functional as F
from zerograd.keras import initializers
from zerograd.keras.base import Layer, _as_tensors, _is_symbolic
from zerograd.ops.attention import attention_bias
from zerograd.ops.linalg import matmul
from zerograd.tensor import Tensor


class MultiHeadAttention(Layer):
    """``mha(query, value, key=None, attention_mask=None, return_attention_scores=False)``.

    Weights: query/key/value kernels (dim, heads, key_dim), biases (heads, key_dim), output kernel
    (heads, value_dim, dim). ``attention_mask`` (B, L, S): 1 where a query may attend.
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads, self.key_dim, self.value_dim = num_heads, key_dim, value_dim or key_dim
        self.dropout, self.use_bias, self._output_dim = dropout, use_bias, output_shape
        self.kernel_initializer, self.bias_initializer = (
            initializers.get(kernel_initializer),
            initializers.get(bias_initializer),
        )

    def __call__(self, query, value=None, key=None, **kwargs):
        if isinstance(query, list) and value is None and key is None and len(query) == 3:
            return super().__call__(query, **kwargs)  # already packed: the symbolic pass's call
        if value is None:
            value = query
        key = value if key is None else key
        if not _is_symbolic([query, value, key]):
            query, value, key = _as_tensors([query, value, key])
        return super().__call__([query, value, key], **kwargs)

    def build(self, input_shapes):
        (qs, vs, ks), h = input_shapes, self.num_heads
        out_dim = self._output_dim or qs[-1]
        for name, dim, d in (
            ("query", qs[-1], self.key_dim),
            ("key", ks[-1], self.key_dim),
            ("value", vs[-1], self.value_dim),
        ):
            self.add_weight(f"{name}_kernel", (dim, h, d), self.kernel_initializer)
            if self.use_bias:
                self.add_weight(f"{name}_bias", (h, d), self.bias_initializer)
        self.add_weight("output_kernel", (h, self.value_dim, out_dim), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("output_bias", (out_dim,), self.bias_initializer)

    def _proj(self, x, name):
        W = getattr(self, f"{name}_kernel")  # (D, h, d)
        y = matmul(x, W.reshape((W.shape[0], -1))).reshape(
            (*x.shape[:2], *W.shape[1:])
        )  # (B, T, h, d)
        if self.use_bias:
            y = y + getattr(self, f"{name}_bias")
        return y.swapaxes(1, 2)  # (B, h, T, d)

    def call(
        self,
        inputs,
        attention_mask=None,
        return_attention_scores: bool = False,
        training=None,
        use_causal_mask: bool = False,
    ):
        query, value, key = inputs
        q, k, v = self._proj(query, "query"), self._proj(key, "key"), self._proj(value, "value")
        B, h, L, _ = q.shape
        S = k.shape[2]
        xp = q.xp
        allowed = {}
        if attention_mask is not None:  # 1 where a query may attend
            m = attention_mask.data if isinstance(attention_mask, Tensor) else attention_mask
            m = xp.asarray(m).astype(bool)
            allowed["attention_mask"] = m[:, None] if m.ndim == 3 else m  # (B, 1, L, S)
        bias = attention_bias(
            xp,
            (B, h, L, S),
            q.dtype,
            causal=use_causal_mask,
            allowed=allowed,
            fill=-3e4 if q.dtype == xp.float16 else -1e9,  # Keras's large negative number
            op=f"MultiHeadAttention '{self.name}'",
        )
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=bias,
            dropout_p=self.dropout,
            training=bool(training),
            return_weights=return_attention_scores,
        )  # scaled by 1 / sqrt(key_dim)
        y, weights = y if return_attention_scores else (y, None)  # (B, h, L, dv), (B, h, L, S)
        ctx = y.swapaxes(1, 2)  # (B, L, h, dv)
        Wo = self.output_kernel
        out = matmul(ctx.reshape((*ctx.shape[:2], -1)), Wo.reshape((-1, Wo.shape[-1])))
        if self.use_bias:
            out = out + self.output_bias
        return [out, weights] if return_attention_scores else out

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self._output_dim,
        }
