"""The batch-norm training op (one Function; numba kernels for channels first and channels last,
NumPy otherwise) against PyTorch's batch_norm: values, every gradient, the running statistics, in
float32 and float64, channels first and last, odd sizes; float64 gradcheck and second order; both
paths (``path``)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zerograd as zg
import zerograd.nn.functional as F
from tests.helpers import check_against_torch, check_second_order
from zerograd.utils import gradcheck

rng = np.random.default_rng(0)

SHAPES = [(6, 3), (4, 5, 7), (3, 4, 5, 6), (2, 7, 1, 1), (600, 9)]  # (600, 9): several row blocks


def _torch_bn(x, w, b, channels_last):
    if channels_last:  # channels on the last axis: to PyTorch's axis 1 and back
        perm = (0, x.ndim - 1, *range(1, x.ndim - 1))
        inv = tuple(np.argsort(perm))
        y = TF.batch_norm(x.permute(perm), None, None, w, b, training=True, eps=1e-3)
        return y.permute(inv)
    return TF.batch_norm(x, None, None, w, b, training=True, eps=1e-3)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_training_against_torch(path, dtype, shape, channels_last):
    axis = len(shape) - 1 if channels_last else 1
    x = rng.standard_normal(shape) * 3 + 1.5
    w, b = rng.standard_normal(shape[axis]), rng.standard_normal(shape[axis])
    check_against_torch(
        lambda a, g, c: F.batch_norm(a, None, None, g, c, True, eps=1e-3, axis=axis),
        lambda a, g, c: _torch_bn(a, g, c, channels_last),
        [x, w, b],
        dtype,
    )


@pytest.mark.parametrize("channels_last", [False, True])
def test_batch_norm_without_affine(path, channels_last):
    shape = (5, 4, 3)
    axis = 2 if channels_last else 1
    x = rng.standard_normal(shape)
    check_against_torch(
        lambda a: F.batch_norm(a, training=True, eps=1e-3, axis=axis),
        lambda a: _torch_bn(a, None, None, channels_last),
        [x],
    )


@pytest.mark.parametrize("axis", [1, -1])
def test_running_statistics_as_torch(path, axis):
    x = (rng.standard_normal((8, 6, 5)) * 2 + 0.7).astype(np.float32)
    c = x.shape[axis]
    rm, rv = zg.tensor(np.zeros(c, np.float32)), zg.tensor(np.ones(c, np.float32))
    trm, trv = torch.zeros(c), torch.ones(c)
    F.batch_norm(zg.tensor(x), rm, rv, training=True, momentum=0.3, axis=axis)
    tx = torch.from_numpy(x if axis == 1 else np.moveaxis(x, -1, 1).copy())
    TF.batch_norm(tx, trm, trv, training=True, momentum=0.3)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-5, atol=1e-6)


def test_gradcheck_float64(path):
    for shape, axis in (((4, 3, 5), 1), ((6, 4), -1), ((3, 2, 2, 3), -1)):
        c = shape[axis]
        x = zg.tensor(rng.standard_normal(shape), requires_grad=True)
        w = zg.tensor(rng.standard_normal(c), requires_grad=True)
        b = zg.tensor(rng.standard_normal(c), requires_grad=True)
        assert gradcheck(
            lambda a, g, h, axis=axis: F.batch_norm(a, None, None, g, h, True, axis=axis), x, w, b
        )


def test_second_order_against_torch():
    x = rng.standard_normal((5, 3, 4))
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    check_second_order(
        lambda a, g, c: F.batch_norm(a, None, None, g, c, True, eps=1e-3),
        lambda a, g, c: TF.batch_norm(a, None, None, g, c, training=True, eps=1e-3),
        [x, w, b],
    )


def test_kernel_on_a_conv_sized_batch_is_as_exact_as_float64_allows(monkeypatch):
    """float32 through the kernels (float64 sums) against the same batch in float64: the
    kernel's error is that of float32 storage, not of float32 sums over 3136 rows."""
    from zerograd import kernels, tuning

    if kernels.numba is None:
        pytest.skip("numba is not installed")
    x = (rng.standard_normal((16, 14, 14, 32)) * 2 + 3).astype(np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    w, b = rng.standard_normal(32).astype(np.float32), rng.standard_normal(32).astype(np.float32)
    out = {}
    monkeypatch.setattr(tuning, "KERNEL_MIN_SIZE", 0)
    for on, dtype in ((True, np.float32), (False, np.float64)):
        monkeypatch.setattr(kernels, "ENABLED", on)
        a = zg.tensor(x.astype(dtype), requires_grad=True)
        g = zg.tensor(w.astype(dtype), requires_grad=True)
        h = zg.tensor(b.astype(dtype), requires_grad=True)
        y = F.batch_norm(a, None, None, g, h, True, axis=-1)
        (y * zg.tensor(gy.astype(dtype))).sum().backward()
        out[on] = (y.numpy(), a.grad.numpy(), g.grad.numpy(), h.grad.numpy())
    for got, want, what in zip(out[True], out[False], ("y", "grad x", "grad w", "grad b")):
        scale = np.abs(want).max()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale, err_msg=what)


def test_bad_axis_and_single_value_per_channel():
    x = zg.tensor(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"batch_norm: axis must be an integer in \[-2, 2\)"):
        F.batch_norm(x, training=True, axis=2)
    with pytest.raises(ValueError, match="expected more than 1 value per channel"):
        F.batch_norm(zg.tensor(np.ones((1, 3))), training=True)
    with pytest.raises(ValueError, match=r"expected weight of shape \(4,\)"):
        F.batch_norm(x, None, None, zg.tensor(np.ones(3)), training=True, axis=0)
