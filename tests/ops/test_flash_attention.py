"""Attention with gradients in blocks (``ops.flash_attention``) against PyTorch's
scaled_dot_product_attention and zerograd's plain path: forward and every input gradient, causal
masks in both alignments, padding and additive masks, fully masked rows, odd sizes, 3-D inputs;
on the numba kernels and on their NumPy twins (the ``path`` fixture)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zerograd as zg
import zerograd.nn.functional as F
from tests.helpers import tol
from zerograd import tuning
from zerograd.ops.flash_attention import FlashAttention, flash_attention
from zerograd.utils import gradcheck

rng = np.random.default_rng(0)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 16 queries x 24 keys, and the blocked path from any context: odd sizes then span
    several blocks of both kinds, with partial blocks at the ends."""
    monkeypatch.setattr(tuning, "FLASH_ATTENTION_BLOCK_Q", 16)
    monkeypatch.setattr(tuning, "FLASH_ATTENTION_BLOCK_K", 24)
    monkeypatch.setattr(tuning, "FLASH_ATTENTION_MIN_KEYS", 0)


def _tri(L, S, causal):
    k = S - L if causal == "lower_right" else 0
    return np.tri(L, S, k, dtype=bool)


def _mask(kind, B, H, L, S, dtype):
    """(zerograd's attn_mask, the same as a torch mask) for a mask kind."""
    if kind is None:
        return None, None
    if kind == "padding":  # (B, 1, 1, S) keys that may be attended; the first always
        keep = rng.random((B, 1, 1, S)) > 0.3
        keep[..., 0] = True
        return keep, torch.from_numpy(keep)
    bias = rng.standard_normal((H, L, S)).astype(dtype)  # additive, broadcast over the batch
    return bias, torch.from_numpy(bias)


def _compare(q, k, v, dtype, causal=False, kind=None, scale=None):
    """sdpa (routed to the blocked path) against torch's; every input gradient."""
    B, H = (q.shape[0], q.shape[1]) if q.ndim == 4 else (q.shape[0], 1)
    L, S = q.shape[-2], k.shape[-2]
    zmask, tmask = _mask(kind, B, H, L, S, dtype)
    if q.ndim == 3 and tmask is not None:
        zmask = zmask[:, 0] if kind == "padding" else zmask[0]  # (B, 1, S) or (L, S)
        tmask = torch.from_numpy(zmask)
    if causal:  # torch's is_causal is the upper-left triangle only: the same as a mask
        tri = torch.from_numpy(_tri(L, S, causal))
        if tmask is None:
            tmask = tri
        elif tmask.dtype == torch.bool:
            tmask = tmask & tri
        else:
            tmask = tmask.masked_fill(~tri, -np.inf)
    zs = [zg.tensor(a, requires_grad=True) for a in (q, k, v)]
    ts = [torch.from_numpy(a).requires_grad_() for a in (q, k, v)]
    zy = F.scaled_dot_product_attention(*zs, attn_mask=zmask, is_causal=causal, scale=scale)
    ty = TF.scaled_dot_product_attention(*ts, attn_mask=tmask, scale=scale)
    assert isinstance(zy.creator, FlashAttention), "not routed to the blocked path"
    t = tol(dtype)
    np.testing.assert_allclose(zy.numpy(), ty.detach().numpy(), **t, err_msg="forward")
    assert zy.dtype == dtype
    w = rng.standard_normal(ty.shape).astype(dtype)
    (zy * zg.tensor(w)).sum().backward()
    (ty * torch.from_numpy(w)).sum().backward()
    for name, z, tt in zip("qkv", zs, ts):
        np.testing.assert_allclose(z.grad.numpy(), tt.grad.numpy(), **t, err_msg=f"grad {name}")
        assert z.grad.dtype == dtype


def _qkv(shape_q, S, Ev, dtype):
    *lead, L, E = shape_q
    return (
        rng.standard_normal((*lead, L, E)).astype(dtype),
        rng.standard_normal((*lead, S, E)).astype(dtype),
        rng.standard_normal((*lead, S, Ev)).astype(dtype),
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [False, True, "lower_right"])
@pytest.mark.parametrize("kind", [None, "padding", "additive"])
@pytest.mark.parametrize(
    "L, S", [(37, 37), (29, 53), (53, 50)], ids=["L=S", "L<S", "L>S"]
)  # odd sizes: partial blocks
def test_against_torch(path, small_blocks, dtype, causal, kind, L, S):
    if causal == "lower_right" and L > S:
        pytest.skip("queries with no key: test_fully_masked_rows_as_the_plain_path")
    q, k, v = _qkv((2, 3, L, 8), S, 5, dtype)  # head_dim 8, value dim 5
    _compare(q, k, v, dtype, causal=causal, kind=kind)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [False, "lower_right"])
def test_3d_inputs_and_scale(path, small_blocks, dtype, causal):
    q, k, v = _qkv((3, 41, 6), 45, 7, dtype)  # (B, L, E) without a head axis
    _compare(q, k, v, dtype, causal=causal, kind="padding", scale=0.7)


def test_default_blocks_long_context_against_torch(path, monkeypatch):
    """The shipped block sizes, a context above the switch: several key blocks per query block."""
    monkeypatch.setattr(tuning, "FLASH_ATTENTION_MIN_KEYS", 0)
    q, k, v = _qkv((1, 2, 300, 16), 1100, 16, np.float32)
    _compare(q, k, v, np.float32, causal="lower_right")
    _compare(q, k, v, np.float32, kind="padding")


def test_gradcheck_float64(small_blocks):
    q, k, v = (zg.tensor(a, requires_grad=True) for a in _qkv((1, 2, 19, 4), 27, 3, np.float64))
    bias = rng.standard_normal((19, 27))
    for causal in (None, 0, 27 - 19):
        assert gradcheck(
            lambda a, b, c, causal=causal: flash_attention(a, b, c, bias, 0.5, causal), q, k, v
        )


def _plain_and_blocked(monkeypatch, q, k, v, **kw):
    """(output, q.grad, k.grad, v.grad) of sdpa on the plain path, then on the blocked path; the
    loss drops the output's NaN rows (the user's fix for fully masked queries)."""
    out = []
    for min_keys in (10**9, 0):
        monkeypatch.setattr(tuning, "FLASH_ATTENTION_MIN_KEYS", min_keys)
        zs = [zg.tensor(a, requires_grad=True) for a in (q, k, v)]
        y = F.scaled_dot_product_attention(*zs, **kw)
        assert isinstance(y.creator, FlashAttention) == (min_keys == 0)
        keep = zg.tensor(~np.isnan(y.numpy()))
        zg.where(keep, y, zg.tensor(0.0)).sum().backward()
        out.append([y.numpy()] + [z.grad.numpy() for z in zs])
    return out


@pytest.mark.parametrize("how", ["padding", "causal"])
def test_fully_masked_rows_as_the_plain_path(path, small_blocks, monkeypatch, how):
    """A query with no key to attend gives NaN (the softmax of -infs), and its NaN reaches the
    gradients exactly where the plain path's does."""
    q, k, v = _qkv((2, 2, 40, 4), 30, 4, np.float64)
    if how == "padding":
        mask = np.ones((2, 1, 40, 30), bool)
        mask[0, 0, 17] = False  # query 17 of sample 0 sees nothing
        kw = dict(attn_mask=mask)
    else:  # lower-right causal with L > S: the first L - S queries see nothing
        kw = dict(is_causal="lower_right")
    plain, blocked = _plain_and_blocked(monkeypatch, q, k, v, **kw)
    assert np.isnan(plain[0]).any()
    for name, a, b in zip(["output", "q", "k", "v"], plain, blocked):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"NaNs of {name}")
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12, err_msg=name)


def test_keras_style_finite_fill_gives_uniform_weights(path, small_blocks):
    """A -1e9 fill (Keras's) keeps a fully masked row finite: the mean of the values."""
    q, k, v = _qkv((1, 1, 20, 4), 30, 4, np.float32)
    bias = np.zeros((20, 30), np.float32)
    bias[3] = -1e9
    y = flash_attention(zg.tensor(q), zg.tensor(k), zg.tensor(v, requires_grad=True), bias, 0.5)
    np.testing.assert_allclose(y.numpy()[0, 0, 3], v[0, 0].mean(0), rtol=1e-5)


def test_routing(monkeypatch):
    """Gradients and a long context: blocked (with dropout too); a mask that takes gradients,
    weights asked for, or a short context: the plain path (and its mask gradient kept)."""
    monkeypatch.setattr(tuning, "FLASH_ATTENTION_MIN_KEYS", 32)
    q, k, v = (zg.tensor(a, requires_grad=True) for a in _qkv((1, 2, 32, 4), 32, 4, np.float32))
    sdpa = F.scaled_dot_product_attention
    assert isinstance(sdpa(q, k, v).creator, FlashAttention)
    assert isinstance(sdpa(q, k, v, dropout_p=0.5, training=False).creator, FlashAttention)
    assert sdpa(q, k, v, dropout_p=0.5, training=False).creator.dropout_p == 0
    assert sdpa(q, k, v, dropout_p=0.5).creator.dropout_p == 0.5
    assert not isinstance(sdpa(q, k, v, return_weights=True)[0].creator, FlashAttention)
    assert not isinstance(sdpa(q[..., :16, :], k[..., :16, :], v[..., :16, :]).creator,
                          FlashAttention)  # fmt: skip
    v1 = zg.tensor(v.numpy()[:, :1], requires_grad=True)  # values broadcast over the heads
    y = sdpa(q, k, v1)
    assert not isinstance(y.creator, FlashAttention)
    assert y.shape == (1, 2, 32, 4)
    bias = zg.tensor(rng.standard_normal((32, 32)).astype(np.float32), requires_grad=True)
    y = sdpa(q, k, v, attn_mask=bias)
    assert not isinstance(y.creator, FlashAttention)
    y.sum().backward()
    assert bias.grad is not None and np.abs(bias.grad.numpy()).sum() > 0
    with pytest.raises(ValueError, match="causal must be True, 'upper_left' or 'lower_right'"):
        sdpa(q, k, v, is_causal="diagonal")
    with pytest.raises(ValueError, match="scaled_dot_product_attention: dropout_p"):
        sdpa(q, k, v, dropout_p=1.5)


@pytest.mark.parametrize("causal", [None, 53 - 37])
def test_dropout_mask_regenerated_in_backward(path, small_blocks, causal):
    """Dropout's mask is a hash of the seed and the position: the output is (P * Z) v with the
    mask ``dropout_mask`` gives, about 1 - p of the weights are kept, and the gradients (which
    make the mask again block by block) pass gradcheck."""
    from zerograd.kernels.flash_attention import dropout_mask

    q, k, v = _qkv((2, 3, 37, 5), 53, 4, np.float64)
    zs = [zg.tensor(a, requires_grad=True) for a in (q, k, v)]
    y = flash_attention(*zs, scale=0.4, causal=causal, dropout_p=0.3, seed=123)
    scores = q @ k.swapaxes(-1, -2) * 0.4
    if causal is not None:
        scores = np.where(np.tri(37, 53, causal, dtype=bool), scores, -np.inf)
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    z = dropout_mask((2, 3, 37, 53), 0.3, 123, np.float64)
    assert abs((z > 0).mean() - 0.7) < 0.02
    assert set(np.unique(z)) == {0.0, 1 / 0.7}
    np.testing.assert_allclose(y.numpy(), (p * z) @ v, rtol=1e-12, atol=1e-12)
    assert gradcheck(
        lambda a, b, c: flash_attention(a, b, c, scale=0.4, causal=causal, dropout_p=0.3, seed=123),
        *zs,
    )


def test_dropout_through_sdpa_follows_the_seed(small_blocks):
    """In training, sdpa's dropout draws its seed from zerograd's generator: manual_seed repeats
    it; p = 1 drops every weight."""
    q, k, v = (zg.tensor(a, requires_grad=True) for a in _qkv((1, 2, 30, 4), 40, 4, np.float32))
    outs = []
    for _ in range(2):
        zg.manual_seed(7)
        outs.append(F.scaled_dot_product_attention(q, k, v, dropout_p=0.2).numpy())
    np.testing.assert_array_equal(outs[0], outs[1])
    other = F.scaled_dot_product_attention(q, k, v, dropout_p=0.2).numpy()
    assert not np.allclose(other, outs[0])
    y = F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    np.testing.assert_array_equal(y.numpy(), np.zeros((1, 2, 30, 4), np.float32))
    y.sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), np.zeros((1, 2, 40, 4), np.float32))


def test_second_order_falls_back_to_differentiable_ops(small_blocks):
    """create_graph: the backward is recorded (from ops on the whole weights) and matches torch."""
    q, k, v = _qkv((1, 2, 9, 3), 11, 2, np.float64)
    zs = [zg.tensor(a, requires_grad=True) for a in (q, k, v)]
    ts = [torch.from_numpy(a).requires_grad_() for a in (q, k, v)]
    tri = torch.from_numpy(_tri(9, 11, "lower_right"))
    zy = F.scaled_dot_product_attention(*zs, is_causal="lower_right")
    assert isinstance(zy.creator, FlashAttention)
    ty = TF.scaled_dot_product_attention(*ts, attn_mask=tri)
    zg_grads = zg.autograd.grad((zy * zy).sum(), zs, create_graph=True)
    t_grads = torch.autograd.grad((ty * ty).sum(), ts, create_graph=True)
    zg2 = zg.autograd.grad(sum((g * g).sum() for g in zg_grads), zs)
    t2 = torch.autograd.grad(sum((g * g).sum() for g in t_grads), ts)
    for a, b in zip(zg2, t2):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-10)


def test_second_order_with_dropout_records_the_same_gradients(small_blocks):
    """create_graph with dropout: the recorded backward regenerates the whole mask and gives the
    kernel's first-order gradients."""
    q, k, v = _qkv((1, 2, 9, 3), 11, 2, np.float64)
    grads = []
    for create_graph in (False, True):
        zs = [zg.tensor(a, requires_grad=True) for a in (q, k, v)]
        y = flash_attention(*zs, scale=0.5, causal=2, dropout_p=0.4, seed=5)
        grads.append(zg.autograd.grad((y * y).sum(), zs, create_graph=create_graph))
    for a, b in zip(*grads):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-10, atol=1e-12)


def test_gpt_uses_the_blocked_path_and_matches_the_plain_one(monkeypatch):
    """The GPT model's attention (causal, lower right) on both paths: the same loss and grads."""
    from zerograd.models import GPT
    from zerograd.models.gpt import GPTConfig

    cfg = GPTConfig(vocab_size=50, n_positions=64, n_embd=16, n_layer=2, n_head=2)
    ids = rng.integers(0, 50, (2, 41))
    grads = []
    for min_keys in (10**9, 0):
        monkeypatch.setattr(tuning, "FLASH_ATTENTION_MIN_KEYS", min_keys)
        zg.manual_seed(0)
        model = GPT(cfg).eval()
        loss, _ = model(ids[:, :-1], targets=ids[:, 1:])
        loss.backward()
        grads.append([loss.numpy()] + [p.grad.numpy() for p in model.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(b, a, rtol=2e-4, atol=2e-6)


# --- grouped-query attention and the task kernels (issue 17) ---


@pytest.fixture(params=["tasks", "blocks", "numpy"])
def driver(request, monkeypatch):
    """The blocked attention three ways: numba task kernels with their BLAS products, the block
    loop in Python with the numba block kernels, and the block loop with the NumPy twins."""
    from zerograd import kernels
    from zerograd.kernels import blas
    from zerograd.kernels import flash_attention as fk

    if request.param != "numpy" and kernels.numba is None:
        pytest.skip("numba is not installed")
    if request.param == "tasks" and not blas.available():
        pytest.skip("NumPy's bundled OpenBLAS not found")
    monkeypatch.setattr(kernels, "ENABLED", request.param != "numpy")
    if request.param == "blocks":
        monkeypatch.setattr(fk, "_fused", lambda: False)
    return request.param


def _gqa_compare(q, k, v, dtype, causal=False, mask=None, flash=True):
    """sdpa with enable_gqa against torch's (the keys and values shared by H / K query heads)."""
    zs = [zg.tensor(a, requires_grad=True) for a in (q, k, v)]
    ts = [torch.from_numpy(a).requires_grad_() for a in (q, k, v)]
    L, S = q.shape[-2], k.shape[-2]
    tmask = None if mask is None else torch.from_numpy(mask)
    if causal:
        tri = torch.from_numpy(_tri(L, S, causal))
        tmask = tri if tmask is None else tmask & tri if tmask.dtype == torch.bool else (
            tmask.masked_fill(~tri, -np.inf))  # fmt: skip
    zy = F.scaled_dot_product_attention(*zs, attn_mask=mask, is_causal=causal, enable_gqa=True)
    ty = TF.scaled_dot_product_attention(*ts, attn_mask=tmask, enable_gqa=True)
    assert isinstance(zy.creator, FlashAttention) == flash, "routed to the wrong path"
    t = tol(dtype)
    np.testing.assert_allclose(zy.numpy(), ty.detach().numpy(), **t, err_msg="forward")
    w = rng.standard_normal(ty.shape).astype(dtype)
    (zy * zg.tensor(w)).sum().backward()
    (ty * torch.from_numpy(w)).sum().backward()
    for name, z, tt in zip("qkv", zs, ts):
        assert z.grad.shape == z.shape and z.grad.dtype == dtype
        np.testing.assert_allclose(z.grad.numpy(), tt.grad.numpy(), **t, err_msg=f"grad {name}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [False, "lower_right"])
@pytest.mark.parametrize("kind", [None, "padding", "additive"])
def test_gqa_against_torch(driver, small_blocks, dtype, causal, kind):
    """6 query heads over 2 key/value heads (and over 1): forward and gradients as torch's
    enable_gqa, with causal, padding and per-head additive masks; partial blocks."""
    for kv_heads in (2, 1):
        q = rng.standard_normal((2, 6, 37, 8)).astype(dtype)
        k = rng.standard_normal((2, kv_heads, 45, 8)).astype(dtype)
        v = rng.standard_normal((2, kv_heads, 45, 5)).astype(dtype)
        mask = _mask(kind, 2, 6, 37, 45, dtype)[0]
        _gqa_compare(q, k, v, dtype, causal=causal, mask=mask)


def test_gqa_plain_path_and_errors(monkeypatch):
    """Short contexts, no gradients, or a head count that does not divide: the plain path with
    repeated heads (as torch), and a clear error."""
    q, k, v = (rng.standard_normal(s) for s in ((1, 4, 9, 6), (1, 2, 11, 6), (1, 2, 11, 3)))
    _gqa_compare(q, k, v, np.float64, causal="lower_right", flash=False)
    y = F.scaled_dot_product_attention(*(zg.tensor(a) for a in (q, k, v)), enable_gqa=True)
    ty = TF.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v)), enable_gqa=True)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="enable_gqa the query heads .* multiple of the key"):
        F.scaled_dot_product_attention(zg.tensor(q[:, :3]), zg.tensor(k), zg.tensor(v),
                                       enable_gqa=True)  # fmt: skip
    with pytest.raises(ValueError, match="do not broadcast"):  # heads differ, no enable_gqa
        F.scaled_dot_product_attention(zg.tensor(q), zg.tensor(k), zg.tensor(v))


def test_drivers_agree_with_gqa_masks_and_dropout(monkeypatch, small_blocks):
    """The task kernels, the Python block loop and the NumPy twins: the same output and
    gradients (float64), for grouped-query heads with a mask, the causal offset and dropout."""
    from zerograd import kernels
    from zerograd.kernels import blas
    from zerograd.kernels import flash_attention as fk

    if kernels.numba is None or not blas.available():
        pytest.skip("numba or NumPy's bundled OpenBLAS missing")
    q = rng.standard_normal((2, 4, 33, 6))
    k, v = rng.standard_normal((2, 2, 41, 6)), rng.standard_normal((2, 2, 41, 7))
    bias = np.where(rng.random((2, 1, 33, 41)) > 0.2, 0.0, -np.inf)
    bias[..., 0] = 0
    results = {}
    for name, enabled, fused in (("tasks", True, True), ("blocks", True, False),
                                 ("numpy", False, False)):  # fmt: skip
        monkeypatch.setattr(kernels, "ENABLED", enabled)
        monkeypatch.setattr(fk, "_fused", lambda fused=fused: fused)
        zs = [zg.tensor(a, requires_grad=True) for a in (q, k, v)]
        y = flash_attention(*zs, bias=bias, scale=0.3, causal=41 - 33, dropout_p=0.25, seed=9)
        (y * y).sum().backward()
        results[name] = [y.numpy()] + [z.grad.numpy() for z in zs]
    for name in ("blocks", "numpy"):
        for a, b in zip(results["tasks"], results[name]):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12, err_msg=name)


def test_gqa_gradcheck_and_second_order(small_blocks):
    """Grouped-query heads: gradcheck in float64 (with dropout), and create_graph's recorded
    backward (the heads repeated as ops) equal to torch's second derivatives."""
    q, k, v = (zg.tensor(rng.standard_normal(s), requires_grad=True)
               for s in ((1, 4, 13, 4), (1, 2, 17, 4), (1, 2, 17, 3)))  # fmt: skip
    assert gradcheck(lambda a, b, c: flash_attention(a, b, c, None, 0.5, 4, 0.2, seed=3), q, k, v)
    zs = [zg.tensor(t.numpy(), requires_grad=True) for t in (q, k, v)]
    ts = [torch.from_numpy(t.numpy()).requires_grad_() for t in (q, k, v)]
    zy = F.scaled_dot_product_attention(*zs, is_causal="lower_right", enable_gqa=True)
    assert isinstance(zy.creator, FlashAttention)
    tri = torch.from_numpy(_tri(13, 17, "lower_right"))
    ty = TF.scaled_dot_product_attention(*ts, attn_mask=tri, enable_gqa=True)
    zg_grads = zg.autograd.grad((zy * zy).sum(), zs, create_graph=True)
    t_grads = torch.autograd.grad((ty * ty).sum(), ts, create_graph=True)
    zg2 = zg.autograd.grad(sum((g * g).sum() for g in zg_grads), zs)
    t2 = torch.autograd.grad(sum((g * g).sum() for g in t_grads), ts)
    for a, b in zip(zg2, t2):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-10)


def test_strided_inputs(driver, small_blocks):
    """Inputs as views: heads split from (B, L, H, E) (rows strided, as the models make them)
    and a last axis with a stride (copied for the products): the same as contiguous ones."""
    base = rng.standard_normal((2, 29, 4, 16)).astype(np.float32)
    q = base.swapaxes(1, 2)[..., ::2]  # (2, 4, 29, 8), last axis strided
    k = base[:, :, :2].swapaxes(1, 2)[..., 8:]  # (2, 2, 29, 8), rows strided
    v = base[:, :, 2:].swapaxes(1, 2)[..., :5]
    ys = [flash_attention(*(zg.tensor(a) for a in arrays), scale=0.4, causal=0).numpy()
          for arrays in ((q, k, v), tuple(np.ascontiguousarray(a) for a in (q, k, v)))]  # fmt: skip
    np.testing.assert_allclose(ys[0], ys[1], rtol=1e-6, atol=1e-7)
