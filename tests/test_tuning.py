"""zerograd.tuning: the process-wide CPU settings made on import (OpenBLAS spin time, numba's
threading layer), their switch and their report. Each case runs in a fresh process: these
settings belong to the process."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import zerograd as zg

BUNDLED_OPENBLAS = (
    len(
        glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*"))
    )
    == 1
)
try:
    import numba  # noqa: F401
except ImportError:
    HAVE_NUMBA = False
else:
    HAVE_NUMBA = True

REPORT = (
    "import json, os, numpy as np, zerograd as zg\n"
    "a = np.random.default_rng(0).random((300, 300))\n"
    "assert np.allclose(a @ a, np.einsum('ij,jk->ik', a, a))\n"
    "def report():\n"
    "    import numba\n"
    "    return dict(env=os.environ.get('OPENBLAS_THREAD_TIMEOUT'),\n"
    "                layer=numba.config.THREADING_LAYER,\n"
    "                changes={k: list(v) for k, v in zg.cpu_tuning().items()})\n"
)


def _run(code: str, **env) -> list:
    """Run ``REPORT + code`` in a fresh interpreter with ``env`` added (None: removed) to a copy of
    this environment without the variables under test; each line it prints is read as JSON."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENBLAS_THREAD_TIMEOUT", "NUMBA_THREADING_LAYER", "ZEROGRAD_CPU_TUNING")
    }
    base.update(env)
    out = subprocess.run(
        [sys.executable, "-c", REPORT + code], env=base, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")


@needs_numba
def test_default_import_tunes_and_reports():
    (r,) = _run("print(json.dumps(report()))")
    assert r["layer"] == zg.tuning.NUMBA_THREADING_LAYER
    assert r["changes"]["numba.config.THREADING_LAYER"][1] == "workqueue"
    if BUNDLED_OPENBLAS:
        assert r["env"] == "20"
        assert r["changes"]["OPENBLAS_THREAD_TIMEOUT"] == [None, "20"]
    else:  # another BLAS: left alone
        assert r["env"] is None and "OPENBLAS_THREAD_TIMEOUT" not in r["changes"]


@needs_numba
def test_switch_off_before_import_changes_nothing():
    (r,) = _run("print(json.dumps(report()))", ZEROGRAD_CPU_TUNING="0")
    assert r == {"env": None, "layer": "default", "changes": {}}


@needs_numba
def test_user_settings_are_left_alone():
    (r,) = _run(
        "print(json.dumps(report()))", OPENBLAS_THREAD_TIMEOUT="28", NUMBA_THREADING_LAYER="omp"
    )
    assert r["env"] == "28" and r["changes"] == {}


@needs_numba
def test_set_cpu_tuning_changes_and_undoes():
    code = (
        "print(json.dumps(report()))\n"
        "zg.set_cpu_tuning(openblas_thread_timeout=24, numba_threading_layer='omp')\n"
        "print(json.dumps(report()))\n"
        "zg.set_cpu_tuning(False)\n"
        "print(json.dumps(report()))\n"
        "assert np.allclose(a @ a, np.einsum('ij,jk->ik', a, a))\n"
        "zg.set_cpu_tuning()\n"
        "print(json.dumps(report()))\n"
    )
    first, changed, undone, again = _run(code, ZEROGRAD_CPU_TUNING="0")
    assert first["changes"] == {}
    assert changed["layer"] == "omp"
    assert undone == {"env": None, "layer": "default", "changes": {}}
    assert again["layer"] == "workqueue"
    if BUNDLED_OPENBLAS:
        assert changed["env"] == "24"
        assert changed["changes"]["OPENBLAS_THREAD_TIMEOUT"] == [None, "24"]
        assert again["env"] == "20"


@needs_numba
def test_threading_layer_is_not_changed_once_numba_threads_run():
    code = (
        "from zerograd import kernels\n"
        "from zerograd.kernels import gelu as gk\n"
        "gk.gelu(np.ones(10, np.float32))\n"  # the parallel kernel starts numba's threads
        "zg.set_cpu_tuning(numba_threading_layer='omp')\n"
        "print(json.dumps(report()))\n"
    )
    (r,) = _run(code)
    assert r["layer"] == "workqueue"  # too late: left as it runs, with a warning logged


@pytest.mark.parametrize(
    "kw",
    [
        dict(openblas_thread_timeout=40),
        dict(openblas_thread_timeout="20"),
        dict(openblas_thread_timeout=True),
        dict(numba_threading_layer="fast"),
    ],
)
def test_bad_arguments_raise_before_any_change(kw):
    before = zg.cpu_tuning()
    with pytest.raises(ValueError, match="set_cpu_tuning: expected"):
        zg.set_cpu_tuning(**kw)
    assert zg.cpu_tuning() == before


def test_thresholds_live_in_tuning():
    """The kernels read their thresholds from zerograd.tuning when they run (so they can be
    changed there), and ops no longer keep copies."""
    from zerograd.ops import linalg

    assert not hasattr(linalg, "LINEAR_BIAS_KERNEL")
    for name in (
        "KERNEL_MIN_SIZE",
        "LINEAR_BIAS_KERNEL_MIN_SIZE",
        "ADAM_PARALLEL_MIN_SIZE",
        "ATTENTION_BLOCK",
        "ATTENTION_MAX_HEAD",
        "SUM_AXES_GEMV_MIN_SIZE",
        "SCALAR_CACHE_SIZE",
        "OPENBLAS_THREAD_TIMEOUT",
        "NUMBA_THREADING_LAYER",
    ):
        assert hasattr(zg.tuning, name), name
