"""The fused swiglu op, silu(gate) * up (one Function; a numba kernel, NumPy otherwise), against
PyTorch: values and both gradients in float32 and float64, odd shapes, large gates (no overflow);
float64 gradcheck and second order; both paths (``path``); errors."""

import numpy as np
import pytest
import torch.nn.functional as TF

import zerograd as zg
from tests.helpers import check_against_torch, check_second_order
from zerograd.ops.swiglu import swiglu
from zerograd.utils import gradcheck

rng = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 5, 11), (1, 1, 1), (129, 33)])
def test_swiglu_against_torch(path, dtype, shape):
    g = rng.standard_normal(shape) * 4
    u = rng.standard_normal(shape)
    check_against_torch(swiglu, lambda a, b: TF.silu(a) * b, [g, u], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_swiglu_large_gates_stay_finite(path, dtype):
    """exp(-|g|) only: gates of +-80 (float32) and +-700 (float64) give finite values and
    gradients, as silu's limits (x for x >> 0, 0 for x << 0)."""
    big = 80.0 if dtype == np.float32 else 700.0
    g = np.array([-big, -30.0, -1.0, 0.0, 1.0, 30.0, big] * 3, dtype)
    u = np.full_like(g, 2.0)
    check_against_torch(swiglu, lambda a, b: TF.silu(a) * b, [g, u], dtype)
    a, b = zg.tensor(g, requires_grad=True), zg.tensor(u, requires_grad=True)
    y = swiglu(a, b)
    y.sum().backward()
    assert np.isfinite(y.numpy()).all() and np.isfinite(a.grad.numpy()).all()
    np.testing.assert_allclose(y.numpy()[-1], 2 * big, rtol=1e-6)
    np.testing.assert_allclose(y.numpy()[0], 0.0, atol=1e-6)


def test_swiglu_gradcheck_float64(path):
    g = zg.tensor(rng.standard_normal((4, 9)) * 3, requires_grad=True)
    u = zg.tensor(rng.standard_normal((4, 9)), requires_grad=True)
    assert gradcheck(swiglu, g, u)


def test_swiglu_second_order():
    g, u = rng.standard_normal((3, 6)) * 2, rng.standard_normal((3, 6))
    check_second_order(swiglu, lambda a, b: TF.silu(a) * b, [g, u])


def test_kernel_and_numpy_paths_agree(monkeypatch):
    from zerograd import kernels, tuning

    if kernels.numba is None:
        pytest.skip("numba is not installed")
    g = (rng.standard_normal((64, 300)) * 5).astype(np.float32)
    u = rng.standard_normal((64, 300)).astype(np.float32)
    gy = rng.standard_normal((64, 300)).astype(np.float32)
    out = {}
    monkeypatch.setattr(tuning, "KERNEL_MIN_SIZE", 0)
    for on in (True, False):
        monkeypatch.setattr(kernels, "ENABLED", on)
        a, b = zg.tensor(g, requires_grad=True), zg.tensor(u, requires_grad=True)
        y = swiglu(a, b)
        (y * zg.tensor(gy)).sum().backward()
        out[on] = (y.numpy(), a.grad.numpy(), b.grad.numpy())
    for got, want, what in zip(out[True], out[False], ("y", "grad gate", "grad up")):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=what)


def test_swiglu_errors_name_the_arguments():
    with pytest.raises(
        ValueError, match=r"swiglu: expected gate and up of one shape.*\(2, 3\).*\(3,"
    ):
        swiglu(zg.randn(2, 3), zg.randn(3, 2))
    with pytest.raises(TypeError, match="swiglu: expected gate and up of one dtype.*float64"):
        swiglu(zg.randn(2, 3), zg.randn(2, 3, dtype="float64"))
