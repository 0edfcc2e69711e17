"""The one attention mask helper (``attention_bias``) and attention that returns its weights:
conventions, errors, and the weights and their gradients against PyTorch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zerograd as zg
import zerograd.nn as nn
import zerograd.nn.functional as F
from tests.helpers import tol
from zerograd import keras
from zerograd.ops.attention import attention_bias

rng = np.random.default_rng(0)
INF = np.inf


def test_bias_nothing_masked_is_none():
    assert attention_bias(np, (2, 3, 4, 4), np.float32) is None
    assert attention_bias(np, (1, 5), np.float32, causal="lower_right") is None  # one new token
    assert attention_bias(np, (4, 1), np.float32, causal=True) is None  # one key: all see it


def test_bias_causal_alignments():
    upper_left = attention_bias(np, (2, 4), np.float64, causal=True)
    np.testing.assert_array_equal(upper_left, [[0, -INF, -INF, -INF], [0, 0, -INF, -INF]])
    np.testing.assert_array_equal(
        upper_left, attention_bias(np, (2, 4), "float64", causal="upper_left")
    )
    lower_right = attention_bias(np, (2, 4), np.float64, causal="lower_right")
    np.testing.assert_array_equal(lower_right, [[0, 0, 0, -INF], [0, 0, 0, 0]])
    # PyTorch's sdpa is_causal is the upper-left triangle
    torch_bias = torch.ones(2, 4, dtype=torch.bool).tril()
    np.testing.assert_array_equal(upper_left == 0, torch_bias.numpy())


def test_bias_allowed_and_additive_combine():
    keep = np.array([[True, True, False]])  # (B, S): the last key is padding
    add = rng.standard_normal((3, 3)).astype(np.float32)
    got = attention_bias(
        np,
        (1, 2, 3, 3),
        np.float32,
        causal=True,
        allowed={"padding": keep[:, None, None, :]},
        additive={"extra": add},
    )
    allowed = np.tril(np.ones((3, 3), bool)) & keep[:, None, None, :]
    np.testing.assert_array_equal(got, np.where(allowed, 0, -INF) + add)
    assert got.dtype == np.float32 and got.shape == (1, 1, 3, 3)


def test_bias_one_fill_where_several_masks_forbid():
    """A finite fill (Keras's -1e9) is written once, not once per mask that forbids."""
    a, b = np.array([True, False, False]), np.array([True, True, False])
    got = attention_bias(np, (3, 3), np.float32, causal=True, allowed={"a": a, "b": b}, fill=-1e9)
    np.testing.assert_array_equal(got, [[0, -1e9, -1e9], [0, -1e9, -1e9], [0, -1e9, -1e9]])


def test_bias_additive_mask_is_cast_not_copied_when_it_fits():
    add = rng.standard_normal((4, 4))
    assert attention_bias(np, (4, 4), np.float64, additive={"m": add}) is add
    assert attention_bias(np, (4, 4), np.float32, additive={"m": add}).dtype == np.float32


def test_bias_errors_name_the_op_the_mask_and_both_shapes():
    with pytest.raises(
        ValueError,
        match=r"my_op: key_padding of shape \(3, 5\) does not broadcast to the attention scores "
        r"of shape \(2, 4, 4, 5\)",
    ):
        attention_bias(
            np, (2, 4, 4, 5), np.float32, allowed={"key_padding": np.ones((3, 5), bool)}, op="my_op"
        )
    with pytest.raises(ValueError, match=r"m of shape \(2, 4, 4, 5\) .* of shape \(4, 5\)"):
        attention_bias(np, (4, 5), np.float32, additive={"m": np.zeros((2, 4, 4, 5))})
    with pytest.raises(TypeError, match="my_op: keep must be boolean .* received dtype float64"):
        attention_bias(np, (4, 5), np.float32, allowed={"keep": np.ones((4, 5))}, op="my_op")
    with pytest.raises(TypeError, match="m must be an additive float mask, received dtype bool"):
        attention_bias(np, (4, 5), np.float32, additive={"m": np.ones((4, 5), bool)})
    with pytest.raises(ValueError, match="causal must be True, 'upper_left' or 'lower_right'"):
        attention_bias(np, (4, 5), np.float32, causal="lower_left")


def test_layers_report_bad_masks():
    q = zg.randn(2, 3, 4, 5)
    with pytest.raises(
        ValueError, match=r"scaled_dot_product_attention: attn_mask of shape \(3, 3\)"
    ):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 3), bool))
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = zg.randn(2, 4, 8)
    with pytest.raises(
        ValueError, match=r"key_padding_mask of shape \(B, S\) = \(2, 4\), received shape \(4,\)"
    ):
        mha(x, x, x, key_padding_mask=np.zeros(4, bool))
    with pytest.raises(
        ValueError, match=r"3-D attn_mask of shape \(4, 4, 4\) .* received shape \(2, 4, 4\)"
    ):
        mha(x, x, x, attn_mask=np.zeros((2, 4, 4), bool))
    with pytest.raises(ValueError, match=r"MultiheadAttention: attn_mask of shape \(3, 4\)"):
        mha(x, x, x, attn_mask=np.zeros((3, 4), bool))
    layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha_x")
    with pytest.raises(ValueError, match=r"MultiHeadAttention 'mha_x': attention_mask of shape"):
        layer(x.numpy(), x.numpy(), attention_mask=np.ones((2, 3, 4)))


MASKS = [
    ("none", {}, None),
    ("causal", dict(is_causal=True), "causal"),
    ("bool", dict(attn_mask="bool"), "bool"),
    ("float", dict(attn_mask="float"), "float"),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kw,mask", MASKS, ids=[m[0] for m in MASKS])
def test_return_weights_against_torch(path, name, kw, mask, dtype):
    """Weights = softmax(q k^T * scale + mask); gradients through both outputs as PyTorch's."""
    B, H, L, S, E = 2, 3, 4, 5, 6
    arrays = [
        rng.standard_normal(s).astype(dtype) for s in ((B, H, L, E), (B, H, S, E), (B, H, S, 7))
    ]
    m = None
    if mask == "bool":
        m = rng.random((B, 1, L, S)) > 0.4
        m[..., 0] = True  # no fully masked row
        kw = dict(attn_mask=m)
    elif mask == "float":
        m = rng.standard_normal((L, S)).astype(dtype)
        kw = dict(attn_mask=m)
    zs = [zg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.from_numpy(a.copy()).requires_grad_() for a in arrays]
    out, weights = F.scaled_dot_product_attention(*zs, scale=0.4, return_weights=True, **kw)
    tq, tk, tv = ts
    scores = tq @ tk.transpose(-1, -2) * 0.4
    if mask == "causal":
        scores = scores.masked_fill(~torch.ones(L, S, dtype=torch.bool).tril(), -torch.inf)
    elif mask == "bool":
        scores = scores.masked_fill(~torch.from_numpy(m), -torch.inf)
    elif mask == "float":
        scores = scores + torch.from_numpy(m)
    t_weights = torch.softmax(scores, -1)
    t_out = t_weights @ tv
    t = tol(dtype)
    np.testing.assert_allclose(weights.numpy(), t_weights.detach().numpy(), **t, err_msg="weights")
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), **t, err_msg="output")
    assert weights.dtype == dtype and weights.shape == (B, H, L, S)
    (out.sum() + (weights**2).sum()).backward()
    (t_out.sum() + (t_weights**2).sum()).backward()
    for i, (z, tt) in enumerate(zip(zs, ts)):
        np.testing.assert_allclose(z.grad.numpy(), tt.grad.numpy(), **t, err_msg=f"grad {i}")
    # the output alone is the same as without return_weights
    plain = F.scaled_dot_product_attention(*zs, scale=0.4, **kw)
    np.testing.assert_allclose(plain.numpy(), out.numpy(), rtol=1e-6, atol=1e-7)


def test_return_weights_without_gradients_and_before_dropout():
    q = zg.tensor(rng.standard_normal((2, 2, 3, 4)))
    with zg.no_grad():  # the blocked kernel gives no weights: the op path runs
        out, w = F.scaled_dot_product_attention(q, q, q, is_causal=True, return_weights=True)
        want = F.scaled_dot_product_attention(q, q, q, is_causal=True)
    np.testing.assert_allclose(out.numpy(), want.numpy(), atol=1e-12)
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0, atol=1e-12)
    assert np.all(w.numpy()[..., 0, 1:] == 0)  # causal
    zg.manual_seed(0)
    out, w = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, return_weights=True)
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0, atol=1e-12)  # weights: before dropout
    zg.manual_seed(0)
    again = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    np.testing.assert_array_equal(out.numpy(), again.numpy())


def test_keras_mha_masks_and_scores():
    """Keras's convention (1 = may attend, causal from the top left, -1e9 fill) through sdpa."""
    B, L, D, h, kd = 2, 4, 6, 2, 3
    layer = keras.layers.MultiHeadAttention(num_heads=h, key_dim=kd, use_bias=False)
    x = rng.standard_normal((B, L, D)).astype(np.float32)
    keep = rng.random((B, L, L)) > 0.3
    keep[..., 0] = True
    out, scores = layer(
        x,
        x,
        attention_mask=keep.astype(np.int32),
        return_attention_scores=True,
        use_causal_mask=True,
    )
    Wq, Wk, Wv, Wo = (w for w in layer.get_weights())
    q = np.einsum("bld,dhk->bhlk", x, Wq)
    k = np.einsum("bld,dhk->bhlk", x, Wk)
    v = np.einsum("bld,dhk->bhlk", x, Wv)
    s = q @ k.swapaxes(-1, -2) / np.sqrt(kd)
    allowed = keep[:, None] & np.tril(np.ones((L, L), bool))
    s = np.where(allowed, s, -1e9)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    want = np.einsum("bhlk,hkd->bld", p @ v, Wo)
    np.testing.assert_allclose(scores.numpy(), p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-5, atol=1e-5)


def test_gpt_decoding_mask_is_lower_right():
    """A query block after a cache sees every cached key and the earlier keys of its block."""
    q = zg.tensor(rng.standard_normal((1, 1, 2, 4)))
    k = zg.tensor(rng.standard_normal((1, 1, 5, 4)))
    bias = F.attention_bias(np, (2, 5), np.float64, causal="lower_right")
    _, w = F.scaled_dot_product_attention(q, k, k, attn_mask=bias, return_weights=True)
    np.testing.assert_array_equal(w.numpy()[0, 0] > 0, [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])


def test_return_weights_double_backward_against_torch(path):
    arrays = [rng.standard_normal((1, 2, 3, 4)) for _ in range(3)]
    zs = [zg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.from_numpy(a).requires_grad_() for a in arrays]
    out, w = F.scaled_dot_product_attention(*zs, is_causal=True, return_weights=True)
    (gq,) = zg.autograd.grad((out * out).sum() + (w**2).sum(), [zs[0]], create_graph=True)
    gq.sum().backward()
    causal = torch.ones(3, 3, dtype=torch.bool).tril()
    tw = (ts[0] @ ts[1].transpose(-1, -2) / 2.0).masked_fill(~causal, -torch.inf).softmax(-1)
    to = tw @ ts[2]
    (tq,) = torch.autograd.grad((to * to).sum() + (tw**2).sum(), [ts[0]], create_graph=True)
    tq.sum().backward()
    for z, t in zip(zs, ts):
        np.testing.assert_allclose(z.grad.numpy(), t.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("causal", [False, True])
def test_a_float_mask_that_requires_grad_gets_its_gradient(causal):
    # a learned additive bias (relative positions, ALiBi slopes trained): as PyTorch's sdpa
    rng = np.random.default_rng(11)
    q, k, v = (rng.standard_normal((2, 3, 4, 8)) for _ in range(3))
    m = rng.standard_normal((4, 4))
    zs = [zg.tensor(a, requires_grad=True) for a in (q, k, v, m)]
    ts = [torch.tensor(a, requires_grad=True) for a in (q, k, v, m)]
    zy = F.scaled_dot_product_attention(*zs[:3], attn_mask=zs[3], is_causal=causal)
    if causal:  # PyTorch takes no mask with is_causal: the causal part as a -inf mask of its own
        tri = torch.ones(4, 4, dtype=torch.bool).tril()
        tmask = ts[3].masked_fill(~tri, float("-inf"))
    else:
        tmask = ts[3]
    ty = TF.scaled_dot_product_attention(*ts[:3], attn_mask=tmask)
    np.testing.assert_allclose(zy.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    (zy * zy).sum().backward()
    (ty * ty).sum().backward()
    for z, t in zip(zs, ts):
        np.testing.assert_allclose(z.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)
