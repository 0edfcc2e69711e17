"""Adam over many small tensors: their fused updates run together, split between the cores; the
result is every tensor's own update, bitwise, and PyTorch's."""

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import kernels
from zerograd.optim import _adam_kernel

pytestmark = pytest.mark.skipif(kernels.numba is None, reason="numba is not installed")


def _params(rng, n=37):
    sizes = [int(s) for s in rng.integers(1, 20_000, n)]  # uneven: shares split by size
    return [rng.standard_normal(s).astype(np.float32) for s in sizes]


@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
def test_many_small_tensors_match_torch(cls):
    rng = np.random.default_rng(0)
    values = _params(rng)
    assert sum(v.size for v in values) >= zg.tuning.ADAM_PARALLEL_MIN_SIZE // 4
    zp = [zg.nn.Parameter(zg.tensor(v.copy())) for v in values]
    tp = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in values]
    zopt = getattr(zg.optim, cls)(zp, lr=1e-2, weight_decay=0.1)
    topt = getattr(torch.optim, cls)(tp, lr=1e-2, weight_decay=0.1)
    for step in range(3):
        grads = [rng.standard_normal(v.shape).astype(np.float32) for v in values]
        for p, q, g in zip(zp, tp, grads):
            p.grad = zg.tensor(g)
            q.grad = torch.from_numpy(g.copy())
        zopt.step()
        topt.step()
    for p, q in zip(zp, tp):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_adam_steps_equals_each_step_alone():
    rng = np.random.default_rng(1)
    values = _params(rng)
    grads = [rng.standard_normal(v.shape).astype(np.float32) for v in values]

    def state():
        return [(v.copy(), g, np.zeros_like(v), np.zeros_like(v)) for v, g in zip(values, grads)]

    together, alone = state(), state()
    hyper = (0.9, 0.999, 1e-3, 0.9995, 1e-8, 0.99)
    _adam_kernel.adam_steps([(*arrays, *hyper) for arrays in together])
    for arrays in alone:
        _adam_kernel.adam_step(*arrays, *hyper)
    for a, b in zip(together, alone):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
