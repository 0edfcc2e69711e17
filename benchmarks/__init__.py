"""Benchmarks side by side with PyTorch: ``python -m benchmarks [--only CASE] [--json]``.

A case is a function registered with ``@case("name")`` that returns ``(zerograd_fn, torch_fn)``,
two zero-argument callables doing the same work on the same data. The runner warms both up, then
times them alternately and reports the medians and the ratio zerograd / PyTorch.
"""

from __future__ import annotations

import time

CASES: dict = {}


def case(name: str):
    def register(fn):
        CASES[name] = fn
        return fn

    return register


def measure(fn, repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def run_case(name: str, repeats: int = 7) -> dict:
    """Median milliseconds of each side, alternating rounds so load on the machine hits both."""
    import statistics

    zg_fn, torch_fn = CASES[name]()
    measure(zg_fn, 0, warmup=2)
    measure(torch_fn, 0, warmup=2)
    zs, ts = [], []
    for _ in range(repeats):
        zs += measure(zg_fn, 1, warmup=0)
        ts += measure(torch_fn, 1, warmup=0)
    z, t = statistics.median(zs), statistics.median(ts)
    return {
        "case": name,
        "zerograd_ms": round(z, 3),
        "torch_ms": round(t, 3),
        "ratio": round(z / t, 3),
    }
