"""ZeroRedundancyOptimizer: one process (no mpiexec), and two ranks under ``mpiexec -n 2``."""

from __future__ import annotations

import numpy as np
import pytest

import zerograd as zg
import zerograd.nn as nn
import zerograd.nn.functional as F
from tests.distributed.launch import launch, needs_mpi
from zerograd.distributed import ZeroRedundancyOptimizer
from zerograd.distributed.zero import partition


def _mlp():
    zg.manual_seed(0)
    return nn.Sequential(
        nn.Linear(3, 5, dtype="float64"), nn.Tanh(), nn.Linear(5, 2, dtype="float64")
    )


def _train(model, opt, sched=None, steps=6):
    x, y = zg.Tensor(np.linspace(-1, 1, 18).reshape(6, 3)), zg.Tensor(np.ones((6, 2)))
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()
        if sched is not None:
            sched.step()


@pytest.mark.parametrize("cls", [zg.optim.Adam, zg.optim.AdamW, zg.optim.SGD])
def test_one_process_is_the_inner_optimizer(cls):
    a, b = _mlp(), _mlp()
    plain = cls(a.parameters(), lr=0.05)
    zero = ZeroRedundancyOptimizer(b.parameters(), cls, lr=0.05)
    assert zero.world_size == 1 and type(zero.optim) is cls
    assert len(zero.owned()) == len(list(b.parameters()))
    sa = zg.optim.lr_scheduler.StepLR(plain, 2, 0.5)
    sb = zg.optim.lr_scheduler.StepLR(zero, 2, 0.5)
    _train(a, plain, sa)
    _train(b, zero, sb)
    for p, q in zip(a.parameters(), b.parameters()):
        assert np.array_equal(p.data, q.data)
    assert zero.optim.param_groups[0]["lr"] == 0.05 * 0.5**2  # the scheduler reached it
    sd = zero.state_dict()
    ref = plain.state_dict()
    assert sd["state"].keys() == ref["state"].keys()
    for i, st in ref["state"].items():
        for k, v in st.items():
            assert np.array_equal(sd["state"][i][k], v), k
    again = ZeroRedundancyOptimizer(_mlp().parameters(), cls, lr=0.05)
    again.load_state_dict(sd)
    assert again.param_groups[0]["lr"] == zero.param_groups[0]["lr"]
    assert again.optim.param_groups[0]["lr"] == zero.param_groups[0]["lr"]


def test_partition_is_greedy_balanced_and_deterministic():
    sizes = [24, 8, 16, 2]
    assert partition(sizes, 2) == [0, 1, 1, 0]  # loads 26 and 24
    assert partition(sizes, 2) == partition(list(sizes), 2)
    assert partition([5, 5, 5], 4) == [0, 1, 2]  # a rank may own nothing
    loads = [0, 10]
    assert partition([3], 2, loads) == [0] and loads == [3, 10]


def test_param_groups_and_add_param_group():
    model = _mlp()
    w, b = model[0].parameters(), model[2].parameters()
    zero = ZeroRedundancyOptimizer([{"params": w, "lr": 0.1}], zg.optim.Adam, lr=0.01)
    zero.add_param_group({"params": b})
    assert [g["lr"] for g in zero.param_groups] == [0.1, 0.01]
    assert [g["lr"] for g in zero.optim.param_groups] == [0.1, 0.01]
    assert zero.param_groups[1]["betas"] == (0.9, 0.999)


@pytest.mark.parametrize(
    "cls, kw, error, match",
    [
        ("adam", {}, TypeError, "optimizer_class must be a zerograd.optim.Optimizer subclass"),
        (ZeroRedundancyOptimizer, {}, TypeError, "cannot be ZeroRedundancyOptimizer"),
        (zg.optim.Adam, {"lr": -1.0}, ValueError, "Adam: lr must be"),
    ],
)
def test_bad_arguments(cls, kw, error, match):
    with pytest.raises(error, match=match):
        ZeroRedundancyOptimizer(_mlp().parameters(), cls, **kw)


def test_load_state_dict_checks_the_groups():
    zero = ZeroRedundancyOptimizer(_mlp().parameters(), zg.optim.Adam)
    with pytest.raises(ValueError, match=r"expected sizes \[4\], received \[2\]"):
        zero.load_state_dict({"state": {}, "param_groups": [{"params": [0, 1]}]})


@needs_mpi
def test_two_ranks_match_one_process():
    """DDP + ZeroRedundancyOptimizer (Adam, AdamW, Adam with StepLR) on two ranks for 20 steps
    ends where one process with the plain optimizer on the whole batch does (1e-6, float64), with
    identical parameters on both ranks and each rank holding the moments of its share only (52
    and 48 of 100 elements); a rank's state_dict shard reloads; consolidate_state_dict(to=1) gives
    rank 1 the whole state, equal to the one-process optimizer's and loadable into it."""
    proc = launch("zero_worker.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for rank in (0, 1):
        for name in ("adam", "consolidate", "adamw", "adam-steplr"):
            assert f"rank {rank} ok {name}" in proc.stdout, proc.stdout + proc.stderr
    assert "rank 0 moments 52 of 100 elements" in proc.stdout
    assert "rank 1 moments 48 of 100 elements" in proc.stdout


def test_consolidate_in_one_process_is_the_whole_state():
    model = zg.nn.Linear(3, 2)
    opt = ZeroRedundancyOptimizer(model.parameters(), zg.optim.Adam, lr=0.1)
    model(zg.Tensor(np.ones((4, 3), np.float32))).sum().backward()
    opt.step()
    opt.consolidate_state_dict()
    whole = opt.state_dict()
    assert sorted(whole["state"]) == [0, 1]
    with pytest.raises(ValueError, match=r"consolidate_state_dict: to must be a rank in \[0, 1\)"):
        opt.consolidate_state_dict(to=1)
    with pytest.raises(TypeError, match="to must be an integer rank, received 'x'"):
        opt.consolidate_state_dict(to="x")
