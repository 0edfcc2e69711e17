"""Time spent in each op's forward and backward during a benchmark case.

``python -m benchmarks.profile_ops CASE [STEPS]`` wraps every ``Function`` subclass's forward and
backward with a timer, runs the case's zerograd step STEPS times after warm-up, and prints the step
time, the PyTorch step time, and the ops by total time per step (an op called inside another op's
backward is counted in both).
"""

from __future__ import annotations

import collections
import sys
import time


def _subclasses(cls):
    for s in cls.__subclasses__():
        yield s
        yield from _subclasses(s)


def main() -> None:
    import os

    import torch

    from benchmarks import CASES, engine, llama_cases, models, nn_cases  # noqa: F401 - registers
    from zerograd.autograd import Function

    name = sys.argv[1] if len(sys.argv) > 1 else "mlp_train"
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
    zg_step, torch_step = CASES[name]()
    spent = collections.defaultdict(float)
    calls = collections.Counter()

    def timed(cls, attr):
        inner = getattr(cls, attr)
        key = f"{cls.__name__}.{'fwd' if attr == 'forward' else 'bwd'}"

        def run(self, *a, **k):
            t0 = time.perf_counter()
            try:
                return inner(self, *a, **k)
            finally:
                spent[key] += time.perf_counter() - t0
                calls[key] += 1

        setattr(cls, attr, run)

    for cls in set(_subclasses(Function)):
        for attr in ("forward", "backward"):
            if attr in cls.__dict__:
                timed(cls, attr)
    for _ in range(3):
        zg_step()
        torch_step()
    spent.clear()
    calls.clear()
    t0 = time.perf_counter()
    for _ in range(steps):
        zg_step()
    zg_ms = (time.perf_counter() - t0) / steps * 1000
    time.sleep(0.3)  # let NumPy's BLAS threads go idle before timing PyTorch
    t0 = time.perf_counter()
    for _ in range(steps):
        torch_step()
    torch_ms = (time.perf_counter() - t0) / steps * 1000
    print(f"{name}: zerograd step {zg_ms:.1f} ms, PyTorch step {torch_ms:.1f} ms")
    for key, s in sorted(spent.items(), key=lambda kv: -kv[1])[:25]:
        print(f"  {key:32s}{s / steps * 1000:9.2f} ms  x{calls[key] // steps}")


if __name__ == "__main__":
    main()
