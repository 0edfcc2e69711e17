"""NCCL through CuPy: the collectives on GPU arrays, without a copy through host memory.

When a collective (or ``DistributedDataParallel``'s gradient buckets) gets CuPy arrays and CuPy
was built with NCCL (``cupy.cuda.nccl``), the data moves GPU to GPU over NCCL; MPI still carries
the small header that checks the ranks agree, and starts the job. Without NCCL, GPU arrays are
staged through host memory and MPI (correct, slower).

The NCCL communicator is created on the first GPU collective: rank 0 draws NCCL's unique id,
MPI broadcasts it, every rank joins with the GPU its array lives on (one GPU per rank: pick it
with ``cupy.cuda.Device(dist.get_local_rank()).use()`` or ``model.to(f"cuda:{local_rank}")``).

Each call enqueues the NCCL operation on the current CUDA stream, records an event after it and
polls the event with the deadline of ``init(timeout=)``; a rank that died leaves the others'
NCCL kernels waiting, so on timeout the communicator is aborted (``ncclCommAbort``) and a
RuntimeError raised, as on the MPI path.

Everything this module needs from CuPy goes through ``_api()`` (the nccl module, the stream, the
event, an array's device pointer), so its calls are tested on machines without a GPU with a
stand-in that runs the same calls over MPI on host memory (tests/distributed/nccl_worker.py).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from zerograd import backend
from zerograd.distributed import runtime

_state: dict = {"api": None, "comm": None, "loaded": False}

# NumPy dtype -> the name of NCCL's data type constant
_TYPES = {
    "int8": "NCCL_INT8",
    "uint8": "NCCL_UINT8",
    "int32": "NCCL_INT32",
    "uint32": "NCCL_UINT32",
    "int64": "NCCL_INT64",
    "uint64": "NCCL_UINT64",
    "float16": "NCCL_FLOAT16",
    "float32": "NCCL_FLOAT32",
    "float64": "NCCL_FLOAT64",
}
_OPS = {"sum": "NCCL_SUM", "mean": "NCCL_SUM", "max": "NCCL_MAX", "min": "NCCL_MIN"}


def _cupy_api():
    """The CuPy pieces this module calls, or None when CuPy has no NCCL."""
    cupy = backend._cupy
    if cupy is None:
        return None
    try:
        from cupy.cuda import nccl
    except ImportError:
        return None
    if not getattr(nccl, "available", True):
        return None
    return SimpleNamespace(
        nccl=nccl,
        is_device=backend.is_device_array,
        pointer=lambda a: a.data.ptr,
        stream=lambda: cupy.cuda.get_current_stream(),
        event=cupy.cuda.Event,
        device=lambda a: cupy.cuda.Device(a.device.id),
        xp=cupy,
    )


def _api():
    if not _state["loaded"]:
        _state["api"], _state["loaded"] = _cupy_api(), True
    return _state["api"]


def install(api) -> None:
    """Use ``api`` (same attributes as ``_cupy_api()``'s) instead of CuPy's; None restores CuPy.
    For tests of this module's calls on machines without a GPU."""
    _state.update(api=api, loaded=api is not None, comm=None)


def handles(a) -> bool:
    """True when ``a`` is a GPU array the collectives move over NCCL."""
    if not _state["loaded"] and not backend.is_device_array(a):
        return False  # the common case (NumPy arrays) costs one isinstance check
    api = _api()
    return api is not None and api.is_device(a)


def _communicator(a):
    comm = _state["comm"]
    if comm is not None:
        return comm
    api, st = _api(), runtime._state
    uid = np.zeros(128, dtype=np.int64)
    if st["rank"] == 0:
        uid[:] = np.asarray(api.nccl.get_unique_id(), dtype=np.int64)
    request = st["private"].Ibcast(uid, root=0)
    runtime.wait("NCCL start-up (broadcast of the unique id)", [request])
    with api.device(a):
        comm = api.nccl.NcclCommunicator(st["size"], tuple(int(v) for v in uid), st["rank"])
    _state["comm"] = comm
    return comm


class Pending:
    """An enqueued NCCL operation: ``Test()`` is True once the event after it has completed."""

    __slots__ = ("event",)

    def __init__(self, event):
        self.event = event

    def Test(self) -> bool:  # noqa: N802 - the name mpi4py's requests use, so one wait serves both
        return bool(self.event.done)


def _enqueue(a, call) -> Pending:
    api = _api()
    comm = _communicator(a)
    stream = api.stream()
    with api.device(a):
        call(api, comm, stream.ptr)
        event = api.event(block=False, disable_timing=True)
        event.record(stream)
    return Pending(event)


def _wire(a, reduce: bool):
    """``a`` as NCCL sees it: (array, NCCL type name). Types NCCL lacks travel as bytes (copies,
    broadcasts) or as their float parts (complex sums); the collectives widen int16 first."""
    name = _TYPES.get(a.dtype.name)
    if name is not None:
        return a, name
    if a.dtype.kind == "c":
        return a.view(a.real.dtype), _TYPES[a.real.dtype.name]
    if reduce:
        raise TypeError(f"NCCL cannot reduce dtype {a.dtype}")
    return a.view(np.uint8), "NCCL_UINT8"


def reduce_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype NCCL reduces ``dtype`` in (16-bit integers are widened)."""
    return {"int16": np.dtype(np.int32), "uint16": np.dtype(np.uint32)}.get(dtype.name, dtype)


def _start(method: str, send, recv, reduce: bool, count_recv: bool, *extra) -> Pending:
    """Enqueue ``comm.METHOD(sendptr[, recvptr], count, datatype, *extra, stream)``, NCCL's
    calling convention; ``extra`` holds an op name (NCCL_SUM, ...) or the root rank. The count is
    of ``recv``'s elements when ``count_recv`` (reduce-scatter), else of ``send``'s."""
    s, kind = _wire(send, reduce)
    r = None if recv is None else _wire(recv, reduce)[0]
    count = r.size if count_recv else s.size

    def call(api, comm, stream):
        nccl = api.nccl
        pointers = [api.pointer(s)] + ([] if r is None else [api.pointer(r)])
        args = [getattr(nccl, e) if isinstance(e, str) else e for e in extra]
        getattr(comm, method)(*pointers, count, getattr(nccl, kind), *args, stream)

    return _enqueue(send, call)


def all_reduce(send, recv, op: str) -> Pending:
    """Enqueue ``recv = op(send over the ranks)``; ``recv`` may be ``send`` (in place)."""
    return _start("allReduce", send, recv, True, False, _OPS[op])


def broadcast(buf, root: int) -> Pending:
    """Enqueue the broadcast of ``root``'s ``buf`` into every rank's ``buf``."""
    return _start("bcast", buf, None, False, False, root)


def all_gather(send, recv) -> Pending:
    """Enqueue the gather of every rank's ``send`` into ``recv`` (ranks one after the other)."""
    return _start("allGather", send, recv, False, False)


def reduce_scatter(send, recv, op: str) -> Pending:
    """Enqueue ``recv`` = this rank's block of ``op(send over the ranks)``."""
    return _start("reduceScatter", send, recv, True, True, _OPS[op])


def wait(name: str, pending: list) -> None:
    """Wait for enqueued operations with the deadline of ``init(timeout=)``; on timeout abort the
    NCCL communicator (its kernels would wait for the missing rank forever) and raise."""
    try:
        runtime.wait(name, pending, testall=lambda rs: all(r.Test() for r in rs))
    except RuntimeError:
        comm, _state["comm"] = _state["comm"], None
        if comm is not None:
            comm.abort()
        raise
