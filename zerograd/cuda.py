"""``zerograd.cuda``: the GPU as PyTorch's ``torch.cuda`` shows it (through CuPy).

Example:
    >>> zg.cuda.is_available()
    False
"""

from __future__ import annotations

from zerograd import backend


def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    return backend.cuda_available()


def device_count() -> int:
    """How many GPUs CuPy sees (0 without CuPy)."""
    cp = backend.cupy_module()
    if cp is None:
        return 0
    try:
        return int(cp.cuda.runtime.getDeviceCount())
    except Exception:  # noqa: BLE001 - a CuPy without a driver: no GPU
        return 0


def _cupy(fn: str):
    if not is_available():
        raise RuntimeError(f"zerograd.cuda.{fn}: no GPU (CuPy is missing or sees no device)")
    return backend.cupy_module()


def _index(device) -> int:
    return 0 if device is None else int(backend.normalize_device(device).split(":")[1])


def synchronize(device=None) -> None:
    """Wait until the GPU has finished the work queued on it (before reading a clock)."""
    cp = _cupy("synchronize")
    with cp.cuda.Device(_index(device)):
        cp.cuda.get_current_stream().synchronize()


def get_device_name(device=None) -> str:
    """The GPU's name, e.g. 'NVIDIA H100 80GB HBM3'."""
    name = _cupy("get_device_name").cuda.runtime.getDeviceProperties(_index(device))["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def memory_allocated() -> int:
    """Bytes held by live arrays in CuPy's memory pool."""
    return int(_cupy("memory_allocated").get_default_memory_pool().used_bytes())


def memory_reserved() -> int:
    """Bytes CuPy's memory pool holds from the GPU (live arrays and cached blocks)."""
    return int(_cupy("memory_reserved").get_default_memory_pool().total_bytes())


def empty_cache() -> None:
    """Give the pool's cached, unused blocks back to the GPU."""
    _cupy("empty_cache").get_default_memory_pool().free_all_blocks()
