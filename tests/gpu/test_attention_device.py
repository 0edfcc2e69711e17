"""scaled_dot_product_attention on the device (blocks of query rows) against PyTorch: masks,
causal forms, gradients; and the memory bound: no (..., L, S) buffer beyond one block."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import zerograd as zg
from tests.gpu.conftest import TORCH_DEVICE
from zerograd.nn import functional as F
from zerograd.ops import blocked_attention


def _host(t):
    return t.detach().cpu().numpy()


MASKS = {
    "none": None,
    "bool": np.random.default_rng(3).random((1, 1, 12, 12)) > 0.2,
    "float": np.random.default_rng(4).standard_normal((2, 1, 12, 12)),
}


@pytest.mark.parametrize(
    "mask,causal", [("none", False), ("none", True), ("bool", False), ("float", False)]
)
def test_sdpa_on_device_matches_torch(mask, causal):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3, 12, 8)) for _ in range(3)]
    m = MASKS[mask]
    zs = [zg.tensor(a, requires_grad=True, device="cuda") for a in arrays]
    ts = [torch.tensor(a, requires_grad=True, device=TORCH_DEVICE) for a in arrays]
    zm = None if m is None else zg.tensor(m, device="cuda")
    tm = None if m is None else torch.tensor(m, device=TORCH_DEVICE)
    y = F.scaled_dot_product_attention(*zs, attn_mask=zm, is_causal=causal)
    ty = torch.nn.functional.scaled_dot_product_attention(*ts, attn_mask=tm, is_causal=causal)
    assert y.device == "cuda:0"
    np.testing.assert_allclose(y.numpy(), _host(ty), rtol=1e-9, atol=1e-10)
    w = rng.standard_normal(y.shape)
    (y * zg.tensor(w, device="cuda")).sum().backward()
    (ty * torch.tensor(w, device=TORCH_DEVICE)).sum().backward()
    for z, t in zip(zs, ts):
        assert z.grad.device == "cuda:0"
        np.testing.assert_allclose(z.grad.numpy(), _host(t.grad), rtol=1e-8, atol=1e-10)


def test_sdpa_on_device_keeps_one_block_of_scores(monkeypatch):
    """With a budget of 4 rows per block, no array of the full (B, H, L, S) size is made."""
    shapes = []
    real = blocked_attention.BlockedAttention._scores

    def spy(self, q, kT, i0, i1, end):
        s = real(self, q, kT, i0, i1, end)
        shapes.append(s.shape)
        return s

    monkeypatch.setattr(blocked_attention.BlockedAttention, "_scores", spy)
    monkeypatch.setattr(blocked_attention, "BLOCK_BYTES", 2 * 16 * 64 * 4)  # float32 scores
    q = zg.randn(1, 2, 64, 8, device="cuda", requires_grad=True)
    F.scaled_dot_product_attention(q, q, q, is_causal=True).sum().backward()
    assert shapes and max(s[-2] for s in shapes) == 16
    assert all(s[-1] <= math.ceil((i + 1) * 16) for i, s in enumerate(shapes[:4]))
