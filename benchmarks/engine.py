"""engine_overhead: 1,000 small elementwise ops forward and backward (per-op cost of the engine)."""

import numpy as np
import torch

import zerograd as zg
from benchmarks import case


@case("engine_overhead")
def engine_overhead():
    a = np.random.default_rng(0).standard_normal(16).astype(np.float32)
    zx = zg.tensor(a, requires_grad=True)
    tx = torch.from_numpy(a.copy()).requires_grad_()

    def chain(x):
        y = x
        for _ in range(250):  # 4 ops a round: 1,000 ops
            y = y * 0.999
            y = y + 0.001
            y = y.tanh()
            y = y - x
        return y.sum()

    def zg_step():
        zx.grad = None
        chain(zx).backward()

    def torch_step():
        tx.grad = None
        chain(tx).backward()

    return zg_step, torch_step
