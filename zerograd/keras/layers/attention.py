"""Keras MultiHeadAttention: per-head projections with Keras's weight shapes and options."""

from __future__ import annotations

import math

import numpy as np

import zerograd.nn.functional as F
from zerograd import backend
from zerograd.keras import initializers, regularizers
from zerograd.keras.base import Layer, _as_tensors, _is_symbolic
from zerograd.keras.layers._weight_options import constraint_get, constraint_serialize
from zerograd.keras.layers.random_state import RandomState, check_seed
from zerograd.ops.attention import attention_bias
from zerograd.ops.linalg import matmul
from zerograd.tensor import Tensor


class MultiHeadAttention(Layer):
    """``mha(query, value, key=None, attention_mask=None, return_attention_scores=False)``.

    Weights: query/key/value kernels (dim, heads, key_dim), biases (heads, key_dim), output kernel
    (heads, value_dim, *output_shape). ``attention_mask`` (B, L, S): 1 where a query may attend.
    ``attention_axes`` picks the axes of (B, ..., dim) inputs attended over (default: all between
    the batch and the last axis, jointly).
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape=None,
        attention_axes=None,
        sliding_window=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate: bool = False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)  # the activity penalty goes on each projection, as Keras's
        self.supports_masking = True  # the query's mask passes on (Keras)
        for arg, v in (("num_heads", num_heads), ("key_dim", key_dim), ("value_dim", value_dim)):
            if v is None and arg == "value_dim":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(
                    f"MultiHeadAttention '{self.name}': {arg} must be a positive integer, "
                    f"received {v!r}"
                )
        if (
            sliding_window is not None
            and (isinstance(sliding_window, bool) or not isinstance(sliding_window, int))
            or (sliding_window is not None and sliding_window <= 0)
        ):
            raise ValueError(
                f"MultiHeadAttention '{self.name}': sliding_window must be None or a positive "
                f"integer, received {sliding_window!r}"
            )
        if flash_attention:  # a kernel choice in Keras; results are the same without it
            raise ValueError(
                f"MultiHeadAttention '{self.name}': flash_attention is not supported by zerograd "
                f"(only None/False), received {flash_attention!r}"
            )
        self.num_heads, self.key_dim, self.value_dim = num_heads, key_dim, value_dim or key_dim
        self.dropout, self.use_bias, self.use_gate = dropout, use_bias, bool(use_gate)
        if isinstance(output_shape, (int, np.integer)):
            output_shape = (int(output_shape),)
        self._output_shape = tuple(output_shape) if output_shape else None
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(
                f"MultiHeadAttention '{self.name}': attention_axes must be None, an int or a "
                f"list/tuple of ints, received {attention_axes!r}"
            )
        self.attention_axes = None if attention_axes is None else tuple(attention_axes)
        self.sliding_window = sliding_window
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.projection_activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraint_get(self, "kernel_constraint", kernel_constraint)
        self.bias_constraint = constraint_get(self, "bias_constraint", bias_constraint)
        self.seed = check_seed(f"MultiHeadAttention '{self.name}'", seed)
        self._random = RandomState(self.seed)

    def __call__(self, query, value=None, key=None, **kwargs):
        if isinstance(query, list) and value is None and key is None and len(query) == 3:
            return super().__call__(query, **kwargs)  # already packed: the symbolic pass's call
        if value is None:
            value = query
        key = value if key is None else key
        if not _is_symbolic([query, value, key]):
            query, value, key = _as_tensors([query, value, key])
        return super().__call__([query, value, key], **kwargs)

    def _add(self, name: str, shape: tuple, bias: bool) -> None:
        kind = "bias" if bias else "kernel"
        constraint = getattr(self, f"{kind}_constraint")
        self.add_weight(
            name=name,
            shape=shape,
            initializer=getattr(self, f"{kind}_initializer"),
            regularizer=getattr(self, f"{kind}_regularizer"),
            **({} if constraint is None else {"constraint": constraint}),
        )

    def build(self, input_shapes):
        (qs, vs, ks), h = input_shapes, self.num_heads
        rank = len(qs) + 1  # of the projections (B, ..., heads, dim)
        axes = self.attention_axes or tuple(range(1, rank - 2))
        axes = tuple(a if a >= 0 else rank - 1 + a for a in axes)
        if not axes or any(not 1 <= a <= rank - 3 for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(
                f"MultiHeadAttention '{self.name}': attention_axes must be distinct axes between "
                f"the batch and the last axis of inputs of shape {tuple(qs)}, received "
                f"{self.attention_axes}"
            )
        self.attention_axes = axes  # as Keras records them once built
        out = self._output_shape or (qs[-1],)
        projections = [("query", qs[-1], self.key_dim), ("key", ks[-1], self.key_dim)]
        if self.use_gate:  # Keras builds the gate between the key and the value
            projections.append(("gate", qs[-1], self.value_dim))
        projections.append(("value", vs[-1], self.value_dim))
        for name, dim, d in projections:
            self._add(f"{name}_kernel", (dim, h, d), bias=False)
            if self.use_bias:
                self._add(f"{name}_bias", (h, d), bias=True)
        self._add("output_kernel", (h, self.value_dim, *out), bias=False)
        if self.use_bias:
            self._add("output_bias", tuple(out), bias=True)

    def _activity(self, y: Tensor) -> None:
        """Keras puts the activity penalty on each projection's output, over the batch size."""
        if self.projection_activity_regularizer is not None:
            self.add_loss(self.projection_activity_regularizer(y) / y.shape[0])

    def _proj(self, x, name):
        W = getattr(self, f"{name}_kernel")  # (D, h, d)
        y = matmul(x, W.reshape((W.shape[0], -1))).reshape((*x.shape[:-1], *W.shape[1:]))
        if self.use_bias:
            y = y + getattr(self, f"{name}_bias")
        if name == "gate":  # Keras's gate projection carries a sigmoid activation
            y = y.sigmoid()
        self._activity(y)
        return y  # (B, ..., h, d)

    def call(
        self,
        inputs,
        attention_mask=None,
        return_attention_scores: bool = False,
        training=None,
        use_causal_mask: bool = False,
    ):
        query, value, key = inputs
        self._check_shapes(query, value, key)
        gate = self._proj(query, "gate") if self.use_gate else None
        q, k, v = self._proj(query, "query"), self._proj(key, "key"), self._proj(value, "value")
        n, axes = q.ndim, self.attention_axes
        lead = [i for i in range(n - 1) if i not in axes]  # batch, other axes, heads
        perm = (*lead, *axes, n - 1)
        lead_shape, q_att = tuple(q.shape[i] for i in lead), tuple(q.shape[i] for i in axes)
        k_att = tuple(k.shape[i] for i in axes)

        def flat(t):  # (B*others, heads, positions, d)
            t = t.transpose(perm)
            return t.reshape((-1, lead_shape[-1], math.prod(t.shape[len(lead) : -1]), t.shape[-1]))

        qf, kf, vf = flat(q), flat(k), flat(v)
        bias = self._attention_bias(query, value, key, qf, kf, attention_mask, use_causal_mask)
        drop = bool(training) and self.dropout > 0
        y = F.scaled_dot_product_attention(
            qf,
            kf,
            vf,
            attn_mask=bias,
            training=False,
            return_weights=return_attention_scores or drop,
        )  # scaled by 1 / sqrt(key_dim)
        y, weights = y if (return_attention_scores or drop) else (y, None)
        if drop:  # on the weights, from the layer's own (seeded) generator, as Keras's Dropout
            keep = self._random.uniform(tuple(weights.shape)) >= self.dropout
            scale = 0.0 if self.dropout >= 1 else 1.0 / (1.0 - self.dropout)
            mask = backend.to_device((keep * scale).astype(weights.dtype), weights.device)
            y = matmul(weights * Tensor(mask), vf)  # (B', h, L, dv)
        ctx = y.reshape((*lead_shape, *q_att, y.shape[-1])).transpose(tuple(np.argsort(perm)))
        if gate is not None:
            ctx = ctx * gate  # (B, ..., h, dv)
        Wo = self.output_kernel  # (h, dv, *out)
        out_shape = Wo.shape[2:]
        out = matmul(ctx.reshape((*ctx.shape[:-2], -1)), Wo.reshape((-1, math.prod(out_shape))))
        out = out.reshape((*ctx.shape[:-2], *out_shape))
        if self.use_bias:
            out = out + self.output_bias
        self._activity(out)
        if not return_attention_scores:
            return out
        return [out, weights.reshape((*lead_shape, *q_att, *k_att))]

    def _check_shapes(self, query, value, key) -> None:
        """O(1) checks naming the layer: the feature sizes it was built for, one rank and
        batch size, and key and value agreeing on every axis but the last (as Keras)."""
        shapes = {"query": tuple(query.shape), "value": tuple(value.shape), "key": tuple(key.shape)}
        for name, shape in shapes.items():
            want = getattr(self, f"{name}_kernel").shape[0]
            if len(shape) != len(shapes["query"]) or shape[-1] != want:
                raise ValueError(
                    f"MultiHeadAttention '{self.name}' expected {name} of rank "
                    f"{len(shapes['query'])} with last axis {want}, received shapes "
                    + ", ".join(f"{k}={v}" for k, v in shapes.items())
                )
        if shapes["key"][:-1] != shapes["value"][:-1] or shapes["query"][0] != shapes["key"][0]:
            raise ValueError(
                f"MultiHeadAttention '{self.name}': key and value must agree on every axis but the "
                "last, and share the query's batch size; received shapes "
                + ", ".join(f"{k}={v}" for k, v in shapes.items())
            )

    def _attention_bias(self, query, value, key, qf, kf, attention_mask, use_causal_mask):
        """The additive mask (B', 1, L, S) from the attention mask, the inputs' Keras masks, the
        causal and the sliding-window masks (True = may attend); None without any."""
        xp = qf.xp
        L, S = qf.shape[2], kf.shape[2]
        plain = query.ndim == 3  # (B, T, dim): the only layout the automatic masks take
        allowed = {}
        if attention_mask is not None:  # 1 where a query may attend: (B, T..., S...)
            m = attention_mask.data if isinstance(attention_mask, Tensor) else attention_mask
            m = xp.asarray(m).astype(bool)
            if plain:
                allowed["attention_mask"] = m[:, None] if m.ndim == 3 else m  # (B, 1, L, S)
            else:  # (B, T..., S...) over the attention axes, flattened as the scores are
                want = (query.shape[0], *(query.shape[a] for a in self.attention_axes))
                want += tuple(key.shape[a] for a in self.attention_axes)
                if qf.shape[0] != query.shape[0] or m.shape[1:] != want[1:]:
                    raise ValueError(
                        f"MultiHeadAttention '{self.name}': attention_mask of shape "
                        f"{tuple(m.shape)} does not fit; expected {want}, with every axis but "
                        f"the batch attended over (attention_axes {self.attention_axes}, "
                        f"inputs of shape {tuple(query.shape)})"
                    )
                allowed["attention_mask"] = m.reshape((m.shape[0], 1, L, S))
        padding = _padding_mask(xp, query, value, key)
        windowed = use_causal_mask or self.sliding_window is not None
        if not plain and (padding is not None or windowed):
            raise ValueError(
                f"MultiHeadAttention '{self.name}': Keras masks, use_causal_mask and "
                f"sliding_window need (batch, seq, dim) inputs, received shape "
                f"{tuple(query.shape)}"
            )
        if padding is not None:  # as Keras: the inputs' Keras masks restrict attention too
            allowed["padding_mask"] = padding[:, None]  # (B, 1, L, S)
        if self.sliding_window is not None:  # a symmetric band |i - j| < window
            idx_q, idx_k = xp.arange(L)[:, None], xp.arange(S)[None, :]
            allowed["sliding_window"] = abs(idx_q - idx_k) < self.sliding_window
        if not allowed and not use_causal_mask:
            return None
        return attention_bias(
            xp,
            (qf.shape[0], qf.shape[1], L, S),
            qf.dtype,
            causal=use_causal_mask,
            allowed=allowed,
            fill=-3e4 if qf.dtype == xp.float16 else -1e9,  # Keras's large negative number
            op=f"MultiHeadAttention '{self.name}'",
        )

    def compute_mask(self, inputs, mask=None):
        """The query's mask (Keras's: the mask of the first argument)."""
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    def get_config(self):
        axes = self.attention_axes
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "use_gate": self.use_gate,
            "output_shape": None if self._output_shape is None else list(self._output_shape),
            "attention_axes": None if axes is None else list(axes),
            "sliding_window": self.sliding_window,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.projection_activity_regularizer),
            "kernel_constraint": constraint_serialize(self.kernel_constraint),
            "bias_constraint": constraint_serialize(self.bias_constraint),
            "seed": self.seed,
        }


def _padding_mask(xp, query, value, key):
    """(B, L, S) from the Keras masks of query (B, L), value and key (B, S); None without any."""
    masks = [getattr(t, "_keras_mask", None) for t in (query, value, key)]
    if all(m is None for m in masks):
        return None
    q, v, k = (None if m is None else xp.asarray(getattr(m, "data", m)).astype(bool) for m in masks)
    out = xp.ones((query.shape[0], query.shape[1], key.shape[1]), dtype=bool)
    if q is not None:
        out = out & q[:, :, None]
    for m in (v, k):
        if m is not None:
            out = out & m[:, None, :]
    return out
