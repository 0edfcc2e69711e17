"""LlamaConfig: one config for the Llama-family checkpoints (Llama, Qwen2, Mistral), read from and
written to Hugging Face ``config.json`` files.

The three families share one architecture and differ in a few switches, all derived here:
Qwen2 always has q/k/v biases (and no o_proj bias), Llama has them only with ``attention_bias``,
Mistral never; Mistral slides its attention window over every layer when ``sliding_window`` is
set, Qwen2 over the layers from ``max_window_layers`` on when ``use_sliding_window`` (or as its
``layer_types`` say), Llama never.

Example:
    >>> c = LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64,
    ...                 num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    >>> c.head_dim, c.layer_windows()
    (8, [None, None])
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from zerograd.models import checks
from zerograd.models.rope import ROPE_TYPES, rope_type
from zerograd.ops import argcheck

# model_type -> the transformers class written into config.json's "architectures"
MODEL_TYPES = {
    "llama": "LlamaForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "mistral": "MistralForCausalLM",
}
LAYER_TYPES = ("full_attention", "sliding_attention")


@dataclass
class LlamaConfig:
    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int | None = None  # None: as many as the query heads (no grouping)
    head_dim: int | None = None  # None: hidden_size // num_attention_heads
    hidden_act: str = "silu"
    max_position_embeddings: int = 2048
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: dict | None = None
    attention_bias: bool = False  # Llama only: biases on q, k, v and o
    mlp_bias: bool = False  # Llama only
    attention_dropout: float = 0.0
    tie_word_embeddings: bool = False
    sliding_window: int | None = None  # Mistral, Qwen2 (with use_sliding_window)
    use_sliding_window: bool = False  # Qwen2
    max_window_layers: int = 28  # Qwen2: layers from this index on slide
    layer_types: list | None = None  # Qwen2 (transformers 5): one of LAYER_TYPES per layer
    initializer_range: float = 0.02
    bos_token_id: int | None = None
    eos_token_id: int | list | None = None
    pad_token_id: int | None = None
    model_type: str = "llama"

    def __post_init__(self) -> None:
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None and _positive_ints(self.hidden_size, self.num_attention_heads):
            if self.hidden_size % self.num_attention_heads:
                raise ValueError(
                    f"LlamaConfig: hidden_size ({self.hidden_size}) must be divisible by "
                    f"num_attention_heads ({self.num_attention_heads}) when head_dim is not given"
                )
            self.head_dim = self.hidden_size // self.num_attention_heads
        self.validate()

    def validate(self) -> None:
        """Raise a TypeError/ValueError naming the first field of a wrong type or value, or an
        option this implementation does not support."""
        owner = "LlamaConfig"
        argcheck.choice(owner, "model_type", self.model_type, tuple(MODEL_TYPES))
        checks.check_config(
            self,
            sizes=(
                "vocab_size",
                "hidden_size",
                "intermediate_size",
                "num_hidden_layers",
                "num_attention_heads",
                "num_key_value_heads",
                "head_dim",
                "max_position_embeddings",
            ),
            probabilities=("attention_dropout",),
            epsilons=("rms_norm_eps", "rope_theta"),
        )
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"{owner}: num_attention_heads ({self.num_attention_heads}) must be divisible by "
                f"num_key_value_heads ({self.num_key_value_heads})"
            )
        if self.head_dim % 2:
            raise ValueError(
                f"{owner}: head_dim must be even (RoPE pairs), received {self.head_dim}"
            )
        if self.hidden_act != "silu":
            raise ValueError(
                f"{owner}: hidden_act {self.hidden_act!r} is not supported (supported: 'silu')"
            )
        for name in ("attention_bias", "mlp_bias", "tie_word_embeddings", "use_sliding_window"):
            argcheck.flag(owner, name, getattr(self, name))
        for name in ("attention_bias", "mlp_bias"):
            if getattr(self, name) and self.model_type != "llama":
                raise ValueError(
                    f"{owner}: {name}=True is read for model_type 'llama' only (Qwen2 always has "
                    f"q/k/v biases, Mistral none), received model_type {self.model_type!r}"
                )
        argcheck.integer(owner, "max_window_layers", self.max_window_layers, 0)
        if self.pad_token_id is not None:
            argcheck.integer(owner, "pad_token_id", self.pad_token_id, 0)
        self._validate_rope()
        self._validate_window()

    def _validate_rope(self) -> None:
        s = self.rope_scaling
        if s is None:
            return
        if not isinstance(s, dict):
            raise TypeError(
                f"LlamaConfig: rope_scaling must be a dict or None, received {type(s).__name__}"
            )
        kind = rope_type(s)
        if kind not in ROPE_TYPES:
            raise ValueError(
                f"LlamaConfig: rope_scaling type {kind!r} is not supported "
                f"(supported: {', '.join(map(repr, ROPE_TYPES))})"
            )
        for key in ROPE_TYPES[kind]:
            if key not in s:
                raise ValueError(f"LlamaConfig: rope_scaling of type {kind!r} needs {key!r}")
            argcheck.number("LlamaConfig", f"rope_scaling[{key!r}]", s[key], 0.0, low_open=True)
        if "factor" in ROPE_TYPES[kind] and s["factor"] < 1:
            raise ValueError(
                f"LlamaConfig: rope_scaling['factor'] must be >= 1, received {s['factor']!r}"
            )
        if kind == "llama3" and s["low_freq_factor"] >= s["high_freq_factor"]:
            raise ValueError(
                f"LlamaConfig: rope_scaling needs low_freq_factor < high_freq_factor, received "
                f"{s['low_freq_factor']!r} and {s['high_freq_factor']!r}"
            )
        if s.get("partial_rotary_factor", 1.0) != 1.0:
            raise ValueError(
                f"LlamaConfig: partial_rotary_factor {s['partial_rotary_factor']!r} is not "
                "supported (only 1.0, every channel rotates)"
            )

    def _validate_window(self) -> None:
        owner = "LlamaConfig"
        if self.sliding_window is not None:
            argcheck.positive(owner, "sliding_window", self.sliding_window)
            if self.model_type == "llama":
                raise ValueError(
                    f"{owner}: sliding_window is read for model_type 'mistral' and 'qwen2' only, "
                    f"received sliding_window={self.sliding_window} with model_type 'llama'"
                )
        t = self.layer_types
        if t is None:
            return
        if self.model_type != "qwen2":
            raise ValueError(
                f"{owner}: layer_types is read for model_type 'qwen2' only, received it with "
                f"model_type {self.model_type!r}"
            )
        if not isinstance(t, list) or len(t) != self.num_hidden_layers:
            raise ValueError(
                f"{owner}: layer_types must be a list of num_hidden_layers "
                f"({self.num_hidden_layers}) entries, received {t!r:.80}"
            )
        bad = [x for x in t if x not in LAYER_TYPES]
        if bad:
            raise ValueError(
                f"{owner}: layer_types entries must be 'full_attention' or 'sliding_attention', "
                f"received {bad[0]!r:.80}"
            )
        if "sliding_attention" in t and self.layer_windows().count(None) == len(t):
            raise ValueError(
                f"{owner}: layer_types asks for sliding_attention, but no sliding_window is set "
                "(Qwen2 needs use_sliding_window=True and a sliding_window)"
            )

    def layer_windows(self) -> list:
        """Each layer's attention window (a query sees that many keys: itself and the window - 1
        before it), or None for full causal attention."""
        n, w = self.num_hidden_layers, self.sliding_window
        if self.model_type == "mistral":
            return [w] * n
        if self.model_type != "qwen2" or not self.use_sliding_window or w is None:
            return [None] * n
        if self.layer_types is not None:
            return [w if t == "sliding_attention" else None for t in self.layer_types]
        return [w if i >= self.max_window_layers else None for i in range(n)]

    @property
    def qkv_bias(self) -> bool:
        return self.model_type == "qwen2" or self.attention_bias

    @classmethod
    def from_dict(cls, d: dict) -> LlamaConfig:
        """A config from a Hugging Face config dict (transformers 4 ``rope_theta``/``rope_scaling``
        or transformers 5 ``rope_parameters``); keys it does not use are ignored."""
        if not isinstance(d, dict):
            raise TypeError(f"LlamaConfig.from_dict: expected a dict, received {type(d).__name__}")
        model_type = d.get("model_type", "llama")
        if model_type not in MODEL_TYPES:
            raise ValueError(
                f"LlamaConfig: unknown model_type {model_type!r:.80} "
                f"(supported: {', '.join(map(repr, MODEL_TYPES))})"
            )
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        if model_type in ("mistral", "qwen2") and "sliding_window" not in d:
            kw["sliding_window"] = 4096  # transformers' default for these families
        if model_type == "qwen2" and not kw.get("use_sliding_window", False):
            kw["sliding_window"] = None  # as transformers' Qwen2Config: unused, so dropped
        params = d.get("rope_parameters")
        if isinstance(params, dict) and d.get("rope_scaling") is None:  # transformers 5
            if "rope_theta" in params:
                kw["rope_theta"] = params["rope_theta"]
            scaling = {k: v for k, v in params.items() if k != "rope_theta"}
            kw["rope_scaling"] = None if rope_type(scaling) == "default" else scaling
        elif params is not None and not isinstance(params, dict):
            raise TypeError(
                f"LlamaConfig: rope_parameters must be a dict, received {type(params).__name__}"
            )
        scaling = kw.get("rope_scaling")
        if isinstance(scaling, dict):
            scaling = dict(scaling)
            if rope_type(scaling) in ("llama3",):  # transformers' fallback for the old length
                scaling.setdefault(
                    "original_max_position_embeddings",
                    kw.get("max_position_embeddings", cls.max_position_embeddings),
                )
            kw["rope_scaling"] = scaling
        return cls(**kw)

    def to_dict(self) -> dict:
        """config.json for transformers 4 and 5 (``rope_theta``/``rope_scaling`` and
        ``rope_parameters`` both written, meaning the same)."""
        d = {
            "architectures": [MODEL_TYPES[self.model_type]],
            "model_type": self.model_type,
        }
        skip = {"attention_bias", "mlp_bias", "sliding_window", "use_sliding_window"}
        skip |= {"max_window_layers", "layer_types", "model_type"}
        d.update({f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip})
        if self.model_type == "llama":
            d.update(attention_bias=self.attention_bias, mlp_bias=self.mlp_bias)
        elif self.model_type == "mistral":
            d["sliding_window"] = self.sliding_window
        else:
            d.update(
                use_sliding_window=self.use_sliding_window,
                sliding_window=self.sliding_window,
                max_window_layers=self.max_window_layers,
                layer_types=[
                    "full_attention" if w is None else "sliding_attention"
                    for w in self.layer_windows()
                ],
            )
        scaling = dict(self.rope_scaling) if self.rope_scaling else None
        d["rope_scaling"] = scaling
        d["rope_parameters"] = {
            "rope_type": rope_type(scaling),
            "rope_theta": self.rope_theta,
            **{k: v for k, v in (scaling or {}).items() if k not in ("type", "rope_type")},
        }
        return d


def _positive_ints(*values) -> bool:
    """True when every value is a positive int (else validate() names the bad one)."""
    return all(argcheck.is_integer(v) and v > 0 for v in values)
