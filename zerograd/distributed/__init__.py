"""Data-parallel training over MPI (``zerograd.distributed``).

Start the job the way clusters do, ``mpiexec -n 4 python train.py`` (or Slurm's ``srun``), and
call ``init()`` once; without ``mpiexec`` (or without mpi4py) the world is one process, so the
same script runs on a laptop. ``pip install zerograd[mpi]`` installs mpi4py and the mpich wheel.

Failures raise instead of hanging: a collective before ``init()`` (RuntimeError), ranks passing
different shapes or dtypes (ValueError naming the ranks and shapes), and a rank that died or hangs
(RuntimeError naming it after ``init(timeout=)`` seconds). The library never aborts the job after
such an error; the caller ends it (``comm().Abort(1)``), otherwise ``mpiexec`` waits for the
ranks still running.

Example:
    >>> import zerograd.distributed as dist
    >>> dist.init()
    >>> total = dist.all_reduce(zg.tensor([1.0]), op="sum")   # the sum over the ranks
"""

from zerograd.distributed.collectives import (
    all_gather,
    all_reduce,
    barrier,
    broadcast,
    reduce_scatter,
)
from zerograd.distributed.runtime import (
    comm,
    get_local_rank,
    get_rank,
    get_world_size,
    init,
    is_initialized,
    timeout,
)

__all__ = [
    "all_gather",
    "all_reduce",
    "barrier",
    "broadcast",
    "comm",
    "get_local_rank",
    "get_rank",
    "get_world_size",
    "init",
    "is_initialized",
    "reduce_scatter",
    "timeout",
]

# built on the above
from zerograd.distributed.ddp import DistributedDataParallel  # noqa: E402
from zerograd.distributed.zero import ZeroRedundancyOptimizer  # noqa: E402

__all__ += ["DistributedDataParallel", "ZeroRedundancyOptimizer"]
