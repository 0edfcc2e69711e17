"""Run by test_ddp.py under ``mpiexec -n 2``: every check prints ``rank R ok NAME`` or raises.

Each rank trains on its half of a fixed global batch; a reference model trained in this same process
on the whole batch (mean loss) from rank 0's initial parameters must end with the same parameters.
"""

from __future__ import annotations

import sys

import numpy as np

import zerograd as zg
import zerograd.distributed as dist
import zerograd.nn as nn
import zerograd.nn.functional as F
from zerograd.distributed import DistributedDataParallel
from zerograd.nn.utils import checkpoint

STEPS = 5


class Boom(zg.autograd.Function):
    def forward(self, x):
        return x

    def backward(self, gy):
        raise RuntimeError("boom")


class MLP(nn.Module):
    def __init__(self, hidden=8, extra=False, ckpt=False):
        super().__init__()
        self.ckpt = ckpt
        self.fc1 = nn.Linear(3, hidden, dtype="float64")
        self.fc2 = nn.Linear(hidden, 2, dtype="float64")
        if extra:
            self.fc3 = nn.Linear(2, 2, dtype="float64")

    def forward(self, x):
        if self.ckpt:  # fc1's gradients arrive in a backward inside the backward
            h = checkpoint(lambda t: F.tanh(self.fc1(t)), x, params=self.fc1.parameters())
            return self.fc2(h)
        return self.fc2(F.tanh(self.fc1(x)))


def params(model):
    return {n: p.data.copy() for n, p in model.named_parameters()}


def batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)), rng.normal(size=(8, 2))


def train(model, make_opt, x, y, micro=1):
    opt = make_opt(model.parameters())
    for _ in range(STEPS):
        opt.zero_grad()
        xs, ys = np.split(x, micro), np.split(y, micro)
        for i, (xm, ym) in enumerate(zip(xs, ys)):
            last = i == micro - 1
            ctx = model.no_sync() if (not last and hasattr(model, "no_sync")) else _Null()
            with ctx:
                loss = F.mse_loss(model(zg.Tensor(xm)), zg.Tensor(ym)) / micro
                loss.backward()
        opt.step()
    return model


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def spy(ddp, started):
    finish = ddp._finish

    def wrapped():
        started.append(ddp._next)
        finish()

    return wrapped


def from_rank0(comm, a):
    buf = np.array(a, dtype=np.float64)
    comm.Bcast(buf, root=0)
    return buf


def check_equal_across_ranks(model, rank, comm):
    for n, p in model.named_parameters():
        assert np.array_equal(from_rank0(comm, p.data), p.data), f"rank {rank}: {n} differs"


def main():
    dist.init(timeout=60)
    rank, size = dist.get_rank(), dist.get_world_size()
    comm = dist.comm()
    assert size == 2, size
    x, y = batch()
    half = slice(rank * 4, rank * 4 + 4)
    optimizers = {
        "sgd": lambda ps: zg.optim.SGD(ps, lr=0.1, momentum=0.9),
        "adam": lambda ps: zg.optim.Adam(ps, lr=0.01),
    }
    cases = [("sgd", 25, 1, 0), ("adam", 25, 1, 0), ("adam", 1e-4, 1, 0), ("sgd", 1e-4, 2, 0)]
    cases += [("adam", 1e-4, 1, 1)]
    for opt_name, cap, micro, ckpt in cases:
        name = f"{opt_name}-cap{cap}-micro{micro}" + ("-checkpoint" if ckpt else "")
        zg.manual_seed(100 + rank)  # different initial values on each rank: DDP takes rank 0's
        ddp = DistributedDataParallel(MLP(ckpt=bool(ckpt)), bucket_cap_mb=cap)
        assert len(ddp._buckets) == (1 if cap == 25 else 4), len(ddp._buckets)
        ref = MLP()
        ref.load_state_dict(ddp.module.state_dict())
        started = []  # buckets already started by the hooks when backward ends: the overlap
        ddp.__dict__["_finish"] = spy(ddp, started)
        train(ddp, optimizers[opt_name], x[half], y[half], micro)
        assert started == [len(ddp._buckets)] * STEPS, started  # one sync per step, all early
        train(ref, optimizers[opt_name], x, y)
        for n, p in ddp.module.named_parameters():
            want = dict(ref.named_parameters())[n].data
            assert np.allclose(p.data, want, rtol=0, atol=1e-6), f"{name}: {n} differs"
        check_equal_across_ranks(ddp.module, rank, comm)
        print(f"rank {rank} ok {name}", flush=True)

    # a backward that raises half-way (some buckets started) leaves DDP usable on every rank
    zg.manual_seed(100 + rank)
    ddp = DistributedDataParallel(MLP(), bucket_cap_mb=1e-4)
    ref = MLP()
    ref.load_state_dict(ddp.module.state_dict())
    try:
        F.mse_loss(
            ddp.module.fc2(Boom.apply(ddp.module.fc1(zg.Tensor(x[half])))), zg.Tensor(y[half])
        ).backward()
    except RuntimeError as e:
        assert "boom" in str(e), e
    else:
        raise AssertionError("no error from Boom")
    assert ddp._queued is not None and ddp._next == 2, (ddp._queued, ddp._next)
    ddp.module.zero_grad()
    train(ddp, optimizers["sgd"], x[half], y[half])
    train(ref, optimizers["sgd"], x, y)
    for n, p in ddp.module.named_parameters():
        assert np.allclose(p.data, dict(ref.named_parameters())[n].data, rtol=0, atol=1e-6), n
    print(f"rank {rank} ok raised", flush=True)

    # a parameter used on one rank only gets the average over both ranks, the same everywhere
    zg.manual_seed(7)
    ddp = DistributedDataParallel(MLP(extra=True))
    out = ddp(zg.Tensor(x[half]))
    if rank == 0:
        out = ddp.module.fc3(out)
    out.sum().backward()
    assert ddp.module.fc3.weight.grad is not None
    g = ddp.module.fc3.weight.grad.data
    assert np.array_equal(from_rank0(comm, g), g) and np.abs(g).sum() > 0
    print(f"rank {rank} ok unused", flush=True)

    # every rank must build the same model
    try:
        DistributedDataParallel(MLP(hidden=8 if rank == 0 else 9))
    except ValueError as e:
        msg = str(e)
        assert "rank 1" in msg and "fc1.weight" in msg and "(8, 3)" in msg, msg
        print(f"rank {rank} ok mismatch", flush=True)
    else:
        raise AssertionError("no error for different models")
    dist.barrier()


def dead(where: str):
    """Rank 1 ends without MPI_Finalize (a crash) before its backward (``backward``) or before
    ZeRO's parameter broadcast (``zero``); rank 0's backward / step raises after the timeout."""
    import os

    from zerograd.distributed import ZeroRedundancyOptimizer

    dist.init(timeout=2)
    model = DistributedDataParallel(MLP())
    opt = ZeroRedundancyOptimizer(model.parameters(), zg.optim.Adam, lr=0.1)
    x, y = batch()
    loss = F.mse_loss(model(zg.Tensor(x)), zg.Tensor(y))
    if dist.get_rank() == 1 and where == "backward":
        os._exit(1)
    try:
        loss.backward()
        if dist.get_rank() == 1:
            os._exit(1)
        opt.step()
    except RuntimeError as e:
        print(f"rank {dist.get_rank()} error: {e}", flush=True)
        dist.comm().Abort(5)
    raise AssertionError("no error")


if __name__ == "__main__":
    sys.exit(dead(sys.argv[2]) if sys.argv[1:2] == ["dead"] else main())
