"""Attention vs PyTorch: scaled_dot_product_attention, MultiheadAttention, TransformerEncoderLayer."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zerograd as zg
import zerograd.nn as nn
import zerograd.nn.functional as F
from tests.helpers import check_against_torch, tol
from tests.ops.test_table import make_inputs

BOOL_MASK = np.random.default_rng(5).random((4, 6)) > 0.3
BOOL_MASK[:, 0] = True  # every query keeps one key
FLOAT_MASK = np.random.default_rng(6).standard_normal((4, 6))

SDPA = [
    ("plain", {}, {}),
    ("causal", dict(is_causal=True), dict(is_causal=True)),
    ("scale", dict(scale=0.3), dict(scale=0.3)),
    ("bool_mask", dict(attn_mask=BOOL_MASK), dict(attn_mask=torch.from_numpy(BOOL_MASK))),
    ("float_mask", dict(attn_mask=FLOAT_MASK), dict(attn_mask=torch.from_numpy(FLOAT_MASK))),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("row", SDPA, ids=[r[0] for r in SDPA])
def test_sdpa_vs_torch(row, dtype):
    _, zk, tk = row
    if "attn_mask" in tk and tk["attn_mask"].dtype == torch.float64:
        tk = dict(
            attn_mask=tk["attn_mask"].to(torch.float64 if dtype == np.float64 else torch.float32)
        )
    L = 6 if row[0] == "causal" else 4
    shapes = [(2, 3, L, 5), (2, 3, 6, 5), (2, 3, 6, 7)]
    check_against_torch(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **zk),
        lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, **tk),
        make_inputs(shapes, "any"),
        dtype=dtype,
    )


def test_sdpa_gradcheck():
    xs = [
        zg.tensor(a, requires_grad=True)
        for a in make_inputs([(1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 3)], "any")
    ]
    assert zg.utils.gradcheck(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=BOOL_MASK[:3, :5]), *xs
    )


def _copy(zm, tm):
    zm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})


MHA = [
    ("plain", dict(), dict()),
    ("batch_first", dict(batch_first=True), dict()),
    ("key_padding", dict(), dict(key_padding_mask="kp")),
    ("causal_mask", dict(), dict(attn_mask="causal")),
    ("float_mask", dict(), dict(attn_mask="float")),
    ("per_head", dict(), dict(average_attn_weights=False)),
    ("kdim_vdim", dict(kdim=3, vdim=5), dict()),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("row", MHA, ids=[r[0] for r in MHA])
def test_multihead_attention_vs_torch(row, dtype):
    _, ctor, call = row
    E, h, L, S, B = 8, 2, 4, 5, 3
    tm = torch.nn.MultiheadAttention(E, h, **ctor).to(
        torch.float64 if dtype == np.float64 else torch.float32
    )
    zm = nn.MultiheadAttention(E, h, **ctor).to(dtype=dtype)
    _copy(zm, tm)
    rng = np.random.default_rng(0)
    bf = ctor.get("batch_first", False)
    qshape = (B, L, E) if bf else (L, B, E)
    kd, vd = ctor.get("kdim", E), ctor.get("vdim", E)
    q = rng.standard_normal(qshape).astype(dtype)
    k = rng.standard_normal((B, S, kd) if bf else (S, B, kd)).astype(dtype)
    v = rng.standard_normal((B, S, vd) if bf else (S, B, vd)).astype(dtype)
    zkw, tkw = {}, {}
    if call.get("key_padding_mask"):
        kp = np.zeros((B, S), bool)
        kp[0, -2:] = True
        zkw["key_padding_mask"], tkw["key_padding_mask"] = zg.tensor(kp), torch.from_numpy(kp)
    if call.get("attn_mask") == "causal":
        m = np.triu(np.ones((L, S), bool), 1)
        zkw["attn_mask"], tkw["attn_mask"] = m, torch.from_numpy(m)
    if call.get("attn_mask") == "float":
        m = rng.standard_normal((L, S)).astype(dtype)
        zkw["attn_mask"], tkw["attn_mask"] = m, torch.from_numpy(m)
    if "average_attn_weights" in call:
        zkw["average_attn_weights"] = tkw["average_attn_weights"] = call["average_attn_weights"]
    zq, zk_, zv = (zg.tensor(a, requires_grad=True) for a in (q, k, v))
    tq, tk_, tv = (torch.from_numpy(a.copy()).requires_grad_() for a in (q, k, v))
    zo, zw = zm(zq, zk_, zv, **zkw)
    to, tw = tm(tq, tk_, tv, **tkw)
    t = tol(dtype)
    np.testing.assert_allclose(zo.numpy(), to.detach().numpy(), **t)
    np.testing.assert_allclose(zw.numpy(), tw.detach().numpy(), **t)
    wo = rng.standard_normal(to.shape).astype(dtype)
    ((zo * zg.tensor(wo)).sum() + zw.sum()).backward()
    ((to * torch.from_numpy(wo)).sum() + tw.sum()).backward()
    for a, b in ((zq, tq), (zk_, tk_), (zv, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **t)
    zp = dict(zm.named_parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(zp[name].grad.numpy(), p.grad.numpy(), **t, err_msg=name)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_encoder_layer_vs_torch(norm_first, activation):
    kw = dict(
        dim_feedforward=16,
        dropout=0.0,
        activation=activation,
        batch_first=True,
        norm_first=norm_first,
    )
    tm = torch.nn.TransformerEncoderLayer(8, 2, **kw).double()
    zm = nn.TransformerEncoderLayer(8, 2, **kw).double()
    assert [n for n, _ in zm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    _copy(zm, tm)
    x = np.random.default_rng(0).standard_normal((2, 5, 8))
    kp = np.zeros((2, 5), bool)
    kp[1, -1] = True
    zx, tx = zg.tensor(x, requires_grad=True), torch.from_numpy(x.copy()).requires_grad_()
    zy = zm(zx, src_key_padding_mask=zg.tensor(kp))
    ty = tm(tx, src_key_padding_mask=torch.from_numpy(kp))
    np.testing.assert_allclose(zy.numpy(), ty.detach().numpy(), atol=1e-10)
    zy.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(zx.grad.numpy(), tx.grad.numpy(), atol=1e-9)
    zp = dict(zm.named_parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(zp[name].grad.numpy(), p.grad.numpy(), atol=1e-9, err_msg=name)


def test_attention_bad_input():
    with pytest.raises(ValueError, match=r"MultiheadAttention expected query of shape \(L, B, 8\)"):
        nn.MultiheadAttention(8, 2)(zg.ones(3, 2, 5), zg.ones(3, 2, 5), zg.ones(3, 2, 5))
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(8, 3)
    with pytest.raises(ValueError, match="scaled_dot_product_attention"):
        F.scaled_dot_product_attention(zg.ones(2, 3, 4), zg.ones(2, 3, 5), zg.ones(2, 3, 5))
