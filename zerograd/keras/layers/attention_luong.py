"""Keras's single-head attention layers: Attention (dot-product, Luong) and AdditiveAttention
(Bahdanau), called on ``[query, value]`` or ``[query, value, key]``."""

from __future__ import annotations

import numbers

import zerograd.nn.functional as F
from zerograd.keras.base import Layer
from zerograd.keras.layers.random_state import RandomState, check_seed
from zerograd.ops.attention import attention_bias
from zerograd.tensor import Tensor

_MASKED = -1e9  # Keras subtracts 1e9 from the scores of masked keys


class Attention(Layer):
    """softmax(query @ key^T [* scale]) @ value, over (batch, Tq, dim) queries and (batch, Tv, dim)
    keys/values; ``score_mode='concat'`` scores sum(tanh(query + key)) instead.

    Call: ``layer([query, value(, key)], mask=[query_mask, value_mask],
    return_attention_scores=False, use_causal_mask=False, training=None)``.

    Example:
        >>> Attention()([zg.ones(2, 3, 4), zg.ones(2, 5, 4)]).shape
        (2, 3, 4)
    """

    _score_modes = ("dot", "concat")

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.supports_masking = True  # the query's mask passes on (Keras)
        me = f"{type(self).__name__} '{self.name}'"
        if score_mode not in self._score_modes:
            raise ValueError(
                f"{me}: score_mode must be one of {self._score_modes}, received "
                f"score_mode={score_mode!r}"
            )
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, numbers.Real)
            or not (0 <= dropout < 1)
        ):
            raise ValueError(f"{me}: dropout must be a float in [0, 1), received {dropout!r}")
        self.use_scale, self.score_mode, self.dropout = bool(use_scale), score_mode, dropout
        self.seed = check_seed(me, seed)
        self._random = RandomState(self.seed)

    def _check(self, inputs, mask=None) -> None:
        me = f"{type(self).__name__} '{self.name}'"
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(
                f"{me} must be called on a list [query, value] or [query, value, key], received "
                f"{type(inputs).__name__}"
                + (f" of length {len(inputs)}" if isinstance(inputs, (list, tuple)) else "")
            )
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(
                f"{me}: mask must be a list [query_mask, value_mask], received {mask!r}"
            )

    def build(self, input_shape):
        self._check(input_shape)
        if self.use_scale:
            self.add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self.add_weight("concat_score_weight", (), "ones")

    def _scores(self, q, k):
        """(B, Tq, Tv) scores."""
        if self.score_mode == "dot":
            s = q @ k.swapaxes(-1, -2)
            return s * self.scale if self.use_scale else s
        z = q.expand_dims(-2) + k.expand_dims(-3)  # (B, Tq, Tv, dim)
        if self.use_scale:
            z = z * self.scale
        return z.tanh().sum(axis=-1) * self.concat_score_weight

    def call(self, inputs, mask=None, training=None, return_attention_scores: bool = False,
             use_causal_mask: bool = False):  # fmt: skip
        self._check(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        if q.shape[-1] != k.shape[-1]:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': query and key need the same last axis, "
                f"received shapes {q.shape} and {k.shape}"
            )
        scores = self._scores(q, k)
        xp = scores.xp
        q_mask, v_mask = (_array(xp, m) for m in (mask or [None, None])[:2])
        allowed = {} if v_mask is None else {"value_mask": v_mask[:, None, :]}
        bias = attention_bias(
            xp, scores.shape, scores.dtype, causal=bool(use_causal_mask), allowed=allowed,
            fill=_MASKED, op=f"{type(self).__name__} '{self.name}'",
        )  # fmt: skip
        if bias is not None:
            scores = scores + Tensor(bias)
        weights = F.softmax(scores, axis=-1)
        w = weights
        if training and self.dropout > 0:
            keep = self._random.uniform(tuple(w.shape)) >= self.dropout
            w = w * Tensor(xp.asarray(keep * (1 / (1 - self.dropout))).astype(w.dtype))
        out = w @ v
        if q_mask is not None:
            out = out * Tensor(q_mask[..., None].astype(out.dtype))  # zero at masked queries
        return [out, weights] if return_attention_scores else out

    def compute_mask(self, inputs, mask=None):
        """The query's mask."""
        return mask[0] if isinstance(mask, (list, tuple)) else None

    def get_config(self):
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
        }


class AdditiveAttention(Attention):
    """Bahdanau attention: scores sum(scale * tanh(query + key)) with a learned (dim,) ``scale``
    (glorot_uniform) when ``use_scale``; the rest as Attention.

    Example:
        >>> AdditiveAttention()([zg.ones(2, 3, 4), zg.ones(2, 5, 4)]).shape
        (2, 3, 4)
    """

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs):
        if "score_mode" in kwargs:
            raise TypeError(
                f"AdditiveAttention: unexpected keyword argument score_mode="
                f"{kwargs['score_mode']!r} (its scores are always additive)"
            )
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._check(input_shape)
        if self.use_scale:
            self.add_weight("scale", (input_shape[0][-1],), "glorot_uniform")

    def _scores(self, q, k):
        z = (q.expand_dims(-2) + k.expand_dims(-3)).tanh()  # (B, Tq, Tv, dim)
        return (z * self.scale if self.use_scale else z).sum(axis=-1)

    def get_config(self):
        cfg = super().get_config()
        del cfg["score_mode"]
        return cfg


def _array(xp, m):
    """A boolean array from a mask given as a Tensor, an array or None."""
    if m is None:
        return None
    return xp.asarray(m.data if isinstance(m, Tensor) else m).astype(bool)
