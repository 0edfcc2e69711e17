"""The NCCL path (GPU arrays) of the collectives and DistributedDataParallel, checked on the CPU
through NCCL's interface: nccl_worker.py replaces CuPy's NCCL with a stand-in that runs each call
over MPI on the memory behind the pointers the library passes."""

import numpy as np
import pytest

from tests.distributed.launch import launch, needs_mpi
from zerograd.distributed import nccl


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
    run = launch("nccl_worker.py", mode)
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
