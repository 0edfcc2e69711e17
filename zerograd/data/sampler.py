"""Samplers: the order in which a DataLoader visits a dataset (``DataLoader(sampler=...)``)."""

from __future__ import annotations

import math

import numpy as np

from zerograd.ops import argcheck


class DistributedSampler:
    """Each rank's share of a dataset, for data-parallel training (as PyTorch's).

    Every rank draws the same permutation (from ``seed + epoch``) and takes every
    ``num_replicas``-th index starting at its ``rank``, so the shards are disjoint and together
    cover the dataset. When the length does not divide evenly, ``drop_last=False`` pads by
    repeating the first indices of the permutation (every sample is seen, a few twice), and
    ``drop_last=True`` drops the tail (every rank gets ``len // num_replicas`` samples; each
    sample at most once). Call ``set_epoch(epoch)`` before each epoch to reshuffle.

    Args:
        dataset_or_len: a dataset (anything with ``__len__``) or its length.
        num_replicas: defaults to ``zerograd.distributed``'s world size.
        rank: defaults to ``zerograd.distributed``'s rank.
        shuffle: a new permutation every epoch; False keeps the dataset order.
        seed: the same on every rank.

    Example:
        >>> sampler = DistributedSampler(train_set, seed=0)
        >>> loader = DataLoader(train_set, batch_size=32, sampler=sampler)
        >>> for epoch in range(3):
        ...     sampler.set_epoch(epoch)
        ...     for xb, yb in loader: ...
    """

    def __init__(
        self,
        dataset_or_len,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ):
        name = "DistributedSampler"
        if argcheck.is_integer(dataset_or_len):
            n = argcheck.integer(name, "dataset_or_len", dataset_or_len, 0)
        elif hasattr(dataset_or_len, "__len__"):
            n = len(dataset_or_len)
        else:
            raise TypeError(
                f"{name}: dataset_or_len must be a dataset with __len__ or an integer, received "
                f"{type(dataset_or_len).__name__}"
            )
        if num_replicas is None or rank is None:
            from zerograd import distributed

            if not distributed.is_initialized():
                raise RuntimeError(
                    f"{name}: num_replicas and rank default to the job's world size and rank; "
                    "call zerograd.distributed.init() first, or pass both"
                )
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        num_replicas = argcheck.integer(name, "num_replicas", num_replicas, 1)
        rank = argcheck.integer(name, "rank", rank)
        if not 0 <= rank < num_replicas:
            raise ValueError(
                f"{name}: rank must be in [0, num_replicas={num_replicas}), received {rank}"
            )
        self.shuffle = argcheck.flag(name, "shuffle", shuffle)
        self.drop_last = argcheck.flag(name, "drop_last", drop_last)
        self.seed = argcheck.integer(name, "seed", seed, 0)
        self.dataset_len, self.num_replicas, self.rank, self.epoch = n, num_replicas, rank, 0
        if drop_last:
            self.num_samples = n // num_replicas
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of ``seed + epoch`` (the same on every rank) from now on."""
        self.epoch = argcheck.integer("DistributedSampler.set_epoch", "epoch", epoch, 0)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        n = self.dataset_len
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:  # pad by repeating the order (several times if n is tiny)
            order = np.resize(order, self.total_size) if n else order
        else:
            order = order[: self.total_size]
        return order[self.rank : self.total_size : self.num_replicas].astype(np.int64)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples
