"""BERT (BertModel): embeddings, a post-LayerNorm encoder, a pooler; and a classification head.

Module names follow Hugging Face's so the key map reads plainly. Shapes: B batch, T tokens, C hidden.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import zerograd.nn as nn
import zerograd.nn.functional as F
from zerograd.models import checks, pretrained
from zerograd.nn.utils import checkpoint
from zerograd.ops import argcheck
from zerograd.tensor import Tensor

logger = logging.getLogger(__name__)


@dataclass
class BertConfig:
    """BERT hyper-parameters, named as in Hugging Face's config.json.

    Example:
        >>> cfg = BertConfig.from_dict(json.load(open('model/config.json')))
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    num_labels: int = 2

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise a TypeError/ValueError naming the first field of a wrong type or value."""
        checks.check_config(
            self,
            sizes=(
                "vocab_size",
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "intermediate_size",
                "max_position_embeddings",
                "type_vocab_size",
                "num_labels",
            ),
            probabilities=("hidden_dropout_prob", "attention_probs_dropout_prob"),
            epsilons=("layer_norm_eps",),
            heads=("hidden_size", "num_attention_heads"),
        )
        _act(self.hidden_act)
        if self.pad_token_id is not None:
            pad = argcheck.integer("BertConfig", "pad_token_id", self.pad_token_id)
            if not 0 <= pad < self.vocab_size:
                raise ValueError(
                    f"BertConfig: pad_token_id must be in [0, {self.vocab_size}) (vocab_size), "
                    f"received {pad}"
                )

    @classmethod
    def from_dict(cls, d: dict) -> BertConfig:
        """From a config.json dict: model_type must be 'bert'; unknown keys are ignored."""
        cfg = pretrained.config_from_dict(cls, d, "bert")
        if "id2label" in d:
            cfg.num_labels = len(d["id2label"])
            cfg.validate()  # an empty id2label gives no labels
        return cfg

    def to_dict(self) -> dict:
        return {**asdict(self), "model_type": "bert", "architectures": ["BertModel"]}


def _act(name: str):
    if name in ("gelu", "gelu_python"):
        return F.gelu
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: F.gelu(x, approximate="tanh")
    if name == "relu":
        return F.relu
    raise ValueError(
        f"BertConfig: hidden_act must be one of 'gelu', 'gelu_python', 'gelu_new', "
        f"'gelu_pytorch_tanh', 'relu', received {name!r}"
    )


class BertEmbeddings(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)
        self.max_positions = c.max_position_embeddings

    def forward(self, input_ids, token_type_ids) -> Tensor:
        T = input_ids.shape[1]
        if T > self.max_positions:
            raise ValueError(
                f"BERT: sequence of {T} tokens is longer than max_position_embeddings={self.max_positions}"
            )
        pos = np.arange(T)[None, :]
        x = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(pos)
            + self.token_type_embeddings(token_type_ids)
        )  # (B, T, C)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.h, self.d = c.num_attention_heads, c.hidden_size // c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.p = c.attention_probs_dropout_prob

    def forward(self, x, mask) -> Tensor:
        B, T, C = x.shape

        def heads(t):  # (B, T, C) -> (B, h, T, d)
            return t.reshape((B, T, self.h, self.d)).swapaxes(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.p, training=self.training
        )  # (B, h, T, d)
        return y.swapaxes(1, 2).reshape((B, T, C))


class BertSelfOutput(nn.Module):
    def __init__(self, c: BertConfig, n_in: int):
        super().__init__()
        self.dense = nn.Linear(n_in, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, h, residual) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(h)) + residual)  # post-LN


class BertAttention(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c, c.hidden_size)

    def forward(self, x, mask) -> Tensor:
        return self.output(self.self(x, mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)
        self.act = _act(c.hidden_act)

    def forward(self, x) -> Tensor:
        return self.act(self.dense(x))


class BertLayer(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertSelfOutput(c, c.intermediate_size)

    def forward(self, x, mask) -> Tensor:
        a = self.attention(x, mask)  # (B, T, C)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c.num_hidden_layers)])
        self.checkpointing = False

    def forward(self, x, mask) -> Tensor:
        for block in self.layer:
            if self.checkpointing and self.training:
                x = checkpoint(lambda t, b=block: b(t, mask), x, params=block.parameters())
            else:
                x = block(x, mask)
        return x


class BertPooler(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, x) -> Tensor:
        return self.dense(x[:, 0]).tanh()  # the [CLS] token


class BERT(nn.Module):
    """BertModel: ``forward(input_ids, attention_mask=None, token_type_ids=None)`` ->
    (last_hidden_state (B, T, C), pooler_output (B, C)).

    Example:
        >>> bert = BERT.from_pretrained(path)
        >>> hidden, pooled = bert(batch['input_ids'], batch['attention_mask'])
    """

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"BERT: expected a BertConfig, received {type(config).__name__}")
        config.validate()  # again: fields may have been changed since the config was made
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.apply(pretrained.init_weights)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        ids = checks.token_ids("BERT", input_ids, self.config.vocab_size)  # (B, T) int64
        if token_type_ids is None:
            types = np.zeros_like(ids)
        else:
            types = checks.integer_array("BERT", "token_type_ids", token_type_ids)
            n_types = self.config.type_vocab_size
            if types.size and (types.min() < 0 or types.max() >= n_types):
                raise ValueError(
                    f"BERT: token_type_ids must be in [0, {n_types}) (type_vocab_size), received "
                    f"min {types.min()} max {types.max()}"
                )
        for name, a in (("token_type_ids", types), ("attention_mask", attention_mask)):
            if a is not None and tuple(np.shape(a)) != ids.shape:
                raise ValueError(
                    f"BERT: expected {name} of the input_ids' shape {ids.shape}, received {tuple(np.shape(a))}"
                )
        x = self.embeddings(ids, types)  # (B, T, C); host ids move to the weights' device
        mask = None  # additive, built once for every layer
        if attention_mask is not None:
            B, T = ids.shape
            keep = x.xp.asarray(_ints(attention_mask).astype(bool))  # (B, T): 1 = a token
            mask = F.attention_bias(
                x.xp, (B, 1, T, T), x.dtype, allowed={"attention_mask": keep[:, None, None, :]}
            )  # (B, 1, 1, T)
        x = self.encoder(x, mask)
        pooled = self.pooler(x) if self.pooler is not None else None
        return x, pooled

    def gradient_checkpointing_enable(self) -> None:
        """Recompute each encoder layer's activations in backward instead of keeping them."""
        self.encoder.checkpointing = True

    # --- weights -------------------------------------------------------------------------------
    def key_map(self) -> dict:
        """{our parameter name: (Hugging Face name, transform)}: written out, not derived."""
        return bert_key_map(self.config.num_hidden_layers, self.pooler is not None)

    @classmethod
    def from_pretrained(cls, path, device=None, **overrides) -> BERT:
        """Load config.json + model.safetensors of a Hugging Face BERT directory; ``device``
        ('cpu', 'cuda', 'cuda:N') is where the model goes.

        Weights may be named with or without the 'bert.' prefix (a BertModel, or the encoder of a
        BertFor... checkpoint, whose heads are skipped).

        Raises:
            FileFormatError: a broken, inconsistent or incomplete file, named in the message.

        Example:
            >>> bert = BERT.from_pretrained('all-MiniLM-L6-v2/')
        """
        loader = "BERT.from_pretrained"
        device = pretrained.check_device(device, loader)
        d = pretrained.read_config(path, "bert", loader)
        config = pretrained.config_from_file(BertConfig, d, path, loader)
        if overrides:  # the caller's values: their errors are the config class's own
            config = BertConfig.from_dict({**d, **overrides})
        model = cls._from_weights(config, pretrained.read_weights(path, loader), path, loader)
        return pretrained.place(model, device)

    @classmethod
    def _from_weights(cls, config: BertConfig, weights: dict, path=None, loader=None) -> BERT:
        has_pooler = any(k.endswith("pooler.dense.weight") for k in weights)
        prefixes = ("", "bert.")
        if path is not None:  # sizes from config.json against the file, before allocating
            pretrained.check_sizes(
                path,
                weights,
                config,
                pretrained.bert_sizes(config),
                ("num_hidden_layers", r"(?:bert\.)?encoder\.layer\.(\d+)\."),
                prefixes,
                loader,
            )
            model = pretrained.build(cls, config, path, loader, has_pooler)
        else:
            model = cls(config, add_pooling_layer=has_pooler)
        pretrained.load_mapped(
            model,
            weights,
            model.key_map(),
            prefixes=prefixes,
            ignore=("position_ids", "cls.", "classifier."),
            source=None if path is None else Path(path) / "model.safetensors",
        )
        return model

    def save_pretrained(self, path) -> None:
        """Write config.json + model.safetensors that Hugging Face's BertModel loads."""
        pretrained.save_mapped(self, path, self.config.to_dict(), self.key_map())


def bert_key_map(num_layers: int, pooler: bool = True, prefix: str = "") -> dict:
    """Our names -> Hugging Face BertModel names. The modules are named as Hugging Face names them,
    so each entry maps a name to itself (plus ``prefix``), but the list is explicit: a renamed
    module shows up here as a missing key instead of as silently unloaded weights."""
    names = [
        "embeddings.word_embeddings.weight",
        "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
        "embeddings.LayerNorm.weight",
        "embeddings.LayerNorm.bias",
    ]
    per_layer = [
        "attention.self.query",
        "attention.self.key",
        "attention.self.value",
        "attention.output.dense",
        "attention.output.LayerNorm",
        "intermediate.dense",
        "output.dense",
        "output.LayerNorm",
    ]
    for i in range(num_layers):
        for m in per_layer:
            names += [f"encoder.layer.{i}.{m}.weight", f"encoder.layer.{i}.{m}.bias"]
    if pooler:
        names += ["pooler.dense.weight", "pooler.dense.bias"]
    return {prefix + n: (prefix + n, None) for n in names}


class BertForSequenceClassification(nn.Module):
    """BERT + dropout + a linear head on the pooled [CLS] vector; loss when ``labels`` are given."""

    def __init__(self, config: BertConfig, num_labels: int | None = None):
        super().__init__()
        self.config = config
        if num_labels is not None:
            argcheck.positive("BertForSequenceClassification", "num_labels", num_labels)
        self.num_labels = num_labels or config.num_labels
        self.bert = BERT(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, self.num_labels)
        pretrained.init_weights(self.classifier)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        _, pooled = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.classifier(self.dropout(pooled))  # (B, num_labels)
        if labels is None:
            return logits
        labels = checks.integer_array("BertForSequenceClassification", "labels", labels)
        return F.cross_entropy(logits, labels), logits  # host labels move to the logits' device

    def key_map(self) -> dict:
        m = bert_key_map(self.config.num_hidden_layers, self.bert.pooler is not None, "bert.")
        return {
            **m,
            "classifier.weight": ("classifier.weight", None),
            "classifier.bias": ("classifier.bias", None),
        }

    @classmethod
    def from_pretrained(
        cls, path, num_labels: int | None = None, device=None
    ) -> BertForSequenceClassification:
        """The encoder from ``path``; the head too when the checkpoint has one of the right size,
        otherwise a new one (logged).

        Raises:
            FileFormatError: a broken, inconsistent or incomplete file, named in the message.

        Example:
            >>> model = BertForSequenceClassification.from_pretrained('all-MiniLM-L6-v2/', num_labels=6)
        """
        loader = "BertForSequenceClassification.from_pretrained"
        device = pretrained.check_device(device, loader)
        config = pretrained.config_from_file(
            BertConfig, pretrained.read_config(path, "bert", loader), path, loader
        )
        weights = pretrained.read_weights(path, loader)
        bert = BERT._from_weights(config, weights, path, loader)
        rows = None if num_labels is not None else config.num_labels  # given: a new head is fine
        head = pretrained.read_head(path, weights, "classifier", config.hidden_size, rows, loader)
        W, b = head or (None, None)
        model = pretrained.build(cls, config, path, loader, num_labels)
        model.bert = bert
        if W is not None and W.shape == tuple(model.classifier.weight.shape):
            model.classifier.load_state_dict({"weight": W, "bias": b})
        else:
            logger.info(
                "BertForSequenceClassification: new classification head (%d labels)",
                model.num_labels,
            )
        return pretrained.place(model, device)

    def save_pretrained(self, path) -> None:
        """Write a directory that Hugging Face's BertForSequenceClassification loads."""
        config = {
            **self.config.to_dict(),
            "num_labels": self.num_labels,
            "id2label": {str(i): f"LABEL_{i}" for i in range(self.num_labels)},
            "label2id": {f"LABEL_{i}": i for i in range(self.num_labels)},
            "architectures": ["BertForSequenceClassification"],
        }
        pretrained.save_mapped(self, path, config, self.key_map())


def _ints(x) -> np.ndarray:
    a = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    return a.astype(np.int64)
