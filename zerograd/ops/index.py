"""Indexing: ``x[...]`` (ints, slices, None, Ellipsis, integer arrays, boolean masks), take_along_axis."""

from __future__ import annotations

from zerograd import backend
from zerograd.autograd import Function
from zerograd.kernels import scatter
from zerograd.ops import argcheck
from zerograd.tensor import Tensor


def unwrap_index(index):
    """Replace Tensors inside an index by their arrays; lists become integer/boolean arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(unwrap_index(i) for i in index)
    return index


def index_on_device(x: Tensor, index):
    """``index`` (already unwrapped) with its arrays on ``x``'s device: NumPy index arrays move to
    the device as PyTorch moves CPU indices; a device index for a CPU tensor is an error."""
    if isinstance(index, tuple):
        return tuple(index_on_device(x, i) for i in index)
    if backend.is_device_array(index) or isinstance(index, backend.np.ndarray):
        return backend.moved_to(index, x.device, "getitem", "index")
    return index


def _is_basic(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


class GetItem(Function):
    index: object

    def forward(self, x):
        return x[self.index]

    def backward(self, gy):
        shape = self.inputs[0].shape
        return ScatterAdd.call(gy, index=self.index, shape=shape, basic=_is_basic(self.index))


class ScatterAdd(Function):
    """zeros(shape) with ``gy`` added at ``index``; repeated indices accumulate."""

    index: object
    shape: tuple
    basic: bool  # only ints, slices, None and Ellipsis

    def forward(self, gy):
        gx = self.xp.zeros(self.shape, dtype=gy.dtype)
        if self.basic:
            gx[self.index] = gy
        elif scatter.usable(gx, self.index, gy):  # integer rows: a compiled loop
            scatter.add_rows(gx, self.index, gy)
        else:
            self.xp.add.at(gx, self.index, gy)
        return gx

    def backward(self, ggx):
        return ggx[self.index]


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]`` with NumPy semantics; gradients scatter-add back (repeats accumulate)."""
    index = unwrap_index(index)
    if isinstance(index, list):
        index = x.xp.asarray(index)
    elif backend.cupy_module() is not None and not isinstance(index, (int, slice)):
        index = index_on_device(x, index)  # only where a GPU array may be met
    return GetItem.apply(x, index=index)


class TakeAlongAxis(Function):
    indices: object
    axis: int

    def forward(self, x):
        return self.xp.take_along_axis(x, self.indices, axis=self.axis)

    def backward(self, gy):
        shape = self.inputs[0].shape
        return PutAlongAxisAdd.call(gy, indices=self.indices, axis=self.axis, shape=shape)


class PutAlongAxisAdd(Function):
    indices: object
    axis: int
    shape: tuple

    def forward(self, gy):
        xp = self.xp
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        idx = xp.broadcast_to(self.indices, gy.shape)
        nd = gy.ndim  # open grids, as indices(sparse=True), which CuPy lacks
        grids = [
            xp.arange(n).reshape([n if j == i else 1 for j in range(nd)])
            for i, n in enumerate(gy.shape)
        ]
        full = tuple(idx if i == self.axis else g for i, g in enumerate(grids))
        xp.add.at(gx, full, gy)
        return gx

    def backward(self, ggx):
        return self.xp.take_along_axis(ggx, self.indices, axis=self.axis)


def take_along_axis(x: Tensor, indices, axis: int) -> Tensor:
    """Pick values along ``axis`` at ``indices`` (same rank as ``x``), as NumPy."""
    indices = indices.data if isinstance(indices, Tensor) else x.xp.asarray(indices)
    if indices.ndim != x.ndim:
        raise ValueError(
            f"take_along_axis: expected indices with {x.ndim} dimensions like the input, "
            f"received shape {indices.shape} for input shape {x.shape}"
        )
    if indices.dtype.kind not in "iu":
        raise TypeError(f"take_along_axis: expected integer indices, received {indices.dtype}")
    return TakeAlongAxis.apply(x, indices=indices, axis=axis % x.ndim)


class Embedding(Function):
    """weight[indices]; rows at ``padding_idx`` receive no gradient."""

    indices: object
    padding_idx: int | None

    def forward(self, weight):
        return weight[self.indices]

    def backward(self, gy):
        if self.padding_idx is not None:
            gy = gy * (self.indices != self.padding_idx)[..., None]
        shape = self.inputs[0].shape
        return ScatterAdd.call(gy, index=self.indices, shape=shape, basic=False)


def embedding(indices, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Look up rows of ``weight`` (num_embeddings, dim) at integer ``indices``."""
    idx = indices.data if isinstance(indices, Tensor) else weight.xp.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: expected integer indices, received {idx.dtype}")
    if weight.ndim != 2:
        raise ValueError(
            f"embedding: expected weight of shape (num_embeddings, embedding_dim), received "
            f"shape {weight.shape}"
        )
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(
            f"embedding: indices must be in [0, {n}), received min {idx.min()} max {idx.max()}"
        )
    if padding_idx is not None:
        argcheck.integer("embedding", "padding_idx", padding_idx)
        if not -n <= padding_idx < n:
            raise ValueError(
                f"embedding: padding_idx must be in [{-n}, {n}) (num_embeddings), received "
                f"{padding_idx}"
            )
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    return Embedding.apply(weight, indices=idx, padding_idx=padding_idx)
