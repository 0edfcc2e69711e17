"""``keras.distribution``: data-parallel ``fit`` / ``evaluate`` / ``predict`` over MPI.

Start the job with ``mpiexec -n 4 python train.py`` and switch it on once, as Keras 3 names it:

    >>> keras.utils.set_random_seed(0)   # the same seed on every rank (same shuffle order)
    >>> keras.distribution.set_distribution(keras.distribution.DataParallel())

Each global batch of ``batch_size`` rows is split across the ranks (rank ``r`` takes rows
``r*n//W .. (r+1)*n//W``), the gradients are averaged across the ranks before each optimizer step
(weighted by the rows each rank had, so the update is that of the whole batch), the initial
weights are broadcast from rank 0 when ``fit`` starts, and the metric states are summed across
the ranks at the end of each epoch and of ``evaluate``, so every rank reports the same history.
``predict`` gathers the outputs, every rank returns all of them. Only rank 0 prints progress and
writes files from ModelCheckpoint, CSVLogger, TensorBoard and BackupAndRestore; ``model.save`` is
the caller's: guard it with ``if zerograd.distributed.get_rank() == 0``.

The per-batch logs callbacks see are those of all the ranks' rows so far too (one small
all-reduce per batch), so a callback that stops training (EarlyStopping, TerminateOnNaN) decides
the same on every rank. Limits: a layer
drawing random numbers (Dropout) draws different amounts on each rank, so the next epoch's
shuffle would differ: fit broadcasts rank 0's generator state at each epoch's start; a batch with
fewer rows than ranks leaves a rank without rows (keep ``batch_size`` >= the world size, and so
the last batch too). An overridden ``train_step`` averages its own gradients: call
``keras.distribution.average_gradients(params, rows)`` between backward and the optimizer step.
``train_on_batch`` takes each rank's own batch. With one process (no ``mpiexec``) nothing
changes.
"""

from __future__ import annotations

import numpy as np

_current: list = [None]
_RANK0 = ("ModelCheckpoint", "CSVLogger", "TensorBoard", "BackupAndRestore", "ProgbarLogger")


class DataParallel:
    """Replicate the model on every rank and split each batch across them (Keras 3's name).

    Args:
        devices: accepted for Keras compatibility; the devices are the MPI ranks of the job.
    """

    def __init__(self, devices=None, **kwargs):
        if kwargs:
            raise TypeError(f"DataParallel: unexpected keyword arguments {sorted(kwargs)}")
        self.devices = devices

    def __repr__(self) -> str:
        return "<DataParallel over the MPI ranks>"


def set_distribution(value) -> None:
    """Make ``value`` (a ``DataParallel``, or None to switch off) the distribution of fit,
    evaluate and predict; joins the MPI job (``zerograd.distributed.init()``)."""
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(
            f"set_distribution: expected a keras.distribution.DataParallel or None, received "
            f"{type(value).__name__}"
        )
    if value is not None:
        from zerograd import distributed

        distributed.init()
    _current[0] = value


def distribution():
    """The distribution set by ``set_distribution`` (None when none is)."""
    return _current[0]


def active():
    """(rank, world size) when data-parallel over more than one rank, else None (one check)."""
    if _current[0] is None:
        return None
    from zerograd.distributed import runtime

    size = runtime._state["size"]
    return (runtime._state["rank"], size) if size > 1 else None


def shard(prepare, where):
    """``prepare`` applied to this rank's rows of each batch (``where`` = (rank, size))."""
    from zerograd.keras import data_adapters as da

    rank, size = where

    def rows(a):
        a = da.to_numpy(a)
        if getattr(a, "ndim", 0) == 0:
            return a
        n = a.shape[0]
        return a[rank * n // size : (rank + 1) * n // size]

    return lambda batch: prepare(da.map_structure(rows, batch))


def broadcast_weights(model) -> None:
    """Rank 0's weight values on every rank (the weights built so far)."""
    from zerograd.distributed import broadcast

    for w in model.weights:
        w.data = broadcast(np.asarray(w.data))
    sync_rng()


def sync_rng() -> None:
    """Rank 0's shared generator on every rank (the shuffle order of the next epoch)."""
    from zerograd import backend
    from zerograd.distributed import broadcast

    state = backend.get_rng_state()
    key = "zerograd" if "zerograd" in state else None
    if key is None or not isinstance(state[key], dict):
        return
    inner = state[key].get("state", {})
    if not all(isinstance(inner.get(k), int) for k in ("state", "inc")):
        return
    extra = ("has_uint32", "uinteger")
    words = np.array(
        [(inner[k] >> (64 * i)) & (2**64 - 1) for k in ("state", "inc") for i in (0, 1)]
        + [int(state[key].get(k, 0)) for k in extra],
        dtype=np.uint64,
    )
    words = broadcast(words)
    for j, k in enumerate(("state", "inc")):
        inner[k] = int(words[2 * j]) | (int(words[2 * j + 1]) << 64)
    for j, k in enumerate(extra):
        if k in state[key]:
            state[key][k] = int(words[4 + j])
    backend.set_rng_state({key: state[key]})


def average_gradients(params, rows: int) -> None:
    """Each gradient replaced by the row-weighted mean over the ranks (one all_reduce)."""
    from zerograd.distributed import all_reduce

    grads = [p.grad for p in params]
    sizes = [int(np.prod(p.shape)) for p in params]
    buf = np.empty(sum(sizes) + 1, dtype=np.float64)
    at = 0
    for g, n in zip(grads, sizes):
        buf[at : at + n] = 0.0 if g is None or rows == 0 else np.ravel(g.data) * rows
        at += n
    buf[-1] = rows
    buf = all_reduce(buf, op="sum")
    total = buf[-1]
    at = 0
    for p, g, n in zip(params, grads, sizes):
        value = (buf[at : at + n] / total).reshape(p.shape).astype(np.asarray(p.data).dtype)
        if g is None:
            from zerograd.tensor import Tensor

            p.grad = Tensor._make(value)
        else:
            g.data = value
        at += n


def _metric_variables(model) -> list:
    variables = []
    for m in model.metrics:
        for inner in getattr(m, "metrics", None) or [m]:
            variables += [v for v in inner.variables if v.aggregation in ("sum", "mean")]
    return variables


def global_logs(model, logs):
    """A batch's ``logs`` with each metric's value over all the ranks' rows so far (this rank's
    metric states are left as they were; entries that are not metrics stay this rank's)."""
    variables = _metric_variables(model)
    if not variables or not isinstance(logs, dict):
        return logs
    saved = [v.numpy().copy() for v in variables]
    reduce_metrics(model, variables)
    try:
        result = model.get_metrics_result()
    finally:
        for v, value in zip(variables, saved):
            v.assign(value)
    return {k: result.get(k, v) for k, v in logs.items()}


def reduce_metrics(model, variables=None) -> None:
    """Every metric state summed (aggregation 'sum') or averaged ('mean') over the ranks, in
    place: the results are those of all the ranks' rows."""
    from zerograd.distributed import all_reduce, runtime

    variables = _metric_variables(model) if variables is None else variables
    if not variables:
        return
    size = runtime._state["size"]
    parts = [
        np.ravel(np.asarray(v.data, np.float64)) / (size if v.aggregation == "mean" else 1)
        for v in variables
    ]
    buf = all_reduce(np.concatenate(parts), op="sum")
    at = 0
    for v, part in zip(variables, parts):
        v.assign(buf[at : at + part.size].reshape(v.shape))
        at += part.size


def gather_outputs(outputs):
    """Every rank's predictions (a NumPy structure, this rank's rows) in rank order."""
    from zerograd.distributed import all_gather
    from zerograd.keras import data_adapters as da

    def gather(a):
        a = np.asarray(a)
        counts = [int(c[0]) for c in all_gather(np.array([a.shape[0]], dtype=np.int64))]
        padded = np.zeros((max(counts), *a.shape[1:]), dtype=a.dtype)
        padded[: a.shape[0]] = a
        parts = all_gather(padded)
        return np.concatenate([p[:c] for p, c in zip(parts, counts)])

    return da.map_structure(gather, outputs)


def rank_callbacks(callbacks, rank: int):
    """On ranks other than 0, the callbacks without those writing files or progress
    (BackupAndRestore stays, to restore, with its saving and deleting switched off)."""
    from zerograd.keras.callback_base import Callback, CallbackList

    if rank == 0 or callbacks is None or isinstance(callbacks, CallbackList):
        return callbacks

    items = [callbacks] if isinstance(callbacks, Callback) else list(callbacks)
    kept = []
    for cb in items:
        name = type(cb).__name__
        if name == "BackupAndRestore":
            cb._save = lambda *args: None  # rank 0 writes the backup, and deletes it
            cb.on_train_end = lambda logs=None: None
        elif any(c.__name__ in _RANK0 for c in type(cb).__mro__):
            continue
        kept.append(cb)
    return kept
