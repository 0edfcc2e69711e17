"""rotary_embedding's kernel (numba, 4-D inputs of any strides) and its NumPy twin (``path``):
forward and gradient against PyTorch's rotate-half formula in float32 and float64, on a strided
view (the attention's (B, T, H, D) -> (B, H, T, D) swap), tables per batch row or shared."""

import numpy as np
import pytest
import torch

import zerograd as zg
from tests.helpers import check_against_torch, tol
from zerograd.ops.rope import rotary_embedding

rng = np.random.default_rng(0)


def tables(b: int, t: int, d: int):
    angles = rng.uniform(-30, 30, (b, 1, t, d // 2))
    angles = np.concatenate([angles, angles], -1)
    return np.cos(angles), np.sin(angles)


def torch_rope(x, cos, sin):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, table_batch", [((2, 3, 7, 10), 2), ((3, 4, 33, 6), 1)])
def test_rope_kernel_against_torch(path, dtype, shape, table_batch):
    cos, sin = (a.astype(dtype) for a in tables(table_batch, shape[2], shape[3]))
    check_against_torch(
        lambda x: rotary_embedding(x, cos, sin),
        lambda x: torch_rope(x, torch.from_numpy(cos), torch.from_numpy(sin)),
        [rng.standard_normal(shape)],
        dtype,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rope_on_a_strided_view(path, dtype):
    """Queries as the attention makes them: a (B, T, H, D) array seen as (B, H, T, D)."""
    B, T, H, D = 2, 9, 3, 8
    raw = rng.standard_normal((B, T, H, D)).astype(dtype)
    gy = rng.standard_normal((B, H, T, D)).astype(dtype)
    cos, sin = (a.astype(dtype) for a in tables(1, T, D))
    x = zg.tensor(raw, requires_grad=True)
    y = rotary_embedding(x.swapaxes(1, 2), cos, sin)
    (y * zg.tensor(gy)).sum().backward()
    tx = torch.from_numpy(raw.copy()).requires_grad_(True)
    ty = torch_rope(tx.transpose(1, 2), torch.from_numpy(cos), torch.from_numpy(sin))
    (ty * torch.from_numpy(gy)).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **tol(dtype))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **tol(dtype))
    assert y.dtype == dtype and x.grad.dtype == dtype


def test_kernel_and_numpy_paths_agree(monkeypatch):
    from zerograd import kernels, tuning

    if kernels.numba is None:
        pytest.skip("numba is not installed")
    x = rng.standard_normal((2, 4, 64, 32)).astype(np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    cos, sin = (a.astype(np.float32) for a in tables(2, 64, 32))
    monkeypatch.setattr(tuning, "KERNEL_MIN_SIZE", 0)
    out = {}
    for on in (True, False):
        monkeypatch.setattr(kernels, "ENABLED", on)
        t = zg.tensor(x, requires_grad=True)
        y = rotary_embedding(t, cos, sin)
        (y * zg.tensor(gy)).sum().backward()
        out[on] = (y.numpy(), t.grad.numpy())
    for got, want, what in zip(out[True], out[False], ("y", "grad")):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=what)
