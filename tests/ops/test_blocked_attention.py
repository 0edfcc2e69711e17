"""The blocked attention of array code (the GPU's path, here on NumPy) against PyTorch's
scaled_dot_product_attention: outputs and gradients, causal masks with offsets, additive and
boolean masks, blocks that do not divide the rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd.ops.blocked_attention import BlockedAttention, block_rows

CASES = [
    # (L, S, causal offset or None, mask kind, rows per block)
    (10, 10, None, None, 4),
    (10, 10, 0, None, 3),
    (7, 12, 12 - 7, None, 4),  # lower-right causal: more keys than queries
    (9, 9, 0, "additive", 4),
    (9, 11, None, "bool_keys", 5),
    (16, 16, 0, "additive_rows", 16),
    (5, 5, None, None, 0),  # rows from the byte budget
]


def _inputs(L, S, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal(s).astype(dtype) for s in ((2, 3, L, 8), (2, 3, S, 8), (2, 3, S, 6))
    ]


def _mask(kind, L, S, dtype):
    rng = np.random.default_rng(5)
    if kind == "additive":
        return rng.standard_normal((1, 3, L, S)).astype(dtype)
    if kind == "additive_rows":
        return rng.standard_normal((L, 1)).astype(dtype)
    if kind == "bool_keys":
        keep = np.ones((2, 1, 1, S), bool)
        keep[0, ..., -3:] = False
        return keep
    return None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("L,S,causal,kind,rows", CASES)
def test_blocked_attention_matches_torch(L, S, causal, kind, rows, dtype):
    q, k, v = _inputs(L, S, dtype)
    mask = _mask(kind, L, S, dtype)
    scale = 1 / math.sqrt(8)
    bias = (
        None
        if mask is None
        else np.where(mask, 0, -np.inf).astype(dtype)
        if mask.dtype == bool
        else mask
    )
    zq, zk, zv = (zg.tensor(a, requires_grad=True) for a in (q, k, v))
    y = BlockedAttention.apply(zq, zk, zv, scale=scale, causal=causal, bias=bias, rows=rows)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tmask = None if mask is None else torch.tensor(mask)
    if causal is not None:
        keep = torch.ones(L, S, dtype=torch.bool).tril(causal)
        tmask = (
            keep
            if tmask is None
            else (
                tmask & keep if tmask.dtype == torch.bool else tmask.masked_fill(~keep, -math.inf)
            )
        )
    ty = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tmask, scale=scale)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **tol)
    w = np.random.default_rng(2).standard_normal(y.shape).astype(dtype)
    (y * zg.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    for name, a, b in (("q", zq, tq), ("k", zk, tk), ("v", zv, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol, err_msg=f"grad {name}")


def test_rows_without_keys_are_nan_as_the_plain_softmax():
    q, k, v = _inputs(6, 3, np.float64)  # causal offset -3: rows 0-2 see no key
    y = BlockedAttention.apply(*map(zg.tensor, (q, k, v)), scale=1.0, causal=-3, rows=2)
    assert np.isnan(y.numpy()[..., :3, :]).all() and np.isfinite(y.numpy()[..., 3:, :]).all()


def test_block_rows_follow_the_byte_budget():
    assert block_rows(lead=8, keys=1024, itemsize=4, budget=8 * 1024 * 4 * 100) == 100
    assert block_rows(lead=10**6, keys=10**6, itemsize=4) == 16


def test_half_inputs_keep_the_softmax_in_float32():
    q, k, v = _inputs(40, 40, np.float16)
    zq, zk, zv = (zg.tensor(a, requires_grad=True) for a in (q, k, v))
    y = BlockedAttention.apply(zq, zk, zv, scale=0.35, causal=0, rows=16)
    assert y.dtype == np.float16
    y.sum().backward()
    assert zq.grad.dtype == zk.grad.dtype == np.float16
    tq, tk, tv = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (q, k, v))
    ty = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True, scale=0.35)
    ty.sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=3e-3, rtol=3e-3)
    for a, b in ((zq, tq), (zk, tk), (zv, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=2e-2, rtol=2e-2)
