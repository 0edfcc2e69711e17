"""The device tests: on CuPy's GPU where one is seen, otherwise on the stand-in device
(``fake_cupy``), which keeps CuPy's rules on the CPU. Every test here is marked ``gpu``."""

from __future__ import annotations

import pytest
import torch

from zerograd import backend


def real_gpu() -> bool:
    """CuPy is installed and sees a device (not the stand-in)."""
    return backend.cuda_available() and not getattr(backend._cupy, "STAND_IN", False)


REAL = real_gpu()
TORCH_DEVICE = "cuda" if REAL and torch.cuda.is_available() else "cpu"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/gpu" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.gpu)


@pytest.fixture(autouse=True)
def device():
    """'cuda': the real one, or the stand-in installed for the test and removed after it."""
    if REAL:
        yield "cuda"
        return
    from tests.gpu import fake_cupy

    previous = fake_cupy.install()
    try:
        yield "cuda"
    finally:
        fake_cupy.uninstall(previous)
