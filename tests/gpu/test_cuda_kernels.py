"""The fused CuPy kernels (zerograd/kernels/cuda.py) against the array code of the same ops (which
the rest of tests/gpu checks against PyTorch): on a real GPU, or on the stand-in device, which
compiles the kernels' bodies as C++ for float32 and float64 (float16 needs the GPU)."""

from __future__ import annotations

import numpy as np
import pytest

import zerograd as zg
from tests.gpu import fake_kernels
from tests.gpu.conftest import REAL
from zerograd import nn, optim
from zerograd.kernels import cuda as cuda_kernels
from zerograd.nn import functional as F

pytestmark = pytest.mark.skipif(
    not (REAL or fake_kernels.available()), reason="no GPU, and no C++ compiler for the stand-in"
)
HALF = pytest.param(
    np.float16, marks=pytest.mark.skipif(not REAL, reason="float16 kernels need the GPU")
)


def _run(fn, monkeypatch, enabled: bool, arrays):
    monkeypatch.setattr(cuda_kernels, "ENABLED", enabled)
    xs = [zg.tensor(a, requires_grad=a.dtype.kind == "f", device="cuda") for a in arrays]
    y = fn(*xs)
    w = np.random.default_rng(9).standard_normal(y.shape).astype(y.dtype)
    (y * zg.tensor(w, device="cuda")).sum().backward()
    return y.numpy(), [x.grad.numpy() for x in xs if x.grad is not None]


def _compare(fn, arrays, monkeypatch, rtol):
    fused, fused_grads = _run(fn, monkeypatch, True, arrays)
    plain, plain_grads = _run(fn, monkeypatch, False, arrays)
    np.testing.assert_allclose(fused, plain, rtol=rtol, atol=rtol)
    for a, b in zip(fused_grads, plain_grads):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


RNG = np.random.default_rng(0)
TOL = {np.float64: 1e-10, np.float32: 2e-5, np.float16: 2e-2}


@pytest.mark.parametrize("dtype", [np.float64, np.float32, HALF])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(dtype, approximate, monkeypatch):
    x = (RNG.standard_normal((64, 130)) * 3).astype(dtype)
    _compare(lambda t: F.gelu(t, approximate=approximate), [x], monkeypatch, TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_and_masked_attention_softmax(dtype, monkeypatch):
    x = RNG.standard_normal((4, 33, 130)).astype(dtype)
    _compare(lambda t: F.softmax(t, -1), [x], monkeypatch, TOL[dtype])
    q = RNG.standard_normal((2, 3, 40, 16)).astype(dtype)
    mask = RNG.random((1, 1, 40, 40)) > 0.3
    np.fill_diagonal(mask[0, 0], True)
    sdpa = lambda a, b, c: F.scaled_dot_product_attention(  # noqa: E731
        a, b, c, attn_mask=zg.tensor(mask, device="cuda"), return_weights=True
    )[1]  # the plain path: scores through Softmax with scale and bias
    _compare(sdpa, [q, q.copy(), q.copy()], monkeypatch, TOL[dtype])


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_norm(dtype, affine, monkeypatch):
    x = (RNG.standard_normal((8, 17, 96)) * 2 + 1).astype(dtype)
    w, b = RNG.standard_normal(96).astype(dtype), RNG.standard_normal(96).astype(dtype)
    if affine:
        _compare(lambda t, a, c: F.layer_norm(t, (96,), a, c), [x, w, b], monkeypatch, TOL[dtype])
    else:
        _compare(lambda t: F.layer_norm(t, (96,)), [x], monkeypatch, TOL[dtype])


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy(dtype, smoothing, monkeypatch):
    x = (RNG.standard_normal((50, 1000)) * 4).astype(dtype)
    t = RNG.integers(0, 1000, 50)
    t[::7] = -100

    def fn(logits):
        return F.cross_entropy(logits, t, ignore_index=-100, label_smoothing=smoothing)

    _compare(fn, [x], monkeypatch, TOL[dtype])


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_adam_step(cls, monkeypatch):
    def train(enabled):
        monkeypatch.setattr(cuda_kernels, "ENABLED", enabled)
        zg.manual_seed(0)
        model = nn.Linear(300, 200).to("cuda")
        opt = cls(model.parameters(), lr=1e-2, weight_decay=0.1)
        x = zg.tensor(np.random.default_rng(1).standard_normal((8, 300)), device="cuda").float()
        for _ in range(4):
            opt.zero_grad()
            (model(x) ** 2).mean().backward()
            opt.step()
        return model.weight.numpy()

    np.testing.assert_allclose(train(True), train(False), rtol=1e-5, atol=1e-6)


def test_dropout_masks_on_the_device(monkeypatch):
    monkeypatch.setattr(cuda_kernels, "ENABLED", True)
    x = zg.ones((1000, 1000), device="cuda")
    zg.manual_seed(3)
    a = F.dropout(x, 0.25).numpy()
    zg.manual_seed(3)
    b = F.dropout(x, 0.25).numpy()
    np.testing.assert_array_equal(a, b)  # one seed, one mask
    assert set(np.unique(a)) == {0.0, np.float32(1 / 0.75)}
    assert abs((a == 0).mean() - 0.25) < 0.005
    c = F.dropout(x, 0.25).numpy()
    assert (a != c).any()
