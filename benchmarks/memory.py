"""Peak memory of a training step, each framework in its own fresh process.

``python -m benchmarks.memory [CASE ...]`` starts one child process per framework. A child imports
what it needs, then resets the kernel's peak-RSS counter (``/proc/self/clear_refs``), notes its
resident set, builds the model and optimizer and runs three training steps. It reports the peak
resident set during that work minus the resident set before it: weights, gradients, optimizer state,
activations and whatever the allocator keeps, measured the same way for both frameworks.

The scale cases (``SCALE_SHAPES``: gpt_train_ctx512, gpt_train_ctx1024, gpt_train_d512,
gpt2_small_train) measure the step alone: the child builds the model and optimizer, runs one step,
drops the gradients and returns the C heap's free pages to the system, then reports the peak of two
more steps above the resident set (the memory a step adds beyond the weights and the optimizer
state).
"""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys

SHAPE = dict(n_layer=4, n_embd=256, n_head=4, ctx=128, vocab=512, batch=8)
TINY = dict(n_layer=1, n_embd=256, n_head=4, ctx=128, vocab=512, batch=1)
# the scale cases (benchmarks.models): their step memory, the peak a training step adds beyond
# the weights and the optimizer state
SCALE_SHAPES = {
    "gpt_train_ctx512": dict(n_layer=4, n_embd=256, n_head=4, ctx=512, vocab=512, batch=2),
    "gpt_train_ctx1024": dict(n_layer=4, n_embd=256, n_head=4, ctx=1024, vocab=512, batch=1),
    "gpt_train_d512": dict(n_layer=6, n_embd=512, n_head=8, ctx=256, vocab=512, batch=4),
    "gpt2_small_train": dict(
        n_layer=12, n_embd=768, n_head=12, ctx=256, vocab=50257, batch=2, n_positions=1024
    ),
}


def _status() -> dict:
    text = open("/proc/self/status").read()
    return {k: int(re.search(k + r":\s+(\d+)", text).group(1)) * 1024 for k in ("VmRSS", "VmHWM")}


def _trim() -> None:
    """Return the C heap's free pages to the system (glibc), so that the resident set after a
    step counts live memory, not what the allocator keeps from the step before."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # another C library: nothing to trim
        pass


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _gpt_train_zerograd(steps: int, shape: dict = SHAPE) -> None:
    step, _ = _zerograd_step(shape)
    for _ in range(steps):
        step()


def gpt_model(shape: dict):
    """A zerograd GPT of ``shape`` (dropout off) and a batch of token ids (batch, ctx + 1)."""
    import numpy as np

    from zerograd.models import GPT
    from zerograd.models.gpt import GPTConfig

    c = shape
    model = GPT(
        GPTConfig(
            vocab_size=c["vocab"],
            n_positions=c.get("n_positions", max(512, c["ctx"])),
            n_embd=c["n_embd"],
            n_layer=c["n_layer"],
            n_head=c["n_head"],
            embd_pdrop=0.0,
            resid_pdrop=0.0,
            attn_pdrop=0.0,
        )
    )
    return model, np.random.default_rng(0).integers(0, c["vocab"], (c["batch"], c["ctx"] + 1))


def train_step(model, opt, ids):
    """One next-token training step of ``model`` on ``ids`` with ``opt``, as a function."""

    def step():
        loss, _ = model(ids[:, :-1], targets=ids[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def _zerograd_step(shape: dict):
    """(one AdamW step, drop the gradients) of a zerograd GPT of ``shape``."""
    import zerograd as zg

    model, ids = gpt_model(shape)
    opt = zg.optim.AdamW(model.parameters(), lr=1e-4)
    return train_step(model, opt, ids), opt.zero_grad


def _gpt_train_torch(steps: int, shape: dict = SHAPE) -> None:
    step, _ = _torch_step(shape)
    for _ in range(steps):
        step()


def _torch_step(shape: dict):
    """(one AdamW step, drop the gradients) of a transformers GPT-2 of ``shape``."""
    import numpy as np
    import torch
    import transformers

    c = shape
    cfg = transformers.GPT2Config(
        vocab_size=c["vocab"],
        n_positions=c.get("n_positions", max(512, c["ctx"])),
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

    def step():
        logits = model(ids[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step, opt.zero_grad


CASES = {"gpt_train": {"zerograd": _gpt_train_zerograd, "torch": _gpt_train_torch}}
CASES.update({name: {"zerograd": _zerograd_step, "torch": _torch_step} for name in SCALE_SHAPES})


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
    if case in SCALE_SHAPES:  # the step alone: after one step (optimizer state made, kernels
        # compiled), with the gradients dropped, the peak of two more steps above that
        step, drop_grads = CASES[case][framework](SCALE_SHAPES[case])
        step()
        drop_grads()
        gc.collect()
        _trim()  # freed heap pages back to the system: the baseline is what is alive
        _reset_peak()
        before = _status()["VmRSS"]
        step()
        step()
        print(json.dumps({"peak_bytes": _status()["VmHWM"] - before}))
        return
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
