"""Run by test_nccl_interface.py under ``mpiexec -n 2``: the NCCL path on a machine without a GPU.

``zerograd.distributed.nccl`` reaches CuPy only through its ``_api()``; here that is replaced by a
stand-in with NCCL's interface (``NcclCommunicator.allReduce(sendptr, recvptr, count, datatype,
op, stream)``, ``bcast``, ``allGather``, ``reduceScatter``, ``abort``; events with ``record`` and
``done``) that runs each call over MPI on the host memory behind the pointers it is given. So the
pointers, element counts, NCCL data types and ops the library passes are what produce the results
checked below: a wrong count or type gives wrong numbers. Every NumPy array counts as a "device"
array, so the collectives and DistributedDataParallel take the NCCL path.

Prints ``rank R ok NAME`` per check; a failed check raises (non-zero exit).
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
import time
from types import SimpleNamespace

import numpy as np
from mpi4py import MPI

import zerograd as zg
import zerograd.distributed as dist
import zerograd.nn as nn
import zerograd.nn.functional as F
from zerograd.distributed import DistributedDataParallel, nccl

TYPES = ["int8", "uint8", "int32", "uint32", "int64", "uint64", "float16", "float32", "float64"]
OPS = {0: MPI.SUM, 1: MPI.MAX, 2: MPI.MIN}
CALLS: list = []  # (method, count, datatype) of every call the library made


class FakeNcclModule:
    """The constants and entry points of ``cupy.cuda.nccl`` the library uses."""

    NCCL_SUM, NCCL_MAX, NCCL_MIN = 0, 1, 2

    def __init__(self):
        for code, name in enumerate(TYPES):
            setattr(self, "NCCL_" + name.upper(), code)
        self.NcclCommunicator = FakeCommunicator

    @staticmethod
    def get_unique_id():
        return tuple(int(v) for v in np.random.default_rng().integers(-128, 128, 128))


def _view(ptr: int, count: int, code: int) -> np.ndarray:
    dtype = np.dtype(TYPES[code])
    raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(ptr)
    return np.frombuffer(raw, dtype=dtype)


class FakeCommunicator:
    last = None  # the MPI request of the latest call (what an event records)

    def __init__(self, ndev, uid, rank):
        world = MPI.COMM_WORLD
        assert ndev == world.Get_size() and rank == world.Get_rank(), (ndev, rank)
        ids = world.allgather(tuple(uid))
        assert all(i == ids[0] for i in ids), "ranks joined with different unique ids"
        self.comm = world.Dup()
        self.aborted = False

    def _done(self, name, count, datatype, request):
        CALLS.append((name, count, datatype))
        FakeCommunicator.last = request

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):  # noqa: N802
        recv = _view(recvbuf, count, datatype)
        send = MPI.IN_PLACE if sendbuf == recvbuf else _view(sendbuf, count, datatype)
        self._done("allReduce", count, datatype, self.comm.Iallreduce(send, recv, op=OPS[op]))

    def bcast(self, buff, count, datatype, root, stream):
        request = self.comm.Ibcast(_view(buff, count, datatype), root=root)
        self._done("bcast", count, datatype, request)

    def allGather(self, sendbuf, recvbuf, count, datatype, stream):  # noqa: N802
        size = self.comm.Get_size()
        send, recv = _view(sendbuf, count, datatype), _view(recvbuf, count * size, datatype)
        self._done("allGather", count, datatype, self.comm.Iallgather(send, recv))

    def reduceScatter(self, sendbuf, recvbuf, recvcount, datatype, op, stream):  # noqa: N802
        size = self.comm.Get_size()
        send = _view(sendbuf, recvcount * size, datatype)
        recv = _view(recvbuf, recvcount, datatype)
        request = self.comm.Ireduce_scatter_block(send, recv, op=OPS[op])
        self._done("reduceScatter", recvcount, datatype, request)

    def abort(self):
        self.aborted = True
        CALLS.append(("abort", 0, -1))


class FakeEvent:
    def __init__(self, block=False, disable_timing=True):
        self.request = None

    def record(self, stream):
        self.request = FakeCommunicator.last

    @property
    def done(self):
        return self.request is None or bool(self.request.Test())


API = SimpleNamespace(
    nccl=FakeNcclModule(),
    is_device=lambda a: isinstance(a, np.ndarray),
    pointer=lambda a: a.ctypes.data,
    stream=lambda: SimpleNamespace(ptr=0),
    event=FakeEvent,
    device=lambda a: contextlib.nullcontext(),
    xp=np,
)


def ok(name):
    print(f"rank {dist.get_rank()} ok {name}", flush=True)


def collectives():
    rank, size = dist.get_rank(), dist.get_world_size()
    base = np.random.default_rng(0).standard_normal((size, 4, 6))
    for dtype in ("float32", "float64", "int16", "int64", "complex128"):
        data = (base * 10).astype(dtype) if dtype[0] != "c" else base + 1j * base[::-1]
        for op, ref in (("sum", data.sum(0)), ("max", data.max(0)), ("min", data.min(0))):
            if dtype[0] == "c" and op != "sum":
                continue
            before = len(CALLS)
            got = dist.all_reduce(data[rank].copy(), op=op)
            assert CALLS[before][0] == "allReduce", CALLS[before:]
            assert got.dtype == data.dtype, (got.dtype, data.dtype)
            np.testing.assert_allclose(got, ref, rtol=1e-6)
    x = base[rank].astype(np.float32)
    mean = dist.all_reduce(x, op="mean")
    np.testing.assert_allclose(mean, base.mean(0), rtol=1e-6)
    buf = x.copy()
    assert dist.all_reduce(buf, op="sum", out=buf) is buf  # in place: send pointer == recv pointer
    np.testing.assert_allclose(buf, base.sum(0), rtol=1e-6)
    ok("all_reduce")
    words = (np.arange(12, dtype=np.uint16) + 100 * rank).reshape(3, 4)  # no NCCL type: bytes
    got = dist.broadcast(words, src=1)
    np.testing.assert_array_equal(got, np.arange(12, dtype=np.uint16).reshape(3, 4) + 100)
    assert CALLS[-1][0] == "bcast" and CALLS[-1][1] == words.nbytes
    t = dist.broadcast(zg.Tensor(x), src=0)
    np.testing.assert_array_equal(t.numpy(), base[0].astype(np.float32))
    ok("broadcast")
    got = dist.all_gather(x)
    for r in range(size):
        np.testing.assert_array_equal(got[r], base[r].astype(np.float32))
    into = np.empty((size, *x.shape), np.float32)
    assert dist.all_gather(x, out=into) is into
    np.testing.assert_array_equal(into, base.astype(np.float32))
    ok("all_gather")
    rows = np.random.default_rng(1).standard_normal((size, 2 * size, 3))
    got = dist.reduce_scatter(rows[rank], op="mean")
    np.testing.assert_allclose(got, rows.mean(0)[2 * rank : 2 * rank + 2], rtol=1e-12)
    assert CALLS[-1][0] == "reduceScatter" and CALLS[-1][1] == 2 * 3
    ok("reduce_scatter")


def ddp():
    rank, size = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))

    def build():
        zg.manual_seed(0)
        return nn.Sequential(
            nn.Linear(3, 8, dtype="float64"), nn.Tanh(), nn.Linear(8, 2, dtype="float64")
        )

    def train(model, xs, ys):
        opt = zg.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(5):
            opt.zero_grad()
            F.mse_loss(model(zg.Tensor(xs)), zg.Tensor(ys)).backward()
            opt.step()
        return model

    ref = train(build(), x, y)
    before = len(CALLS)
    model = DistributedDataParallel(build(), bucket_cap_mb=1e-4)  # several buckets
    shard = slice(rank * 8 // size, (rank + 1) * 8 // size)
    train(model, x[shard], y[shard])
    assert sum(c[0] == "allReduce" for c in CALLS[before:]) >= 5 * 2, CALLS[before:]
    for (name, p), q in zip(model.module.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=0, atol=1e-12, err_msg=name)
    ok("ddp")


def timeout():
    dist.init(timeout=1.5)
    a = np.ones(4, np.float32)
    dist.all_reduce(a, out=a)  # both ranks: the communicator exists
    if dist.get_rank() == 0:  # rank 1 joins this all-reduce only after rank 0's deadline
        try:
            nccl.wait("all_reduce", [nccl.all_reduce(a, a, "sum")])
        except RuntimeError as e:
            assert "timed out after 1.5 s on rank 0" in str(e), str(e)
            assert CALLS[-1][0] == "abort", CALLS[-3:]
            FakeCommunicator.last.Wait()  # the late partner completes it; nothing left pending
            ok("timeout")
            return
        raise AssertionError("the wait did not time out")
    time.sleep(4)
    nccl.wait("all_reduce", [nccl.all_reduce(a, a, "sum")])
    ok("timeout")


if __name__ == "__main__":
    nccl.install(API)
    dist.init(timeout=30)
    {"collectives": collectives, "ddp": ddp, "timeout": timeout}[sys.argv[1]]()
    sys.stdout.flush()
