"""A small GPT trained from scratch, character by character, on the 300 Tang poems (Debian
fortunes-zh, tang300.u8); prints the validation loss curve and samples a few poems.

    python examples/gpt_poems.py                 # about 5 minutes on 2 cores
    python examples/gpt_poems.py --steps 20 --n-layer 1 --n-embd 32 --block 32   # a smoke test
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np

import zerograd as zg
from zerograd import optim
from zerograd.data import CharTokenizer
from zerograd.models import GPT, GPTConfig, generate

TANG = Path("/usr/share/games/fortunes/tang300.u8")


def load_poems(path: Path = TANG) -> list[str]:
    """Poems as '《title》\\nbody' strings: colour codes and author lines removed."""
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: install the Debian package fortunes-zh")
    text = re.sub(r"\x1b\[[0-9;]*m", "", path.read_text(encoding="utf-8"))
    poems = []
    for block in text.split("\n%\n"):
        lines = [
            ln.strip()
            for ln in block.strip().splitlines()
            if ln.strip() and not ln.startswith("作者")
        ]
        if len(lines) >= 2:
            poems.append(lines[0] + "\n" + "\n".join(lines[1:]))
    return poems


def batches(data: np.ndarray, block: int, batch: int, rng):
    while True:
        starts = rng.integers(0, len(data) - block - 1, batch)
        x = np.stack([data[s : s + block] for s in starts])
        y = np.stack([data[s + 1 : s + block + 1] for s in starts])
        yield x, y


def evaluate(model, data: np.ndarray, block: int, n: int = 8) -> float:
    model.eval()
    rng = np.random.default_rng(123)  # the same validation windows every time
    x, y = next(batches(data, block, n, rng))
    with zg.no_grad():
        loss, _ = model(x, targets=y)
    model.train()
    return loss.item()


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--block", type=int, default=64)
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--samples", type=int, default=3)
    p.add_argument("--out", default="runs/gpt-poems")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    zg.manual_seed(args.seed)
    poems = load_poems()
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(poems))
    n_val = max(len(poems) // 10, 1)
    val_text = "\n\n".join(poems[i] for i in order[:n_val])
    train_text = "\n\n".join(poems[i] for i in order[n_val:])
    tok = CharTokenizer.fit(train_text + val_text)
    train, val = np.array(tok.encode(train_text)), np.array(tok.encode(val_text))
    cfg = GPTConfig(
        vocab_size=tok.vocab_size,
        n_positions=args.block,
        n_embd=args.n_embd,
        n_layer=args.n_layer,
        n_head=args.n_head,
        embd_pdrop=0.2,
        resid_pdrop=0.2,
        attn_pdrop=0.0,
    )
    model = GPT(cfg)
    opt = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1, betas=(0.9, 0.95))
    sched = optim.lr_scheduler.WarmupCosineLR(
        opt, warmup_steps=max(args.steps // 20, 1), total_steps=args.steps, min_lr=args.lr / 10
    )
    print(
        f"{len(poems)} poems, {len(train)} training / {len(val)} validation characters, vocabulary {tok.vocab_size}, "
        f"{model.num_parameters():,} parameters"
    )
    curve = []
    t0 = time.perf_counter()
    data = batches(train, args.block, args.batch, rng)
    for step in range(1, args.steps + 1):
        x, y = next(data)
        loss, _ = model(x, targets=y)
        opt.zero_grad()
        loss.backward()
        zg.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % args.eval_every == 0 or step == args.steps:
            v = evaluate(model, val, args.block)
            curve.append(
                {"step": step, "train_loss": round(loss.item(), 4), "val_loss": round(v, 4)}
            )
            print(
                f"step {step:5d}  train loss {loss.item():.3f}  val loss {v:.3f}  ({time.perf_counter() - t0:.0f} s)"
            )
    samples = []
    for i in range(args.samples):
        prompt = np.array([tok.encode("《")])
        ids = generate(
            model,
            prompt,
            max_new_tokens=min(60, args.block - 1),
            do_sample=True,
            temperature=0.8,
            top_k=20,
            seed=args.seed + i,
        )
        samples.append(tok.decode(ids[0]).split("\n\n")[0])
        print(f"\n--- sample {i + 1} ---\n{samples[-1]}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "val_curve": curve,
        "samples": samples,
        "seconds": round(time.perf_counter() - t0, 1),
        "parameters": model.num_parameters(),
    }
    (out / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    tok.save(out / "tokenizer.json")
    return result


if __name__ == "__main__":
    main()
