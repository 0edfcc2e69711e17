"""Tensor: an array, its gradient and the Function that created it."""

from __future__ import annotations

import numpy as np

from zerograd import backend, versions


class Tensor:
    """A multi-dimensional array that records the operations applied to it.

    Args:
        data: array-like (nested lists, scalars, NumPy/CuPy arrays, Tensors). Arrays are not copied.
        dtype: dtype name or NumPy dtype; Python floats default to float32, ints to int64.
        requires_grad: collect ``.grad`` for this tensor in ``backward`` (float dtypes only).
        device: 'cpu' or 'cuda[:N]'.

    Example:
        >>> x = zg.Tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward(); x.grad
        tensor([2., 4.])
    """

    __slots__ = ("data", "grad", "requires_grad", "creator", "name", "__weakref__", "__dict__")
    __array_priority__ = 1000  # ndarray + Tensor defers to Tensor.__radd__

    def __init__(self, data, dtype=None, requires_grad: bool = False, device=None):
        dtype = backend.as_dtype(dtype)
        if isinstance(data, Tensor):
            data = data.data
        if device is not None:
            device = backend.normalize_device(device)
        if isinstance(data, np.ndarray) or backend.is_device_array(data):
            if dtype is not None and data.dtype != dtype:
                data = data.astype(dtype)
        else:
            is_numpy_scalar = isinstance(data, np.generic)
            try:
                data = np.asarray(data, dtype=dtype)
            except ValueError as e:  # ragged nested lists, or strings that are not numbers
                raise ValueError(
                    f"Tensor: expected a number or a rectangular nested list of numbers ({e})"
                ) from None
            if dtype is None and data.dtype == np.float64 and not is_numpy_scalar:
                data = data.astype(backend.get_default_dtype())  # Python floats: default dtype
            if data.dtype.kind in "OUSV":
                raise TypeError(f"Tensor: expected numbers, received an array of {data.dtype}")
        if device is not None:
            data = backend.to_device(data, device)
        self.data = data
        self.grad = None
        self.creator = None
        self.name = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data) -> Tensor:
        """Wrap an array without checks (the hot path of every op)."""
        t = object.__new__(Tensor)
        t.data, t.grad, t.requires_grad, t.creator, t.name = data, None, False, None, None
        return t

    # --- attributes ------------------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    dtype = property(lambda self: self.data.dtype)
    device = property(lambda self: backend.device_of(self.data))
    xp = property(lambda self: backend.namespace(self.data))
    is_leaf = property(lambda self: self.creator is None)
    grad_fn = property(lambda self: self.creator)
    # in-place writes into this tensor's storage (shared with its views), as PyTorch's _version
    _version = property(lambda self: versions.version(self.data))
    T = property(lambda self: _ops.transpose(self))
    mT = property(lambda self: _ops.swapaxes(self, -1, -2))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(backend.to_numpy(self.data), separator=", ", prefix="tensor(")
        extra = ""
        if self.dtype not in (backend.get_default_dtype(), np.int64, np.bool_):
            extra += f", dtype={self.dtype}"
        if self.device != "cpu":
            extra += f", device='{self.device}'"
        if self.creator is not None:
            extra += f", grad_fn=<{type(self.creator).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # --- conversion ------------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shares memory on the CPU)."""
        return backend.to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def item(self):
        if self.size != 1:
            raise ValueError(
                f"item: expected a tensor with one element, received shape {self.shape}"
            )
        return self.data.reshape(()).item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, received {self.dtype}")
        return int(self.item())

    def __bool__(self):
        if self.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()"
            )
        return bool(self.item())

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._make(self.data)

    def clone(self) -> Tensor:
        return _ops.copy(self)

    def astype(self, dtype) -> Tensor:
        """A copy with another dtype; differentiable between float dtypes."""
        return _ops.cast(self, backend.as_dtype(dtype))

    def to(self, device=None, dtype=None) -> Tensor:
        """Move to a device ('cpu', 'cuda') and/or cast; returns self when nothing changes."""
        out = self
        if dtype is not None and backend.as_dtype(dtype) != self.dtype:
            out = out.astype(dtype)
        if device is not None and backend.normalize_device(device) != self.device:
            out = _ops.to_device(out, backend.normalize_device(device))
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def float(self) -> Tensor:
        return self.astype(backend.float32)

    def double(self) -> Tensor:
        return self.astype(backend.float64)

    def half(self) -> Tensor:
        return self.astype(backend.float16)

    def long(self) -> Tensor:
        return self.astype(backend.int64)

    # --- autograd --------------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not isinstance(requires_grad, (bool, np.bool_)):
            raise TypeError(
                f"requires_grad_: requires_grad must be True or False, received {requires_grad!r}"
            )
        if requires_grad and self.dtype.kind not in "fc":
            raise TypeError(
                f"only floating-point tensors can require gradients, received dtype {self.dtype}"
            )
        if not requires_grad and self.creator is not None:
            raise ValueError("requires_grad_(False) is only allowed on a leaf tensor; use detach()")
        self.requires_grad = requires_grad
        return self

    def backward(self, grad=None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor into ``.grad`` of every leaf it depends on."""
        _autograd.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` once per backward, after its gradient is complete in ``.grad``
        (as PyTorch's). Returns a handle whose ``remove()`` unregisters it. See autograd_hooks."""
        from zerograd import autograd_hooks

        return autograd_hooks.register(self, hook)

    def _check_inplace(self, method: str) -> None:
        # an op's output written in place: the write would not be in its graph (PyTorch records
        # it), so its gradient would be silently wrong
        if self.creator is not None and _autograd._grad_enabled:
            raise ValueError(
                f"{method}: in-place write into a tensor computed by "
                f"{type(self.creator).__name__}, which is part of a graph, would not be recorded; "
                "use an out-of-place op, write into x.detach(), or wrap in zg.no_grad()"
            )

    def zero_(self) -> Tensor:
        """Set every element to 0 in place (counted by ``_version``)."""
        self._check_inplace("zero_")
        self.data[...] = 0
        versions.bump(self.data)
        return self

    def fill_(self, value) -> Tensor:
        """Set every element to ``value`` in place (counted by ``_version``)."""
        self._check_inplace("fill_")
        self._write("fill_", ..., value.data if isinstance(value, Tensor) else value)
        return self

    def copy_(self, other) -> Tensor:
        """Overwrite the data in place (no graph); used by initialisers and weight loading."""
        self._check_inplace("copy_")
        src = other.data if isinstance(other, Tensor) else other
        self._write("copy_", ..., backend.to_device(self.xp.asarray(src), self.device))
        return self

    def _write(self, op: str, index, value) -> None:
        """``data[index] = value`` with NumPy's errors restated naming ``op`` and the shapes."""
        if isinstance(value, (str, bytes)) or value is None:
            raise TypeError(f"{op}: cannot write {type(value).__name__} {value!r} into a Tensor")
        try:
            self.data[index] = value
        except (ValueError, IndexError, TypeError) as e:
            shape = getattr(value, "shape", ())
            raise type(e)(
                f"{op}: cannot write a value of shape {tuple(shape)} into a tensor of shape "
                f"{self.shape} at index {index!r} ({e})"
            ) from None
        versions.bump(self.data)

    # --- operators -------------------------------------------------------------------------------
    def __add__(self, o):
        return _ops.add(self, o)

    def __radd__(self, o):
        return _ops.add(o, self)

    def __sub__(self, o):
        return _ops.sub(self, o)

    def __rsub__(self, o):
        return _ops.sub(o, self)

    def __mul__(self, o):
        return _ops.mul(self, o)

    def __rmul__(self, o):
        return _ops.mul(o, self)

    def __truediv__(self, o):
        return _ops.div(self, o)

    def __rtruediv__(self, o):
        return _ops.div(o, self)

    def __pow__(self, o):
        return _ops.pow(self, o)

    def __rpow__(self, o):
        return _ops.pow(o, self)

    def __matmul__(self, o):
        return _ops.matmul(self, o)

    def __rmatmul__(self, o):
        return _ops.matmul(o, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __eq__(self, o):
        return _ops.eq(self, o)

    def __ne__(self, o):
        return _ops.ne(self, o)

    def __lt__(self, o):
        return _ops.lt(self, o)

    def __le__(self, o):
        return _ops.le(self, o)

    def __gt__(self, o):
        return _ops.gt(self, o)

    def __ge__(self, o):
        return _ops.ge(self, o)

    def __invert__(self):
        return _ops.logical_not(self)

    def __and__(self, o):
        return _ops.logical_and(self, o)

    def __or__(self, o):
        return _ops.logical_or(self, o)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __setitem__(self, index, value):
        """In-place write into data; refused on tensors that are part of a graph."""
        if self.requires_grad and _autograd.is_grad_enabled():
            raise ValueError(
                "in-place assignment into a tensor that requires grad would corrupt its gradient; "
                "use zg.where or wrap in zg.no_grad()"
            )
        index = _ops.index.unwrap_index(index)
        self._write("__setitem__", index, value.data if isinstance(value, Tensor) else value)

    # --- methods (the functions of zerograd.ops) ---------------------------------------------------
    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def abs(self):
        return _ops.abs(self)

    def sin(self):
        return _ops.sin(self)

    def cos(self):
        return _ops.cos(self)

    def tanh(self):
        return _ops.tanh(self)

    def sigmoid(self):
        return _ops.sigmoid(self)

    def relu(self):
        return _ops.relu(self)

    def clip(self, min=None, max=None):  # noqa: A002 - NumPy/PyTorch names
        return _ops.clip(self, min, max)

    def maximum(self, o):
        return _ops.maximum(self, o)

    def minimum(self, o):
        return _ops.minimum(self, o)

    def sum(self, axis=None, keepdims=False):
        return _ops.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops.min(self, axis, keepdims)

    def var(self, axis=None, keepdims=False, ddof=0):
        return _ops.var(self, axis, keepdims, ddof=ddof)

    def std(self, axis=None, keepdims=False, ddof=0):
        return _ops.std(self, axis, keepdims, ddof=ddof)

    def logsumexp(self, axis=None, keepdims=False):
        return _ops.logsumexp(self, axis, keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _ops.argmax(self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _ops.argmin(self, axis, keepdims)

    def any(self, axis=None, keepdims=False):
        return Tensor._make(self.xp.asarray(self.data.any(axis=axis, keepdims=keepdims)))

    def all(self, axis=None, keepdims=False):
        return Tensor._make(self.xp.asarray(self.data.all(axis=axis, keepdims=keepdims)))

    def reshape(self, *shape):
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def view(self, *shape):
        return self.reshape(*shape)

    def transpose(self, *axes):
        return _ops.transpose(
            self, axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes or None
        )

    def permute(self, *axes):
        return self.transpose(*axes)

    def swapaxes(self, a: int, b: int):
        return _ops.swapaxes(self, a, b)

    def squeeze(self, axis=None):
        return _ops.squeeze(self, axis)

    def expand_dims(self, axis):
        return _ops.expand_dims(self, axis)

    def unsqueeze(self, axis: int):
        return _ops.expand_dims(self, axis)

    def flatten(self, start_axis: int = 0, end_axis: int = -1):
        return _ops.flatten(self, start_axis, end_axis)

    def broadcast_to(self, shape):
        return _ops.broadcast_to(self, shape)

    def repeat(self, repeats, axis=None):
        return _ops.repeat(self, repeats, axis)

    def tile(self, reps):
        return _ops.tile(self, reps)

    def split(self, indices_or_sections, axis: int = 0):
        return _ops.split(self, indices_or_sections, axis)

    def take_along_axis(self, indices, axis: int):
        return _ops.take_along_axis(self, indices, axis)

    def matmul(self, o):
        return _ops.matmul(self, o)


from zerograd import autograd as _autograd  # noqa: E402 - the engine builds on Tensor
from zerograd import ops as _ops  # noqa: E402 - ops build on Tensor; methods call them lazily
