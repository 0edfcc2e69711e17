"""DistributedDataParallel: one model replica per MPI rank, gradients averaged during backward.

Each rank runs the same model on its share of the global batch. At wrap time every rank checks that
all ranks hold the same parameters and buffers (names, shapes, dtypes), then takes rank 0's values.
During ``backward`` the gradients are averaged across ranks, in buckets:

- the parameters, in reverse registration order (roughly the order backward reaches them), are
  grouped into buckets of at most ``bucket_cap_mb`` MB (one dtype per bucket);
- every parameter holds a post-accumulate-grad hook (``zerograd.autograd_hooks``): the engine calls it
  once its gradient of this backward is complete. When the last gradient of a bucket arrives, the
  bucket is copied into a flat NumPy buffer and its non-blocking ``Iallreduce`` starts, so the
  communication overlaps the backward of the layers below (MPICH moves a message on only inside
  MPI calls, so every later hook tests the started requests once). Buckets are started in one
  fixed order on every rank (MPI needs collectives in the same order everywhere);
- the first hook of a backward queues a callback on the engine (``autograd_hooks.queue_callback``),
  which runs when ``backward`` finishes: it starts the buckets not yet started (parameters that got
  no gradient), waits for every request and writes the averages into ``p.grad``. So when
  ``loss.backward()`` returns, the gradients are averaged and any optimizer can step.

A flat buffer carries one extra element per parameter, 1 when that rank has a gradient for it: a
parameter no rank used keeps ``grad=None`` (as in one process), one used by some ranks gets the
average over all ranks (missing gradients count as zeros), the same on every rank.

``no_sync()`` skips the communication (gradient accumulation); the next backward outside it averages
the accumulated gradients. With one rank (no ``mpiexec``) nothing is communicated at all.
"""

from __future__ import annotations

import contextlib
import json

import numpy as np

from zerograd import autograd_hooks, backend
from zerograd import distributed as dist
from zerograd.distributed import nccl, runtime
from zerograd.nn.module import Module
from zerograd.tensor import Tensor


def _wait(requests: list, what: str) -> None:
    """Wait for MPI requests (or NCCL's); after ``init(timeout=)`` seconds raise instead of
    hanging."""
    requests = [r for r in requests if r is not None]
    gpu = [r for r in requests if isinstance(r, nccl.Pending)]
    if gpu:
        nccl.wait(f"DistributedDataParallel: {what}", gpu)
    requests = [r for r in requests if not isinstance(r, nccl.Pending)]
    if requests:
        runtime.wait(f"DistributedDataParallel: {what}", requests)


def _allgather_json(comm, obj) -> list:
    """Every rank's ``obj`` (JSON-serialisable), gathered on every rank, over byte buffers."""
    from mpi4py import MPI

    data = np.frombuffer(json.dumps(obj).encode(), dtype=np.uint8)
    sizes = np.zeros(comm.Get_size(), dtype=np.int64)
    _wait([comm.Iallgather(np.array([data.size], dtype=np.int64), sizes)], "the model check")
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    out = np.empty(max(int(sizes.sum()), 1), dtype=np.uint8)
    request = comm.Iallgatherv(data, [out, (sizes, displs), MPI.UNSIGNED_CHAR])
    _wait([request], "the model check")
    return [json.loads(out[d : d + s].tobytes()) for d, s in zip(displs, sizes)]


def _describe(module: Module) -> list:
    desc = [["parameter", n, list(p.shape), str(p.dtype)] for n, p in module.named_parameters()]
    return desc + [["buffer", n, list(b.shape), str(b.dtype)] for n, b in module.named_buffers()]


def _first_difference(descs: list) -> str | None:
    """A sentence naming the first entry where some rank differs from rank 0, or None."""

    def show(entry):
        kind, name, shape, dtype = entry
        return f"{kind} '{name}' of shape {tuple(shape)} and dtype {dtype}"

    ref = descs[0]
    for rank, desc in enumerate(descs[1:], start=1):
        for i in range(max(len(ref), len(desc))):
            a = ref[i] if i < len(ref) else None
            b = desc[i] if i < len(desc) else None
            if a == b:
                continue
            left = show(a) if a is not None else "nothing"
            right = show(b) if b is not None else "nothing"
            return (
                f"entry {i} differs between ranks: rank 0 has {left}, rank {rank} has {right} "
                f"(rank 0 has {len(ref)} parameters and buffers, rank {rank} has {len(desc)})"
            )
    return None


class _Bucket:
    __slots__ = ("params", "offsets", "flat", "ready", "request")

    def __init__(self, params: list):
        self.params = params
        self.offsets = np.cumsum([0] + [p.data.size for p in params])
        # the gradients, then one has-a-gradient flag per parameter, on the parameters' device
        xp = backend.namespace(params[0].data)
        self.flat = xp.zeros(int(self.offsets[-1]) + len(params), dtype=params[0].dtype)
        self.ready: set = set()  # ids of the parameters whose gradient is complete
        self.request = None


class DistributedDataParallel(Module):
    """Data-parallel training over MPI: wraps ``module``, averages its gradients across ranks.

    Args:
        module: the model (a ``zerograd.nn.Module``); the same model must be built on every rank.
        bucket_cap_mb: the most megabytes of gradients all-reduced together (default 25).

    Start the script with ``mpiexec -n N python train.py``; ``zerograd.distributed.init()`` is called
    if it was not. ``ddp(x)`` runs ``module(x)``; ``ddp.module`` is the model; ``state_dict()`` keys
    start with ``module.`` (as in PyTorch).

    Example:
        >>> model = DistributedDataParallel(MLP())
        >>> loss = F.mse_loss(model(x_shard), y_shard)
        >>> loss.backward()  # gradients averaged over the ranks when this returns
        >>> opt.step()
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(
                "DistributedDataParallel: module must be a zerograd.nn.Module, "
                f"received {type(module).__name__}"
            )
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)):
            raise TypeError(
                "DistributedDataParallel: bucket_cap_mb must be a number, "
                f"received {type(bucket_cap_mb).__name__}"
            )
        if not bucket_cap_mb > 0:
            raise ValueError(
                f"DistributedDataParallel: bucket_cap_mb must be positive, received {bucket_cap_mb}"
            )
        for name, p in module.named_parameters():
            if p.data is None:
                raise ValueError(
                    f"DistributedDataParallel: parameter '{name}' is not initialized yet (a lazy "
                    "layer learns its shape on the first call); run one forward before wrapping"
                )
        self.module = module
        d = self.__dict__
        d["bucket_cap_mb"] = bucket_cap_mb
        d["_sync"], d["_buckets"], d["_handles"], d["_next"] = True, [], [], 0
        d["_queued"] = None  # the backward (autograd_hooks.generation) whose sync is under way
        if not dist.is_initialized():
            dist.init()
        d["world_size"] = dist.get_world_size()
        if self.world_size == 1:
            return
        d["_comm"], request = dist.comm().Idup()  # its own: never meets the user's collectives
        _wait([request], "duplicating the communicator")
        self._check_same_model()
        self._broadcast_state()
        self._build_buckets()

    # --- wrap time -----------------------------------------------------------------------------
    def _check_same_model(self) -> None:
        problem = _first_difference(_allgather_json(self._comm, _describe(self.module)))
        if problem is not None:
            raise ValueError(
                f"DistributedDataParallel: every rank must build the same model; {problem}"
            )

    def _broadcast_state(self) -> None:
        comm, requests, targets = self._comm, [], []
        tensors = [p for _, p in self.module.named_parameters()]
        tensors += [b for _, b in self.module.named_buffers()]
        for t in tensors:
            buf = np.ascontiguousarray(t.data)
            requests.append(comm.Ibcast(buf, root=0))
            targets.append((t, buf))
        _wait(requests, "the broadcast of rank 0's parameters")
        for t, buf in targets:
            if buf is not t.data:
                t.data[...] = buf

    def _build_buckets(self) -> None:
        cap = self.bucket_cap_mb * 2**20
        params = [p for _, p in self.module.named_parameters() if p.requires_grad]
        groups, size = [], 0
        for p in reversed(params):
            nbytes = p.data.nbytes
            if (
                not groups
                or groups[-1][0].dtype != p.dtype
                or backend.device_of(groups[-1][0].data) != backend.device_of(p.data)
                or size + nbytes > cap
            ):
                groups.append([])
                size = 0
            groups[-1].append(p)
            size += nbytes
        self._buckets.extend(_Bucket(g) for g in groups)
        where = {}
        for i, bucket in enumerate(self._buckets):
            for p in bucket.params:
                where[id(p)] = i
        for p in params:
            hook = self._make_hook(where[id(p)])
            self._handles.append(p.register_post_accumulate_grad_hook(hook))

    # --- during backward -----------------------------------------------------------------------
    def _make_hook(self, index: int):
        def hook(p):
            if not self._sync:
                return
            if self._queued != autograd_hooks.generation:  # the first hook of this backward
                if self._queued is not None:
                    self._drain()  # an earlier backward raised before its end
                self.__dict__["_queued"] = autograd_hooks.generation
                autograd_hooks.queue_callback(self._finish)
            bucket = self._buckets[index]
            if bucket.request is not None:
                raise RuntimeError(
                    "DistributedDataParallel: a parameter received a second gradient in one "
                    "backward after its bucket's all-reduce had started (a parameter used both "
                    "inside and outside gradient checkpointing?)"
                )
            bucket.ready.add(id(p))
            if len(bucket.ready) == len(bucket.params):
                self._launch_ready()
            elif self._next:  # MPICH moves a message on only inside MPI calls: give it one
                started = [b.request for b in self._buckets[: self._next]]
                started = [r for r in started if not isinstance(r, nccl.Pending)]
                if started:
                    runtime._state["mpi"].Request.Testall(started)

        return hook

    def _launch(self, bucket: _Bucket) -> None:
        flat, offsets, n = bucket.flat, bucket.offsets, int(bucket.offsets[-1])
        for i, p in enumerate(bucket.params):
            part = flat[offsets[i] : offsets[i + 1]]
            if p.grad is None:
                part[...] = 0
                flat[n + i] = 0
            else:
                part[...] = p.grad.data.reshape(-1)
                flat[n + i] = 1
        if nccl.handles(flat):  # GPU to GPU over NCCL, in place
            bucket.request = nccl.all_reduce(flat, flat, "sum")
            return
        mpi = runtime._state["mpi"]  # mpi4py.MPI, imported by init()
        bucket.request = self._comm.Iallreduce(mpi.IN_PLACE, flat, op=mpi.SUM)

    def _launch_ready(self) -> None:
        """Start the buckets whose gradients are all in, in bucket order (the same on every rank)."""
        while self._next < len(self._buckets):
            bucket = self._buckets[self._next]
            if len(bucket.ready) < len(bucket.params):
                return
            self._launch(bucket)
            self.__dict__["_next"] += 1

    def _finish(self) -> None:
        """End of backward: start what is left, wait for every bucket, write the averages back."""
        try:
            for bucket in self._buckets[self._next :]:
                self._launch(bucket)
            self.__dict__["_next"] = len(self._buckets)
            _wait([b.request for b in self._buckets], "the gradient all-reduce")
            for bucket in self._buckets:
                self._write_back(bucket)
        finally:
            self._reset()

    def _write_back(self, bucket: _Bucket) -> None:
        flat, offsets, n = bucket.flat, bucket.offsets, int(bucket.offsets[-1])
        xp = backend.namespace(flat)
        flags = backend.to_numpy(flat[n:])  # one read from the device, not one per parameter
        for i, p in enumerate(bucket.params):
            if flags[i] == 0:  # no rank had a gradient for it
                continue
            total = flat[offsets[i] : offsets[i + 1]].reshape(p.shape)
            if p.grad is None:
                p.grad = Tensor(total / self.world_size)
            else:  # the division writes straight into .grad: one pass over the memory
                xp.divide(total, self.world_size, out=p.grad.data)

    def _reset(self) -> None:
        for bucket in self._buckets:
            bucket.ready, bucket.request = set(), None
        self.__dict__["_queued"], self.__dict__["_next"] = None, 0

    def _drain(self) -> None:
        """A backward that raised after its first hook: start the buckets it had not started (as
        its end would have, so every rank issues the same collectives), wait, and discard the
        results; the local gradients stay as they were (not averaged)."""
        for bucket in self._buckets[self._next :]:
            self._launch(bucket)
        _wait([b.request for b in self._buckets], "the gradient all-reduce")
        self._reset()

    # --- the public API ------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        if self._queued is not None and autograd_hooks._depth == 0:
            self._drain()
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate gradients locally, without communication; the first
        backward after it averages the accumulated gradients."""
        previous = self._sync
        self.__dict__["_sync"] = False
        try:
            yield
        finally:
            self.__dict__["_sync"] = previous
