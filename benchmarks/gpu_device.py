"""The device under the device benchmarks (``benchmarks.gpu``): synchronising before the clock is
read, the peak memory of one step in CuPy's pool and in PyTorch's allocator, names and versions."""

from __future__ import annotations

import contextlib
import os
import platform

import numpy as np


class Device:
    """What differs between 'cuda' and 'cpu': synchronising, peak memory, names. zerograd's side
    runs on ``name``, PyTorch's on ``torch_name`` (the same, except in the tests, where zerograd's
    'cuda' is the stand-in device of tests/gpu/fake_cupy.py and PyTorch stays on the CPU). CuPy
    is reached through ``zerograd.backend``: the module zerograd itself computes with."""

    def __init__(self, name: str, torch_name: str | None = None):
        from zerograd import backend

        self.name, self.torch_name = name, torch_name or name
        self.cuda = name == "cuda"
        self.cp = backend._cupy if self.cuda else None
        if self.cuda and not backend.cuda_available():
            raise RuntimeError(
                "benchmarks.gpu: --device cuda needs CuPy and a GPU it sees; "
                + ("CuPy is not installed" if self.cp is None else "CuPy sees no GPU")
            )

    def zg_sync(self) -> None:
        if self.cuda:
            self.cp.cuda.Device().synchronize()

    def torch_sync(self) -> None:
        if self.torch_name == "cuda":
            import torch

            torch.cuda.synchronize()

    @contextlib.contextmanager
    def zg_peak(self, out: dict):
        """Peak bytes in use in CuPy's memory pool while the block runs -> out['peak_mib'] (not
        measured where zerograd allocates elsewhere than CuPy's default pool)."""
        cp = self.cp
        if cp is None:
            yield
            return
        pool = cp.get_default_memory_pool()
        previous = cp.cuda.get_allocator() if hasattr(cp.cuda, "get_allocator") else None
        if previous is None:
            out["peak_note"] = "not measured: this CuPy has no cuda.get_allocator"
            yield
            return
        if not (getattr(previous, "__self__", None) is pool or previous == pool.malloc):
            out["peak_note"] = "not measured: CuPy allocates elsewhere than its default pool"
            yield
            return
        peak = [pool.used_bytes()]

        def malloc(n):
            p = pool.malloc(n)
            peak[0] = max(peak[0], pool.used_bytes())
            return p

        cp.cuda.set_allocator(malloc)
        try:
            yield
            cp.cuda.Device().synchronize()
        finally:
            cp.cuda.set_allocator(previous)
        out["peak_mib"] = round(peak[0] / 2**20, 1)

    @contextlib.contextmanager
    def torch_peak(self, out: dict):
        if self.torch_name != "cuda":
            yield
            return
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        yield
        torch.cuda.synchronize()
        out["peak_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)

    def zg_release(self, out: dict | None = None) -> None:
        """Note what CuPy's pool holds (its high water: nothing was given back), then free it."""
        import gc

        gc.collect()
        if self.cp is not None:
            pool = self.cp.get_default_memory_pool()
            if out is not None and pool.total_bytes():
                out["reserved_mib"] = round(pool.total_bytes() / 2**20, 1)
            pool.free_all_blocks()

    def torch_release(self, out: dict | None = None) -> None:
        import gc

        gc.collect()
        if self.torch_name == "cuda":
            import torch

            if out is not None:
                out["reserved_mib"] = round(torch.cuda.max_memory_reserved() / 2**20, 1)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def describe(self) -> dict:
        info = {"device": self.name, "device_name": platform.processor() or platform.machine()}
        if self.cp is not None:
            rt = self.cp.cuda.runtime
            props = rt.getDeviceProperties(0)
            name = props["name"]
            info["device_name"] = name.decode() if isinstance(name, bytes) else str(name)
            info["device_memory_mib"] = round(props.get("totalGlobalMem", 0) / 2**20)
            for key, fn in (
                ("cuda_runtime", "runtimeGetVersion"),
                ("cuda_driver", "driverGetVersion"),
            ):
                if hasattr(rt, fn):
                    info[key] = getattr(rt, fn)()
        if self.torch_name != self.name:
            info["torch_device"] = self.torch_name
        return info


def versions() -> dict:
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("zerograd", "cupy", "torch", "transformers", "numba"):
        try:
            out[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001 - not installed, or broken: say so
            out[name] = None
    if out["torch"]:
        import torch

        out["torch_cuda"] = torch.version.cuda
        out["torch_allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
    out["CUPY_TF32"] = os.environ.get("CUPY_TF32")
    return out
