"""Data preparation for fit/evaluate/predict: one adapter per input kind, each giving epochs of
batches, and the epoch iterator that honours ``steps_per_epoch`` as Keras does.

Kinds: NumPy arrays (and nested lists/dicts of them, zerograd or torch tensors), Python generators
and iterators, ``PyDataset``-like objects (``__len__``, ``__getitem__(i) -> batch``,
``on_epoch_end()``), ``zerograd.data.DataLoader`` and any re-iterable of batches (a torch
``DataLoader`` included; its tensors are read with ``.numpy()``, torch is never imported here).
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

from zerograd import backend
from zerograd.tensor import Tensor


def to_numpy(x):
    """A leaf as a NumPy array: float64 becomes the default float dtype (as Keras's floatx)."""
    if x is None:
        return None
    if isinstance(x, Tensor):
        a = x.numpy()
    elif hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):  # a torch tensor
        a = x.detach().cpu().numpy()
    elif isinstance(x, (list, tuple, int, float, bool, np.generic)) or hasattr(x, "__array__"):
        a = np.asarray(x)
    else:
        raise TypeError(
            "expected arrays (NumPy, zerograd or torch tensors, nested lists/dicts of them) or a "
            f"source of batches (generator, PyDataset, DataLoader), received {type(x).__name__}"
        )
    return a.astype(backend.get_default_dtype()) if a.dtype == np.float64 else a


def map_structure(fn, x):
    """Apply ``fn`` to the leaves of nested dicts, lists and tuples (None stays None)."""
    if isinstance(x, dict):
        return {k: map_structure(fn, v) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and _is_structure(x):
        return type(x)(map_structure(fn, v) for v in x)
    return None if x is None else fn(x)


def flatten(x) -> list:
    """The non-None leaves of a nested structure, in order."""
    if isinstance(x, dict):
        return [leaf for v in x.values() for leaf in flatten(v)]
    if isinstance(x, (list, tuple)) and _is_structure(x):
        return [leaf for v in x for leaf in flatten(v)]
    return [] if x is None else [x]


def _is_structure(x) -> bool:
    """A list/tuple of arrays (a structure), not a list of numbers or nested lists of numbers
    (one array, as NumPy reads it: ``[[1., 2.], [3., 4.]]`` is a (2, 2) batch)."""
    return len(x) > 0 and not only_numbers(x) and all(v is None or _leaf_ndim(v) >= 1 for v in x)


def only_numbers(x) -> bool:
    """Nested Python lists/tuples holding only numbers (no arrays, tensors, dicts or None)."""
    if isinstance(x, (list, tuple)):
        return all(only_numbers(v) for v in x)
    return isinstance(x, (int, float, bool, np.generic)) and not isinstance(x, (str, bytes))


def _leaf_ndim(v) -> int:
    if hasattr(v, "shape"):
        return len(v.shape)
    if isinstance(v, (int, float, complex, bool, np.generic, str, bytes)):
        return 0
    return 1  # lists, dicts and other objects are elements of a structure


def to_tensors(x, device: str = "cpu"):
    """Nested NumPy arrays as zerograd Tensors on ``device`` (what ``train_step`` receives)."""
    return map_structure(
        lambda a: a.to(device) if isinstance(a, Tensor) else Tensor(to_numpy(a), device=device), x
    )


def unpack_x_y_sample_weight(data):
    """``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` -> a triple; anything else is ``x``."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) in (1, 2, 3):
        return (*data, *([None] * (3 - len(data))))
    raise ValueError(
        "Data is expected as (x,), (x, y) or (x, y, sample_weight), "
        f"received a tuple of {len(data)} elements"
    )


def pack_x_y_sample_weight(x, y=None, sample_weight=None) -> tuple:
    """The tuple ``train_step`` receives: ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``."""
    if y is None:
        return (x,)
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def class_weight_to_sample_weight(y, class_weight: dict) -> np.ndarray:
    """Per-sample weights from class indices (argmax of one-hot targets, rounded otherwise)."""
    if not isinstance(class_weight, dict):
        raise TypeError(
            "class_weight must be a dict mapping class indices to weights, received "
            f"{type(class_weight).__name__}"
        )
    if isinstance(y, (list, tuple, dict)) and len(flatten(y)) != 1:
        raise ValueError("class_weight is only supported for models with a single output")
    labels = to_numpy(flatten(y)[0])
    if labels.ndim > 1:
        labels = labels.argmax(-1) if labels.shape[-1] != 1 else labels[..., 0]
    labels = np.round(labels).astype(np.int64).reshape(-1)
    # one table lookup (classes missing from class_weight weigh 1, as in Keras)
    keys = np.fromiter((int(k) for k in class_weight), dtype=np.int64, count=len(class_weight))
    size = int(max(keys.max(initial=-1), labels.max(initial=-1))) + 1
    table = np.ones(size, dtype=np.float32)
    table[keys] = np.fromiter(class_weight.values(), dtype=np.float32, count=len(class_weight))
    return np.where(labels >= 0, table[np.maximum(labels, 0)], np.float32(1.0))


def is_py_dataset(x) -> bool:
    """The PyDataset protocol: ``__len__``, ``__getitem__(i)`` -> a batch, ``on_epoch_end()``."""
    sized = hasattr(x, "__len__") or hasattr(x, "num_batches")
    return (
        sized
        and hasattr(x, "__getitem__")
        and hasattr(x, "on_epoch_end")
        and not hasattr(x, "shape")
    )


def is_batch_iterable(x) -> bool:
    """A source of ready-made batches (DataLoaders, generators, other iterables), not arrays."""
    if x is None or isinstance(x, (np.ndarray, Tensor, list, tuple, dict, str, bytes)):
        return False
    if hasattr(x, "shape") and hasattr(x, "dtype"):  # a torch (or other) array
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__")


class ArrayAdapter:
    """In-memory arrays sliced into batches; a new permutation each epoch when shuffling."""

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False, what="fit"):
        try:
            self.x, self.y = map_structure(to_numpy, x), map_structure(to_numpy, y)
            self.sample_weight = map_structure(to_numpy, sample_weight)
        except TypeError as e:
            raise TypeError(f"{what}: {e}") from None
        sizes = {
            name: [len(a) if np.ndim(a) else 0 for a in flatten(part)]
            for name, part in (("x", self.x), ("y", self.y), ("sample_weight", self.sample_weight))
        }
        found = {n for s in sizes.values() for n in s}
        if len(found) > 1:
            raise ValueError(
                f"{what}: every array of x, y and sample_weight must have the same number of "
                f"samples (first axis); received sizes {', '.join(f'{k}={v}' for k, v in sizes.items() if v)}"
            )
        if not sizes["x"]:
            raise ValueError(f"{what}: expected input data x, received {x!r}")
        self.size = found.pop()
        if self.size == 0 and what != "predict":
            raise ValueError(
                f"{what}: expected at least one sample, received empty arrays "
                f"(sizes {', '.join(f'{k}={v}' for k, v in sizes.items() if v)})"
            )
        self.batch_size = batch_size or 32
        self.shuffle = shuffle
        self.num_batches = math.ceil(self.size / self.batch_size)

    def batches(self):
        order = backend.rng().permutation(self.size) if self.shuffle else None
        for start in range(0, self.size, self.batch_size):
            idx = (
                slice(start, start + self.batch_size)
                if order is None
                else order[start : start + self.batch_size]
            )
            take = lambda a, idx=idx: a[idx]  # noqa: E731
            yield pack_x_y_sample_weight(
                map_structure(take, self.x),
                map_structure(take, self.y),
                map_structure(take, self.sample_weight),
            )

    def whole(self) -> tuple:
        """All the samples as one batch (``predict`` on zero samples runs the model on it)."""
        return pack_x_y_sample_weight(self.x, self.y, self.sample_weight)

    def on_epoch_end(self) -> None:
        pass


def _count(dataset):
    return len(dataset) if hasattr(dataset, "__len__") else getattr(dataset, "num_batches", None)


class PyDatasetAdapter:
    """A PyDataset-like object: batch ``i`` is ``ds[i]``; ``on_epoch_end()`` after each epoch."""

    def __init__(self, dataset, shuffle=False):
        self.dataset, self.shuffle = dataset, shuffle
        self.num_batches = _count(dataset)

    def batches(self):
        if hasattr(self.dataset, "on_epoch_begin"):
            self.dataset.on_epoch_begin()
        n = _count(self.dataset)
        if n is None:  # an endless PyDataset: steps_per_epoch says how many
            yield from (self.dataset[i] for i in itertools.count())
            return
        order = backend.rng().permutation(n) if self.shuffle else range(n)
        for i in order:
            yield self.dataset[int(i)]

    def on_epoch_end(self) -> None:
        self.dataset.on_epoch_end()


class IterableAdapter:
    """A re-iterable source of batches (DataLoaders); its length, if any, is the batch count."""

    def __init__(self, iterable):
        self.iterable = iterable
        try:
            self.num_batches = len(iterable)
        except TypeError:
            self.num_batches = None

    def batches(self):
        return iter(self.iterable)

    def on_epoch_end(self) -> None:
        pass


class GeneratorAdapter(IterableAdapter):
    """A one-shot iterator or generator: batches are drawn from it until it is exhausted."""

    def __init__(self, iterator):
        self.iterable, self.num_batches = iterator, None


class _Source:
    """What made the batches, for error messages: the kind of x and the calling method."""

    def __init__(self, kind: str, what: str):
        self.kind, self.what = kind, what


def get_adapter(x, y=None, sample_weight=None, batch_size=None, shuffle=False, what="fit"):
    """The adapter for ``x`` (and ``y``/``sample_weight`` when ``x`` holds arrays)."""
    if is_py_dataset(x) or is_batch_iterable(x):
        kind = type(x).__name__
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(
                    f"{what}: argument {name} is not supported when x is a {kind} (it yields "
                    f"the batches: give (x, y[, sample_weight]) tuples); received {name} of "
                    f"type {type(value).__name__}"
                )
        if is_py_dataset(x):
            adapter = PyDatasetAdapter(x, shuffle)
        elif iter(x) is x:
            adapter = GeneratorAdapter(x)
        else:
            adapter = IterableAdapter(x)
        adapter.source = _Source(kind, what)
        return adapter
    return ArrayAdapter(x, y, sample_weight, batch_size, shuffle, what)


def check_batch(batch, source) -> None:
    """A batch drawn from a generator, PyDataset or DataLoader is x, (x,), (x, y) or
    (x, y, sample_weight): a tuple, list or dict, or one array of at least one axis."""
    if isinstance(batch, (tuple, list, dict)) or len(getattr(batch, "shape", ())) >= 1:
        return
    raise TypeError(
        f"{source.what}: each batch of a {source.kind} must be "
        "(x,), (x, y) or (x, y, sample_weight) with x an array (or a dict/list of arrays), "
        f"received {type(batch).__name__}: {batch!r:.80}"
    )


class EpochIterator:
    """Epochs of ``(step, batch)`` from an adapter. With ``steps_per_epoch`` the same iterator goes
    on across epochs (restarted once a source of known length is used up), as Keras does."""

    def __init__(self, adapter, steps_per_epoch=None, prepare=None):
        self.adapter, self.steps_per_epoch = adapter, steps_per_epoch
        self.prepare = prepare or (lambda batch: batch)
        self._iterator, self._seen = None, 0
        self.ran_out = False
        # batches made by the user (not sliced from arrays) have their structure checked
        self._source = (
            None if isinstance(adapter, ArrayAdapter) else getattr(adapter, "source", None)
        )

    @property
    def num_batches(self):
        return self.steps_per_epoch or self.adapter.num_batches

    def _warn(self) -> None:
        self.ran_out = True
        warnings.warn(
            "Your input ran out of data; interrupting training. Make sure that your dataset or "
            "generator can generate at least `steps_per_epoch * epochs` batches.",
            stacklevel=3,
        )

    def __iter__(self):
        known = self.adapter.num_batches
        steps = self.steps_per_epoch or known
        self.ran_out = False
        if steps:
            if self._iterator is None or self.steps_per_epoch is None:
                self._iterator, self._seen = iter(self.adapter.batches()), 0
            for step in range(steps):
                if known and self._seen >= known:
                    if self.steps_per_epoch:
                        self._warn()
                    break
                try:
                    batch = next(self._iterator)
                except StopIteration:
                    self._iterator = None
                    self._warn()
                    break
                self._seen += 1
                if self._source is not None:
                    check_batch(batch, self._source)
                yield step, self.prepare(batch)
            if known and self._seen >= known:
                self._iterator = None
        else:
            step = -1
            for step, batch in enumerate(self.adapter.batches()):
                if self._source is not None:
                    check_batch(batch, self._source)
                yield step, self.prepare(batch)
            if step < 0 and not isinstance(self.adapter, ArrayAdapter):  # predict on 0 rows
                self._warn()
        self.adapter.on_epoch_end()


def train_validation_split(x, y, sample_weight, validation_split: float):
    """The last ``validation_split`` fraction, before any shuffling, becomes validation data."""
    leaves = flatten((x, y, sample_weight))
    bad = sorted({type(a).__name__ for a in leaves if is_batch_iterable(a) or is_py_dataset(a)})
    if bad or is_batch_iterable(x) or is_py_dataset(x):
        raise ValueError(
            "fit: validation_split is only supported for arrays (NumPy, tensors), received x "
            f"of type {type(x).__name__}; pass validation_data instead"
        )
    x, y, sample_weight = (map_structure(to_numpy, v) for v in (x, y, sample_weight))
    n = len(flatten(x)[0])
    cut = int(math.floor(n * (1.0 - validation_split)))
    if cut == 0 or cut == n:
        raise ValueError(
            f"fit: {n} samples are not enough to split with validation_split={validation_split}"
        )
    head = lambda v: map_structure(lambda a: a[:cut], v)  # noqa: E731
    tail = lambda v: map_structure(lambda a: a[cut:], v)  # noqa: E731
    return (head(x), head(y), head(sample_weight)), (tail(x), tail(y), tail(sample_weight))
