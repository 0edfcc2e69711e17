"""The MPI runtime: start-up, rank and world size, and waiting on requests with a deadline.

mpi4py is imported only by ``init()``: importing zerograd never starts MPI. Without mpi4py, or
in a plain ``python train.py`` (an MPI singleton), the world is one process of rank 0, so the
same training script runs with and without ``mpiexec``.
"""

from __future__ import annotations

import math
import time

_state: dict = {
    "initialized": False,
    "mpi": None,  # the mpi4py.MPI module, or None without mpi4py
    "comm": None,  # a duplicate of COMM_WORLD handed to users (comm())
    "private": None,  # a second duplicate for this package's own messages
    "rank": 0,
    "size": 1,
    "local_rank": 0,
    "timeout": 300.0,
    "broken": None,  # the message of a timed-out collective: the communicator is unusable
    "seq": 0,  # collectives issued so far (every rank counts the same)
}

_HINT = "call zerograd.distributed.init() first"
_SPIN_S = 0.5  # seconds a wait tests requests back to back before pausing between tests


def init(timeout: float | None = None) -> None:
    """Join the MPI job (``mpiexec -n 4 python train.py``, or Slurm's ``srun``).

    Idempotent: a second call only updates ``timeout``, when it is given. Without mpi4py installed
    the world is one process (rank 0 of 1), so training code runs unchanged without ``mpiexec``.

    Args:
        timeout: seconds a collective waits for every rank before it raises a RuntimeError naming
            the ranks that did not take part (a rank that died or hangs), instead of waiting
            forever (default 300; None keeps the value set before). The library never aborts
            the job: after such an error the caller decides (log, then ``comm().Abort(1)``);
            ``mpiexec`` keeps waiting for a hung rank until the job is aborted or killed.

    Example:
        >>> import zerograd.distributed as dist
        >>> dist.init(timeout=60)
        >>> dist.get_rank(), dist.get_world_size()
        (0, 1)
    """
    if timeout is None:
        timeout = _state["timeout"]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"init: timeout must be a number of seconds, received {timeout!r} "
            f"({type(timeout).__name__})"
        )
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"init: timeout must be a positive finite number, received {timeout!r}")
    _state["timeout"] = float(timeout)
    if _state["initialized"]:
        return
    try:
        from mpi4py import MPI
    except ImportError:  # no MPI: a world of one
        MPI = None
    if MPI is not None:
        world = MPI.COMM_WORLD
        node = world.Split_type(MPI.COMM_TYPE_SHARED, key=world.Get_rank())
        _state.update(
            mpi=MPI,
            comm=world.Dup(),
            private=world.Dup(),
            rank=world.Get_rank(),
            size=world.Get_size(),
            local_rank=node.Get_rank(),
        )
        node.Free()
    _state["initialized"] = True


def is_initialized() -> bool:
    """Whether ``init()`` has run in this process."""
    return _state["initialized"]


def _require(name: str) -> None:
    if not _state["initialized"]:
        raise RuntimeError(f"{name}: the distributed runtime is not initialized; {_HINT}")


def get_rank() -> int:
    """This process's rank in the job, 0 .. world size - 1."""
    _require("get_rank")
    return _state["rank"]


def get_world_size() -> int:
    """The number of processes in the job (1 without ``mpiexec``)."""
    _require("get_world_size")
    return _state["size"]


def get_local_rank() -> int:
    """This process's rank among the processes on its machine (MPI's shared-memory split); the
    index of its GPU on a multi-GPU machine."""
    _require("get_local_rank")
    return _state["local_rank"]


def timeout() -> float:
    """Seconds a collective waits for every rank before raising (set by ``init``)."""
    return _state["timeout"]


def comm():
    """The mpi4py communicator of the job (a duplicate of ``COMM_WORLD``, so messages sent on it
    never mix with this package's own), or None when running without mpi4py."""
    _require("comm")
    return _state["comm"]


def _check_usable(name: str) -> None:
    if _state["broken"] is not None:
        raise RuntimeError(
            f"{name}: the communicator is unusable after an earlier failure "
            f"({_state['broken']}); end the job (comm().Abort(1)) and restart it"
        )


def wait(name: str, requests, missing=None, testall=None) -> None:
    """Poll non-blocking ``requests`` until all complete, or raise after ``timeout()`` seconds.

    MPICH progresses messages only inside MPI calls, so the loop tests without pausing for the
    first ``_SPIN_S`` seconds, then pauses 1 ms between tests so a rank waiting on a slow or dead
    peer does not hold a core. Measured on 2 ranks, 16 MB float32: Iallreduce polled here 3.8 ms,
    with ``Wait()`` 4.0 ms; with a 1 us..1 ms growing pause between tests it took 20 ms.
    ``missing(done_flags)`` names the ranks that did not take part, for the error. ``testall``
    replaces MPI's ``Request.Testall`` for other kinds of requests (NCCL's events).
    """
    testall = testall or _state["mpi"].Request.Testall
    start = time.monotonic()
    deadline = start + _state["timeout"]
    while not testall(requests):
        now = time.monotonic()
        if now > deadline:
            break
        if now - start > _SPIN_S:
            time.sleep(1e-3)
    else:
        return
    flags = [bool(r.Test()) for r in requests]
    who = missing(flags) if missing is not None else None
    ranks = (
        f"rank(s) {', '.join(map(str, who))} did not take part"
        if who
        else "not every rank completed it"
    )
    message = (
        f"{name}: timed out after {_state['timeout']:g} s on rank {_state['rank']}: {ranks} "
        "(died, hung, or is in a different collective)"
    )
    _state["broken"] = message  # the pending requests are abandoned with the communicator
    raise RuntimeError(
        f"{message}. The library does not abort the job: call zerograd.distributed.comm()"
        ".Abort(1) (or end mpiexec) once the error is handled"
    )
