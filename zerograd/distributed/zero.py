"""ZeroRedundancyOptimizer: optimizer-state sharding (ZeRO stage 1) over MPI.

As ``torch.distributed.optim.ZeroRedundancyOptimizer``: every rank owns a share of the parameters
and builds the inner optimizer (any ``zerograd.optim`` class) over that share only, so the state of
the other shares (Adam's two moments: twice the parameters' memory) is never allocated on it.
``step()`` updates the owned share from the gradients (already averaged, by
``DistributedDataParallel``), then each owner broadcasts its updated parameters, packed into one
flat byte buffer, so every rank ends with the same parameters. The optimizer state per rank falls
as 1 / world size; the broadcast buffer is one share (the largest), not the whole model.

Partition: parameters in decreasing size (ties in registration order) go one by one to the rank
with the fewest elements so far (the lowest rank on a tie): deterministic, the same on every rank,
and balanced within one parameter's size.

``consolidate_state_dict(to=0)`` gathers every shard on rank ``to``, whose ``state_dict()`` is then
the whole state (as PyTorch's): loadable into a plain optimizer over all the parameters, or into a
ZeroRedundancyOptimizer on any number of ranks; the next ``step()`` drops it.

``param_groups`` holds every parameter with the group's hyper-parameters, as any optimizer, so
``zerograd.optim.lr_scheduler`` works unchanged: ``step()`` copies every group's hyper-parameters
(lr, betas, ...) to the inner optimizer first. ``state_dict()`` is this rank's shard, keyed by the
global parameter index; ``load_state_dict`` takes the entries this rank owns, so each rank saves
and restores its own shard (a dict holding every shard loads on any rank too). With one rank it is
the inner optimizer over all parameters.
"""

from __future__ import annotations

import copy
import json

import numpy as np

from zerograd import backend, versions
from zerograd import distributed as dist
from zerograd.distributed import runtime
from zerograd.optim.optimizer import Optimizer


def _pack(state: dict):
    """An optimizer state ``{index: {key: array or number}}`` as (JSON header bytes, payload)."""
    entries, chunks, at = [], [], 0
    for index, st in state.items():
        for key, value in st.items():
            if hasattr(value, "shape") and hasattr(value, "dtype"):
                a = np.ascontiguousarray(backend.to_numpy(value))
                entries.append([int(index), key, "array", a.dtype.str, list(a.shape), at])
                chunks.append(a.reshape(-1).view(np.uint8))
                at += a.nbytes
            else:
                entries.append([int(index), key, "value", value])
    payload = np.concatenate(chunks) if chunks else np.zeros(0, np.uint8)
    return json.dumps(entries).encode(), payload


def _unpack(header: bytes, payload: np.ndarray) -> dict:
    state: dict = {}
    for entry in json.loads(header):
        index, key, kind = entry[:3]
        if kind == "array":
            dtype, shape, at = np.dtype(entry[3]), tuple(entry[4]), entry[5]
            n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            value = payload[at : at + n].view(dtype).reshape(shape).copy()
        else:
            value = entry[3]
        state.setdefault(index, {})[key] = value
    return state


def partition(sizes: list, world_size: int, loads: list | None = None) -> list:
    """The owner rank of each parameter, from their element counts (greedy, largest first);
    ``loads`` (elements each rank owns already) is updated in place when given."""
    loads = [0] * world_size if loads is None else loads
    owners = [0] * len(sizes)
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        r = min(range(world_size), key=lambda r: (loads[r], r))
        owners[i] = r
        loads[r] += sizes[i]
    return owners


class ZeroRedundancyOptimizer(Optimizer):
    """Wraps ``optimizer_class`` so each rank keeps the state of only its share of ``params``.

    Args:
        params: the parameters (or parameter groups), the same on every rank, in the same order.
        optimizer_class: a ``zerograd.optim.Optimizer`` subclass, e.g. ``zerograd.optim.AdamW``.
        **defaults: its arguments (``lr=1e-3``, ``betas=...``).

    Example:
        >>> model = DistributedDataParallel(GPT(cfg))
        >>> opt = ZeroRedundancyOptimizer(model.parameters(), optim.AdamW, lr=3e-4)
        >>> loss.backward(); opt.step()   # every rank ends with the same parameters
    """

    def __init__(self, params, optimizer_class, **defaults):
        name = "ZeroRedundancyOptimizer"
        if not (isinstance(optimizer_class, type) and issubclass(optimizer_class, Optimizer)):
            raise TypeError(
                f"{name}: optimizer_class must be a zerograd.optim.Optimizer subclass, received "
                f"{optimizer_class!r}"
            )
        if issubclass(optimizer_class, ZeroRedundancyOptimizer):
            raise TypeError(f"{name}: optimizer_class cannot be ZeroRedundancyOptimizer itself")
        if not dist.is_initialized():
            dist.init()
        self.optimizer_class = optimizer_class
        self.world_size, self.rank = dist.get_world_size(), dist.get_rank()
        self.optim = None  # the inner optimizer over this rank's share
        self._owner: dict = {}  # id(parameter) -> its owner rank
        self._order: list = []  # every parameter, in the order of param_groups
        self._loads = [0] * self.world_size
        self._comm = None
        self._consolidated = None  # every shard's state, on the rank consolidate_state_dict named
        self._defaults = defaults
        super().__init__(params, {})  # checks the parameters; add_param_group builds the rest
        self.defaults = dict(self.optim.defaults)
        if self.world_size > 1:
            self._comm, request = dist.comm().Idup()  # its own: never meets the user's messages
            runtime.wait("ZeroRedundancyOptimizer: duplicating the communicator", [request])

    def _check_hyperparameters(self, group: dict) -> None:
        pass  # the inner optimizer checks them (it knows its own arguments)

    def add_param_group(self, group: dict) -> None:
        """Add a group: its parameters are shared out (greedily, continuing the partition) and this
        rank's part joins the inner optimizer as a new group (empty when it owns none of them)."""
        before = len(self.param_groups)
        super().add_param_group(group)
        full = self.param_groups[before]
        params = full["params"]
        owners = partition([p.data.size for p in params], self.world_size, self._loads)
        for p, r in zip(params, owners):
            self._owner[id(p)] = r
        self._order.extend(params)
        mine = {**group, "params": [p for p in params if self._owner[id(p)] == self.rank]}
        if self.optim is None:
            self.optim = self.optimizer_class([mine], **self._defaults)
        else:
            self.optim.add_param_group(mine)
        inner = self.optim.param_groups[-1]
        full.update({k: v for k, v in inner.items() if k != "params"})
        self._build_buffers()

    def _build_buffers(self) -> None:
        """Byte offsets of each owner's parameters in its flat broadcast buffer."""
        self._shares = [[] for _ in range(self.world_size)]
        for p in self._order:
            self._shares[self._owner[id(p)]].append(p)
        self._offsets = [
            np.cumsum([0] + [p.data.nbytes for p in share]).tolist() for share in self._shares
        ]
        self._buffer = np.empty(max(o[-1] for o in self._offsets), dtype=np.uint8)

    def owned(self) -> list:
        """The parameters this rank owns (updates and keeps optimizer state for)."""
        return list(self._shares[self.rank])

    def step(self, closure=None):
        """Update this rank's share with the inner optimizer, then broadcast every share from its
        owner; the hyper-parameters of ``param_groups`` (a scheduler's lr) are used."""
        for outer, inner in zip(self.param_groups, self.optim.param_groups):
            for k, v in outer.items():
                if k != "params":
                    inner[k] = v
        loss = self.optim.step(closure)
        self._consolidated = None
        if self.world_size > 1:
            self._broadcast()
        return loss

    def _broadcast(self) -> None:
        for owner, share in enumerate(self._shares):
            offsets = self._offsets[owner]
            if not share:
                continue
            buf = self._buffer[: offsets[-1]]
            if owner == self.rank:
                for p, a, b in zip(share, offsets, offsets[1:]):
                    buf[a:b] = (
                        np.ascontiguousarray(backend.to_numpy(p.data)).reshape(-1).view(np.uint8)
                    )
            request = self._comm.Ibcast(buf, root=owner)
            runtime.wait("ZeroRedundancyOptimizer: the parameter broadcast", [request])
            if owner == self.rank:
                continue
            for p, a, b in zip(share, offsets, offsets[1:]):
                value = buf[a:b].view(p.data.dtype).reshape(p.shape)
                p.data[...] = backend.to_device(value, backend.device_of(p.data))
                versions.bump(p.data)

    # --- state ---------------------------------------------------------------------------------
    def consolidate_state_dict(self, to: int = 0) -> None:
        """Gather every rank's shard on rank ``to`` (every rank calls it); until the next step,
        ``state_dict()`` on ``to`` returns the state of all the parameters."""
        name = "ZeroRedundancyOptimizer.consolidate_state_dict"
        if isinstance(to, bool) or not isinstance(to, (int, np.integer)):
            raise TypeError(f"{name}: to must be an integer rank, received {to!r}")
        if not 0 <= to < self.world_size:
            raise ValueError(f"{name}: to must be a rank in [0, {self.world_size}), received {to}")
        mine = self._shard_state_dict()
        if self.world_size == 1:
            self._consolidated = mine
            return
        header, payload = _pack(mine["state"])
        sizes = np.zeros((self.world_size, 2), dtype=np.int64)
        request = self._comm.Iallgather(np.array([len(header), payload.size], np.int64), sizes)
        runtime.wait(name, [request])
        blob = np.concatenate([np.frombuffer(header, np.uint8), payload])
        counts = sizes.sum(axis=1)
        displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
        out = np.empty(int(counts.sum()) if self.rank == to else 0, dtype=np.uint8)
        mpi = runtime._state["mpi"]
        recv = [out, (counts, displs), mpi.UNSIGNED_CHAR] if self.rank == to else None
        runtime.wait(name, [self._comm.Igatherv(blob, recv, root=to)])
        self._consolidated = None
        if self.rank != to:
            return
        state = {}
        for r in range(self.world_size):
            at, h = int(displs[r]), int(sizes[r, 0])
            state.update(_unpack(out[at : at + h].tobytes(), out[at + h : at + counts[r]]))
        self._consolidated = {"state": state, "param_groups": mine["param_groups"]}

    def state_dict(self) -> dict:
        """This rank's shard: ``{'state': {global index: {...}}, 'param_groups': [...]}`` with the
        state of the owned parameters only, indexed as in a plain optimizer over all of them;
        after ``consolidate_state_dict`` on the rank it named, every parameter's state."""
        if self._consolidated is not None:
            return copy.deepcopy(self._consolidated)
        return self._shard_state_dict()

    def _shard_state_dict(self) -> dict:
        inner = self.optim.state_dict()
        local = [p for g in self.optim.param_groups for p in g["params"]]
        index = {id(p): i for i, p in enumerate(self._order)}
        state = {index[id(local[i])]: st for i, st in inner["state"].items()}
        groups, start = [], 0
        for g in self.param_groups:
            # the outer groups: a scheduler may have changed them since the last step
            hp = {k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
            groups.append({**hp, "params": list(range(start, start + len(g["params"])))})
            start += len(g["params"])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()``: the hyper-parameters of every group and the state of the
        parameters this rank owns (entries of other ranks' parameters are ignored)."""
        name = "ZeroRedundancyOptimizer.load_state_dict"
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups'")
        groups = state_dict["param_groups"]
        if [len(g["params"]) for g in groups] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError(
                f"{name}: the parameter groups do not match this optimizer's: expected sizes "
                f"{[len(g['params']) for g in self.param_groups]}, received "
                f"{[len(g['params']) for g in groups]}"
            )
        local = [p for g in self.optim.param_groups for p in g["params"]]
        where = {id(p): i for i, p in enumerate(local)}
        state = {}
        for i, st in state_dict["state"].items():
            if not 0 <= int(i) < len(self._order):
                raise ValueError(f"{name}: state for parameter {i}, which no group holds")
            p = self._order[int(i)]
            if id(p) in where:
                state[where[id(p)]] = st
        inner_groups = [
            {**g, "params": list(range(len(ig["params"])))}
            for g, ig in zip(groups, self.optim.param_groups)
        ]
        start = 0
        for g in inner_groups:  # renumber the local parameters 0.. in group order
            g["params"] = list(range(start, start + len(g["params"])))
            start += len(g["params"])
        self.optim.load_state_dict({"state": state, "param_groups": inner_groups})
        for outer, inner in zip(self.param_groups, self.optim.param_groups):
            outer.update({k: v for k, v in inner.items() if k != "params"})
