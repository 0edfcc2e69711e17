"""zerograd.distributed in one process (world size 1): the script runs unchanged without mpiexec."""

import numpy as np
import pytest

import zerograd as zg
import zerograd.distributed as dist
from zerograd.distributed import runtime


@pytest.fixture
def fresh(monkeypatch):
    """A runtime that has not been initialized (restored afterwards)."""
    monkeypatch.setattr(runtime, "_state", dict(runtime._state, initialized=False, broken=None))


@pytest.mark.parametrize(
    "call",
    [
        lambda: dist.all_reduce(np.ones(2)),
        lambda: dist.broadcast(np.ones(2)),
        lambda: dist.all_gather(np.ones(2)),
        lambda: dist.reduce_scatter(np.ones(2)),
        dist.get_rank,
        dist.get_world_size,
        dist.barrier,
        dist.comm,
    ],
)
def test_before_init_raises_naming_init(fresh, call):
    with pytest.raises(RuntimeError, match=r"not initialized; call zerograd.distributed.init\(\)"):
        call()


def test_world_of_one():
    dist.init(timeout=30)
    dist.init(timeout=30)  # idempotent
    assert dist.is_initialized() and dist.timeout() == 30.0
    assert (dist.get_rank(), dist.get_world_size(), dist.get_local_rank()) == (0, 1, 0)
    dist.barrier()
    x = np.arange(6.0).reshape(2, 3)
    for op in ("sum", "mean", "max", "min"):
        out = dist.all_reduce(x, op=op)
        assert isinstance(out, np.ndarray) and out is not x
        np.testing.assert_array_equal(out, x)
    t = dist.all_reduce(zg.Tensor(x.astype(np.float32)))
    assert isinstance(t, zg.Tensor) and t.dtype == np.float32
    np.testing.assert_array_equal(dist.broadcast(x), x)
    got = dist.all_gather(zg.Tensor(x))
    assert len(got) == 1 and isinstance(got[0], zg.Tensor)
    np.testing.assert_array_equal(got[0].numpy(), x)
    np.testing.assert_array_equal(dist.reduce_scatter(x), x)


def test_bad_arguments():
    dist.init()
    with pytest.raises(
        ValueError, match="all_reduce: op must be one of sum, mean, max, min, received 'prod'"
    ):
        dist.all_reduce(np.ones(2), op="prod")
    with pytest.raises(
        TypeError, match="broadcast: expected a zerograd Tensor or a numpy.ndarray, received list"
    ):
        dist.broadcast([1.0, 2.0])
    with pytest.raises(ValueError, match=r"broadcast: src must be a rank in \[0, 1\), received 3"):
        dist.broadcast(np.ones(2), src=3)
    with pytest.raises(TypeError, match="op='mean' needs a floating dtype, received int64"):
        dist.all_reduce(np.ones(2, dtype=np.int64), op="mean")
    with pytest.raises(TypeError, match="cannot reduce a bool array"):
        dist.all_reduce(np.ones(2, dtype=bool))
    with pytest.raises(
        ValueError, match="init: timeout must be a positive finite number, received 0"
    ):
        dist.init(timeout=0)
    with pytest.raises(TypeError, match="init: timeout must be a number of seconds"):
        dist.init(timeout="5")


def test_out_argument_in_a_world_of_one():
    dist.init()
    x = np.arange(6.0).reshape(2, 3)
    assert dist.all_reduce(x, out=x) is x
    into = np.empty((1, 2, 3))
    assert dist.all_gather(x, out=into) is into
    np.testing.assert_array_equal(into[0], x)
    t = zg.Tensor(x.copy())
    assert dist.broadcast(t, out=t) is t
    with pytest.raises(
        ValueError,
        match=r"all_reduce: out must have shape \(2, 3\) and dtype "
        r"float64, received shape \(3, 2\) and dtype float64",
    ):
        dist.all_reduce(x, out=np.empty((3, 2)))
    with pytest.raises(ValueError, match="out must have shape .* received shape .* dtype float32"):
        dist.all_reduce(x, out=np.empty((2, 3), np.float32))
    with pytest.raises(
        TypeError, match="all_reduce: out must be a ndarray as the input is, received Tensor"
    ):
        dist.all_reduce(x, out=zg.Tensor(x))
    with pytest.raises(ValueError, match=r"all_gather: out must have shape \(1, 2, 3\)"):
        dist.all_gather(x, out=np.empty((2, 3)))
    w = zg.Tensor(x.copy(), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Tensor that requires grad.*no_grad"):
        dist.all_reduce(w, out=w)
    with zg.no_grad():
        assert dist.all_reduce(w, out=w) is w
