"""The fused rms_norm op (one Function; a numba kernel over the last axis, NumPy otherwise) against
PyTorch's rms_norm: values and every gradient in float32 and float64, odd shapes, several trailing
axes, no weight, the default eps; float64 gradcheck and second order; both paths (``path``)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zerograd as zg
import zerograd.nn as nn
import zerograd.nn.functional as F
from tests.helpers import check_against_torch, check_second_order
from zerograd.utils import gradcheck

rng = np.random.default_rng(0)

SHAPES = [  # (input shape, normalized_shape)
    ((3, 5, 7), 7),
    ((2, 33), (33,)),
    ((1, 1), 1),
    ((4, 2, 3, 5), (3, 5)),  # two trailing axes: the NumPy path on both
    ((257, 19), 19),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, norm", SHAPES)
def test_rms_norm_against_torch(path, dtype, shape, norm):
    wshape = (norm,) if isinstance(norm, int) else norm
    x = rng.standard_normal(shape) * 3 + 0.5
    w = rng.standard_normal(wshape)
    nshape = list(wshape)
    check_against_torch(
        lambda a, b: F.rms_norm(a, norm, b, eps=1e-6),
        lambda a, b: TF.rms_norm(a, nshape, b, eps=1e-6),
        [x, w],
        dtype,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rms_norm_without_weight_and_default_eps(path, dtype):
    """eps=None is the dtype's machine epsilon, as PyTorch; no weight: the plain normalisation."""
    x = rng.standard_normal((6, 9)) * 1e-3  # small rows: eps matters
    check_against_torch(
        lambda a: F.rms_norm(a, 9), lambda a: TF.rms_norm(a, [9]), [x], dtype, rtol=2e-4
    )


def test_rms_norm_gradcheck_float64(path):
    x = zg.tensor(rng.standard_normal((5, 7)), requires_grad=True)
    w = zg.tensor(rng.standard_normal(7), requires_grad=True)
    assert gradcheck(lambda a, b: F.rms_norm(a, 7, b, eps=1e-5), x, w)
    x3 = zg.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda a: F.rms_norm(a, (3, 4), eps=1e-5), x3)


def test_rms_norm_second_order():
    """create_graph: the backward recomputes 1 / rms from x, so it differentiates again."""
    x, w = rng.standard_normal((4, 6)), rng.standard_normal(6)
    check_second_order(
        lambda a, b: F.rms_norm(a, 6, b, eps=1e-5),
        lambda a, b: TF.rms_norm(a, [6], b, 1e-5),
        [x, w],
    )


def test_kernel_and_numpy_paths_agree(monkeypatch):
    """The kernel (float64 sums of squares) and NumPy give the same float32 values and gradients
    to a few ulps on rows as wide as a model's."""
    from zerograd import kernels, tuning

    if kernels.numba is None:
        pytest.skip("numba is not installed")
    x = (rng.standard_normal((64, 256)) * 2).astype(np.float32)
    w = rng.standard_normal(256).astype(np.float32)
    gy = rng.standard_normal((64, 256)).astype(np.float32)
    out = {}
    monkeypatch.setattr(tuning, "KERNEL_MIN_SIZE", 0)
    for on in (True, False):
        monkeypatch.setattr(kernels, "ENABLED", on)
        a, b = zg.tensor(x, requires_grad=True), zg.tensor(w, requires_grad=True)
        y = F.rms_norm(a, 256, b, eps=1e-6)
        (y * zg.tensor(gy)).sum().backward()
        out[on] = (y.numpy(), a.grad.numpy(), b.grad.numpy())
    for got, want, what in zip(out[True], out[False], ("y", "grad x", "grad weight")):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=what)


def test_rms_norm_layer_matches_torch(path):
    x = rng.standard_normal((2, 5, 16)).astype(np.float32)
    ours, theirs = nn.RMSNorm(16, eps=1e-6), torch.nn.RMSNorm(16, eps=1e-6)
    w = rng.standard_normal(16).astype(np.float32)
    ours.weight.data[...] = w
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(w))
    np.testing.assert_allclose(
        ours(zg.tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(), atol=1e-6
    )


def test_rms_norm_errors_name_the_argument():
    x = zg.randn(2, 5)
    with pytest.raises(ValueError, match=r"rms_norm: expected input whose last axes are \(4,\)"):
        F.rms_norm(x, 4)
    with pytest.raises(ValueError, match=r"rms_norm: expected weight of shape \(5,\)"):
        F.rms_norm(x, 5, zg.ones(4))
