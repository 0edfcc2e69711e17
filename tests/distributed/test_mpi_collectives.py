"""The collectives across real processes: ``mpiexec -n N python collectives_worker.py``."""

from tests.distributed.launch import launch, needs_mpi

pytestmark = needs_mpi


def start(n: int, mode: str, timeout: float = 120):
    return launch("collectives_worker.py", mode, n=n, timeout=timeout)


def test_collectives_match_numpy_and_mismatches_raise_on_three_ranks():
    # all_reduce/broadcast/all_gather/reduce_scatter against NumPy, the before-init error, and
    # the shape, dtype, op and collective mismatches (asserted inside the worker, on every rank)
    run = start(3, "checks")
    assert run.returncode == 0, run.stdout + run.stderr
    for r in range(3):
        assert f"rank {r} OK" in run.stdout, run.stdout + run.stderr


def test_a_rank_that_leaves_is_named_after_the_timeout():
    run = start(3, "dead")  # rank 2 leaves; ranks 0 and 1 both name it
    assert run.returncode == 0, run.stdout + run.stderr
    for r in (0, 1):
        assert f"on rank {r}: rank(s) 2 did not take part" in run.stdout, run.stdout + run.stderr
        assert f"rank {r} OK" in run.stdout


def test_a_hung_rank_is_named_and_the_caller_can_end_the_job():
    # rank 1 sleeps 60 s; rank 0's barrier times out after 2 s and calls comm().Abort(3), which
    # ends mpiexec (the 30 s limit only guards against a hang of the test itself)
    run = start(2, "hung", timeout=30)
    assert run.returncode != 0
    assert "barrier: timed out after 2 s on rank 0: rank(s) 1 did not take part" in run.stdout
    assert "unreachable" not in run.stdout + run.stderr
