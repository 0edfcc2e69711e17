"""DataLoader: batches from a dataset, shuffled with a seeded generator."""

from __future__ import annotations

import copy

import numpy as np

from zerograd import backend
from zerograd.data.dataset import Dataset, Subset, TensorDataset
from zerograd.ops import argcheck
from zerograd.tensor import Tensor


def default_collate(samples, _field: str = ""):
    """Stack a list of samples (tuples of arrays/numbers) into a tuple of Tensors.

    Raises:
        ValueError: samples of different lengths or shapes, naming the first that differs.
        TypeError: a sample that is not numbers (strings, objects).
    """
    first = samples[0]
    if isinstance(first, (tuple, list)):
        for j, s in enumerate(samples):
            if not isinstance(s, (tuple, list)) or len(s) != len(first):
                raise ValueError(
                    f"default_collate: sample {j} of the batch has "
                    f"{len(s) if isinstance(s, (tuple, list)) else type(s).__name__} fields, "
                    f"sample 0 has {len(first)}{_field}"
                )
        return tuple(
            default_collate([s[i] for s in samples], f" (field {i})") for i in range(len(first))
        )
    arrays = [np.asarray(s) for s in samples]
    for j, a in enumerate(arrays):
        if a.dtype.kind not in "biuf":
            raise TypeError(
                f"default_collate: sample {j} of the batch{_field} is not numeric (dtype "
                f"{a.dtype}, {type(samples[j]).__name__}); pass a collate_fn for such samples"
            )
        if a.shape != arrays[0].shape:
            raise ValueError(
                f"default_collate: sample {j} of the batch{_field} has shape {a.shape}, sample 0 "
                f"has {arrays[0].shape}; samples must have one shape to be stacked"
            )
    return Tensor(_fix(np.stack(arrays)))


def _unbatch(b):
    """The one sample of a batch of one (``batch_size=None``): the leading axis removed."""
    if isinstance(b, tuple):
        return tuple(_unbatch(t) for t in b)
    return Tensor._make(b.data[0]) if isinstance(b, Tensor) else b


def _fix(a: np.ndarray) -> np.ndarray:
    return a.astype(backend.get_default_dtype()) if a.dtype == np.float64 else a


class DataLoader:
    """Iterate over ``dataset`` in batches.

    Args:
        batch_size: samples per batch.
        shuffle: a new order every epoch.
        drop_last: skip a last partial batch.
        generator: a seed or ``numpy.random.Generator`` (default: zerograd's, so
            ``zg.manual_seed`` makes the order reproducible).
        collate_fn: list of samples -> batch.
        sampler: the indices to visit, in order (an iterable with ``__len__``, for example a
            ``DistributedSampler``); drawn anew each epoch; excludes ``shuffle=True``.

    Example:
        >>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, generator=0)
        >>> for xb, yb in loader: ...
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator=None,
        collate_fn=None,
        sampler=None,
    ):
        if batch_size is not None:  # None: one sample at a time, not collated (as PyTorch)
            argcheck.integer("DataLoader", "batch_size", batch_size, 1)
        argcheck.flag("DataLoader", "shuffle", shuffle)
        argcheck.flag("DataLoader", "drop_last", drop_last)
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"DataLoader: dataset must have __len__ and __getitem__ (a map-style Dataset), "
                f"received {type(dataset).__name__}"
            )
        if isinstance(generator, bool) or not (
            generator is None
            or isinstance(generator, (int, np.integer))
            or hasattr(generator, "permutation")
        ):
            raise TypeError(
                "DataLoader: generator must be None, an integer seed or a numpy.random.Generator, "
                f"received {generator!r}"
            )
        if sampler is not None:
            if not (hasattr(sampler, "__iter__") and hasattr(sampler, "__len__")):
                raise TypeError(
                    "DataLoader: sampler must be an iterable of indices with __len__, received "
                    f"{type(sampler).__name__}"
                )
            if shuffle:
                raise ValueError(
                    "DataLoader: sampler and shuffle=True are mutually exclusive (the sampler "
                    "decides the order; shuffle inside it)"
                )
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, received {collate_fn!r}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = (
            dataset,
            batch_size,
            shuffle,
            drop_last,
        )
        self.generator = (
            np.random.default_rng(generator)
            if isinstance(generator, (int, np.integer))
            else generator
        )
        self.collate_fn, self.sampler = collate_fn, sampler
        self._epoch = None  # the epoch being iterated: its order's draw and batches handed out
        self._resume = None  # set by load_state_dict: the epoch the next iteration continues

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        bs = self.batch_size or 1
        return n // bs if self.drop_last else -(-n // bs)

    def _arrays(self, idx):
        """Fast path: a TensorDataset (or a Subset of one) is indexed with the whole batch at once."""
        ds, sel = self.dataset, idx
        if isinstance(ds, Subset) and isinstance(ds.dataset, TensorDataset):
            ds, sel = ds.dataset, ds.indices[idx]
        if isinstance(ds, TensorDataset) and self.collate_fn is None:
            return tuple(Tensor(_fix(a[sel])) for a in ds.arrays)
        return None

    def __iter__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        resume, self._resume = self._resume, None
        if resume is not None and resume["size"] != n:
            what = "dataset" if self.sampler is None else "sampler"
            raise ValueError(
                f"DataLoader: the loaded state is for a {what} of {resume['size']} samples, "
                f"this one has {n}"
            )
        if resume is not None:  # the interrupted epoch: same order, the batches not yet seen
            order_state, first = resume["order_state"], resume["batches"]
            order = _replay_order(order_state, n) if order_state is not None else np.arange(n)
            if self.sampler is not None:
                _check_sampled(order, len(self.dataset))
        elif self.sampler is not None:  # the sampler's order, kept whole for an exact resume
            first, order = 0, np.fromiter(iter(self.sampler), dtype=np.int64, count=n)
            _check_sampled(order, len(self.dataset))
            order_state = {"order": order.tolist(), "sampler": True}
        else:
            first, order_state = 0, None
            rng = self.generator or backend.rng()
            if self.shuffle and hasattr(rng, "bit_generator"):
                order_state = copy.deepcopy(rng.bit_generator.state)
            order = rng.permutation(n) if self.shuffle else np.arange(n)
            if self.shuffle and order_state is None:  # a generator without a readable state
                order_state = {"order": order.tolist()}
        epoch = self._epoch = {"size": n, "order_state": order_state, "batches": first}
        bs = self.batch_size or 1
        stop = n - n % bs if self.drop_last else n
        for start in range(first * bs, stop, bs):
            idx = order[start : start + bs]
            epoch["batches"] += 1  # counted when handed out: a save after the step resumes after it
            fast = self._arrays(idx)
            if self.batch_size is None and self.collate_fn is not None:
                yield self.collate_fn(self.dataset[int(idx[0])])
            elif fast is not None:
                yield fast if self.batch_size else _unbatch(fast)
            else:
                samples = [self.dataset[int(i)] for i in idx]
                batch = (self.collate_fn or default_collate)(samples)
                yield batch if self.batch_size else _unbatch(batch)

    # --- resumable position ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Where iteration stands, for an exact resume: the batches already handed out in the
        current epoch and how its order was drawn, and the state of the loader's own generator.

        Restored with ``load_state_dict``, the next ``iter(loader)`` continues the interrupted
        epoch with the same order (without drawing from the generator again); after the last
        batch of an epoch the next iteration starts a new epoch. With the shared generator
        (``generator=None``) restore zerograd's RNG too (``zg.set_rng_state``, done by
        ``zerograd.io.load_checkpoint``).

        Example:
            >>> state = loader.state_dict()   # mid-epoch
            >>> loader.load_state_dict(state); next(iter(loader))  # the batch that came next
        """
        epoch = self._epoch
        active = epoch is not None and epoch["batches"] < len(self)
        return {
            "epoch": copy.deepcopy(epoch) if active else None,
            "generator": None if self.generator is None else _generator_state(self.generator),
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from a ``state_dict()``: the next ``iter(self)`` resumes its epoch. The whole
        state is checked before anything changes."""
        name = "DataLoader.load_state_dict"
        if not isinstance(state, dict) or not {"epoch", "generator"} <= state.keys():
            raise ValueError(
                f"{name}: expected the dict state_dict returns, received {state!r:.80}"
            )
        for key in ("batch_size", "shuffle"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(
                    f"{name}: the state was saved with {key}={state[key]!r}, "
                    f"this loader has {key}={getattr(self, key)!r}"
                )
        if state["generator"] is not None and self.generator is None:
            raise ValueError(
                f"{name}: the state holds a generator's state, this loader has no generator of "
                "its own (pass generator= as when it was saved)"
            )
        if state["generator"] is None and self.generator is not None:
            raise ValueError(
                f"{name}: the state was saved by a loader drawing from zerograd's shared "
                "generator, this loader has a generator of its own"
            )
        epoch = state["epoch"]
        if epoch is not None:
            _check_epoch(name, epoch)
            sampled = isinstance(epoch["order_state"], dict) and bool(
                epoch["order_state"].get("sampler")
            )
            if sampled != (self.sampler is not None):
                raise ValueError(
                    f"{name}: the state was saved by a loader "
                    f"{'with' if sampled else 'without'} a sampler, this one has "
                    f"{'one' if self.sampler is not None else 'none'}"
                )
        if state["generator"] is not None:
            trial = copy.deepcopy(self.generator)  # a bad state must change nothing
            _set_generator_state(name, trial, state["generator"])
            _set_generator_state(name, self.generator, state["generator"])
        self._resume = copy.deepcopy(epoch) if epoch is not None else None
        self._epoch = None


def _generator_state(g) -> dict:
    """The state of a loader's own generator (a ``Generator`` or a legacy ``RandomState``)."""
    if hasattr(g, "bit_generator"):
        return copy.deepcopy(g.bit_generator.state)
    if isinstance(g, np.random.RandomState):
        return {"legacy": g.get_state(legacy=False)}
    raise TypeError(
        f"DataLoader.state_dict: cannot save the state of a generator of type {type(g).__name__}; "
        "pass a seed or a numpy.random.Generator as generator="
    )


def _set_generator_state(name: str, g, state) -> None:
    try:
        if isinstance(g, np.random.RandomState) and isinstance(state, dict) and "legacy" in state:
            g.set_state(state["legacy"])
        elif hasattr(g, "bit_generator"):
            g.bit_generator.state = backend.bit_generator_from_state(state).state
        else:
            raise ValueError(f"a generator of type {type(g).__name__} cannot take it")
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, IndexError) as e:
        raise ValueError(f"{name}: bad generator state ({e})") from None


def _check_epoch(name: str, epoch) -> None:
    """An interrupted epoch's record (from a file: checked before it is trusted)."""
    if not isinstance(epoch, dict) or not {"size", "order_state", "batches"} <= epoch.keys():
        raise ValueError(
            f"{name}: expected 'epoch' to hold size, order_state and batches, received "
            f"{epoch!r:.80}"
        )
    size, batches = epoch["size"], epoch["batches"]
    for key, v in (("size", size), ("batches", batches)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name}: expected epoch {key} to be an int >= 0, received {v!r:.40}")
    if isinstance(epoch["order_state"], dict) and epoch["order_state"].get("sampler"):
        order = epoch["order_state"].get("order")
        if not isinstance(order, list) or len(order) != size:
            raise ValueError(f"{name}: the interrupted epoch's sampled order is not {size} indices")
    elif epoch["order_state"] is not None:
        try:
            order = _replay_order(epoch["order_state"], int(size))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
            raise ValueError(f"{name}: bad order_state of the interrupted epoch ({e})") from None
        if order.shape != (size,) or not np.array_equal(np.sort(order), np.arange(size)):
            raise ValueError(
                f"{name}: the interrupted epoch's order is not a permutation of {size} samples"
            )


def _replay_order(order_state: dict, n: int) -> np.ndarray:
    """The permutation a generator in ``order_state`` drew (or the order saved as it was)."""
    if "order" in order_state:
        return np.asarray(order_state["order"], dtype=np.int64)
    bits = backend.bit_generator_from_state(copy.deepcopy(order_state))
    return np.random.Generator(bits).permutation(n)


def _check_sampled(order: np.ndarray, n: int) -> None:
    """A sampler's indices must address the dataset (checked once per epoch, vectorised)."""
    if order.size and (order.min() < 0 or order.max() >= n):
        bad = order[(order < 0) | (order >= n)][0]
        raise ValueError(
            f"DataLoader: the sampler gave index {int(bad)}, outside the dataset of {n} samples"
        )
