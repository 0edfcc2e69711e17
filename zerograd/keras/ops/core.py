"""Core ops: conversion, dtypes and shapes, control flow (run eagerly), slicing and scattering."""

from __future__ import annotations

import builtins
import functools

import numpy as np

import zerograd as zg
from zerograd import backend
from zerograd.autograd import Function
from zerograd.keras import devices as keras_device
from zerograd.keras.base import KerasTensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.tensor import Tensor

EPSILON = 1e-7  # keras.config.epsilon(): the fuzz factor of clipped logs and normalisations
_PY_NUMBERS = (bool, int, float)


def standardize_dtype(dtype, op: str = "ops"):
    """A Keras dtype name ('float32', 'int32', ...), NumPy dtype or Python type as a NumPy dtype."""
    if dtype is None:
        return None
    if dtype is int:
        return backend.int32
    try:
        return backend.as_dtype(dtype)
    except TypeError:
        raise TypeError(
            f"{op}: expected a dtype such as 'float32' or 'int32', received {dtype!r}"
        ) from None


def tensor(x, dtype=None, op: str = "ops") -> Tensor:
    """``x`` as a Tensor with Keras's rules: Python floats become float32 (the default float dtype),
    Python ints int32; NumPy arrays keep their dtype; Tensors pass through (cast if ``dtype``)."""
    dtype = standardize_dtype(dtype, op)
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == dtype else zg.cast(x, dtype)
    if isinstance(x, KerasTensor):
        raise TypeError(f"{op}: expected a concrete tensor, received the symbolic {x!r}")
    if isinstance(x, (np.ndarray, np.generic)) or backend.is_device_array(x):
        a = x
    else:
        if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
            x = x.detach().cpu().numpy()
        elif isinstance(x, (list, tuple)) and any(isinstance(v, Tensor) for v in x):
            return zg.stack([tensor(v, dtype, op) for v in x])
        a = np.asarray(x)
        if a.dtype.kind in "OUS":
            raise TypeError(f"{op}: expected numbers, received {type(x).__name__} {x!r}")
        if dtype is None and not isinstance(x, np.ndarray):
            if a.dtype == np.float64:
                a = a.astype(backend.get_default_dtype())
            elif a.dtype == np.int64 and (not a.size or np.abs(a).max() < 2**31):
                a = a.astype(np.int32)
    return Tensor(a, dtype=dtype, device=keras_device.current())


def operand(x):
    """An operand of a binary op: Python numbers stay as they are (they take the other's dtype)."""
    return x if type(x) in _PY_NUMBERS else tensor(x)


def binary_operands(x1, x2) -> tuple:
    """Both operands of a binary op; two Python numbers become tensors (Keras's dtypes)."""
    x1, x2 = operand(x1), operand(x2)
    if not isinstance(x1, Tensor) and not isinstance(x2, Tensor):
        x1 = tensor(x1)
    return x1, x2


def float_tensor(x) -> Tensor:
    """``x`` as a Tensor of a float dtype (ints and bools: the default float dtype)."""
    x = tensor(x)
    return x if x.dtype.kind == "f" else zg.cast(x, backend.get_default_dtype())


def graph_needed(x: Tensor) -> bool:
    """True when an op on ``x`` must be recorded for backward."""
    return x.requires_grad and zg.is_grad_enabled()


def const(array, dtype=None) -> Tensor:
    """A result with no gradient (indices, masks, comparisons): an array of any device, or a NumPy
    scalar (made a 0-d array)."""
    if not hasattr(array, "ndim") or isinstance(array, np.generic):
        array = np.asarray(array)
    return Tensor._make(array if dtype is None else array.astype(dtype, copy=False))


# --- conversion and dtypes -----------------------------------------------------------------------


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None) -> Tensor:
    """A zerograd Tensor from a Tensor, NumPy array, list or Python number."""
    if sparse or ragged:
        raise ValueError("convert_to_tensor: sparse and ragged tensors are not supported")
    return tensor(x, dtype, "convert_to_tensor")


def convert_to_numpy(x) -> np.ndarray:
    """A NumPy array of ``x`` (copied to the host from a device)."""
    if isinstance(x, KerasTensor):
        raise TypeError(f"convert_to_numpy: a symbolic tensor has no value, received {x!r}")
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


def is_tensor(x) -> bool:
    """True for a zerograd Tensor."""
    return isinstance(x, Tensor)


def dtype(x) -> str:
    """The dtype name of ``x``, as Keras spells it ('float32')."""
    if isinstance(x, (Tensor, KerasTensor)):
        return str(np.dtype(getattr(x, "dtype", None) or backend.get_default_dtype()))
    return str(tensor(x).dtype)


@symbolic
def cast(x, dtype) -> Tensor:
    """``x`` as ``dtype``; differentiable between float dtypes."""
    return zg.cast(tensor(x), standardize_dtype(dtype, "cast"))


@symbolic
def saturate_cast(x, dtype) -> Tensor:
    """Cast, clipping values to the range of an integer ``dtype`` first."""
    x, dt = tensor(x), standardize_dtype(dtype, "saturate_cast")
    if dt.kind in "iu":
        info = np.iinfo(dt)
        x = zg.clip(x, info.min, info.max)
    return zg.cast(x, dt)


def shape(x) -> tuple:
    """The shape as a tuple (None for a symbolic tensor's batch axis)."""
    if isinstance(x, (Tensor, KerasTensor)):
        return tuple(x.shape)
    return tuple(np.shape(x))


def ndim(x) -> int:
    """The number of axes."""
    return len(shape(x))


@symbolic
def stop_gradient(variable) -> Tensor:
    """The same values, cut from the graph."""
    return tensor(variable).detach()


# --- control flow (eager: Python runs it) -----------------------------------------------------------


def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` else ``false_fn()``."""
    return true_fn() if bool(pred) else false_fn()


def switch(index, branches, *operands):
    """``branches[index](*operands)``, the index clipped to the valid range."""
    i = builtins.min(builtins.max(int(index), 0), len(branches) - 1)
    return branches[i](*operands)


def fori_loop(lower, upper, body_fun, init_val):
    """``for i in range(lower, upper): val = body_fun(i, val)``."""
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Apply ``body`` while ``cond`` holds; ``loop_vars`` a tuple/list (unpacked) or one value."""
    packed = isinstance(loop_vars, (list, tuple))
    vars_, n = loop_vars, 0
    while (maximum_iterations is None or n < maximum_iterations) and bool(
        cond(*vars_) if packed else cond(vars_)
    ):
        vars_ = body(*vars_) if packed else body(vars_)
        if packed and not isinstance(vars_, (list, tuple)):
            vars_ = (vars_,)
        n += 1
    return type(loop_vars)(vars_) if packed else vars_


def _map_outputs(outs):
    first = outs[0]
    if isinstance(first, (list, tuple)):
        return type(first)(zg.stack([o[i] for o in outs]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: zg.stack([o[k] for o in outs]) for k in first}
    return zg.stack([tensor(o) for o in outs])


def vectorized_map(function, elements):
    """``function`` over the first axis of ``elements`` (a tensor or a tuple of them), stacked."""
    if isinstance(elements, (list, tuple)):
        parts = [tensor(e) for e in elements]
        outs = [function(type(elements)(p[i] for p in parts)) for i in range(len(parts[0]))]
    else:
        x = tensor(elements)
        outs = [function(x[i]) for i in range(len(x))]
    return _map_outputs(outs)


def vectorize(pyfunc, *, excluded=None, signature=None):
    """``pyfunc`` applied to each element of its (broadcast) tensor arguments, as
    ``numpy.vectorize``; a Python loop, differentiable through ``pyfunc``."""
    if signature is not None:
        raise ValueError("vectorize: signature= is not supported")
    excluded = set(excluded or ())

    def vectorized(*args):
        mapped = [i for i in range(len(args)) if i not in excluded]
        shape = np.broadcast_shapes(*(tuple(tensor(args[i]).shape) for i in mapped))
        flat = {i: zg.reshape(zg.broadcast_to(tensor(args[i]), shape), (-1,)) for i in mapped}
        outs = [
            pyfunc(*(flat[i][j] if i in flat else a for i, a in enumerate(args)))
            for j in range(int(np.prod(shape)))
        ]
        return zg.reshape(_map_outputs(outs), shape)

    return vectorized


def map(f, xs):  # noqa: A001 - the Keras name
    """``f`` over the first axis of ``xs``, stacked."""
    return vectorized_map(f, xs)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the first axis of ``xs``: the last carry and the stacked ys."""
    n = len(tensor(xs)) if xs is not None else int(length)
    carry, ys = init, []
    order = range(n - 1, -1, -1) if reverse else range(n)
    for i in order:
        carry, y = f(carry, None if xs is None else tensor(xs)[i])
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, (_map_outputs(ys) if ys and ys[0] is not None else None)


def _leaves(tree) -> list:
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in _leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [leaf for v in tree for leaf in _leaves(v)]
    return [tree]


def _rebuild(tree, leaves):
    if isinstance(tree, dict):
        return {k: _rebuild(tree[k], leaves) for k in sorted(tree)}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_rebuild(v, leaves) for v in tree)
    return next(leaves)


def associative_scan(f, elems, reverse=False, axis=0):
    """Inclusive scan ``[a, f(a, b), f(f(a, b), c), ...]`` along ``axis`` of every leaf of
    ``elems`` (a nest of lists, tuples, dicts); sequential here, differentiable."""
    leaves = [tensor(x) for x in _leaves(elems)]
    n = leaves[0].shape[axis]
    if any(x.shape[axis] != n for x in leaves):
        raise ValueError(
            f"associative_scan: every array needs {n} entries along axis {axis}, received "
            f"shapes {[x.shape for x in leaves]}"
        )

    def part(x, i):
        index = [builtins.slice(None)] * x.ndim
        index[axis] = builtins.slice(i, i + 1)  # keep the axis: f sees arrays of one rank
        return x[tuple(index)]

    order = range(n - 1, -1, -1) if reverse else range(n)
    acc, outs = None, []
    for i in order:
        step = _rebuild(elems, iter([part(x, i) for x in leaves]))
        acc = step if acc is None else f(acc, step)
        outs.append([tensor(x) for x in _leaves(acc)])
    if reverse:
        outs.reverse()
    cols = [zg.concat([o[j] for o in outs], axis) for j in range(len(leaves))]
    return _rebuild(elems, iter(cols))


# --- custom gradients ----------------------------------------------------------------------------


class _CustomGradient(Function):
    """Runs a ``custom_gradient`` function: its forward without a graph, its backward by the
    ``grad`` function it returned (Tensors in, Tensors out)."""

    fn: object
    grad_fn: object = None

    def forward(self, *xs):
        with zg.no_grad():
            y, self.grad_fn = self.fn(*(Tensor._make(x) for x in xs))
        return tensor(y).data

    def backward(self, gy):
        upstream = gy if isinstance(gy, Tensor) else Tensor._make(gy)
        with zg.enable_grad() if self.recording else zg.no_grad():
            grads = self.grad_fn(upstream)
        grads = grads if isinstance(grads, (list, tuple)) else (grads,)
        if self.recording:
            return tuple(None if g is None else tensor(g) for g in grads)
        return tuple(None if g is None else tensor(g).data for g in grads)


def custom_gradient(f):
    """Decorator: ``f(*args)`` returns ``(y, grad)``, and ``grad(upstream)`` gives the gradients of
    the tensor arguments, which backward then uses in place of differentiating ``f``.

    Example:
        >>> @keras.ops.custom_gradient
        ... def clip_grad(x):
        ...     return x, lambda g: keras.ops.clip(g, -1.0, 1.0)
    """

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        fn = functools.partial(f, **kwargs) if kwargs else f
        return _CustomGradient.apply(*(tensor(a) for a in args), fn=fn)

    return wrapped


# --- slicing and scattering ----------------------------------------------------------------------


def _starts(start_indices) -> list:
    if isinstance(start_indices, Tensor):
        start_indices = start_indices.tolist()
    return [int(s) for s in start_indices]


@symbolic
def slice(inputs, start_indices, shape) -> Tensor:  # noqa: A001 - the Keras name
    """The block of ``shape`` starting at ``start_indices``."""
    x = tensor(inputs)
    starts, shape = _starts(start_indices), tuple(int(n) for n in shape)
    if len(starts) != x.ndim or len(shape) != x.ndim:
        raise ValueError(
            f"slice: expected {x.ndim} start indices and a shape of rank {x.ndim} for inputs of "
            f"shape {x.shape}, received start_indices={starts} and shape={shape}"
        )
    index = tuple(builtins.slice(s, s + int(n)) for s, n in zip(starts, shape))
    return x[index]


@symbolic
def slice_update(inputs, start_indices, updates) -> Tensor:
    """``inputs`` with the block at ``start_indices`` replaced by ``updates`` (a new tensor)."""
    x = tensor(inputs)
    u = zg.cast(tensor(updates), x.dtype)
    starts = _starts(start_indices)
    if len(starts) != x.ndim or u.ndim != x.ndim:
        raise ValueError(
            f"slice_update: expected start_indices and updates of rank {x.ndim}, received "
            f"{len(starts)} start indices and updates of shape {u.shape}"
        )
    width = [(s, n - s - m) for s, n, m in zip(starts, x.shape, u.shape)]
    if builtins.min(builtins.min(w) for w in width) < 0:
        raise ValueError(
            f"slice_update: updates of shape {u.shape} at {starts} do not fit in shape {x.shape}"
        )
    mask = np.zeros(x.shape, dtype=bool)
    mask[tuple(builtins.slice(s, s + m) for s, m in zip(starts, u.shape))] = True
    return zg.where(mask, zg.pad(u, width), x)


def _index_tuple(indices, shape, op: str) -> tuple:
    idx = tensor(indices).numpy()
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer indices, received {idx.dtype}")
    if idx.ndim == 0 or idx.shape[-1] > len(shape):
        raise ValueError(
            f"{op}: expected indices of shape (..., k) with k <= {len(shape)}, received {idx.shape}"
        )
    for i in range(idx.shape[-1]):
        col = idx[..., i]
        if col.size and (col.min() < -shape[i] or col.max() >= shape[i]):
            raise ValueError(
                f"{op}: indices along axis {i} must be in [{-shape[i]}, {shape[i]}) (negative "
                f"counting from the end), received values "
                f"from {col.min()} to {col.max()}"
            )
    return tuple(idx[..., i] for i in range(idx.shape[-1]))


@symbolic
def scatter(indices, values, shape) -> Tensor:
    """Zeros of ``shape`` with ``values`` added at ``indices`` (N, k); repeats accumulate."""
    from zerograd.ops.index import ScatterAdd

    v = tensor(values)
    shape = tuple(int(n) for n in shape)
    index = _index_tuple(indices, shape, "scatter")
    return ScatterAdd.apply(v, index=index, shape=shape, basic=False)


@symbolic
def scatter_update(inputs, indices, updates, reduction=None) -> Tensor:
    """``inputs`` with the entries (or slices) at ``indices`` (N, k) replaced by ``updates``, or
    combined with them (``reduction`` 'add', 'max', 'min' or 'mul')."""
    x = tensor(inputs)
    index = _index_tuple(indices, x.shape, "scatter_update")
    u = zg.cast(tensor(updates), x.dtype)
    if reduction == "add":
        return zg.add(x, scatter(indices, u, x.shape))
    combine = {"max": zg.maximum, "min": zg.minimum, "mul": zg.mul}.get(reduction)
    if combine is not None:
        out = x
        for i in range(len(index[0])):  # one update at a time: repeated indices combine in turn
            at = tuple(int(a[i]) for a in index)
            new = combine(out[at], u[i])
            start = at + (0,) * (x.ndim - len(at))
            out = slice_update.eager(out, start, zg.reshape(new, (1,) * len(at) + new.shape))
        return out
    if reduction is not None:
        raise ValueError(
            "scatter_update: reduction must be None, 'add', 'max', 'min' or 'mul', "
            f"received {reduction!r}"
        )
    mask = np.zeros(x.shape, dtype=bool)
    mask[index] = True
    return zg.where(mask, scatter(indices, u, x.shape), x)
