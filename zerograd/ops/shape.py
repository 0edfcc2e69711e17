"""Shape ops: reshape, transpose, broadcast, concat, stack, split, pad, repeat, tile."""

from __future__ import annotations

import builtins
import numbers
import operator

from zerograd import backend
from zerograd.autograd import Function
from zerograd.ops import argcheck
from zerograd.tensor import Tensor


def _tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _shape(shape, op: str = "reshape") -> tuple:
    """A shape as a tuple of ints: ints, NumPy ints and 0-d integer tensors (``operator.index``)."""
    items = (shape,) if isinstance(shape, (int, backend.np.integer)) else shape
    if type(items) is tuple and all(type(s) is int for s in items):  # the common case, first
        return items
    if isinstance(items, (tuple, list)) and not any(isinstance(s, bool) for s in items):
        try:
            return tuple(operator.index(s) for s in items)
        except TypeError:
            pass
    raise TypeError(f"{op}: shape must be an integer or a tuple of integers, received {shape!r}")


class Reshape(Function):
    shape: tuple

    def forward(self, x):
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.inputs[0].shape)


class Transpose(Function):
    axes: tuple

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        inverse = sorted(range(len(self.axes)), key=self.axes.__getitem__)
        return gy.transpose(tuple(inverse))


class BroadcastTo(Function):
    shape: tuple

    def forward(self, x):
        return self.xp.broadcast_to(x, self.shape)

    def backward(self, gy):
        return gy  # the engine sums it back to the input's shape


class SumTo(Function):
    """Sum a broadcast array back to ``shape``: the engine's un-broadcasting step."""

    shape: tuple

    def forward(self, x):
        return backend.sum_to(x, self.shape)

    def backward(self, gy):
        return self.xp.broadcast_to(gy, self.inputs[0].shape)


def reshape(x: Tensor, shape) -> Tensor:
    """Same data, new shape; one entry may be -1."""
    x = _tensor(x)
    shape = _shape(shape)
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def transpose(x: Tensor, axes=None) -> Tensor:
    """Permute axes (reversed when ``axes`` is None), as ``numpy.transpose``."""
    x = _tensor(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    else:
        axes = tuple(argcheck.axis("transpose", a, x.ndim) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: expected a permutation of {x.ndim} axes, received {axes}")
    return Transpose.apply(x, axes=axes)


def swapaxes(x: Tensor, a: int, b: int) -> Tensor:
    x = _tensor(x)
    axes = list(range(x.ndim))
    a, b = argcheck.axis("swapaxes", a, x.ndim), argcheck.axis("swapaxes", b, x.ndim)
    axes[a], axes[b] = axes[b], axes[a]
    return Transpose.apply(x, axes=tuple(axes))  # a permutation by construction


def squeeze(x: Tensor, axis=None) -> Tensor:
    """Drop size-1 axes (all of them, or those in ``axis``)."""
    if axis is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        axes = {
            argcheck.axis("squeeze", a, x.ndim)
            for a in ((axis,) if isinstance(axis, numbers.Integral) else axis)
        }
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(
                    f"squeeze: axis {a} has size {x.shape[a]}, expected 1 (shape {x.shape})"
                )
        shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    return reshape(x, shape)


def expand_dims(x: Tensor, axis) -> Tensor:
    """Insert size-1 axes at ``axis`` (int or tuple), as ``numpy.expand_dims``."""
    x = _tensor(x)
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    ndim = x.ndim + len(axes)
    axes = sorted(argcheck.axis("expand_dims", a, ndim) for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return reshape(x, shape)


def flatten(x: Tensor, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """Merge axes ``start_axis..end_axis`` (inclusive) into one."""
    if x.ndim == 0:
        return reshape(x, (1,))
    s = argcheck.axis("flatten", start_axis, x.ndim, "start_axis")
    e = argcheck.axis("flatten", end_axis, x.ndim, "end_axis")
    if s > e:
        raise ValueError(
            f"flatten: start_axis {start_axis} comes after end_axis {end_axis} (shape {x.shape})"
        )
    n = 1
    for d in x.shape[s : e + 1]:
        n *= d
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1 :])


def broadcast_to(x: Tensor, shape) -> Tensor:
    x = _tensor(x)
    shape = _shape(shape)
    if shape == x.shape:
        return x
    return BroadcastTo.apply(x, shape=shape)


def sum_to(x: Tensor, shape) -> Tensor:
    """Sum ``x`` over broadcast axes so it has ``shape``."""
    shape = _shape(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, x.shape[lead:])):
        raise ValueError(f"sum_to: shape {x.shape} does not broadcast from {shape}")
    return SumTo.apply(x, shape=shape)


# --- joining and splitting -----------------------------------------------------------------------


class Concat(Function):
    axis: int

    def forward(self, *xs):
        return self.xp.concatenate(xs, axis=self.axis)

    def backward(self, gy):
        grads, start = [], 0
        for x in self.inputs:
            n = x.shape[self.axis]
            grads.append(gy[(slice(None),) * self.axis + (slice(start, start + n),)])
            start += n
        return tuple(grads)


class Stack(Function):
    axis: int

    def forward(self, *xs):
        return self.xp.stack(xs, axis=self.axis)

    def backward(self, gy):
        lead = (slice(None),) * self.axis
        return tuple(gy[lead + (i,)] for i in range(len(self.inputs)))


def _many(xs, op: str) -> list:
    if not isinstance(xs, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, received {type(xs).__name__}")
    xs = [_tensor(x) for x in xs]
    if not xs:
        raise ValueError(f"{op}: expected at least one tensor, received none")
    dt = xs[0].dtype
    for x in xs[1:]:
        if x.dtype != dt:
            from zerograd import backend
            from zerograd.ops.elementwise import cast

            dt = backend.result_type(dt, x.dtype)
            xs = [cast(t, dt) for t in xs]
    return xs


def concat(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    xs = _many(tensors, "concat")
    axis = argcheck.axis("concat", axis, xs[0].ndim)
    return Concat.apply(*xs, axis=axis)


def stack(tensors, axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    xs = _many(tensors, "stack")
    axis = argcheck.axis("stack", axis, xs[0].ndim + 1)
    return Stack.apply(*xs, axis=axis)


class Split(Function):
    """One input, one output per section; the gradient joins the sections' gradients again."""

    bounds: list  # section i is [bounds[i], bounds[i + 1]) along ``axis``
    axis: int

    def forward(self, x):
        lead = (slice(None),) * self.axis
        b = self.bounds
        return tuple(x[lead + (slice(b[i], b[i + 1]),)] for i in range(len(b) - 1))

    def backward(self, *gys):
        xp, shape = self.xp, list(self.inputs[0].shape)
        used = next(g for g in gys if g is not None)  # the engine calls with at least one
        parts = []
        for g, lo, hi in zip(gys, self.bounds[:-1], self.bounds[1:]):
            if g is None:  # a section nobody used: zeros in its place, on the gradient's device
                shape[self.axis] = hi - lo
                g = xp.zeros_like(used, shape=tuple(shape))
            parts.append(g)
        return xp.concatenate(parts, axis=self.axis)


def split(x: Tensor, indices_or_sections, axis: int = 0) -> tuple:
    """Split along ``axis`` as ``numpy.split`` (into N equal sections, or at the given indices);
    a tuple of Tensors, as PyTorch's ``split`` returns."""
    x = _tensor(x)
    n = x.shape[axis]
    axis = axis % x.ndim
    if isinstance(indices_or_sections, int):
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise ValueError(
                f"split: axis {axis} of size {n} does not divide into {indices_or_sections} equal sections"
            )
        step = n // indices_or_sections
        bounds = [i * step for i in range(indices_or_sections + 1)]
    else:
        # as slice bounds: a negative index counts from the end, and all are clipped to [0, n]
        cuts = (int(i) + n if int(i) < 0 else int(i) for i in indices_or_sections)
        bounds = [0, *(builtins.min(builtins.max(i, 0), n) for i in cuts), n]
        if bounds != sorted(bounds):  # sections that overlap (NumPy allows it): one slice each
            lead = (slice(None),) * axis
            return tuple(x[lead + (slice(a, b),)] for a, b in zip(bounds[:-1], bounds[1:]))
    return Split.apply(x, bounds=bounds, axis=axis)


# --- padding and repetition ----------------------------------------------------------------------


class Pad(Function):
    pad_width: tuple
    value: float

    def forward(self, x):
        return self.xp.pad(x, self.pad_width, mode="constant", constant_values=self.value)

    def backward(self, gy):
        index = tuple(slice(lo, gy.shape[i] - hi) for i, (lo, hi) in enumerate(self.pad_width))
        return gy[index]


def pad(x: Tensor, pad_width, mode: str = "constant", constant_values=0) -> Tensor:
    """Constant padding with NumPy's ``pad_width`` (an int, a pair, or one pair per axis)."""
    if mode != "constant":
        raise ValueError(
            f"pad: only mode='constant' is differentiable here, received mode={mode!r}"
        )
    x = _tensor(x)
    import numpy as _np  # normalising Python arguments only, not array math

    width = tuple(
        tuple(int(v) for v in row) for row in _np.broadcast_to(_np.asarray(pad_width), (x.ndim, 2))
    )
    if builtins.min((v for row in width for v in row), default=0) < 0:
        raise ValueError(f"pad: pad_width must be non-negative, received {pad_width!r}")
    return Pad.apply(x, pad_width=width, value=constant_values)


class SegmentSum(Function):
    """Sum consecutive runs of ``counts`` elements along ``axis`` (the backward of repeat)."""

    counts: object
    axis: int

    def forward(self, x):
        starts = self.xp.concatenate(
            [self.xp.zeros(1, dtype=int), self.xp.cumsum(self.counts)[:-1]]
        )
        if not x.shape[self.axis]:  # every run is empty
            shape = list(x.shape)
            shape[self.axis] = len(self.counts)
            return self.xp.zeros(tuple(shape), dtype=x.dtype)
        out = self.xp.add.reduceat(x, starts, axis=self.axis)
        empty = self.counts == 0  # reduceat copies the next element for an empty run
        if empty.any():
            out[(slice(None),) * self.axis + (empty,)] = 0
        return out

    def backward(self, gy):
        return self.xp.repeat(gy, self.counts, axis=self.axis)


class Repeat(Function):
    repeats: object
    axis: int
    counts: object  # set by forward: the repeat count of each element

    def forward(self, x):
        xp = self.xp
        self.counts = xp.broadcast_to(xp.asarray(self.repeats), (x.shape[self.axis],))
        return xp.repeat(x, self.repeats, axis=self.axis)

    def backward(self, gy):
        return SegmentSum.call(gy, counts=self.counts, axis=self.axis)


def repeat(x: Tensor, repeats, axis=None) -> Tensor:
    """Repeat each element ``repeats`` times along ``axis`` (flattened when None), as NumPy."""
    x = _tensor(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    if isinstance(repeats, Tensor):
        repeats = repeats.data
    if backend.is_device_array(repeats):  # counts are host ints on every device
        repeats = backend.to_numpy(repeats)
    if isinstance(repeats, backend.np.ndarray):
        repeats = repeats.tolist()
    return Repeat.apply(x, repeats=repeats, axis=axis % x.ndim)


class Tile(Function):
    reps: tuple

    def forward(self, x):
        return self.xp.tile(x, self.reps)

    def backward(self, gy):
        x = self.inputs[0]
        base = (1,) * (len(self.reps) - x.ndim) + x.shape
        pairs = tuple(v for r, n in zip(self.reps, base) for v in (r, n))
        summed = gy.reshape(pairs).sum(axis=tuple(range(0, len(pairs), 2)))
        return summed.reshape(x.shape)


def tile(x: Tensor, reps) -> Tensor:
    """Repeat the whole tensor ``reps`` times per axis, as ``numpy.tile``."""
    x = _tensor(x)
    reps = _shape(reps)
    reps = (1,) * (x.ndim - len(reps)) + reps
    return Tile.apply(x, reps=reps)
