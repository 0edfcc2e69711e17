"""The numba kernels hit numba's disk cache in a new process: no kernel is a closure.

numba keys its disk cache of a closure by the pickled cell variables, and a jitted function
pickles differently in every process, so a kernel made by a factory over ``exp`` compiled again
in every process (the fused attention: 6 s at its first call). ``zerograd.kernels.typed`` holds
the float-type-dependent pieces instead.
"""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zerograd import kernels

pytestmark = pytest.mark.skipif(kernels.numba is None, reason="numba is not installed")

ROOT = Path(__file__).resolve().parents[2]
MODULES = [
    "zerograd.kernels.softmax",
    "zerograd.kernels.swiglu",
    "zerograd.kernels.gelu",
    "zerograd.kernels.rms_norm",
    "zerograd.kernels.flash_attention",
    "zerograd.kernels.flash_attention_tasks",
]


def _dispatchers(module) -> dict:
    """name -> numba dispatcher for the jitted functions in ``module``'s namespace: its globals
    (its own and those it imports), and those held in its dicts, tuples and lists (kernels
    chosen by dtype)."""
    from numba.core.dispatcher import Dispatcher

    found = {}

    def visit(name, obj, depth):
        if isinstance(obj, Dispatcher):
            found[name] = obj
        elif depth < 3 and isinstance(obj, dict):
            for k, v in obj.items():
                visit(f"{name}[{k!r}]", v, depth + 1)
        elif depth < 3 and isinstance(obj, (tuple, list)):
            for i, v in enumerate(obj):
                visit(f"{name}[{i}]", v, depth + 1)

    for name, obj in vars(module).items():
        visit(name, obj, 0)
    return found


@pytest.mark.parametrize("name", MODULES)
def test_no_kernel_is_a_closure(name):
    module = importlib.import_module(name)
    found = _dispatchers(module)
    assert found, f"no jitted function found in {name}"
    closures = {
        n: [c.cell_contents for c in d.py_func.__closure__]
        for n, d in found.items()
        if d.py_func.__closure__ is not None
    }
    assert not closures, f"{name}: kernels built as closures (not cached on disk): {closures}"


_PROBE = """
import json
import numpy as np
from zerograd.kernels import rms_norm, softmax, swiglu
x = np.random.default_rng(0).standard_normal((4, 300)).astype(np.float32)
softmax.softmax_last(x)
swiglu.swiglu(x, x)
rms_norm.rms_norm(x, None, 1e-6)
stats = {}
for name, d in (("softmax", softmax._softmax_parallel), ("swiglu", swiglu._fwd),
                ("rms_norm", rms_norm._fwd)):
    stats[name] = [sum(d.stats.cache_hits.values()), sum(d.stats.cache_misses.values())]
print(json.dumps(stats))
"""


def test_a_second_process_loads_the_kernels_from_the_disk_cache(tmp_path):
    """Two fresh processes sharing an empty cache directory: the first compiles the kernels
    (misses), the second loads them (hits, no compilation)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), ZEROGRAD_JIT="1")
    runs = []
    for _ in range(2):
        r = subprocess.run(
            [sys.executable, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
            env=env,
        )
        assert r.returncode == 0, r.stderr
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    first, second = runs
    for name in first:
        assert first[name][1] >= 1, f"{name}: the first process did not compile it: {first}"
        assert second[name] == [1, 0], f"{name}: (cache hits, misses) in the second: {second}"
