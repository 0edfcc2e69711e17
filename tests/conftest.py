import numpy as np
import pytest

import zerograd as zg


@pytest.fixture(autouse=True)
def _seed():
    zg.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(params=["jit", "numpy"])
def path(request, monkeypatch):
    """Run a test once with the fused kernels (numba, on arrays of any size) and once with the
    NumPy path."""
    from zerograd import kernels, tuning

    if request.param == "jit" and kernels.numba is None:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(tuning, "KERNEL_MIN_SIZE", 0)
    monkeypatch.setattr(kernels, "ENABLED", request.param == "jit")
    return request.param


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "gpu: runs on a CUDA device: CuPy's GPU where one is seen, otherwise the stand-in device "
        "of tests/gpu/fake_cupy.py (CuPy's rules on the CPU)",
    )
