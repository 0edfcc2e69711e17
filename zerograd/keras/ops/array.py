"""NumPy-style creation and shape ops: zeros, arange, reshape, concatenate, take, pad, roll ..."""

from __future__ import annotations

import builtins

import numpy as np

import zerograd as zg
from zerograd.keras.ops.core import standardize_dtype, tensor
from zerograd.keras.ops.creation import as_shape
from zerograd.keras.ops.symbolic import symbolic
from zerograd.ops import argcheck
from zerograd.tensor import Tensor

__all__ = [
    "view",
    "reshape",
    "transpose",
    "expand_dims",
    "squeeze",
    "ravel",
    "swapaxes",
    "moveaxis",
    "broadcast_to",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "append",
    "split",
    "array_split",
    "unstack",
    "tile",
    "repeat",
    "take",
    "take_along_axis",
    "flip",
    "roll",
    "pad",
    "size",
    "fliplr",
    "flipud",
    "rot90",
    "diff",
    "dstack",
    "hsplit",
    "vsplit",
    "dsplit",
]


# --- shape ---------------------------------------------------------------------------------------


@symbolic
def reshape(x, newshape) -> Tensor:
    """x with a new shape (one axis may be -1)."""
    return zg.reshape(tensor(x), as_shape(newshape))


@symbolic
def transpose(x, axes=None) -> Tensor:
    """Axes permuted (reversed when ``axes`` is None)."""
    return zg.transpose(tensor(x), None if axes is None else tuple(axes))


@symbolic
def expand_dims(x, axis) -> Tensor:
    """New size-1 axes at ``axis`` (an int or a tuple)."""
    x = tensor(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    n = x.ndim + len(axes)
    shape = iter(x.shape)
    wanted = {argcheck.axis("expand_dims", a, x.ndim + len(axes)) for a in axes}
    return zg.reshape(x, tuple(1 if i in wanted else next(shape) for i in range(n)))


@symbolic
def squeeze(x, axis=None) -> Tensor:
    """Size-1 axes removed (all of them, or those in ``axis``)."""
    return zg.squeeze(tensor(x), axis)


@symbolic
def ravel(x) -> Tensor:
    """x flattened to 1-D."""
    return zg.reshape(tensor(x), (-1,))


@symbolic
def swapaxes(x, axis1, axis2) -> Tensor:
    """Two axes exchanged."""
    return zg.swapaxes(tensor(x), axis1, axis2)


@symbolic
def moveaxis(x, source, destination) -> Tensor:
    """Axes moved to new positions, the others keeping their order."""
    x = tensor(x)
    src = [
        argcheck.axis("moveaxis", s, x.ndim)
        for s in ((source,) if isinstance(source, int) else source)
    ]
    dst = [
        argcheck.axis("moveaxis", d, x.ndim)
        for d in ((destination,) if isinstance(destination, int) else destination)
    ]
    if len(src) != len(dst):
        raise ValueError(
            f"moveaxis: source and destination must have the same number of axes, received "
            f"{source!r} and {destination!r}"
        )
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return zg.transpose(x, tuple(order))


@symbolic
def broadcast_to(x, shape) -> Tensor:
    """x broadcast to ``shape``."""
    return zg.broadcast_to(tensor(x), as_shape(shape, "broadcast_to"))


@symbolic
def concatenate(xs, axis=0) -> Tensor:
    """Tensors joined along an existing axis (None: flattened first)."""
    xs = [tensor(x) for x in xs]
    if axis is None:
        xs, axis = [zg.reshape(x, (-1,)) for x in xs], 0
    if xs:
        axis = argcheck.axis("concatenate", axis, xs[0].ndim)
    return zg.concat(xs, axis)


@symbolic
def stack(x, axis=0) -> Tensor:
    """Tensors joined along a new axis."""
    return zg.stack([tensor(v) for v in x], axis)


@symbolic
def hstack(xs) -> Tensor:
    """Tensors joined along the second axis (the first for 1-D)."""
    return concatenate.eager(xs, 1 if tensor(xs[0]).ndim > 1 else 0)


@symbolic
def vstack(xs) -> Tensor:
    """Tensors joined along the first axis (1-D ones as rows)."""
    xs = [tensor(x) for x in xs]
    return zg.concat([zg.reshape(x, (1, -1)) if x.ndim == 1 else x for x in xs], 0)


@symbolic
def append(x1, x2, axis=None) -> Tensor:
    """x2 joined to the end of x1 (flattened when ``axis`` is None)."""
    return concatenate.eager([x1, x2], axis)


@symbolic
def split(x, indices_or_sections, axis=0) -> list:
    """Equal sections, or sections cut at the given indices, as a list."""
    x = tensor(x)
    axis = argcheck.axis("split", axis, x.ndim)
    if not isinstance(indices_or_sections, (int, np.integer)):
        cuts = list(indices_or_sections)
        size = x.shape[axis]
        if any(not 0 <= c <= size for c in cuts) or cuts != sorted(cuts):
            raise ValueError(
                f"split: indices must be increasing and within axis {axis} of size {size}, "
                f"received {cuts}"
            )
    elif indices_or_sections < 1:
        raise ValueError(
            f"split: the number of sections must be >= 1, received {indices_or_sections}"
        )
    return list(zg.split(x, indices_or_sections, axis))


@symbolic
def array_split(x, indices_or_sections, axis=0) -> list:
    """Split into ``n`` nearly equal sections (the first ones one longer)."""
    x = tensor(x)
    n, size = int(indices_or_sections), x.shape[axis]
    q, r = divmod(size, n)
    cuts = np.cumsum([q + 1] * r + [q] * (n - r))[:-1].tolist()
    return list(zg.split(x, cuts, axis))


@symbolic
def unstack(x, num=None, axis=0) -> list:
    """The slices along ``axis``, as a list."""
    x = tensor(x)
    axis = argcheck.axis("unstack", axis, x.ndim)
    if num is not None and num != x.shape[axis]:
        raise ValueError(
            f"unstack: num={num} does not match axis {axis} of size {x.shape[axis]} (shape "
            f"{x.shape})"
        )
    lead = (builtins.slice(None),) * axis
    return [x[lead + (i,)] for i in range(x.shape[axis])]


@symbolic
def tile(x, repeats) -> Tensor:
    """x repeated as a whole ``repeats`` times per axis."""
    return zg.tile(tensor(x), as_shape(repeats, "tile"))


@symbolic
def repeat(x, repeats, axis=None) -> Tensor:
    """Each element repeated ``repeats`` times along ``axis`` (flattened when None)."""
    x = tensor(x)
    if axis is not None:
        axis = argcheck.axis("repeat", axis, x.ndim)
    return zg.repeat(x, repeats, axis)


def _indices(indices, op: str) -> np.ndarray:
    idx = tensor(indices).data
    if idx.dtype.kind == "f":
        idx = idx.astype(np.int64)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer indices, received {idx.dtype}")
    return idx


@symbolic
def take(x, indices, axis=None) -> Tensor:
    """Elements (or slices along ``axis``) at ``indices``; the gradient scatters back."""
    x, idx = tensor(x), _indices(indices, "take")
    if axis is None:
        return zg.reshape(x, (-1,))[idx]
    axis = argcheck.axis("take", axis, x.ndim)
    return x[(builtins.slice(None),) * axis + (idx,)]


@symbolic
def take_along_axis(x, indices, axis=None) -> Tensor:
    """Values picked along ``axis`` at ``indices`` (broadcast against x)."""
    x, idx = tensor(x), _indices(indices, "take_along_axis")
    if axis is None:
        x, axis = zg.reshape(x, (-1,)), 0
    axis = argcheck.axis("take_along_axis", axis, x.ndim)
    if idx.ndim != x.ndim:
        raise ValueError(
            f"take_along_axis: expected indices of rank {x.ndim}, received shape {idx.shape}"
        )
    shape = [builtins.max(a, b) for a, b in zip(x.shape, idx.shape)]
    x_shape, idx_shape = list(shape), list(shape)
    x_shape[axis], idx_shape[axis] = x.shape[axis], idx.shape[axis]
    if tuple(x_shape) != x.shape:
        x = zg.broadcast_to(x, tuple(x_shape))
    idx = np.broadcast_to(idx, tuple(idx_shape))
    return zg.take_along_axis(x, np.where(idx < 0, idx + x.shape[axis], idx), axis)


@symbolic
def flip(x, axis=None) -> Tensor:
    """Entries reversed along ``axis`` (all axes when None)."""
    x = tensor(x)
    axes = range(x.ndim) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    axes = {argcheck.axis("flip", a, x.ndim) for a in axes}
    rev = builtins.slice(None, None, -1)
    return x[tuple(rev if i in axes else builtins.slice(None) for i in range(x.ndim))]


@symbolic
def roll(x, shift, axis=None) -> Tensor:
    """Entries shifted cyclically along ``axis`` (the flattened tensor when None)."""
    x = tensor(x)
    if axis is None:
        return zg.reshape(roll.eager(zg.reshape(x, (-1,)), shift, 0), x.shape)
    shifts = (shift,) if isinstance(shift, int) else tuple(shift)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    for s, a in zip(shifts, axes):
        a = argcheck.axis("roll", a, x.ndim)
        n = x.shape[a]
        if n:
            idx = (np.arange(n) - s) % n
            x = x[(builtins.slice(None),) * a + (idx,)]
    return x


@symbolic
def pad(x, pad_width, mode="constant", constant_values=None) -> Tensor:
    """Padding with NumPy's ``pad_width``; modes 'constant', 'reflect', 'symmetric', 'edge',
    'wrap' (all differentiable)."""
    x = tensor(x)
    width = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    if mode == "constant":
        return zg.pad(x, width.tolist(), constant_values=constant_values or 0)
    if constant_values is not None:
        raise ValueError(
            f"pad: constant_values is only for mode='constant', received mode={mode!r}"
        )
    if mode not in ("reflect", "symmetric", "edge", "wrap"):
        raise ValueError(
            "pad: mode must be 'constant', 'reflect', 'symmetric', 'edge' or 'wrap', "
            f"received {mode!r}"
        )
    for a, (lo, hi) in enumerate(width.tolist()):
        if lo or hi:  # the padded positions as indices into the axis, gathered
            idx = np.pad(np.arange(x.shape[a]), (lo, hi), mode=mode)
            x = x[(builtins.slice(None),) * a + (idx,)]
    return x


def size(x) -> int:
    """The number of elements."""
    return int(np.prod(tensor(x).shape))


@symbolic
def fliplr(x) -> Tensor:
    """Entries reversed along the second axis."""
    return flip.eager(x, 1)


@symbolic
def flipud(x) -> Tensor:
    """Entries reversed along the first axis."""
    return flip.eager(x, 0)


@symbolic
def rot90(array, k=1, axes=(0, 1)) -> Tensor:
    """Rotated by 90 degrees ``k`` times in the plane of ``axes``."""
    x = tensor(array)
    a, b = axes
    k %= 4
    if k == 1:
        return swapaxes.eager(flip.eager(x, b), a, b)
    if k == 2:
        return flip.eager(x, (a, b))
    if k == 3:
        return flip.eager(swapaxes.eager(x, a, b), b)
    return x


@symbolic
def diff(a, n=1, axis=-1) -> Tensor:
    """The ``n``-th differences along ``axis``."""
    x = tensor(a)
    axis %= x.ndim
    lead = (builtins.slice(None),) * axis
    for _ in range(n):
        x = x[lead + (builtins.slice(1, None),)] - x[lead + (builtins.slice(None, -1),)]
    return x


@symbolic
def dstack(xs) -> Tensor:
    """Tensors joined along the third axis (1-D and 2-D ones lifted first)."""
    xs = [tensor(x) for x in xs]
    lifted = [
        zg.reshape(x, (1, -1, 1))
        if x.ndim == 1
        else (expand_dims.eager(x, -1) if x.ndim == 2 else x)
        for x in xs
    ]
    return zg.concat(lifted, 2)


@symbolic
def hsplit(x, indices_or_sections) -> list:
    """Split along the second axis (the first for 1-D)."""
    x = tensor(x)
    return split.eager(x, indices_or_sections, 1 if x.ndim > 1 else 0)


@symbolic
def vsplit(x, indices_or_sections) -> list:
    """Split along the first axis."""
    return split.eager(x, indices_or_sections, 0)


@symbolic
def dsplit(x, indices_or_sections) -> list:
    """Split along the third axis."""
    return split.eager(x, indices_or_sections, 2)


@symbolic
def view(x, dtype=None) -> Tensor:
    """The same bytes read as ``dtype`` (a bitcast; the last axis scales by the size ratio)."""
    x = tensor(x)
    if dtype is None:
        return x
    dt = standardize_dtype(dtype, "view")
    if x.ndim == 0 and dt.itemsize != x.dtype.itemsize:
        raise ValueError(f"view: a 0-d tensor of {x.dtype} cannot be viewed as {dt}")
    if x.ndim and (x.shape[-1] * x.dtype.itemsize) % dt.itemsize:
        raise ValueError(
            f"view: the last axis ({x.shape[-1]} x {x.dtype.itemsize} bytes) must be a multiple "
            f"of {dt}'s {dt.itemsize} bytes, received shape {x.shape}"
        )
    return Tensor._make(x.xp.ascontiguousarray(x.data).view(dt))
