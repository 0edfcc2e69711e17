"""The op and layer parity tables on the device: every op of ``tests/ops/test_table.py`` and every
layer and loss of ``tests/nn/test_layers.py``, forward and gradients against PyTorch (CUDA where
there is a GPU, the CPU otherwise), with the data, the outputs and every gradient on the device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zerograd as zg
from tests.gpu.conftest import TORCH_DEVICE
from tests.helpers import tol
from tests.nn.test_layers import LAYERS, LOSSES, X, copy_weights
from tests.ops.test_table import FIRST_ORDER, NOGRAD, ROWS, make_inputs


def on_device(t: zg.Tensor, what: str) -> None:
    assert t.device.startswith("cuda"), f"{what} is on {t.device}, expected the device"


def _host(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def check_on_device(zg_fn, torch_fn, inputs, dtype):
    t = tol(dtype)
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in map(np.asarray, inputs)]
    zs = [zg.tensor(a, requires_grad=a.dtype.kind == "f", device="cuda") for a in arrays]
    ts = [torch.tensor(a, device=TORCH_DEVICE).requires_grad_(a.dtype.kind == "f") for a in arrays]
    zy, ty = zg_fn(*zs), torch_fn(*ts)
    on_device(zy, "the output")
    np.testing.assert_allclose(zy.numpy(), _host(ty), **t, err_msg="forward")
    assert zy.dtype == np.dtype(str(ty.dtype).replace("torch.", ""))
    if not ty.requires_grad:
        return
    w = np.random.default_rng(1).standard_normal(ty.shape).astype(dtype)
    (zy * zg.tensor(w, device="cuda")).sum().backward()
    (ty * torch.tensor(w, device=TORCH_DEVICE)).sum().backward()
    for i, (z, tt) in enumerate(zip(zs, ts)):
        if not tt.requires_grad:
            continue
        expect = np.zeros(tt.shape) if tt.grad is None else _host(tt.grad)
        if z.grad is None:
            np.testing.assert_allclose(0, expect, **t, err_msg=f"gradient of input {i}")
            continue
        on_device(z.grad, f"the gradient of input {i}")
        np.testing.assert_allclose(z.grad.numpy(), expect, **t, err_msg=f"gradient of input {i}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("row", ROWS + FIRST_ORDER, ids=[r[0] for r in ROWS + FIRST_ORDER])
def test_op_on_device(row, dtype):
    _, zf, tf, shapes, domain = row
    check_on_device(zf, tf, make_inputs(shapes, domain), dtype)


@pytest.mark.parametrize("row", NOGRAD, ids=[r[0] for r in NOGRAD])
def test_op_without_gradient_on_device(row):
    _, zf, tf = row
    a = np.random.default_rng(0).standard_normal((2, 3))
    z = zf(zg.tensor(a, requires_grad=True, device="cuda"))
    on_device(z, "the output")
    np.testing.assert_array_equal(z.numpy(), _host(tf(torch.tensor(a, device=TORCH_DEVICE))))


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("row", LAYERS, ids=[r[0] for r in LAYERS])
def test_layer_on_device(row, dtype, train):
    _, zf, tf, shape = row
    zm, tm = zf(), tf()
    tm = tm.to(torch.float64 if dtype == np.float64 else torch.float32)
    zm.to(dtype=dtype)
    copy_weights(zm, tm)
    zm.to("cuda")
    tm.to(TORCH_DEVICE)
    zm.train(train)
    tm.train(train)
    t = tol(dtype)
    x = X(shape).astype(dtype)
    zx = zg.tensor(x, requires_grad=True, device="cuda")
    tx = torch.tensor(x, device=TORCH_DEVICE, requires_grad=True)
    zy, ty = zm(zx), tm(tx)
    zy = zy[0] if isinstance(zy, tuple) else zy
    ty = ty[0] if isinstance(ty, tuple) else ty
    on_device(zy, "the output")
    np.testing.assert_allclose(zy.numpy(), _host(ty), **t, err_msg="output")
    w = np.random.default_rng(3).standard_normal(ty.shape).astype(dtype)
    (zy * zg.tensor(w, device="cuda")).sum().backward()
    (ty * torch.tensor(w, device=TORCH_DEVICE)).sum().backward()
    on_device(zx.grad, "the input gradient")
    np.testing.assert_allclose(zx.grad.numpy(), _host(tx.grad), **t, err_msg="input gradient")
    zp = dict(zm.named_parameters())
    for name, p in tm.named_parameters():
        on_device(zp[name], f"parameter {name}")
        on_device(zp[name].grad, f"the gradient of {name}")
        np.testing.assert_allclose(
            zp[name].grad.numpy(), _host(p.grad), **t, err_msg=f"gradient of {name}"
        )
    zs = zm.state_dict()
    for name, b in tm.named_buffers():
        on_device(zs[name], f"buffer {name}")
        np.testing.assert_allclose(zs[name].numpy(), _host(b), **t, err_msg=f"buffer {name}")


@pytest.mark.parametrize("row", LOSSES, ids=[r[0] for r in LOSSES])
def test_loss_on_device(row):
    _, zl, tl, kind = row
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    y = {
        "float": rng.standard_normal((4, 3)),
        "index": rng.integers(0, 3, 4),
        "binary": rng.integers(0, 2, (4, 3)).astype(float),
    }[kind]
    zx = zg.tensor(x, requires_grad=True, device="cuda")
    tx = torch.tensor(x, requires_grad=True, device=TORCH_DEVICE)
    zv, tv = zl(zx, zg.tensor(y, device="cuda")), tl(tx, torch.tensor(y, device=TORCH_DEVICE))
    on_device(zv, "the loss")
    np.testing.assert_allclose(zv.numpy(), _host(tv), atol=1e-10)
    zv.backward()
    tv.backward()
    on_device(zx.grad, "the input gradient")
    np.testing.assert_allclose(zx.grad.numpy(), _host(tx.grad), atol=1e-10)
