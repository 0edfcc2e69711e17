"""zerograd.cuda on a machine whose CuPy is absent or sees no GPU: answers, and clear errors."""

import pytest

import zerograd as zg
from zerograd import backend


def test_without_a_gpu(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", None)
    assert zg.cuda.is_available() is False and zg.cuda.device_count() == 0
    for fn in (zg.cuda.synchronize, zg.cuda.get_device_name, zg.cuda.memory_allocated):
        with pytest.raises(RuntimeError, match=rf"zerograd.cuda.{fn.__name__}: no GPU"):
            fn()
    with pytest.raises(RuntimeError, match="needs CuPy and a CUDA GPU; CuPy is not installed"):
        zg.ones(2, device="cuda")
