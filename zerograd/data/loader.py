"""DataLoader: batches from a dataset, shuffled with a seeded generator."""

from __future__ import annotations

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
        rng = self.generator or backend.rng()
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            idx = order[start : start + self.batch_size]
            fast = self._arrays(idx)
            if fast is not None:
                yield fast
            else:
                samples = [self.dataset[int(i)] for i in idx]
                yield (self.collate_fn or default_collate)(samples)
