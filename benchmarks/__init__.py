"""Benchmarks side by side with PyTorch: ``python -m benchmarks [--only CASE] [--json] [--runs N]``.

A case is a function registered with ``@case("name")`` that returns ``(zerograd_fn, torch_fn)``,
two zero-argument callables doing the same work on the same data (same weights, float32, the same
number of threads). The runner warms both up, then times them in alternating blocks: a block waits
``SETTLE_S`` (so BLAS or OpenMP threads left spinning by the other framework go idle), runs its side
once untimed and then a few timed calls. The medians of all timed calls and their ratio zerograd / PyTorch are
reported. Optional extra columns (tinygrad, DeZero) are filled where those packages are installed.
"""

from __future__ import annotations

import statistics
import time

CASES: dict = {}
SETTLE_S = 0.3


def case(name: str):
    def register(fn):
        CASES[name] = fn
        return fn

    return register


def _timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _block_size(fn) -> int:
    """Timed calls per block: about 0.2 s of work, between 1 and 5 calls."""
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    return max(1, min(5, int(0.2 / max(dt, 1e-6))))


def run_case(name: str, rounds: int = 5) -> dict:
    """Median milliseconds of each side over ``rounds`` alternating blocks, and their ratio."""
    zg_fn, torch_fn = CASES[name]()
    fns = {"zerograd": zg_fn, "torch": torch_fn}
    for fn in fns.values():  # warm-up: allocator, caches, lazy initialisation
        fn()
    sizes = {k: _block_size(fn) for k, fn in fns.items()}
    times: dict = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            # After a framework's last call its idle threads keep spinning for a while (OpenBLAS
            # for NumPy, OpenMP for PyTorch) and slow the other one down: measured on the MLP step,
            # PyTorch took 5.9 ms right after zerograd's block, 3.6 ms 50 ms later, 2.1 ms after
            # 0.3 s. So each block starts after a pause and one untimed call.
            time.sleep(SETTLE_S)
            fn()
            times[k] += _timed(fn, sizes[k])
    z, t = statistics.median(times["zerograd"]), statistics.median(times["torch"])
    return {
        "case": name,
        "zerograd_ms": round(z, 3),
        "torch_ms": round(t, 3),
        "ratio": round(z / t, 3),
    }
