"""autocast('cuda') and GradScaler on device tensors: CuPy's GPU where one is seen, otherwise
the stand-in device of tests/gpu/fake_cupy.py (CuPy's rules on the CPU)."""

from __future__ import annotations

import numpy as np
import pytest

import zerograd as zg
import zerograd.nn.functional as F
from zerograd import backend

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def device():
    if backend.cuda_available() and not getattr(backend._cupy, "STAND_IN", False):
        yield "cuda"
        return
    fake_cupy = pytest.importorskip("tests.gpu.fake_cupy")
    previous = fake_cupy.install()
    try:
        yield "cuda"
    finally:
        fake_cupy.uninstall(previous)


def test_cuda_autocast_lowers_device_tensors_only(device):
    lin = zg.nn.Linear(4, 3).to(device)
    x = zg.randn(2, 4).to(device)
    host = zg.randn(2, 4)
    with zg.autocast(device):
        y = lin(x)
        loss = F.mse_loss(y, zg.zeros(2, 3).to(device))
        assert (host @ host.T).dtype == np.float32  # a CPU tensor is not the region's
    assert y.dtype == np.float16 and y.device.startswith("cuda")
    assert loss.dtype == np.float32
    with zg.autocast("cpu", dtype="float16"):
        assert (x @ x.T).dtype == np.float32  # and a CPU region leaves device tensors alone
    loss.backward()
    assert lin.weight.grad.dtype == np.float32 and lin.weight.grad.device.startswith("cuda")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the injected inf
def test_grad_scaler_on_device_gradients(device):
    lin = zg.nn.Linear(4, 1).to(device)
    opt = zg.optim.SGD(lin.parameters(), lr=0.1)
    scaler = zg.amp.GradScaler(device, init_scale=8.0, growth_interval=1)
    x = zg.randn(3, 4).to(device)
    for poison, expect in ((1.0, 16.0), (float("inf"), 8.0)):
        opt.zero_grad()
        before = backend.to_numpy(lin.weight.data).copy()
        with zg.autocast(device):
            loss = (lin(x).float() * poison).sum()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        assert scaler.get_scale() == expect
        moved = not np.array_equal(backend.to_numpy(lin.weight.data), before)
        assert moved == (poison == 1.0)
