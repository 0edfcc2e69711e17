"""DistributedDataParallel: one process (no mpiexec), and two ranks under ``mpiexec -n 2``."""

from __future__ import annotations

import numpy as np
import pytest

import zerograd as zg
import zerograd.nn as nn
import zerograd.nn.functional as F
from tests.distributed.launch import launch, needs_mpi
from zerograd import autograd_hooks
from zerograd.distributed import DistributedDataParallel


def _mlp():
    return nn.Sequential(
        nn.Linear(3, 5, dtype="float64"), nn.Tanh(), nn.Linear(5, 2, dtype="float64")
    )


def test_one_process_trains_like_the_bare_module():
    x, y = zg.Tensor(np.random.randn(6, 3)), zg.Tensor(np.random.randn(6, 2))
    bare = _mlp()
    ddp = DistributedDataParallel(_mlp())
    ddp.module.load_state_dict(bare.state_dict())
    assert ddp.world_size == 1 and autograd_hooks.active == 0  # nothing hooked with one rank
    for model in (bare, ddp):
        opt = zg.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(3):
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            opt.step()
    for (n, p), (m, q) in zip(bare.named_parameters(), ddp.module.named_parameters()):
        assert n == m and np.array_equal(p.data, q.data)


def test_module_attribute_state_dict_prefix_and_no_sync():
    inner = _mlp()
    ddp = DistributedDataParallel(inner)
    assert ddp.module is inner
    keys = list(ddp.state_dict())
    assert keys == ["module." + k for k in inner.state_dict()]  # as PyTorch's DDP
    x = zg.Tensor(np.ones((2, 3)))
    np.testing.assert_array_equal(ddp(x).data, inner(x).data)
    with ddp.no_sync():
        ddp(x).sum().backward()
    ddp(x).sum().backward()
    g = inner[0].weight.grad.data.copy()
    inner.zero_grad()
    (inner(x).sum() * 2).backward()
    np.testing.assert_allclose(g, inner[0].weight.grad.data)


@pytest.mark.parametrize(
    "module, cap, error, match",
    [
        ("not a module", 25, TypeError, "module must be a zerograd.nn.Module, received str"),
        (None, 0, ValueError, "bucket_cap_mb must be positive, received 0"),
        (None, "25", TypeError, "bucket_cap_mb must be a number, received str"),
    ],
)
def test_bad_arguments(module, cap, error, match):
    with pytest.raises(error, match=match):
        DistributedDataParallel(_mlp() if module is None else module, bucket_cap_mb=cap)


def test_lazy_parameters_must_be_built_first():
    with pytest.raises(ValueError, match="parameter '0.weight' is not initialized yet"):
        DistributedDataParallel(nn.Sequential(nn.Linear(None, 2)))


@needs_mpi
def test_two_ranks_match_one_process():
    """SGD and Adam, one bucket and one bucket per parameter, no_sync accumulation: two ranks
    on halves of the batch end where one process on the whole batch does (1e-6, float64), with
    identical parameters on both ranks; every bucket starts before backward ends; gradient
    checkpointing (a backward inside the backward); a backward that raises half-way; a parameter
    used on one rank only; a different model on one rank raises on both, naming the difference."""
    proc = launch("ddp_worker.py", timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = [
        "sgd-cap25-micro1",
        "adam-cap25-micro1",
        "adam-cap0.0001-micro1",
        "sgd-cap0.0001-micro2",
        "adam-cap0.0001-micro1-checkpoint",
        "raised",
        "unused",
        "mismatch",
    ]
    for rank in (0, 1):
        for name in names:
            assert f"rank {rank} ok {name}" in proc.stdout, proc.stdout + proc.stderr


@needs_mpi
@pytest.mark.parametrize(
    "where, what",
    [
        ("backward", "DistributedDataParallel: the gradient all-reduce: timed out after 2 s"),
        ("zero", "ZeroRedundancyOptimizer: the parameter broadcast: timed out after 2 s"),
    ],
)
def test_a_dead_rank_makes_backward_and_step_raise_within_the_timeout(where, what):
    """Rank 1 crashes (ends without MPI_Finalize; mpiexec told not to clean up) before its
    backward, or before ZeroRedundancyOptimizer's broadcast: rank 0 raises after its 2 s timeout
    and ends the job (the 60 s limit only guards against a hang of the test itself)."""
    proc = launch("ddp_worker.py", "dead", where, flags=("-disable-auto-cleanup",), timeout=60)
    assert proc.returncode != 0
    assert f"rank 0 error: {what} on rank 0" in proc.stdout, proc.stdout + proc.stderr
    assert "no error" not in proc.stdout + proc.stderr
