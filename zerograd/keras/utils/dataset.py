"""``PyDataset``: a Python object that serves whole batches by index, for ``fit``/``evaluate``."""

from __future__ import annotations

import itertools
from collections import deque
from concurrent.futures import ThreadPoolExecutor


class PyDataset:
    """Base class of datasets that return batch ``i`` from ``__getitem__(i)``.

    Subclasses define ``__len__`` (the number of batches) and ``__getitem__`` (a batch: ``x``,
    ``(x, y)`` or ``(x, y, sample_weight)``), and may define ``on_epoch_end``. ``fit`` reads them
    by index; iterating over the dataset uses ``workers`` threads to read up to
    ``max_queue_size`` batches ahead. ``use_multiprocessing=True`` is not supported.

    Example:
        >>> class Batches(keras.utils.PyDataset):
        ...     def __init__(self, x, y, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return -(-len(self.x) // self.batch_size)
        ...     def __getitem__(self, i):
        ...         s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        ...         return self.x[s], self.y[s]
    """

    def __init__(
        self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10
    ):
        for name, value in (("workers", workers), ("max_queue_size", max_queue_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(
                    f"{type(self).__name__}: expected `{name}` to be an integer >= 1, "
                    f"received {value!r}"
                )
        if use_multiprocessing:
            raise ValueError(
                f"{type(self).__name__}: use_multiprocessing=True is not supported by zerograd; "
                "use threads (workers=N, use_multiprocessing=False)"
            )
        self._workers, self._use_multiprocessing = workers, use_multiprocessing
        self._max_queue_size = max_queue_size

    workers = property(lambda self: self.__dict__.get("_workers", 1))
    use_multiprocessing = property(lambda self: self.__dict__.get("_use_multiprocessing", False))
    max_queue_size = property(lambda self: self.__dict__.get("_max_queue_size", 10))

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index)")

    @property
    def num_batches(self) -> int | None:
        """The number of batches: ``len(self)``; subclasses without ``__len__`` override it."""
        if hasattr(type(self), "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must define __len__ or the num_batches property"
        )

    def on_epoch_begin(self) -> None:
        """Called before each epoch."""

    def on_epoch_end(self) -> None:
        """Called after each epoch (e.g. to shuffle)."""

    def __iter__(self):
        try:
            indices = range(self.num_batches)
        except NotImplementedError:
            indices = itertools.count()
        if self.workers == 1:
            for i in indices:
                yield self[i]
            return
        with ThreadPoolExecutor(self.workers) as pool:
            pending: deque = deque()
            for i in indices:
                pending.append(pool.submit(self.__getitem__, i))
                if len(pending) >= self.max_queue_size:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
