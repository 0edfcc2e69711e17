"""Array namespace, devices, dtypes and the random generator.

Every op computes through the array namespace of its inputs (``backend.namespace(a)``, an op's
``self.xp``), so the same op code runs on NumPy (CPU) and on CuPy (GPU). Above this module, numpy
itself is used only for what is not array math on a tensor's data: dtypes and constants
(``np.float32``, ``np.inf``, ``np.finfo``), floating-point error states, arrays built on the host
and then moved to the tensor's device (the creation functions, the adaptive-pooling matrices,
user-given targets and indices), and the CPU-only numba kernels in ``kernels/``.
"""

from __future__ import annotations

import numpy as np

from zerograd import tuning

try:  # CuPy is optional: it only exists on machines with a CUDA GPU.
    import cupy as _cupy
except Exception:  # noqa: BLE001 - any import failure means "no GPU backend"
    _cupy = None

Array = np.ndarray  # a NumPy or CuPy array; used in type hints only


# --- dtypes --------------------------------------------------------------------------------------

float16, float32, float64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")
int32, int64, bool_ = np.dtype("int32"), np.dtype("int64"), np.dtype("bool")

_default_float = float32


def get_default_dtype() -> np.dtype:
    """The dtype of new floating-point tensors (float32 unless changed)."""
    return _default_float


def set_default_dtype(dtype) -> None:
    """Set the dtype of new floating-point tensors, e.g. ``set_default_dtype('float64')``."""
    global _default_float
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, received {dtype}")
    _default_float = dtype


def as_dtype(dtype) -> np.dtype | None:
    """Normalise a dtype given as a name, a NumPy dtype or a Python type."""
    if dtype is None:
        return None
    if dtype is float:
        return _default_float
    try:
        return np.dtype(dtype)
    except TypeError as e:
        raise TypeError(
            f"unknown dtype: expected a NumPy dtype or its name, received {dtype!r}"
        ) from e


def is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def result_type(*dtypes) -> np.dtype:
    """Promotion of tensor dtypes as PyTorch does it: any float wins over ints and bools."""
    floats = [d for d in dtypes if d.kind == "f"]
    if floats and len(floats) < len(dtypes):
        return np.result_type(*floats)
    return np.result_type(*dtypes)


# --- devices -------------------------------------------------------------------------------------


_seen: list = [None, False]  # (the CuPy module asked, its answer): a process's GPUs do not change


def cuda_available() -> bool:
    """True when CuPy is installed and sees at least one GPU (asked once per CuPy module)."""
    if _cupy is None:
        return False
    if _seen[0] is not _cupy:
        try:
            found = _cupy.cuda.runtime.getDeviceCount() > 0
        except Exception:  # noqa: BLE001
            found = False
        _seen[:] = [_cupy, found]
    return _seen[1]


def cupy_module():
    """The CuPy module in use, or None."""
    return _cupy


def use_cupy(module):
    """Swap the CuPy module the backend computes with, returning the one it used (tests put a
    stand-in device here: ``tests/gpu/fake_cupy.py``)."""
    global _cupy
    previous, _cupy = _cupy, module
    return previous


def normalize_device(device) -> str:
    """'cpu', 'cuda' or 'cuda:N' -> canonical 'cpu' or 'cuda:N'."""
    if device is None:
        return "cpu"
    device = str(device)
    if device == "cpu":
        return device
    if device == "cuda" or device.startswith("cuda:"):
        if not cuda_available():
            raise RuntimeError(
                f"device {device!r} needs CuPy and a CUDA GPU; CuPy is "
                + ("not installed" if _cupy is None else "installed but sees no GPU")
                + " (install zerograd[gpu] on a GPU machine, or use device='cpu')"
            )
        index = int(device[5:]) if device[5:].isdigit() else -1
        if ":" in device and not 0 <= index < _cupy.cuda.runtime.getDeviceCount():
            raise ValueError(
                f"unknown device {device!r}: CuPy sees "
                f"{_cupy.cuda.runtime.getDeviceCount()} GPU(s), numbered from cuda:0"
            )
        return device if ":" in device else "cuda:0"
    raise ValueError(f"unknown device: expected 'cpu', 'cuda' or 'cuda:N', received {device!r}")


def namespace(array):
    """The array module (numpy or cupy) that owns ``array``."""
    if type(array) is np.ndarray or _cupy is None:
        return np
    return _cupy.get_array_module(array)


def is_device_array(array) -> bool:
    """True for a CuPy array."""
    return _cupy is not None and isinstance(array, _cupy.ndarray)


def device_of(array) -> str:
    if type(array) is np.ndarray or _cupy is None:
        return "cpu"
    if isinstance(array, _cupy.ndarray):
        return f"cuda:{array.device.id}"
    return "cpu"


class DeviceMismatchError(RuntimeError, ValueError):
    """Arrays on different devices met in one op (a RuntimeError as in PyTorch, and a
    ValueError)."""


def check_one_device(op: str, arrays) -> None:
    """Raise DeviceMismatchError naming the devices when ``arrays`` are not all on one device."""
    devices = sorted({device_of(a) for a in arrays})
    if len(devices) > 1:
        raise DeviceMismatchError(
            f"{op}: expected all inputs on one device, received inputs on {' and '.join(devices)} "
            "(move them with .to(device))"
        )


def moved_to(array, device: str, op: str, what: str, owner: str = "the tensor"):
    """An input ``array`` on ``device``: a NumPy array is copied there (as PyTorch takes CPU
    indices for a GPU tensor); an array on another GPU, or a GPU array for the CPU, is an error
    naming both devices."""
    where = device_of(array)
    if where == device:
        return array
    if where != "cpu":
        raise DeviceMismatchError(
            f"{op}: the {what} is on {where} and {owner} on {device}; move the {what} to "
            f"{owner}'s device"
        )
    return to_device(array, device)


def xp_for(device: str):
    """Array module for a canonical device string."""
    return np if device == "cpu" else _cupy


def to_device(array, device: str):
    """Copy ``array`` to ``device`` (no copy when it is there already)."""
    device = normalize_device(device)
    if device_of(array) == device:
        return array
    if device == "cpu":
        return _cupy.asnumpy(array)
    with _cupy.cuda.Device(int(device.split(":")[1])):
        return _cupy.asarray(array)


def to_numpy(array) -> np.ndarray:
    return (
        array
        if type(array) is np.ndarray
        else (_cupy.asnumpy(array) if _cupy else np.asarray(array))
    )


# --- random numbers ------------------------------------------------------------------------------

_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed every random draw in zerograd (initialisers, dropout, shuffling, sampling)."""
    global _rng
    _rng = np.random.default_rng(seed)
    if _cupy is not None:
        try:
            _cupy.random.seed(seed)
        except Exception:  # noqa: BLE001 - no GPU present: nothing to seed
            pass


def rng() -> np.random.Generator:
    """The shared NumPy generator; draws on the CPU and copies to the device when needed."""
    return _rng


def get_rng_state() -> dict:
    """The state of every generator zerograd draws from, as plain JSON-serialisable values:
    zerograd's shared generator, NumPy's global one and Python's ``random``. Restoring it with
    ``set_rng_state`` makes the following draws repeat exactly (used by checkpoints)."""
    import random

    legacy = np.random.get_state(legacy=False)
    version, internal, gauss = random.getstate()
    return {
        "zerograd": _rng.bit_generator.state,
        "numpy": {
            **legacy,
            "state": {k: np.asarray(v).tolist() for k, v in legacy["state"].items()},
        },
        "python": [version, list(internal), gauss],
    }


_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def bit_generator_from_state(state: dict) -> np.random.BitGenerator:
    """A new NumPy bit generator in ``state`` (a ``bit_generator.state`` dict, e.g. read from a
    checkpoint). Only NumPy's own bit generators are named: nothing else is looked up or called.

    Raises:
        ValueError: ``state`` is not the state of one of them.

    Example:
        >>> g = np.random.default_rng(0)
        >>> np.random.Generator(bit_generator_from_state(g.bit_generator.state)).random()
    """
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ValueError(
            f"expected the state of a NumPy bit generator {list(_BIT_GENERATORS)}, received "
            f"{state!r:.80}"
        )
    bits = getattr(np.random, name)()
    try:
        bits.state = state
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, IndexError) as e:
        raise ValueError(f"not a valid {name} state ({e!r})") from None
    return bits


def set_rng_state(state: dict) -> None:
    """Restore generator states taken by ``get_rng_state`` (a missing entry is left as it is).

    Every entry is checked on a throwaway generator first: a bad state changes no generator."""
    import random

    if not isinstance(state, dict):
        raise TypeError(
            f"set_rng_state: expected the dict get_rng_state returns, received {type(state).__name__}"
        )
    try:
        bits = legacy = python = None
        if "zerograd" in state:
            bits = bit_generator_from_state(state["zerograd"])
        if "numpy" in state:
            legacy = dict(state["numpy"])
            legacy["state"] = {
                k: np.asarray(v, dtype=np.uint32) if k == "key" else int(v)
                for k, v in legacy["state"].items()
            }
            np.random.RandomState().set_state(legacy)
        if "python" in state:
            version, internal, gauss = state["python"]
            python = (version, tuple(internal), gauss)
            random.Random().setstate(python)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, IndexError) as e:
        raise ValueError(
            f"set_rng_state: the state is not one get_rng_state returned ({e!r})"
        ) from None
    if bits is not None:
        global _rng
        _rng = np.random.Generator(bits)
    if legacy is not None:
        np.random.set_state(legacy)
    if python is not None:
        random.setstate(python)


def sum_axes(xp, x, axes: tuple, keepdims: bool = False):
    """``x.sum(axis=axes, keepdims=keepdims)``; a sum over the leading axes of a large contiguous
    float array runs as one matrix-vector product (a bias gradient: NumPy's column sums walk the
    array row by row and are several times slower, and less accurate, than BLAS)."""
    k = len(axes)
    if (
        k
        and x.dtype.kind == "f"
        and x.size >= tuning.SUM_AXES_GEMV_MIN_SIZE
        and axes == tuple(range(k))
        and k < x.ndim
        and getattr(x, "flags", None) is not None  # an array: a Tensor takes its own .sum
        and x.flags.c_contiguous
    ):
        rows = 1
        for n in x.shape[:k]:
            rows *= n
        y = xp.ones(rows, dtype=x.dtype) @ x.reshape(rows, -1)
        return y.reshape((1,) * k + x.shape[k:] if keepdims else x.shape[k:])
    return x.sum(axis=axes, keepdims=keepdims)


def sum_to(x, shape: tuple):
    """Sum a broadcast array back to ``shape`` (the engine's un-broadcasting of a gradient)."""
    lead = x.ndim - len(shape)
    if lead < 0:
        raise ValueError(f"cannot sum shape {x.shape} to {shape}")
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and x.shape[i + lead] != 1
    )
    y = sum_axes(namespace(x), x, axes, keepdims=True) if axes else x
    return y.reshape(shape)
