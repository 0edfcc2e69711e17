"""Autocast: run matmuls and convolutions in half precision and keep reductions, softmax, norms
and losses in float32, inside a region, as ``torch.autocast``.

The ops take part through two decorators on their functional entry points (``lower_precision``
for ``F.linear``, ``zg.matmul``, the convolutions and attention; ``full_precision`` for softmax,
the norms, the losses, ``exp``/``log``/``pow``/``sum``). Outside every region a decorated op pays
one read of the module flag ``_ACTIVE``; inside, its floating Tensor arguments on an autocast
device are cast through the differentiable ``Tensor.astype`` (so float32 parameters get float32
gradients), and the op body runs with autocast suspended, as PyTorch's dispatcher does (the
softmax inside attention stays in the attention's dtype).

This module sits below the ops (they import it), so it imports only ``backend``.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from zerograd import backend

DEVICE_TYPES = ("cpu", "cuda")
_DEFAULT_DTYPE = {"cpu": "bfloat16", "cuda": "float16"}  # PyTorch's defaults
_FLOAT32 = np.dtype("float32")

# enabled regions entered and not yet left, over all threads: the only thing a decorated op reads
# when no region is open
_ACTIVE = 0
_active_lock = threading.Lock()


class _State(threading.local):
    """One thread's autocast settings (each thread starts with autocast off, as PyTorch)."""

    def __init__(self):
        self.enabled = {"cpu": False, "cuda": False}
        self.dtype = {"cpu": None, "cuda": None}
        self.cache_enabled = True
        self.suspended = 0  # > 0 inside a decorated op: its inner ops run as written
        self.nesting = 0  # open autocast regions; the weight cache is cleared when it reaches 0
        self.cache: dict = {}
        self.saved: list = []  # what each open region replaced, restored on exit


_state = _State()


def _bfloat16():
    try:
        import ml_dtypes
    except ImportError:
        return None
    return np.dtype(ml_dtypes.bfloat16)


def _resolve_dtype(device_type: str, dtype) -> np.dtype:
    given = dtype
    if dtype is None:
        dtype = _DEFAULT_DTYPE[device_type]
    if isinstance(dtype, type) and issubclass(dtype, np.generic):
        dtype = np.dtype(dtype)  # np.float16, the scalar type
    name = getattr(dtype, "name", dtype) if not isinstance(dtype, str) else dtype
    name = str(name).replace("torch.", "")  # torch.float16 names the same dtype
    if name in ("float16", "half"):
        return np.dtype("float16")
    if name == "bfloat16":
        bf16 = _bfloat16()
        if bf16 is None:
            raise ValueError(
                f"autocast: dtype bfloat16 on {device_type!r} needs the ml_dtypes package, which "
                "is not installed (pip install ml-dtypes); or pass dtype='float16'"
            )
        if device_type == "cpu":
            # NumPy computes a bfloat16 matmul in float32 and returns float32 (ml_dtypes has no
            # bfloat16 GEMM), so the ops could not keep the dtype their gradients need
            raise ValueError(
                "autocast: dtype bfloat16 is not supported on 'cpu' (NumPy has no bfloat16 "
                "matrix product); pass dtype='float16' (zg.autocast('cpu', dtype='float16'))"
            )
        return bf16
    raise ValueError(
        f"autocast: expected dtype 'float16' or 'bfloat16' (or None for the device's default), "
        f"received {given!r}"
    )


class autocast:  # noqa: N801 - PyTorch's name
    """Context manager and decorator: run the ops of a region in mixed precision.

    Inside the region, on tensors of ``device_type`` ('cuda': CuPy arrays, 'cpu': NumPy ones):
    matmul, ``F.linear``, the convolutions (1-D, 2-D, transposed), scaled dot-product attention
    and the recurrent layers cast their float32 inputs to ``dtype``; softmax, log_softmax, the
    norms (layer, group, RMS), the losses, ``exp``, ``log``, ``pow`` and ``sum`` cast half
    inputs up to float32; every other op runs on the dtypes it is given (binary ops promote).
    Casts are differentiable: float32 parameters receive float32 gradients. Regions nest (an
    inner ``enabled=False`` region turns autocast off), the settings are per thread, and with
    ``cache_enabled`` each float32 parameter is cast once per outermost region. Wrap the forward
    pass and the loss, not ``backward()``. On the CPU it is for testing a mixed-precision script:
    NumPy has no float16 BLAS (a 64x512x512 matmul takes 80 ms in float16, 3 ms in float32).

    Args:
        device_type: 'cuda' or 'cpu', the tensors it applies to.
        dtype: 'float16' or 'bfloat16' (a NumPy or torch dtype of those names works too); by
            default float16 on 'cuda' and bfloat16 on 'cpu', as PyTorch. NumPy has no bfloat16
            matrix product, so on 'cpu' pass ``dtype='float16'``.
        enabled: False makes the region run without autocast (it still nests).
        cache_enabled: reuse the half-precision copy of each float32 parameter in the region.

    Example:
        >>> model = zg.nn.Linear(4, 2)
        >>> with zg.autocast("cpu", dtype="float16"):
        ...     y = model(zg.randn(3, 4))       # the matmul runs in float16
        ...     loss = (y.float() ** 2).mean()  # a float32 loss
        >>> y.dtype, loss.dtype
        (dtype('float16'), dtype('float32'))
        >>> loss.backward(); model.weight.grad.dtype
        dtype('float32')
    """

    def __init__(
        self,
        device_type: str,
        dtype=None,
        enabled: bool = True,
        cache_enabled: bool | None = True,
    ):
        if not isinstance(device_type, str) or device_type.split(":")[0] not in DEVICE_TYPES:
            raise ValueError(
                f"autocast: expected device_type 'cuda' or 'cpu', received {device_type!r}"
            )
        if not isinstance(enabled, (bool, np.bool_)):
            raise TypeError(f"autocast: enabled must be a bool, received {enabled!r}")
        self.device_type = device_type.split(":")[0]
        self.enabled = bool(enabled)
        self.cache_enabled = True if cache_enabled is None else bool(cache_enabled)
        # a disabled region checks nothing it does not use (as PyTorch, which only warns)
        self.fast_dtype = _resolve_dtype(self.device_type, dtype) if self.enabled else None

    def __enter__(self):
        global _ACTIVE
        s, dev = _state, self.device_type
        s.saved.append((dev, s.enabled[dev], s.dtype[dev], s.cache_enabled))
        s.nesting += 1
        if self.enabled:
            s.dtype[dev] = self.fast_dtype
            s.cache_enabled = self.cache_enabled
        s.enabled[dev] = self.enabled
        if self.enabled:
            with _active_lock:
                _ACTIVE += 1
        return self

    def __exit__(self, *exc) -> bool:
        global _ACTIVE
        s = _state
        dev, enabled, dtype, cache_enabled = s.saved.pop()
        if self.enabled:
            with _active_lock:
                _ACTIVE -= 1
        s.enabled[dev], s.dtype[dev], s.cache_enabled = enabled, dtype, cache_enabled
        s.nesting -= 1
        if s.nesting == 0:
            s.cache.clear()
        return False

    def __call__(self, fn):
        """Use as a decorator: each call of ``fn`` runs in a region with these settings."""
        if not callable(fn):
            raise TypeError(f"autocast: can decorate a function, received {type(fn).__name__}")
        settings = (self.device_type, self.fast_dtype, self.enabled, self.cache_enabled)

        @functools.wraps(fn)
        def run(*args, **kwargs):
            with autocast(*settings):
                return fn(*args, **kwargs)

        return run

    def __repr__(self) -> str:
        dtype = None if self.fast_dtype is None else self.fast_dtype.name
        return f"autocast({self.device_type!r}, dtype={dtype!r}, enabled={self.enabled})"


def _check_device_type(fn: str, device_type) -> str:
    if not isinstance(device_type, str) or device_type.split(":")[0] not in DEVICE_TYPES:
        raise ValueError(f"{fn}: expected device_type 'cuda' or 'cpu', received {device_type!r}")
    return device_type.split(":")[0]


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """True inside an enabled autocast region for ``device_type`` in this thread.

    Example:
        >>> with zg.autocast("cpu", dtype="float16"):
        ...     zg.is_autocast_enabled("cpu")
        True
    """
    return _state.enabled[_check_device_type("is_autocast_enabled", device_type)]


def get_autocast_dtype(device_type: str) -> np.dtype:
    """The dtype autocast casts to on ``device_type`` (its default outside a region).

    Example:
        >>> zg.get_autocast_dtype("cuda")
        dtype('float16')
    """
    dev = _check_device_type("get_autocast_dtype", device_type)
    dtype = _state.dtype[dev]
    if dtype is not None:
        return dtype
    name = _DEFAULT_DTYPE[dev]
    return np.dtype(name) if name == "float16" else (_bfloat16() or name)


def is_autocast_cache_enabled() -> bool:
    """Whether the autocast regions of this thread reuse their parameter casts."""
    return _state.cache_enabled


def clear_autocast_cache() -> None:
    """Forget the half-precision copies of the parameters cast in this thread's region."""
    _state.cache.clear()


# --- the hooks on the ops' entry points ----------------------------------------------------------


def _target(s, t, policy: str):
    """The dtype to cast Tensor ``t`` to, or None to leave it."""
    dtype = t.dtype
    if dtype.itemsize == 8 or not (dtype.kind == "f" or dtype.name == "bfloat16"):
        return None  # float64 and non-floating tensors are not eligible, as in PyTorch
    dev = "cpu" if type(t.data) is np.ndarray else "cuda" if backend.is_device_array(t.data) else ""
    if not s.enabled.get(dev):
        return None
    to = s.dtype[dev] if policy == "lower" else _FLOAT32
    return None if to == dtype else to


def _cast(s, t, policy: str):
    to = _target(s, t, policy)
    if to is None:
        return t
    # a float32 leaf parameter is cast once per region (PyTorch's cache); keyed by the grad mode
    # too, since a cast made under no_grad carries no graph back to the parameter
    if policy == "lower" and s.cache_enabled and t.requires_grad and t.creator is None:
        from zerograd import versions
        from zerograd.autograd import is_grad_enabled

        # keyed by the Tensor itself (its hash is its identity), then by dtype and grad mode
        copies = s.cache.get(t)
        if copies is None:
            copies = s.cache[t] = {}
        key = (to, is_grad_enabled())
        cached = copies.get(key)
        # renewed after an optimizer step inside the region (any counted in-place write), and
        # after a backward freed its cast (gradient accumulation inside one region)
        if (
            cached is None
            or cached[1] is not t.data
            or cached[2] != versions.version(t.data)
            or getattr(cached[0].creator, "_freed", False)
        ):
            cached = copies[key] = (t.astype(to), t.data, versions.version(t.data))
        return cached[0]
    return t.astype(to)


def _cast_all(policy: str, args: tuple, kwargs: dict):
    from zerograd.tensor import Tensor

    s = _state
    args = tuple(_cast(s, a, policy) if isinstance(a, Tensor) else a for a in args)
    kwargs = {k: _cast(s, v, policy) if isinstance(v, Tensor) else v for k, v in kwargs.items()}
    return args, kwargs


def cast_inputs(policy: str, *tensors):
    """The inline form of the decorators, for the hottest ops (matmul, exp, log, pow, sum),
    which check ``autocast._ACTIVE`` themselves and call this only when it is set: ``tensors``
    cast by ``policy`` ('lower' or 'fp32'), as a tuple. Use it only in ops whose body calls no
    other autocast op (it does not suspend autocast)."""
    from zerograd.tensor import Tensor

    s = _state
    if s.suspended or not (s.enabled["cpu"] or s.enabled["cuda"]):
        return tensors
    return tuple(_cast(s, t, policy) if isinstance(t, Tensor) else t for t in tensors)


def will_cast(*tensors) -> bool:
    """True when a lower-precision op called now would give all ``tensors`` the autocast dtype,
    so a layer's check that its input has the weight's dtype must let them through."""
    s = _state
    if s.suspended:
        return False
    return all(_target(s, t, "lower") is not None or t.dtype == _lower(s, t) for t in tensors)


def _lower(s, t):
    dev = "cpu" if type(t.data) is np.ndarray else "cuda"
    return s.dtype[dev] if s.enabled.get(dev) else None


def _policy(policy: str):
    def decorate(fn):
        @functools.wraps(fn)
        def op(*args, **kwargs):
            if not _ACTIVE:  # the hot path outside every region
                return fn(*args, **kwargs)
            s = _state
            if s.suspended or not (s.enabled["cpu"] or s.enabled["cuda"]):
                return fn(*args, **kwargs)
            args, kwargs = _cast_all(policy, args, kwargs)
            s.suspended += 1
            try:
                return fn(*args, **kwargs)
            finally:
                s.suspended -= 1

        return op

    return decorate


lower_precision = _policy("lower")
"""Decorator for ops that run in the autocast dtype (matmuls, convolutions, attention)."""

full_precision = _policy("fp32")
"""Decorator for ops that run in float32 under autocast (softmax, norms, losses, reductions)."""
