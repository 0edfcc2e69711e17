"""Data-parallel benchmarks: ``python -m benchmarks.ddp [--ranks 2] [--json]`` (part of ``make bench``).

Three measurements, each in fresh ``mpiexec -n R`` processes started from here:

- ``bandwidth``: the all-reduce of 1, 16 and 64 MB float32 buffers, three ways: mpi4py's own
  ``Allreduce(IN_PLACE)`` on a NumPy array (the limit), ``zerograd.distributed.all_reduce(x,
  out=x)`` (in place) and ``all_reduce(x)`` (a new array). Median time of repeated calls, and the
  bus bandwidth 2 (R - 1) / R * bytes / time (what each rank sends and receives in a ring
  all-reduce; the convention of nccl-tests).
- ``step``: one AdamW step of the ``gpt_train`` model (4 layers, d 256, context 128) at a batch of 4
  per rank: one rank alone (the others wait), every rank training alone at the same time (no
  communication: what sharing the machine costs), and ``DistributedDataParallel`` with buckets of
  2 MB (all-reduces overlap the backward) and with one bucket for the whole model (the
  all-reduce starts when backward ends: no overlap).
- ``memory``: per-rank peak memory of three DDP steps of ``gpt_train`` (batch 4 per rank) with
  ``AdamW`` and with ``ZeroRedundancyOptimizer(AdamW)``, and the optimizer state each rank holds.

Every rank runs with ``OMP_NUM_THREADS=1`` and ``NUMBA_NUM_THREADS=1`` unless they are set: on a
machine with fewer cores than ranks x threads, the ranks would fight over the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

SIZES_MB = (1, 16, 64)
WARMUP = 3  # calls before timing (first steps allocate, load kernels, fault pages in)
PER_RANK_BATCH = 4


# --- run inside mpiexec ------------------------------------------------------------------------
def _timed(fn, repeat: int, barrier) -> float:
    """Median seconds of ``fn()`` over ``repeat`` calls (after ``WARMUP``), ranks aligned by a
    barrier before each call; the time of the slowest rank is what counts, so rank 0 reports the
    maximum over the ranks of each call's time."""
    from zerograd import distributed as dist

    for _ in range(WARMUP):
        fn()
    times = []
    for _ in range(repeat):
        barrier()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    slowest = dist.all_reduce(np.array(times), op="max")
    return float(statistics.median(slowest))


def _bandwidth() -> list:
    from mpi4py import MPI

    from zerograd import distributed as dist

    dist.init()
    comm, size = dist.comm(), dist.get_world_size()
    rows = []
    for mb in SIZES_MB:
        n = mb * 2**20 // 4
        x = np.ones(n, np.float32)
        repeat = 30 if mb == 1 else (10 if mb == 16 else 5)
        ways = {
            "mpi4py Allreduce": lambda x=x: comm.Allreduce(MPI.IN_PLACE, x, op=MPI.SUM),
            "all_reduce(out=x)": lambda x=x: dist.all_reduce(x, out=x),
            "all_reduce(x)": lambda x=x: dist.all_reduce(x),
        }
        for way, fn in ways.items():
            x[:] = 1
            t = _timed(fn, repeat, dist.barrier)
            busbw = 2 * (size - 1) / size * x.nbytes / t / 1e9
            rows.append({"part": "bandwidth", "mb": mb, "way": way, "ms": t * 1e3, "GBps": busbw})
    return rows


def _gpt(batch: int):
    """The ``gpt_train`` model (the same initial weights on every rank) and ``batch`` rows."""
    import zerograd as zg
    from benchmarks.memory import SHAPE, gpt_model

    zg.manual_seed(0)
    return gpt_model({**SHAPE, "batch": batch})


def _steps() -> list:
    import zerograd as zg
    from benchmarks.memory import train_step
    from zerograd import distributed as dist
    from zerograd.distributed import DistributedDataParallel

    dist.init()
    rank = dist.get_rank()
    repeat = 10
    rows = []
    model, ids = _gpt(PER_RANK_BATCH)
    nbytes = sum(p.data.nbytes for p in model.parameters())

    def record(how, seconds):
        rows.append({"part": "step", "how": how, "ms": seconds * 1e3, "params_mb": nbytes / 2**20})

    # one rank alone: rank 0 trains, the others wait in a barrier that sleeps between polls
    step = train_step(model, zg.optim.AdamW(model.parameters(), lr=1e-4), ids)
    times = []
    if rank == 0:
        for _ in range(WARMUP):
            step()
        for _ in range(repeat):
            t = time.perf_counter()
            step()
            times.append(time.perf_counter() - t)
    dist.barrier()
    record("1 rank alone", statistics.median(times) if rank == 0 else 0.0)
    # every rank alone at the same time: no communication, the machine shared
    record("each rank alone, together", _timed(step, repeat, dist.barrier))
    for how, cap in (("DDP, 2 MB buckets (overlap)", 2), ("DDP, one bucket (no overlap)", 1e4)):
        m, _ = _gpt(PER_RANK_BATCH)
        ddp = DistributedDataParallel(m, bucket_cap_mb=cap)
        record(
            how + f" [{len(ddp._buckets)} buckets]",
            _timed(
                train_step(ddp, zg.optim.AdamW(ddp.parameters(), lr=1e-4), ids),
                repeat,
                dist.barrier,
            ),
        )
    return rows


def _memory(zero: bool) -> list:
    import zerograd as zg
    from benchmarks.memory import TINY, _gpt_train_zerograd, _reset_peak, _status, train_step
    from zerograd import distributed as dist
    from zerograd.distributed import DistributedDataParallel, ZeroRedundancyOptimizer

    dist.init()
    _gpt_train_zerograd(steps=1, shape=TINY)  # lazy set-up is not memory of the steps
    _reset_peak()
    before = _status()["VmRSS"]
    model, ids = _gpt(PER_RANK_BATCH)
    ddp = DistributedDataParallel(model, bucket_cap_mb=2)
    if zero:
        opt = ZeroRedundancyOptimizer(ddp.parameters(), zg.optim.AdamW, lr=1e-4)
        inner = opt.optim
    else:
        opt = inner = zg.optim.AdamW(ddp.parameters(), lr=1e-4)
    step = train_step(ddp, opt, ids)
    for _ in range(3):
        step()
    peak = _status()["VmHWM"] - before
    state = sum(
        v.nbytes for st in inner.state.values() for v in st.values() if hasattr(v, "nbytes")
    )
    peaks = dist.all_gather(np.array([peak, state], dtype=np.int64))
    how = "ZeRO-1 AdamW" if zero else "AdamW"
    return [
        {
            "part": "memory",
            "how": how,
            "rank": r,
            "peak_mib": int(p[0]) / 2**20,
            "optimizer_state_mib": int(p[1]) / 2**20,
        }
        for r, p in enumerate(peaks)
    ]


def _worker(part: str) -> None:
    from zerograd import distributed as dist

    rows = {
        "bandwidth": _bandwidth,
        "step": _steps,
        "memory": lambda: _memory(False),
        "memory-zero": lambda: _memory(True),
    }[part]()
    if dist.get_rank() == 0:
        for row in rows:
            print("ROW " + json.dumps(row), flush=True)


# --- the launcher ------------------------------------------------------------------------------
def _mpiexec() -> str:
    here = shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    found = here or shutil.which("mpiexec")
    if found is None:
        raise SystemExit("benchmarks.ddp: needs mpiexec (pip install zerograd[mpi])")
    return found


def run(part: str, ranks: int) -> list:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for name in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):  # one core per rank
        env.setdefault(name, "1")
    cmd = [_mpiexec(), "-n", str(ranks), sys.executable, "-m", "benchmarks.ddp", "--worker", part]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if r.returncode:
        raise SystemExit(f"benchmarks.ddp: {part} failed:\n{r.stdout}\n{r.stderr}")
    return [json.loads(line[4:]) for line in r.stdout.splitlines() if line.startswith("ROW ")]


def _print(rows: list, ranks: int) -> None:
    threads = {n: os.environ.get(n, "1") for n in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS")}
    print(f"\nddp: {ranks} ranks, " + ", ".join(f"{k}={v}" for k, v in threads.items()))
    print(f"{'all-reduce':<22}{'MB':>5}{'ms':>10}{'bus GB/s':>10}")
    for r in rows:
        if r["part"] == "bandwidth":
            print(f"{r['way']:<22}{r['mb']:>5}{r['ms']:>10.2f}{r['GBps']:>10.2f}")
    steps = [r for r in rows if r["part"] == "step"]
    if steps:
        base = steps[0]["ms"]
        print(f"\n{'gpt_train step, batch 4 per rank':<46}{'ms':>9}{'vs 1 rank':>11}")
        for r in steps:
            print(f"{r['how']:<46}{r['ms']:>9.1f}{r['ms'] / base:>11.2f}")
    mem = [r for r in rows if r["part"] == "memory"]
    if mem:
        print(f"\n{'gpt_train, 3 DDP steps':<22}{'rank':>5}{'peak MiB':>10}{'opt state MiB':>15}")
        for r in mem:
            print(
                f"{r['how']:<22}{r['rank']:>5}{r['peak_mib']:>10.1f}{r['optimizer_state_mib']:>15.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ddp")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--only", action="append", choices=["bandwidth", "step", "memory"], help="repeatable"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker)
        return
    rows = []
    for part in args.only or ["bandwidth", "step", "memory"]:
        for p in ["memory", "memory-zero"] if part == "memory" else [part]:
            rows += run(p, args.ranks)
    if args.json:
        for r in rows:
            print(json.dumps(r))
    else:
        _print(rows, args.ranks)


if __name__ == "__main__":
    main()
