"""keras.distribution.DataParallel: one process (nothing changes), and fit on 2 ranks."""

from __future__ import annotations

import numpy as np
import pytest

from tests.distributed.launch import launch, needs_mpi
from zerograd import keras


@pytest.fixture
def no_distribution():
    yield
    keras.distribution.set_distribution(None)


def _fit(x, y):
    keras.utils.set_random_seed(1)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse", metrics=["mae"])
    h = m.fit(x, y, batch_size=7, epochs=2, validation_split=0.25, verbose=0).history
    return h, [np.array(w.data) for w in m.weights], m.predict(x, verbose=0)


def test_one_process_nothing_changes(no_distribution):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)).astype("float32"), rng.normal(size=(40, 1)).astype("float32")
    plain = _fit(x, y)
    assert keras.distribution.distribution() is None
    dp = keras.distribution.DataParallel(devices=None)
    keras.distribution.set_distribution(dp)
    assert keras.distribution.distribution() is dp
    assert keras.distribution.active() is None  # a world of one: no collectives
    switched = _fit(x, y)
    assert plain[0] == switched[0]
    for a, b in zip(plain[1] + [plain[2]], switched[1] + [switched[2]]):
        np.testing.assert_array_equal(a, b)


def test_bad_arguments():
    with pytest.raises(TypeError, match="set_distribution: expected a keras.distribution"):
        keras.distribution.set_distribution("data_parallel")
    with pytest.raises(TypeError, match="DataParallel: unexpected keyword arguments"):
        keras.distribution.DataParallel(mesh=2)


@needs_mpi
def test_two_ranks_report_the_history_of_one_process(tmp_path):
    """Adam, shuffle, validation_split, uneven shares of each batch, rank 1 starting from other
    weights: the same history (1e-5) and weights as one process on the global batch, identical
    weights on both ranks, progress and CSVLogger's file from rank 0 only, evaluate and predict
    (gathered in order) as in one process."""
    proc = launch("keras_dp_worker.py", tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for rank in (0, 1):
        for name in ("history", "batch-logs", "weights", "rank0-only", "evaluate", "predict"):
            assert f"rank {rank} ok {name}" in proc.stdout, proc.stdout + proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log_0.csv"]


@needs_mpi
@pytest.mark.parametrize("how", ["exit", "kill"])
def test_a_dead_rank_ends_fit_on_the_others_within_the_timeout(how):
    """Rank 1 dies in its third batch. ``exit``: it ends without MPI_Finalize (a crash) and
    mpiexec is told not to clean up (a launcher that does not notice): rank 0's fit raises after
    its 3 s timeout, naming rank 1, and rank 0 ends the job. ``kill``: SIGKILL; mpiexec (hydra)
    ends the other ranks itself. Either way the job ends with an error instead of hanging (the
    60 s limit only guards against a hang of the test itself)."""
    flags = ("-disable-auto-cleanup",) if how == "exit" else ()
    proc = launch("keras_dp_worker.py", "killed", how, flags=flags, timeout=60)
    assert proc.returncode != 0
    assert "fit did not raise" not in proc.stdout + proc.stderr
    if how == "exit":
        assert "rank 0 error: " in proc.stdout, proc.stdout + proc.stderr
        assert "timed out after 3 s on rank 0: rank(s) 1 did not take part" in proc.stdout


@pytest.mark.parametrize(
    "env, size",
    [({}, 1), ({"PMI_SIZE": "2"}, 2), ({"OMPI_COMM_WORLD_SIZE": "3"}, 3), ({"PMI_SIZE": "x"}, 1)],
)
def test_train_app_detects_mpiexec_from_the_environment(monkeypatch, env, size):
    from zerograd.apps.train import mpi_world_size

    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert mpi_world_size() == size
