"""zerograd: a deep-learning framework written from scratch over NumPy (CuPy on GPUs)."""

# Tensor first: tensor.py ends by importing the engine and the ops, which build on it.
from zerograd.tensor import Tensor  # isort: skip
from zerograd import amp, autograd, backend, nn, optim, tuning, utils
from zerograd.amp import autocast, get_autocast_dtype, is_autocast_enabled
from zerograd.autograd import enable_grad, is_grad_enabled, no_grad
from zerograd.backend import (
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    get_rng_state,
    int32,
    int64,
    set_default_dtype,
    set_rng_state,
)
from zerograd.ops import *  # noqa: F403 - the functional API: zg.exp, zg.matmul, zg.zeros ...
from zerograd.tuning import cpu_tuning, set_cpu_tuning

# The process-wide settings made on import, for speed on CPUs: NumPy's OpenBLAS threads spin for
# less time and numba gets its own thread pool (see zerograd.tuning). ZEROGRAD_CPU_TUNING=0 in the
# environment skips it, zg.set_cpu_tuning(False) undoes it, zg.cpu_tuning() lists it.
tuning._apply_on_import()

__version__ = "0.1.0"


def __getattr__(name):
    # the high-level packages load on first use so `import zerograd` stays light
    if name in ("keras", "data", "models", "peft", "io", "cuda"):
        import importlib

        return importlib.import_module(f"zerograd.{name}")
    raise AttributeError(f"module 'zerograd' has no attribute {name!r}")
