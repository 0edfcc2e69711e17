"""The NCCL path (GPU arrays) of the collectives and DistributedDataParallel, checked on the CPU
through NCCL's interface: nccl_worker.py replaces CuPy's NCCL with a stand-in that runs each call
over MPI on the memory behind the pointers the library passes."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zerograd.distributed import nccl

HERE = Path(__file__).parent
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
needs_mpi = pytest.mark.skipif(
    MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
    reason="needs mpi4py and mpiexec (pip install zerograd[mpi])",
)


def launch(mode: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(HERE.parents[1]))
    cmd = [MPIEXEC, "-n", "2", sys.executable, str(HERE / "nccl_worker.py"), mode]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@needs_mpi
@pytest.mark.parametrize(
    "mode, checks",
    [
        ("collectives", ["all_reduce", "broadcast", "all_gather", "reduce_scatter"]),
        ("ddp", ["ddp"]),
        ("timeout", ["timeout"]),
    ],
)
def test_nccl_calls_give_the_right_results(mode, checks):
    run = launch(mode)
    assert run.returncode == 0, run.stdout + run.stderr
    for r in range(2):
        for c in checks:
            assert f"rank {r} ok {c}" in run.stdout, run.stdout + run.stderr


def test_host_arrays_never_take_the_nccl_path():
    assert not nccl.handles(np.ones(3))
    assert nccl.reduce_dtype(np.dtype(np.int16)) == np.int32
    assert nccl.reduce_dtype(np.dtype(np.float32)) == np.float32


def test_nccl_cannot_reduce_bool_bytes():
    with pytest.raises(TypeError, match="NCCL cannot reduce dtype bool"):
        nccl._wire(np.ones(2, bool), True)
