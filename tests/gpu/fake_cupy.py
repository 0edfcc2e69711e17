"""A stand-in for CuPy on machines without a GPU: arrays on a pretend device, held in NumPy.

It keeps CuPy's rules, so the device code paths run and are checked on any CPU:

- only the names CuPy 14 has exist (``gpu_cupy_names.json``, the public names of ``cupy``,
  ``cupy.ndarray``, ``cupy.linalg``, ``cupy.random``, ``cupy.fft`` and
  ``cupy.lib.stride_tricks``, listed from the installed wheel), and its functions take only
  their own keyword arguments (``keywords``: the signatures of that wheel's Python functions);
- a device array never turns into a NumPy array implicitly: ``np.asarray(x)`` raises, as CuPy's
  ``__array__`` does; ``x.get()`` and ``cupy.asnumpy(x)`` copy it to the host;
- a NumPy array never enters a device operation: ``x + host``, ``cupy.concatenate([x, host])``
  and ``x[host_index]`` raise TypeError (CuPy refuses what is not on the device too); only
  ``cupy.asarray``/``cupy.array`` copy a host array to the device;
- reductions give 0-d device arrays, not scalars; NumPy functions and ufuncs called on device
  arrays dispatch to the device, as CuPy's ``__array_function__``/``__array_ufunc__`` do;
- a numba kernel handed a device array fails to compile: it is not a NumPy array;
- ``ElementwiseKernel`` and ``ReductionKernel`` compile their CUDA C bodies as C++ with the host
  compiler (``fake_kernels``) for float32 and float64, so the GPU kernels' arithmetic is tested
  on the CPU; ``KERNEL_DTYPES`` says which dtypes compile.

``install()`` puts it in ``zerograd.backend`` in place of CuPy; ``uninstall(previous)`` undoes it.
"""

from __future__ import annotations

import json
import operator
import pathlib
import weakref

import numpy as np

from tests.gpu import fake_kernels

_CXX = fake_kernels.available()  # user kernels compile as C++ on the CPU
NAMES = json.loads((pathlib.Path(__file__).with_name("gpu_cupy_names.json")).read_text())
_NDARRAY_NAMES = set(NAMES["ndarray"]) - {"data", "device", "get", "set", "base"}
_PASS = (type, np.dtype, int, float, bool, complex, str, type(None))


class HostArrayError(TypeError):
    """A NumPy array met a device array in one operation."""


def _host_error(where: str) -> HostArrayError:
    return HostArrayError(
        f"stand-in CuPy: {where} received a NumPy array beside device arrays (CuPy accepts only "
        "arrays on the device: move it with cupy.asarray first)"
    )


_wrappers: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _wrap(r):
    if isinstance(r, np.ndarray):
        w = _wrappers.get(id(r))
        if w is not None and w._a is r:
            return w
        w = ndarray(r)
        _wrappers[id(r)] = w
        return w
    if isinstance(r, np.generic):
        return ndarray(np.asarray(r))
    if isinstance(r, tuple):
        return tuple(_wrap(v) for v in r)
    if isinstance(r, list):
        return [_wrap(v) for v in r]
    return r


def _unwrap(v, where: str):
    if isinstance(v, ndarray):
        return v._a
    if isinstance(v, np.ndarray):
        raise _host_error(where)
    if isinstance(v, (tuple, list)):
        return type(v)(_unwrap(x, where) for x in v)
    if isinstance(v, dict):
        return {k: _unwrap(x, where) for k, x in v.items()}
    return v


def _check_keywords(key: str, kwargs: dict) -> None:
    """CuPy's own keyword arguments only (``keywords``: from the installed wheel's signatures)."""
    known = NAMES["keywords"].get(key)
    if known is not None:
        extra = sorted(set(kwargs) - set(known))
        if extra:
            raise TypeError(f"stand-in CuPy: {key}() has no keyword argument(s) {extra}")


def _call(fn, args, kwargs, where: str):
    return _wrap(fn(*_unwrap(args, where), **_unwrap(kwargs, where)))


class _MemoryPointer:
    def __init__(self, a: np.ndarray):
        self.ptr = a.ctypes.data


class Device:
    """``cupy.cuda.Device``: one pretend device, id 0."""

    def __init__(self, device=0):
        self.id = int(getattr(device, "id", device))
        if self.id != 0:
            raise RuntimeError(f"stand-in CuPy: there is one device (0), asked for {self.id}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass

    def use(self):
        pass

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    __hash__ = object.__hash__


class ndarray:  # noqa: N801 - CuPy's name
    """A device array: a NumPy array that NumPy code cannot see."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 100

    def __init__(self, a):
        if not isinstance(a, np.ndarray):
            raise TypeError("stand-in CuPy: ndarray() wraps a NumPy array")
        object.__setattr__(self, "_a", a)

    # --- what CuPy has beyond NumPy's attributes
    @property
    def device(self):
        return Device(0)

    @property
    def data(self):
        return _MemoryPointer(self._a)

    @property
    def base(self):
        return None if self._a.base is None else _wrap(self._a.base)

    def get(self, stream=None, order="C", out=None):
        if out is not None:
            out[...] = self._a
            return out
        return np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        self._a[...] = np.asarray(arr)

    # --- no implicit conversion to NumPy
    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
            "construct a NumPy array explicitly. (stand-in CuPy)"
        )

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc.__name__ not in NAMES["cupy"]:
            return NotImplemented
        return _call(getattr(ufunc, method), inputs, kwargs, f"numpy.{ufunc.__name__}")

    def __array_function__(self, func, types, args, kwargs):
        if func.__name__ not in NAMES["cupy"]:
            return NotImplemented
        _check_keywords(f"cupy.{func.__name__}", kwargs)
        return _call(func, args, kwargs, f"numpy.{func.__name__}")

    def __getattr__(self, name):
        if name not in _NDARRAY_NAMES:
            raise AttributeError(f"'cupy.ndarray' (stand-in) object has no attribute {name!r}")
        attr = getattr(self._a, name)
        if callable(attr):
            return lambda *a, **k: _call(attr, a, k, f"ndarray.{name}")
        return _wrap(attr)

    def __setattr__(self, name, value):
        if name == "shape":
            self._a.shape = value
            return
        raise AttributeError(f"stand-in CuPy: cannot set ndarray.{name}")

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key, "ndarray.__getitem__")])

    def __setitem__(self, key, value):
        self._a[_unwrap(key, "ndarray.__setitem__")] = _unwrap(value, "ndarray.__setitem__")

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(v) for v in self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __index__(self):
        return operator.index(self._a)

    def __complex__(self):
        return complex(self._a)

    def __repr__(self):
        return "stand-in " + repr(self._a).replace("array", "cupy.array", 1)

    __str__ = __repr__

    def __copy__(self):
        return ndarray(self._a.copy())

    def __deepcopy__(self, memo):
        return ndarray(self._a.copy())

    def __reduce__(self):
        raise TypeError("stand-in CuPy: device arrays are not pickled here")


def _operator(name):
    def method(self, *args):
        return _call(getattr(self._a, name), args, {}, f"ndarray.{name}")

    method.__name__ = name
    return method


for _name in (
    "add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv mod rmod pow rpow matmul "
    "rmatmul and rand or ror xor rxor lshift rlshift rshift rrshift divmod rdivmod "
    "iadd isub imul itruediv ifloordiv imod ipow imatmul iand ior ixor ilshift irshift "
    "neg pos abs invert lt le gt ge eq ne"
).split():
    setattr(ndarray, f"__{_name}__", _operator(f"__{_name}__"))
ndarray.__hash__ = None


class _Namespace:
    """A module of the stand-in: CuPy's names of one module, computed by NumPy's twin."""

    def __init__(self, label: str, names, source, overrides=None):
        self._label, self._names, self._source = label, set(names), source
        self.__dict__.update(overrides or {})

    def __getattr__(self, name):
        if name.startswith("__") or name not in self._names:
            raise AttributeError(f"module '{self._label}' (stand-in) has no attribute {name!r}")
        attr = getattr(self._source, name)
        if isinstance(attr, _PASS) or not callable(attr):
            return attr
        fn = attr

        key = f"{self._label.split('.')[-1]}.{name}"

        def call(*a, **k):
            _check_keywords(key, k)
            return _call(fn, a, k, f"{self._label}.{name}")

        call.__name__ = name
        for method in ("reduce", "accumulate", "outer", "at", "reduceat"):
            if hasattr(fn, method):
                bound = getattr(fn, method)
                setattr(call, method, lambda *a, _b=bound, **k: _call(_b, a, k, self._label))
        return call


def _to_device(a, dtype=None, copy=True, order="K", **unused):
    if isinstance(a, ndarray):
        r = a._a.astype(dtype, copy=copy) if dtype is not None else (a._a.copy() if copy else a._a)
        return _wrap(r)
    return ndarray(np.array(_unwrap_host(a), dtype=dtype, order=order, copy=True))


def _unwrap_host(a):
    if isinstance(a, (list, tuple)):
        return type(a)(_unwrap_host(v) for v in a)
    return a._a if isinstance(a, ndarray) else a


def _asarray(a, dtype=None, order=None, **kw):
    return _to_device(a, dtype=dtype, copy=False, order=order or "K")


def _array(a, dtype=None, copy=True, order="K", **kw):
    return _to_device(a, dtype=dtype, copy=copy, order=order)


def _asnumpy(a, stream=None, order="C", out=None):
    return a.get(out=out) if isinstance(a, ndarray) else np.asarray(a)


def _get_array_module(*args):
    return module if any(isinstance(a, ndarray) for a in args) else np


def _fuse(*args, **kwargs):
    """``cupy.fuse``: here the function runs as written, on the stand-in arrays."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda f: f


def _no_raw_kernel(*args, **kwargs):
    raise NotImplementedError(
        "stand-in CuPy: RawKernel (and, without a C++ compiler, ElementwiseKernel and "
        "ReductionKernel) cannot run without a GPU"
    )


class _Pool:
    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


class _Runtime:
    @staticmethod
    def getDeviceCount():  # noqa: N802 - CuPy's name
        return 1

    @staticmethod
    def getDeviceProperties(i):  # noqa: N802
        return {"name": b"stand-in device (NumPy)", "totalGlobalMem": 0}


class _Stream:
    def synchronize(self):
        pass


_POOL = _Pool()
cuda = _Namespace(
    "cupy.cuda",
    (),
    None,
    {
        "Device": Device,
        "runtime": _Runtime(),
        "get_current_stream": lambda: _Stream(),
        "Stream": _Stream,
        "MemoryPool": _Pool,
        "is_available": lambda: True,
    },
)

module = _Namespace(
    "cupy",
    NAMES["cupy"],
    np,
    {
        "__name__": "cupy",
        "__version__": NAMES["version"] + "+stand-in",
        "ndarray": ndarray,
        "asarray": _asarray,
        "array": _array,
        "asnumpy": _asnumpy,
        "get_array_module": _get_array_module,
        "fuse": _fuse,
        "ElementwiseKernel": fake_kernels.ElementwiseKernel if _CXX else _no_raw_kernel,
        "ReductionKernel": fake_kernels.ReductionKernel if _CXX else _no_raw_kernel,
        "RawKernel": _no_raw_kernel,
        "KERNEL_DTYPES": fake_kernels.DTYPES if _CXX else (),
        "get_default_memory_pool": lambda: _POOL,
        "get_default_pinned_memory_pool": lambda: _POOL,
        "cuda": cuda,
        "linalg": _Namespace("cupy.linalg", NAMES["linalg"], np.linalg),
        "fft": _Namespace("cupy.fft", NAMES["fft"], np.fft),
        "random": _Namespace(
            "cupy.random", NAMES["random"], np.random, {"seed": lambda seed=None: None}
        ),
        "lib": _Namespace(
            "cupy.lib",
            (),
            None,
            {
                "stride_tricks": _Namespace(
                    "cupy.lib.stride_tricks", NAMES["stride_tricks"], np.lib.stride_tricks
                )
            },
        ),
        "STAND_IN": True,
    },
)


def install():
    """Make ``zerograd.backend`` use the stand-in; returns what it used before."""
    from zerograd import backend

    return backend.use_cupy(module)


def uninstall(previous) -> None:
    from zerograd import backend

    backend.use_cupy(previous)
