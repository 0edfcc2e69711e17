"""Peak memory of a training step, each framework in its own fresh process.

``python -m benchmarks.memory [gpt_train]`` starts one child process per framework. A child imports
what it needs, then resets the kernel's peak-RSS counter (``/proc/self/clear_refs``), notes its
resident set, builds the model and optimizer and runs three training steps. It reports the peak
resident set during that work minus the resident set before it: weights, gradients, optimizer state,
activations and whatever the allocator keeps, measured the same way for both frameworks.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

SHAPE = dict(n_layer=4, n_embd=256, n_head=4, ctx=128, vocab=512, batch=8)
TINY = dict(n_layer=1, n_embd=256, n_head=4, ctx=128, vocab=512, batch=1)


def _status() -> dict:
    text = open("/proc/self/status").read()
    return {k: int(re.search(k + r":\s+(\d+)", text).group(1)) * 1024 for k in ("VmRSS", "VmHWM")}


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _gpt_train_zerograd(steps: int, shape: dict = SHAPE) -> None:
    import numpy as np

    import zerograd as zg
    from zerograd.models import GPT
    from zerograd.models.gpt import GPTConfig

    c = shape
    model = GPT(
        GPTConfig(
            vocab_size=c["vocab"],
            n_positions=512,
            n_embd=c["n_embd"],
            n_layer=c["n_layer"],
            n_head=c["n_head"],
            embd_pdrop=0.0,
            resid_pdrop=0.0,
            attn_pdrop=0.0,
        )
    )
    opt = zg.optim.AdamW(model.parameters(), lr=1e-4)
    ids = np.random.default_rng(0).integers(0, c["vocab"], (c["batch"], c["ctx"] + 1))
    for _ in range(steps):
        loss, _ = model(ids[:, :-1], targets=ids[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()


def _gpt_train_torch(steps: int, shape: dict = SHAPE) -> None:
    import numpy as np
    import torch
    import transformers

    c = shape
    cfg = transformers.GPT2Config(
        vocab_size=c["vocab"],
        n_positions=512,
        n_embd=c["n_embd"],
        n_layer=c["n_layer"],
        n_head=c["n_head"],
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    model = transformers.GPT2LMHeadModel(cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.tensor(np.random.default_rng(0).integers(0, c["vocab"], (c["batch"], c["ctx"] + 1)))
    for _ in range(steps):
        logits = model(ids[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()


CASES = {"gpt_train": {"zerograd": _gpt_train_zerograd, "torch": _gpt_train_torch}}


def _child(case: str, framework: str) -> None:
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))
    # every module the step needs is imported before the baseline (lazy imports are not memory
    # of the step)
    if framework == "torch":
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel  # noqa: F401

        torch.set_num_threads(threads)
    else:
        import zerograd.models.gpt  # noqa: F401
        import zerograd.optim  # noqa: F401
    # one step of a tiny model first: lazy initialisation (and, for zerograd, compiling or loading
    # the numba kernels) is not memory of the step
    CASES[case][framework](steps=1, shape=TINY)
    _reset_peak()
    before = _status()["VmRSS"]
    CASES[case][framework](steps=3)
    peak = _status()["VmHWM"]
    print(json.dumps({"peak_bytes": peak - before}))


def measure(case: str = "gpt_train") -> dict:
    """Peak memory of each side (MiB) and the ratio zerograd / PyTorch."""
    out = {"case": case}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for fw in ("zerograd", "torch"):
        r = subprocess.run(
            [sys.executable, "-m", "benchmarks.memory", "--child", case, fw],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        line = [x for x in r.stdout.splitlines() if x.startswith("{")][-1]
        out[f"{fw}_peak_mib"] = round(json.loads(line)["peak_bytes"] / 2**20, 1)
    out["peak_ratio"] = round(out["zerograd_peak_mib"] / out["torch_peak_mib"], 3)
    return out


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    else:
        for name in sys.argv[1:] or list(CASES):
            print(json.dumps(measure(name)))
