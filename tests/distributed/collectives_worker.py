"""Run under ``mpiexec -n N python collectives_worker.py MODE`` by test_mpi_collectives.py.

MODE "checks": every collective against NumPy, the before-init error, mismatched inputs.
MODE "dead": the last rank leaves after init; every other rank's collective names it.
MODE "hung": rank 1 sleeps; rank 0's barrier names it, then rank 0 aborts the job.
Each rank prints "rank R OK" when all its checks pass (a failed assertion exits non-zero).
"""

import sys
import time

import numpy as np

import zerograd as zg
import zerograd.distributed as dist


def expect(error, fragments, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except error as e:
        for f in fragments:
            assert f in str(e), (f, str(e))
        return str(e)
    raise AssertionError(f"{fn.__name__} did not raise {error.__name__}")


def checks():
    expect(RuntimeError, ["all_reduce", "zerograd.distributed.init()"], dist.all_reduce, np.ones(2))
    dist.init(timeout=20)
    dist.init(timeout=20)  # idempotent
    rank, size = dist.get_rank(), dist.get_world_size()
    assert size >= 2 and 0 <= rank < size and dist.get_local_rank() == rank
    dist.barrier()
    # every rank's data, known to all: rank r holds base + r (values fixed by a shared seed)
    base = np.random.default_rng(0).standard_normal((size, 6, 3))
    mine = base[rank]
    for op, ref in (
        ("sum", base.sum(0)),
        ("mean", base.mean(0)),
        ("max", base.max(0)),
        ("min", base.min(0)),
    ):
        out = dist.all_reduce(mine, op=op)
        assert isinstance(out, np.ndarray) and out.dtype == np.float64
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
        t = dist.all_reduce(zg.Tensor(mine.astype(np.float32)), op=op)
        assert isinstance(t, zg.Tensor) and t.dtype == np.float32
        np.testing.assert_allclose(t.numpy(), ref, rtol=1e-5, atol=1e-5)
    ints = (np.arange(12).reshape(3, 4) * (rank + 1)).astype(np.int32)
    ref = sum(np.arange(12).reshape(3, 4) * (r + 1) for r in range(size))
    np.testing.assert_array_equal(dist.all_reduce(ints), ref)
    scalar = dist.all_reduce(np.array(float(rank)), op="max")
    assert scalar.shape == () and scalar == size - 1
    assert dist.all_reduce(np.zeros((0, 3))).shape == (0, 3)
    assert dist.broadcast(np.array(float(rank)), src=1).shape == ()
    assert dist.broadcast(np.array(float(rank)), src=1) == 1.0
    assert [g.shape for g in dist.all_gather(np.zeros((2, 0)))] == [(2, 0)] * size
    half = dist.all_reduce(mine.astype(np.float16), op="sum")
    assert half.dtype == np.float16
    np.testing.assert_allclose(half, base.astype(np.float16).astype(np.float32).sum(0), atol=1e-2)
    # broadcast from every source, Tensors and arrays, several dtypes
    for src in range(size):
        out = dist.broadcast(mine, src=src)
        np.testing.assert_array_equal(out, base[src])
        flags = dist.broadcast(np.array([rank == src, rank != src]), src=src)
        np.testing.assert_array_equal(flags, [True, False])
    t = dist.broadcast(zg.Tensor(mine.astype(np.float32)), src=size - 1)
    assert isinstance(t, zg.Tensor)
    np.testing.assert_array_equal(t.numpy(), base[size - 1].astype(np.float32))
    # all_gather: a list indexed by rank
    got = dist.all_gather(mine)
    assert isinstance(got, list) and len(got) == size
    for r in range(size):
        np.testing.assert_array_equal(got[r], base[r])
    got = dist.all_gather(zg.Tensor(np.int64(rank) * np.ones((2,), dtype=np.int64)))
    assert all(isinstance(g, zg.Tensor) for g in got)
    np.testing.assert_array_equal(
        np.stack([g.numpy() for g in got]), np.repeat(np.arange(size), 2).reshape(size, 2)
    )
    # reduce_scatter: rank r gets block r of the reduction along axis 0
    big = np.random.default_rng(1).standard_normal((size, 2 * size, 3))
    for op, red in (("sum", big.sum(0)), ("mean", big.mean(0)), ("max", big.max(0))):
        out = dist.reduce_scatter(big[rank], op=op)
        assert out.shape == (2, 3)
        np.testing.assert_allclose(out, red[2 * rank : 2 * rank + 2], rtol=1e-12)
    # out=: in place (MPI_IN_PLACE), into another array, into a Tensor (its version bumped)
    buf = mine.copy()
    assert dist.all_reduce(buf, op="sum", out=buf) is buf
    np.testing.assert_allclose(buf, base.sum(0), rtol=1e-12)
    half = mine.astype(np.float16)  # widened for MPI, written back into the float16 buffer
    assert dist.all_reduce(half, op="max", out=half) is half and half.dtype == np.float16
    np.testing.assert_array_equal(half, base.astype(np.float16).max(0))
    t = zg.Tensor(mine.copy())
    version = zg.versions.version(t.data)
    assert dist.all_reduce(t, op="mean", out=t) is t and zg.versions.version(t.data) > version
    np.testing.assert_allclose(t.numpy(), base.mean(0), rtol=1e-12)
    strided = np.zeros((6, 6))[:, ::2]  # not contiguous: reduced elsewhere, then copied in
    dist.all_reduce(mine, out=strided)
    np.testing.assert_allclose(strided, base.sum(0), rtol=1e-12)
    into = np.empty_like(mine)
    assert dist.broadcast(mine, src=size - 1, out=into) is into
    np.testing.assert_array_equal(into, base[size - 1])
    own = mine.copy()
    dist.broadcast(own, src=0, out=own)
    np.testing.assert_array_equal(own, base[0])
    gathered = np.empty((size, *mine.shape))
    assert dist.all_gather(mine, out=gathered) is gathered
    np.testing.assert_array_equal(gathered, base)
    block = np.empty((2, 3))
    assert dist.reduce_scatter(big[rank], op="sum", out=block) is block
    np.testing.assert_allclose(block, big.sum(0)[2 * rank : 2 * rank + 2], rtol=1e-12)
    # errors: every rank raises the same clear error, and the job stays usable
    bad = np.zeros(rank + 2, dtype=np.float32)
    msg = expect(
        ValueError,
        ["all_reduce", "rank 0: shape (2,) float32", "rank 1: shape (3,) float32"],
        dist.all_reduce,
        bad,
    )
    assert "same shape and dtype" in msg
    expect(
        ValueError,
        ["dtype", "rank 0: shape (2,) float32", "rank 1: shape (2,) float64"],
        dist.all_reduce,
        np.zeros(2, dtype=np.float32 if rank == 0 else np.float64),
    )
    expect(
        ValueError,
        ["disagree on the op", "rank 0: sum", "rank 1: max"],
        dist.all_reduce,
        np.zeros(2),
        op="sum" if rank == 0 else "max",
    )
    expect(
        ValueError,
        ["disagree on the collective", "rank 0: all_reduce", "rank 1: all_gather"],
        dist.all_reduce if rank == 0 else dist.all_gather,
        np.zeros(2),
    )
    expect(
        ValueError,
        ["divisible by the world size", f"({2 * size + 1}, 3)"],
        dist.reduce_scatter,
        np.zeros((2 * size + 1, 3)),
    )
    np.testing.assert_array_equal(dist.all_reduce(np.ones(3)), np.full(3, size))  # still usable
    dist.barrier()


def dead():
    dist.init(timeout=2)
    rank, last = dist.get_rank(), dist.get_world_size() - 1
    if rank == last:
        return  # leaves the job (MPI_Finalize at exit) without taking part
    msg = expect(
        RuntimeError,
        ["all_reduce", f"timed out after 2 s on rank {rank}", f"rank(s) {last} did not take part"],
        dist.all_reduce,
        np.ones(4),
    )
    expect(RuntimeError, ["broadcast", "unusable"], dist.broadcast, np.ones(4))
    print(msg, flush=True)


def hung():
    dist.init(timeout=2)
    if dist.get_rank() == 1:
        time.sleep(60)  # alive but never joins: mpiexec would wait for it
    else:
        try:
            dist.barrier()
        except RuntimeError as e:
            print(e, flush=True)
            dist.comm().Abort(3)  # the caller ends the job; the library never does
    raise AssertionError("unreachable: the job is aborted")


if __name__ == "__main__":
    {"checks": checks, "dead": dead, "hung": hung}[sys.argv[1]]()
    print(f"rank {dist.get_rank()} OK", flush=True)
