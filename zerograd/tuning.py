"""Every size threshold and tuning constant of zerograd, and its process-wide CPU settings.

The constants say when a fused kernel or a thread pool is worth starting; each comes with the
measurement that chose it. Code reads the thresholds as ``tuning.NAME`` at call time, so a test or
a benchmark may change them; the two process-wide values are the defaults of ``set_cpu_tuning``.

The process-wide settings: ``import zerograd`` shortens the spin time of NumPy's bundled OpenBLAS
threads and gives numba its own thread pool (``set_cpu_tuning``), which keeps the speed measured
below. ``ZEROGRAD_CPU_TUNING=0`` in the environment skips that on import;
``zerograd.set_cpu_tuning(False)`` undoes it later, and ``zerograd.cpu_tuning()`` lists what was
changed.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

# --- when to run a fused kernel ------------------------------------------------------------------

# Elements (of the first array given to ``kernels.usable``) from which the parallel numba kernels
# run: below, starting the threads (about 0.2 ms a call) costs more than NumPy's passes.
# ``python -m benchmarks.thresholds``, 2-core Xeon, float32, forward + backward, kernel / NumPy:
#   GELU        16k 1.68, 32k 1.15, 48k 0.66, 64k 0.72, 256k 0.54
#   layer norm  16k 1.97, 32k 1.43, 64k 1.08, 256k 0.73  (rows of 256)
#   softmax     16k 3.84, 32k 2.10, 64k 1.42, 256k 0.84  (rows of 128)
# It was 16k (commit d7cda65, no timing recorded); 64k is where GELU, the most common, gains and
# layer norm breaks even.
KERNEL_MIN_SIZE = 1 << 16

# Output elements from which Linear's bias add is a numba pass on all cores rather than NumPy's
# ``y += b``: on smaller outputs, starting the kernel's threads next to the BLAS threads still
# spinning after the product costs more than the pass (commit 04be5f2). On 2 cores the pass gains
# nothing at any size (benchmarks.thresholds, the whole Linear forward, kernel / NumPy: 128k 1.07,
# 512k 1.03, 2M 1.02, 8M 1.01); with more cores a memory-bound pass can use more bandwidth.
LINEAR_BIAS_KERNEL_MIN_SIZE = 1 << 19

# Elements from which the fused Adam/AdamW step runs on all cores; below, the serial kernel (no
# thread start) on one (commit cf1f6a0). Measured (benchmarks.thresholds, float32, parallel /
# serial): 64k 4.04, 256k 1.32, 1M 0.82, 4M 0.55, 16M 0.54. The fused step itself: 0.10 ms against
# 0.75 ms with numba's checked divisions (see ``kernels``).
ADAM_PARALLEL_MIN_SIZE = 1 << 20

# Attention without gradients runs block by block on a thread pool (``kernels.attention``): a
# block's scores and weights (two buffers of this many elements, 256 KiB each in float32) stay in
# one core's cache between its two matrix products (commit 9b0ee56). Measured on MiniLM's
# attention (benchmarks.thresholds, (32, 12, 64, 32) float32, ms): 4k 10.0, 16k 3.7, 32k 3.4,
# 64k 3.1, 128k 2.9, 256k 2.9, 512k 3.3: a flat optimum from 64k to 256k.
ATTENTION_BLOCK = 1 << 16

# L * S * E per head above which attention without gradients takes NumPy's batched products: each
# block's products run on one thread, and above this size a head's product is large enough for
# OpenBLAS's own threads. Measured (benchmarks.thresholds, 8 x 4 heads of E = 64, batched /
# blocked): 256k 1.81, 1M 0.98, 4M 1.07: blocked wins clearly up to here and breaks even above.
ATTENTION_MAX_HEAD = 1 << 18

# Attention with gradients in blocks (``kernels.flash_attention``): blocks of this many queries
# by this many keys; one block of scores and one of their gradients per thread (128 KiB each in
# float32). Measured with the task kernels (issue 17: each task one numba call, BLAS products
# inside), one thread, causal forward + backward, ms (q block x key block):
#   llama_train's (8, 8 / 2 kv, 256, 32)  128x512 22.3, 64x512 19.0, 64x256 19.5, 32x256 19.8
#   (2, 4, 512, 64)                        128x512 15.4, 64x512 14.8, 64x256 14.7, 32x256 15.8
#   (1, 4, 1024, 64)                       128x512 24.0, 64x512 24.8, 64x256 24.9, 32x256 26.9
# Smaller query blocks follow the causal diagonal closer (fewer masked scores computed).
FLASH_ATTENTION_BLOCK_Q = 64
FLASH_ATTENTION_BLOCK_K = 512

# Keys (S) from which attention that needs gradients takes the blocked path (memory linear in the
# context) rather than the one built from differentiable ops (scores and weights kept for backward).
# Measured on GPT's attention (2048 tokens a batch, 4 heads of 64, causal, forward + backward,
# blocked / plain) with the task kernels: one thread (CPU time) T 64 1.01, 128 0.76, 192 0.62,
# 256 0.57; two threads on a machine busy with other work (wall) 0.97, 0.45, 0.15, 0.34. (The
# block loop in Python before them broke even at 192 and was 0.94 at 256: the switch was 256.)
FLASH_ATTENTION_MIN_KEYS = 128

# Elements from which ``backend.sum_axes`` sums leading axes as one matrix-vector product (a bias
# gradient): NumPy's column sums walk the array row by row and are several times slower, and less
# accurate, than BLAS; on small arrays the call overhead dominates. Measured (benchmarks.thresholds,
# (n/64, 64) float32, GEMV / sum): 4096 1.34, 6144 0.94, 8192 0.92, 16k 0.57, 64k 0.29. It was
# 4096 (no timing recorded).
SUM_AXES_GEMV_MIN_SIZE = 1 << 13

# Hidden units per thread from which the compiled LSTM loops (``kernels.lstm``) split a layer's
# units over threads (each its own products, a barrier per step); below, one thread runs the loop.
# Measured (issue 16, 2-core Xeon shared with other work, float32, 64 steps (32 for H 512),
# forward + backward, two threads / one): H 64 B 32 1.33, H 128 B 32 1.03, H 256 B 8 0.93,
# H 256 B 32 0.84, H 512 B 64 0.75.
LSTM_MIN_PART_UNITS = 128

# Constant Tensors the engine keeps for Python numbers in expressions (``x * 0.5``), reused per
# (type, value, dtype); after this many distinct values (a schedule's learning rates, say) the
# cache starts again. A bound on memory, not a timing (no measurement recorded).
SCALAR_CACHE_SIZE = 1024

# --- process-wide settings (applied by ``set_cpu_tuning``) ---------------------------------------

# OpenBLAS's worker threads spin for 2^28 CPU cycles (about 0.1 s) after each multithreaded matrix
# product before they sleep. In a model, the next product rarely comes that soon after; in
# between, the spinning threads take the cores from the work that runs on other threads (the
# numba kernels, the blocked attention): measured in MiniLM's forward, attention took 56 ms with
# spinning workers and 35 ms without. 2^20 cycles (about 0.4 ms) keeps the workers awake between
# back-to-back products and lets them sleep otherwise. Shorter was measured (issue 16, zerograd's
# steps alone, fresh processes in turn): 2^12 made bert_infer, gpt_train and llama_train 3-7%
# faster, but woke the workers for every product of a generation loop: gpt_generate_nocache
# 944-1044 ms against 716-724 at 2^20, gpt_generate 176-182 against 163-166; 2^16 as 2^12.
OPENBLAS_THREAD_TIMEOUT = 20

# numba's own thread pool: its workers sleep between kernels, where OpenMP workers spin and take
# the cores from the BLAS threads of the next matrix product (measured: a GEMM followed by a GELU
# kernel took 27 ms with OpenMP, 17 ms with workqueue, 13 + 4 apart).
NUMBA_THREADING_LAYER = "workqueue"

_NUMBA_LAYERS = ("default", "safe", "forksafe", "threadsafe", "tbb", "omp", "workqueue")
_OPENBLAS = "OPENBLAS_THREAD_TIMEOUT"
_NUMBA = "numba.config.THREADING_LAYER"
_changes: dict = {}  # what zerograd changed: name -> (old value, new value)


def cpu_tuning() -> dict:
    """What zerograd has changed in this process, to be faster on CPUs.

    Returns:
        ``{name: (old value, new value)}``: ``'OPENBLAS_THREAD_TIMEOUT'`` (an environment variable;
        old ``None`` when it was unset) and ``'numba.config.THREADING_LAYER'``; empty when nothing
        was changed (``ZEROGRAD_CPU_TUNING=0``, ``set_cpu_tuning(False)``, or the user's own
        settings were found in the environment).

    Example:
        >>> zg.cpu_tuning()
        {'OPENBLAS_THREAD_TIMEOUT': (None, '20'),
         'numba.config.THREADING_LAYER': ('default', 'workqueue')}
    """
    return dict(_changes)


def set_cpu_tuning(
    enabled: bool = True,
    *,
    openblas_thread_timeout: int | None = OPENBLAS_THREAD_TIMEOUT,
    numba_threading_layer: str | None = NUMBA_THREADING_LAYER,
) -> dict:
    """Apply (or undo) zerograd's process-wide CPU settings; ``import zerograd`` applies the
    defaults unless ``ZEROGRAD_CPU_TUNING=0`` is in the environment.

    A setting the user made in the environment (``OPENBLAS_THREAD_TIMEOUT``,
    ``NUMBA_THREADING_LAYER``) is left alone. Other BLAS libraries than NumPy's bundled OpenBLAS
    are not touched. numba picks its threading layer when its first parallel kernel runs: a change
    after that has no effect (and is not made; a warning is logged).

    Args:
        enabled: False undoes every change zerograd made (the arguments below are then ignored).
        openblas_thread_timeout: OpenBLAS threads spin 2^this CPU cycles after a product before
            they sleep (4 to 30; OpenBLAS's default is 28). Set as ``OPENBLAS_THREAD_TIMEOUT`` and
            the threads restarted. None: leave (or put back) OpenBLAS's own setting.
        numba_threading_layer: numba's threading layer for the parallel kernels ('workqueue',
            'omp', 'tbb', ...). None: leave (or put back) numba's own choice.

    Returns:
        What is changed now, as ``cpu_tuning()``.

    Example:
        >>> zg.set_cpu_tuning(openblas_thread_timeout=24)   # spin 2^24 cycles
        >>> zg.set_cpu_tuning(False)                        # OpenBLAS's and numba's defaults
    """
    if not enabled:
        openblas_thread_timeout = numba_threading_layer = None
    if openblas_thread_timeout is not None and (
        isinstance(openblas_thread_timeout, bool)
        or not isinstance(openblas_thread_timeout, int)
        or not 4 <= openblas_thread_timeout <= 30
    ):
        raise ValueError(
            "set_cpu_tuning: expected openblas_thread_timeout as an int from 4 to 30 (2^n cycles) "
            f"or None, received {openblas_thread_timeout!r}"
        )
    if numba_threading_layer is not None and numba_threading_layer not in _NUMBA_LAYERS:
        raise ValueError(
            f"set_cpu_tuning: expected numba_threading_layer in {_NUMBA_LAYERS} or None, "
            f"received {numba_threading_layer!r}"
        )
    _set_openblas(None if openblas_thread_timeout is None else str(openblas_thread_timeout))
    _set_numba(numba_threading_layer)
    return cpu_tuning()


def _set_openblas(value: str | None) -> None:
    """OPENBLAS_THREAD_TIMEOUT = value (None: as before zerograd), read by OpenBLAS when its
    threads start: so the variable is set, re-read (``openblas_read_env``) and the threads shut
    down (``blas_thread_shutdown_``; they start again on the next product)."""
    current = os.environ.get(_OPENBLAS)
    if _OPENBLAS in _changes and current == _changes[_OPENBLAS][1]:
        old = _changes[_OPENBLAS][0]  # ours: change it again, or put the old value back
    elif current is not None or value is None:
        _changes.pop(_OPENBLAS, None)  # the user's own setting now, or nothing of ours to undo
        return
    else:
        old = None
    if (old if value is None else value) == current:
        return
    lib = _bundled_openblas()
    if lib is None:
        return
    if value is None and old is None:
        del os.environ[_OPENBLAS]
    else:
        os.environ[_OPENBLAS] = old if value is None else value
    lib.openblas_read_env()
    lib.blas_thread_shutdown_()
    if value is None:
        del _changes[_OPENBLAS]
    else:
        _changes[_OPENBLAS] = (old, value)


def _bundled_openblas():
    """NumPy's bundled OpenBLAS (ctypes), or None (another BLAS, or not found)."""
    import ctypes
    import glob

    import numpy as np

    libs = glob.glob(
        os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*")
    )
    try:
        lib = ctypes.CDLL(libs[0]) if len(libs) == 1 else None
    except OSError:
        return None
    if not all(hasattr(lib, f) for f in ("openblas_read_env", "blas_thread_shutdown_")):
        return None
    return lib


def _set_numba(layer: str | None) -> None:
    """numba.config.THREADING_LAYER = layer (None: as before zerograd)."""
    if _NUMBA not in _changes and (layer is None or "NUMBA_THREADING_LAYER" in os.environ):
        return  # nothing of ours to undo, or the user's own setting
    try:
        import numba
    except ImportError:  # an optional dependency: no kernels, nothing to set
        return
    old = _changes[_NUMBA][0] if _NUMBA in _changes else numba.config.THREADING_LAYER
    new = old if layer is None else layer
    if new == numba.config.THREADING_LAYER:
        if layer is None:
            _changes.pop(_NUMBA, None)
        return
    try:
        running = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet: the layer can still change
        running = None
    if running is not None:
        logger.warning(
            "set_cpu_tuning: numba's threads already run on the %r layer; "
            "numba_threading_layer=%r has no effect in this process",
            running,
            layer,
        )
        return
    numba.config.THREADING_LAYER = new
    if layer is None:
        del _changes[_NUMBA]
    else:
        _changes[_NUMBA] = (old, new)


def _apply_on_import() -> None:
    """What ``import zerograd`` does: the defaults, unless ``ZEROGRAD_CPU_TUNING=0``."""
    if os.environ.get("ZEROGRAD_CPU_TUNING", "1") != "0":
        set_cpu_tuning()
