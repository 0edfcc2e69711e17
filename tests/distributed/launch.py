"""Starting the worker scripts of these tests under ``mpiexec``: one place for finding it, the
skip marker when MPI is missing, and the command line."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
# the venv's own mpiexec (the mpich wheel) first, then one on the PATH
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")

needs_mpi = pytest.mark.skipif(
    MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
    reason="needs mpiexec and mpi4py (pip install zerograd[mpi])",
)


def launch(
    worker: str, *args: str, n: int = 2, flags: tuple = (), timeout: float = 120
) -> subprocess.CompletedProcess:
    """``mpiexec [flags] -n N python tests/distributed/WORKER ARGS`` from the repository root,
    with zerograd importable from the source tree; stdout and stderr captured as text."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [MPIEXEC, *flags, "-n", str(n), sys.executable, str(HERE / worker), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
