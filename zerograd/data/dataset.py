"""Datasets: the map-style protocol, arrays as a dataset, random splits."""

from __future__ import annotations

import numpy as np

from zerograd import backend
from zerograd.tensor import Tensor


class Dataset:
    """A map-style dataset: ``__getitem__(i)`` returns one sample, ``__len__`` their number."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index)")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__()")


class TensorDataset(Dataset):
    """Samples are the i-th rows of arrays of equal length: ``TensorDataset(x, y)``."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array, received none")
        self.arrays = [a.numpy() if isinstance(a, Tensor) else np.asarray(a) for a in arrays]
        n = {len(a) for a in self.arrays}
        if len(n) != 1:
            raise ValueError(
                f"TensorDataset: all arrays need the same length, received lengths {[len(a) for a in self.arrays]}"
            )

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])


class Subset(Dataset):
    def __init__(self, dataset: Dataset, indices):
        self.dataset, self.indices = dataset, np.asarray(indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Dataset, lengths, generator=None) -> list:
    """Split into non-overlapping Subsets of the given lengths (or fractions summing to 1)."""
    n = len(dataset)
    if all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1) < 1e-6:
        sizes = [int(np.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    else:
        sizes = list(lengths)
    if sum(sizes) != n:
        raise ValueError(f"random_split: lengths sum to {sum(sizes)}, the dataset has {n} samples")
    rng = (
        generator
        if isinstance(generator, np.random.Generator)
        else (np.random.default_rng(generator) if generator is not None else backend.rng())
    )
    order = rng.permutation(n)
    out, start = [], 0
    for s in sizes:
        out.append(Subset(dataset, order[start : start + s]))
        start += s
    return out
