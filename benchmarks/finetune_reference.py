"""The MiniLM fortune-category fine-tuning of examples/finetune_minilm.py, done with PyTorch and
transformers, for comparison: same data, split, tokenisation, hyper-parameters and three methods.

    python benchmarks/finetune_reference.py [--per-class 120 --epochs 3 --limit N --accum K]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from zerograd.apps import finetune as ex  # the same data loading and split as the zerograd run
from zerograd.data import Tokenizer


class MeanPool(torch.nn.Module):
    def __init__(self, bert, n):
        super().__init__()
        self.bert, self.head = bert, torch.nn.Linear(bert.config.hidden_size, n)

    def embed(self, ids, mask):
        h = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask[..., None].float()
        return (h * m).sum(1) / m.sum(1)

    def forward(self, ids, mask):
        return self.head(self.embed(ids, mask))


def main(argv=None) -> dict:
    from transformers import BertModel

    p = argparse.ArgumentParser()
    p.add_argument("--per-class", type=int, default=120)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--accum", type=int, default=1)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--lr-lora", type=float, default=1e-3)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    config = ex.FinetuneConfig(per_class=args.per_class, limit=args.limit, seed=args.seed)
    x_tr, x_te, y_tr, y_te = ex.fortune_split(config)
    tok = Tokenizer.from_file(str(Path(ex.minilm_dir()) / "tokenizer.json"))
    enc_tr = tok.encode_batch(list(x_tr), max_length=args.max_length, padding="max_length")
    enc_te = tok.encode_batch(list(x_te), max_length=args.max_length, padding="max_length")
    n = len(ex.CATEGORIES)
    out = {}

    def acc(model):
        model.eval()
        hits = 0
        with torch.no_grad():
            for ids, mask, yb in ex.batches(enc_te, y_te, 64):
                hits += int(
                    (model(torch.tensor(ids), torch.tensor(mask)).argmax(1).numpy() == yb).sum()
                )
        return hits / len(y_te)

    def train(model, lr):
        opt = torch.optim.AdamW(
            [q for q in model.parameters() if q.requires_grad], lr=lr, weight_decay=0.01
        )
        rng = np.random.default_rng(args.seed)
        model.train()
        for _ in range(args.epochs):
            opt.zero_grad()
            for i, (ids, mask, yb) in enumerate(ex.batches(enc_tr, y_tr, args.batch, rng), 1):
                loss = torch.nn.functional.cross_entropy(
                    model(torch.tensor(ids), torch.tensor(mask)), torch.tensor(yb)
                )
                (loss / args.accum).backward()
                if i % args.accum == 0:
                    opt.step()
                    opt.zero_grad()
            if i % args.accum:
                opt.step()

    def report(name, model, t0):
        trainable = sum(q.numel() for q in model.parameters() if q.requires_grad)
        out[name] = {
            "test_accuracy": round(acc(model), 4),
            "trainable_params": trainable,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(name, out[name])

    t0 = time.perf_counter()
    probe = MeanPool(BertModel.from_pretrained(ex.minilm_dir()), n)
    probe.bert.requires_grad_(False)
    probe.eval()
    with torch.no_grad():
        feats = torch.cat(
            [
                probe.embed(torch.tensor(i), torch.tensor(m))
                for i, m, _ in ex.batches(enc_tr, y_tr, 64)
            ]
        )
    opt = torch.optim.Adam(probe.head.parameters(), lr=1e-2)
    for _ in range(300):
        loss = torch.nn.functional.cross_entropy(probe.head(feats), torch.tensor(y_tr))
        opt.zero_grad()
        loss.backward()
        opt.step()
    report("linear probe", probe, t0)

    t0 = time.perf_counter()
    full = MeanPool(BertModel.from_pretrained(ex.minilm_dir()), n)
    train(full, args.lr)
    report("full", full, t0)

    t0 = time.perf_counter()
    lora = MeanPool(BertModel.from_pretrained(ex.minilm_dir()), n)
    lora.requires_grad_(False)
    for (
        layer
    ) in lora.bert.encoder.layer:  # LoRA by hand (no peft package): r=8, alpha=16 on query, value
        for name in ("query", "value"):
            base = getattr(layer.attention.self, name)
            setattr(layer.attention.self, name, _LoRA(base, 8, 16))
    lora.head.requires_grad_(True)
    train(lora, args.lr_lora)
    report("lora", lora, t0)
    print(json.dumps(out))
    return out


class _LoRA(torch.nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base, self.scaling = base, alpha / r
        self.A = torch.nn.Parameter(torch.empty(r, base.in_features))
        self.B = torch.nn.Parameter(torch.zeros(base.out_features, r))
        torch.nn.init.kaiming_uniform_(self.A, a=5**0.5)

    def forward(self, x):
        return self.base(x) + (x @ self.A.T @ self.B.T) * self.scaling


if __name__ == "__main__":
    main()
