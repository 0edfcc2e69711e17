"""Run by test_zero.py under ``mpiexec -n 2``: every check prints ``rank R ok NAME`` or raises.

DistributedDataParallel + ZeroRedundancyOptimizer on halves of a fixed global batch must end where
one process with the plain optimizer on the whole batch does (1e-6, float64), with identical
parameters on both ranks and each rank holding the optimizer state of its share only.
"""

from __future__ import annotations

import sys

import numpy as np

import zerograd as zg
import zerograd.distributed as dist
import zerograd.nn as nn
import zerograd.nn.functional as F
from zerograd.distributed import DistributedDataParallel, ZeroRedundancyOptimizer

STEPS = 20


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 8, dtype="float64")
        self.fc2 = nn.Linear(8, 2, dtype="float64")

    def forward(self, x):
        return self.fc2(F.tanh(self.fc1(x)))


def batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)), rng.normal(size=(8, 2))


def train(model, opt, x, y, sched=None):
    for _ in range(STEPS):
        opt.zero_grad()
        F.mse_loss(model(zg.Tensor(x)), zg.Tensor(y)).backward()
        opt.step()
        if sched is not None:
            sched.step()


def moment_elements(opt) -> int:
    return sum(
        v.size for st in opt.state.values() for k, v in st.items() if k.startswith("exp_avg")
    )


def main():
    dist.init(timeout=60)
    rank, size = dist.get_rank(), dist.get_world_size()
    comm = dist.comm()
    assert size == 2, size
    x, y = batch()
    half = slice(rank * 4, rank * 4 + 4)
    cases = [
        ("adam", zg.optim.Adam, {"lr": 0.01}, False),
        ("adamw", zg.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}, False),
        ("adam-steplr", zg.optim.Adam, {"lr": 0.02}, True),
    ]
    for name, cls, kw, scheduled in cases:
        zg.manual_seed(100 + rank)  # different initial values on each rank: DDP takes rank 0's
        ddp = DistributedDataParallel(MLP())
        ref = MLP()
        ref.load_state_dict(ddp.module.state_dict())
        opt = ZeroRedundancyOptimizer(ddp.parameters(), cls, **kw)
        ref_opt = cls(ref.parameters(), **kw)
        sched = zg.optim.lr_scheduler.StepLR(opt, 5, 0.5) if scheduled else None
        ref_sched = zg.optim.lr_scheduler.StepLR(ref_opt, 5, 0.5) if scheduled else None
        train(ddp, opt, x[half], y[half], sched)
        train(ref, ref_opt, x, y, ref_sched)
        if scheduled:
            assert opt.param_groups[0]["lr"] == kw["lr"] * 0.5**4  # set after the last step
            assert opt.optim.param_groups[0]["lr"] == kw["lr"] * 0.5**3  # used by the last step
        for n, p in ddp.module.named_parameters():
            want = dict(ref.named_parameters())[n].data
            assert np.allclose(p.data, want, rtol=0, atol=1e-6), f"{name}: {n} differs"
            got = np.array(p.data)
            comm.Bcast(got, root=0)
            assert np.array_equal(got, p.data), f"rank {rank}: {n} differs across ranks"
        mine, full = moment_elements(opt.optim), moment_elements(ref_opt)
        counts = np.zeros(2, dtype=np.int64)
        comm.Allgather(np.array([mine], dtype=np.int64), counts)
        assert counts.sum() == full == 2 * sum(p.data.size for p in ref.parameters()), counts
        assert counts.max() <= 0.6 * full, counts  # about half each
        owned = {id(p) for p in opt.owned()}
        assert {id(p) for p in opt.optim.state} == owned
        if name == "adam":
            print(f"rank {rank} moments {mine} of {full} elements", flush=True)
            sd = opt.state_dict()  # this rank's shard, reloaded into a fresh optimizer
            again = ZeroRedundancyOptimizer(ddp.parameters(), cls, **kw)
            again.load_state_dict(sd)
            for p in opt.owned():
                for k, v in opt.optim.state[p].items():
                    assert np.array_equal(again.optim.state[p][k], v), k
            assert set(sd["state"]) == {i for i, p in enumerate(ddp.parameters()) if id(p) in owned}
            # every shard gathered on rank 1: the whole state, as the one-process optimizer's
            opt.consolidate_state_dict(to=1)
            whole, ref_sd = opt.state_dict(), ref_opt.state_dict()
            if rank == 1:
                assert sorted(whole["state"]) == sorted(ref_sd["state"]), sorted(whole["state"])
                for i, st in ref_sd["state"].items():
                    for k, v in st.items():
                        assert np.allclose(whole["state"][i][k], v, rtol=0, atol=1e-6), (i, k)
                plain = cls(MLP().parameters(), **kw)
                plain.load_state_dict(whole)  # loads into a plain optimizer over all of them
            else:
                assert set(whole["state"]) == set(sd["state"])  # rank 0 keeps its shard
            print(f"rank {rank} ok consolidate", flush=True)
        print(f"rank {rank} ok {name}", flush=True)
    dist.barrier()


if __name__ == "__main__":
    sys.exit(main())
