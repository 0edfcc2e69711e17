"""Keras merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot) and
their functional forms (``layers.add([a, b])``), on real tensors and on functional-model inputs."""

from __future__ import annotations

from zerograd.keras.base import Layer
from zerograd.ops import elementwise as E
from zerograd.ops.linalg import matmul
from zerograd.ops.shape import concat
from zerograd.tensor import Tensor


class _Merge(Layer):
    """Elementwise merge of a list of tensors of one batch size; shapes broadcast as Keras's do
    (equal sizes or 1), and a lower-rank input gets axes of size 1 inserted after the batch axis."""

    min_inputs, max_inputs = 1, None

    def _inputs(self, inputs) -> list:
        name = f"{type(self).__name__} '{self.name}'"
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"{name} should be called on a list of tensors, received {type(inputs).__name__}"
            )
        n = len(inputs)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = (
                f"exactly {self.min_inputs}"
                if self.min_inputs == self.max_inputs
                else f"at least {self.min_inputs}"
            )
            raise ValueError(f"{name} should be called on {want} inputs, received {n}")
        return list(inputs)

    def _broadcast(self, inputs) -> list:
        shapes = [tuple(t.shape) for t in inputs]
        if len({s[0] for s in shapes if s}) > 1:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' cannot merge tensors with different batch "
                f"sizes, received shapes {shapes}"
            )
        out = shapes[0][1:]
        for s in shapes[1:]:
            a, b = (out, s[1:]) if len(out) >= len(s) - 1 else (s[1:], out)
            if b:
                tail = []
                for i, j in zip(a[-len(b) :], b):
                    if i != j and 1 not in (i, j):
                        raise ValueError(
                            f"{type(self).__name__} '{self.name}': inputs have incompatible "
                            f"shapes, received shapes {shapes}"
                        )
                    tail.append(max(i, j) if 1 in (i, j) else i)
                a = (*a[: -len(b)], *tail)
            out = a
        ndim = max(len(s) for s in shapes)
        return [t.reshape((t.shape[0],) + (1,) * (ndim - t.ndim) + t.shape[1:]) for t in inputs]

    def call(self, inputs):
        return self.merge(self._broadcast(self._inputs(inputs)))

    def compute_mask(self, inputs, mask=None):
        """Positions kept by any input's mask (None when an input has no mask), as Keras."""
        masks = _mask_list(self, inputs, mask)
        if masks is None or any(m is None for m in masks):
            return None
        out = masks[0]
        for m in masks[1:]:
            out = out | m
        return out

    def merge(self, inputs: list) -> Tensor:
        raise NotImplementedError


class Add(_Merge):
    """The elementwise sum of a list of tensors."""

    def merge(self, inputs):
        out = inputs[0]
        for t in inputs[1:]:
            out = out + t
        return out


class Subtract(_Merge):
    """inputs[0] - inputs[1]."""

    min_inputs = max_inputs = 2

    def merge(self, inputs):
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    """The elementwise product of a list of tensors."""

    def merge(self, inputs):
        out = inputs[0]
        for t in inputs[1:]:
            out = out * t
        return out


class Average(_Merge):
    """The elementwise mean of a list of tensors."""

    def merge(self, inputs):
        out = inputs[0]
        for t in inputs[1:]:
            out = out + t
        return out / len(inputs)


class Maximum(_Merge):
    """The elementwise maximum of a list of tensors."""

    def merge(self, inputs):
        out = inputs[0]
        for t in inputs[1:]:
            out = E.maximum(out, t)
        return out


class Minimum(_Merge):
    """The elementwise minimum of a list of tensors."""

    def merge(self, inputs):
        out = inputs[0]
        for t in inputs[1:]:
            out = E.minimum(out, t)
        return out


class Concatenate(_Merge):
    """Joins a list of tensors along ``axis``; all other axes must match."""

    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int):
            raise TypeError(f"Concatenate '{self.name}': axis must be an int, received {axis!r}")
        self.axis = axis

    def call(self, inputs):
        inputs = self._inputs(inputs)
        shapes = [tuple(t.shape) for t in inputs]
        ndim = len(shapes[0])
        if any(len(s) != ndim for s in shapes) or not -ndim <= self.axis < ndim:
            raise ValueError(
                f"Concatenate '{self.name}' expected inputs of one rank with axis {self.axis} in "
                f"range, received shapes {shapes}"
            )
        ax = self.axis % ndim
        if len({s[:ax] + s[ax + 1 :] for s in shapes}) > 1:
            raise ValueError(
                f"Concatenate '{self.name}' expected inputs whose shapes match except on axis "
                f"{self.axis}, received shapes {shapes}"
            )
        return concat(inputs, axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        """The inputs' masks (all True where an input has none) joined, then any() over the
        last axis, as Keras."""
        masks = _mask_list(self, inputs, mask)
        if masks is None or all(m is None for m in masks):
            return None
        full = []
        for x, m in zip(inputs, masks):
            if m is None:
                m = Tensor._make(x.xp.ones(x.shape, dtype=bool))
            elif m.ndim < x.ndim:
                m = Tensor._make(x.xp.broadcast_to(m.data[..., None], x.shape))
            full.append(m)
        return concat(full, axis=self.axis).any(axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Per-sample dot product of two tensors along ``axes`` (cosine similarity if ``normalize``).

    Example:
        >>> Dot(axes=1)([zg.ones(4, 3), zg.ones(4, 3)]).shape
        (4, 1)
    """

    min_inputs = max_inputs = 2

    def __init__(self, axes, normalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(isinstance(a, int) for a in axes):
                raise ValueError(
                    f"Dot '{self.name}': axes must be an int or a pair of ints, received {axes!r}"
                )
            axes = list(axes)
        elif not isinstance(axes, int):
            raise TypeError(
                f"Dot '{self.name}': axes must be an int or a pair of ints, received {axes!r}"
            )
        self.axes, self.normalize = axes, normalize

    def call(self, inputs):
        x1, x2 = self._inputs(inputs)
        pair = self.axes if isinstance(self.axes, list) else [self.axes, self.axes]
        if not (-x1.ndim <= pair[0] < x1.ndim and -x2.ndim <= pair[1] < x2.ndim):
            raise ValueError(
                f"Dot '{self.name}': axes {pair} are out of range for inputs of shapes "
                f"{x1.shape} and {x2.shape}"
            )
        a1, a2 = pair[0] % x1.ndim, pair[1] % x2.ndim
        if x1.shape[0] != x2.shape[0] or 0 in (a1, a2) or x1.shape[a1] != x2.shape[a2]:
            raise ValueError(
                f"Dot '{self.name}' expected two inputs of one batch size whose axes {pair} "
                f"(not the batch axis) have one size, received shapes {x1.shape} and {x2.shape}"
            )
        if self.normalize:
            x1, x2 = _l2_normalize(x1, a1), _l2_normalize(x2, a2)
        return _batch_dot(x1, x2, a1, a2)

    def compute_mask(self, inputs, mask=None):
        """No output mask: the masked axis is contracted away."""
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _mask_list(layer, inputs, mask):
    """The per-input masks of a merge (None when there are none), checked against the inputs."""
    if mask is None:
        return None
    if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}' expected one mask (or None) per input, "
            f"received {len(inputs)} inputs and mask={mask!r}"
        )
    return list(mask)


def _l2_normalize(x: Tensor, axis: int) -> Tensor:
    """x / ||x|| along ``axis``, the squared norm floored at 1e-12 (as Keras)."""
    return x / (x * x).sum(axis=axis, keepdims=True).maximum(1e-12).sqrt()


def _batch_dot(x1: Tensor, x2: Tensor, a1: int, a2: int) -> Tensor:
    """Contract axis a1 of x1 with axis a2 of x2, sample by sample: (B, *rest1, *rest2)."""
    b, k = x1.shape[0], x1.shape[a1]
    p1 = [0] + [i for i in range(1, x1.ndim) if i != a1] + [a1]
    p2 = [0, a2] + [i for i in range(1, x2.ndim) if i != a2]
    y1, y2 = x1.transpose(p1), x2.transpose(p2)
    rest1, rest2 = y1.shape[1:-1], y2.shape[2:]
    y = matmul(y1.reshape((b, -1, k)), y2.reshape((b, k, -1)))  # (B, M, N)
    out = (b, *rest1, *rest2)
    return y.reshape(out if len(out) > 1 else (b, 1))


def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``: the sum of a list of tensors."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``: inputs[0] - inputs[1]."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``: the elementwise product of a list of tensors."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``: the elementwise mean of a list of tensors."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``: the elementwise maximum of a list of tensors."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``: the elementwise minimum of a list of tensors."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis: int = -1, **kwargs):
    """``Concatenate(axis, **kwargs)(inputs)``: a list of tensors joined along ``axis``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """``Dot(axes, **kwargs)(inputs)``: the per-sample dot product of two tensors."""
    return Dot(axes=axes, **kwargs)(inputs)
