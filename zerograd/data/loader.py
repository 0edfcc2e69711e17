"""DataLoader: batches from a dataset, shuffled with a seeded generator."""

from __future__ import annotations

import copy

import numpy as np

from zerograd import backend
from zerograd.data.dataset import Dataset, Subset, TensorDataset
from zerograd.tensor import Tensor


def default_collate(samples):
    """Stack a list of samples (tuples of arrays/numbers) into a tuple of Tensors."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([s[i] for s in samples]) for i in range(len(first)))
    return Tensor(_fix(np.stack([np.asarray(s) for s in samples])))


def _fix(a: np.ndarray) -> np.ndarray:
    return a.astype(backend.get_default_dtype()) if a.dtype == np.float64 else a


class DataLoader:
    """Iterate over ``dataset`` in batches.

    Args:
        batch_size: samples per batch. shuffle: a new order every epoch. drop_last: skip a last
        partial batch. generator: a seed or ``numpy.random.Generator`` (default: zerograd's, so
        ``zg.manual_seed`` makes the order reproducible). collate_fn: list of samples -> batch.

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
    ):
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, received {batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = (
            dataset,
            batch_size,
            shuffle,
            drop_last,
        )
        self.generator = (
            np.random.default_rng(generator) if isinstance(generator, int) else generator
        )
        self.collate_fn = collate_fn
        self._epoch = None  # the epoch being iterated: its order's draw and batches handed out
        self._resume = None  # set by load_state_dict: the epoch the next iteration continues

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _arrays(self, idx):
        """Fast path: a TensorDataset (or a Subset of one) is indexed with the whole batch at once."""
        ds, sel = self.dataset, idx
        if isinstance(ds, Subset) and isinstance(ds.dataset, TensorDataset):
            ds, sel = ds.dataset, ds.indices[idx]
        if isinstance(ds, TensorDataset) and self.collate_fn is None:
            return tuple(Tensor(_fix(a[sel])) for a in ds.arrays)
        return None

    def __iter__(self):
        n = len(self.dataset)
        resume, self._resume = self._resume, None
        if resume is not None and resume["size"] != n:
            raise ValueError(
                f"DataLoader: the loaded state is for a dataset of {resume['size']} samples, "
                f"this one has {n}"
            )
        if resume is not None:  # the interrupted epoch: same order, the batches not yet seen
            order_state, first = resume["order_state"], resume["batches"]
            order = _replay_order(order_state, n) if self.shuffle else np.arange(n)
        else:
            first, order_state = 0, None
            rng = self.generator or backend.rng()
            if self.shuffle and hasattr(rng, "bit_generator"):
                order_state = copy.deepcopy(rng.bit_generator.state)
            order = rng.permutation(n) if self.shuffle else np.arange(n)
            if self.shuffle and order_state is None:  # a generator without a readable state
                order_state = {"order": order.tolist()}
        epoch = self._epoch = {"size": n, "order_state": order_state, "batches": first}
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(first * self.batch_size, stop, self.batch_size):
            idx = order[start : start + self.batch_size]
            epoch["batches"] += 1  # counted when handed out: a save after the step resumes after it
            fast = self._arrays(idx)
            if fast is not None:
                yield fast
            else:
                samples = [self.dataset[int(i)] for i in idx]
                yield (self.collate_fn or default_collate)(samples)

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
        own = self.generator
        return {
            "epoch": copy.deepcopy(epoch) if active else None,
            "generator": (
                copy.deepcopy(own.bit_generator.state)
                if own is not None and hasattr(own, "bit_generator")
                else None
            ),
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from a ``state_dict()``: the next ``iter(self)`` resumes its epoch."""
        if not isinstance(state, dict) or not {"epoch", "generator"} <= state.keys():
            raise ValueError(
                f"DataLoader.load_state_dict: expected the dict state_dict returns, received "
                f"{state!r:.80}"
            )
        for key in ("batch_size", "shuffle"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(
                    f"DataLoader.load_state_dict: the state was saved with {key}={state[key]!r}, "
                    f"this loader has {key}={getattr(self, key)!r}"
                )
        if state["generator"] is not None:
            if self.generator is None or not hasattr(self.generator, "bit_generator"):
                raise ValueError(
                    "DataLoader.load_state_dict: the state holds a generator's state, this loader "
                    "has no generator of its own (pass generator= as when it was saved)"
                )
            self.generator.bit_generator.state = copy.deepcopy(state["generator"])
        epoch = state["epoch"]
        if epoch is not None and (
            not isinstance(epoch, dict) or not {"size", "order_state", "batches"} <= epoch.keys()
        ):
            raise ValueError(
                f"DataLoader.load_state_dict: expected 'epoch' to hold size, order_state and "
                f"batches, received {epoch!r:.80}"
            )
        self._resume = copy.deepcopy(epoch) if epoch is not None else None
        self._epoch = None


def _replay_order(order_state: dict, n: int) -> np.ndarray:
    """The permutation a generator in ``order_state`` drew (or the order saved as it was)."""
    if "order" in order_state:
        return np.asarray(order_state["order"], dtype=np.int64)
    bits = getattr(np.random, order_state["bit_generator"])()
    bits.state = copy.deepcopy(order_state)
    return np.random.Generator(bits).permutation(n)
