"""The fused kernels (numba, ``zerograd.kernels``) against the NumPy path and PyTorch: GELU, erf,
softmax (plain and with the attention scale and mask), layer norm, and attention's gradients."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zerograd as zg
import zerograd.nn.functional as F
from tests.helpers import check_against_torch
from zerograd import kernels, tuning
from zerograd.kernels import attention as attention_kernels
from zerograd.kernels import gelu as gelu_kernels
from zerograd.kernels import softmax as softmax_kernels
from zerograd.optim import _adam_kernel
from zerograd.utils import gradcheck

rng = np.random.default_rng(0)
needs_numba = pytest.mark.skipif(kernels.numba is None, reason="numba is not installed")


def _x(shape, dtype=np.float32, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erf_and_gelu_against_torch(path, dtype):
    x = np.concatenate(
        [
            _x(2000, dtype),
            np.array([0.0, -0.0, 3.92, -3.93, 7.0, -50.0, np.inf, -np.inf, np.nan], dtype),
        ]
    )
    got = zg.erf(zg.tensor(x)).numpy()
    want = torch.erf(torch.from_numpy(x[:-3].astype(np.float64))).numpy()
    # float32: the same rational fit, within 2.4e-7 in the kernel (float64 arithmetic) and 3.7e-7
    # on the NumPy path (float32 arithmetic)
    atol = (2.5e-7 if path == "jit" else 4e-7) if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(got[:-3], want, atol=atol, rtol=0)
    # inf, -inf and NaN: the values of the definition, not PyTorch's (its vectorised CPU kernels
    # differ between processors at the edges)
    np.testing.assert_array_equal(got[-3:], np.array([1.0, -1.0, np.nan], dtype))
    assert got.dtype == dtype
    check_against_torch(F.gelu, TF.gelu, [x[:-3]], dtype)  # inf and NaN: no gradient to compare
    check_against_torch(
        lambda t: F.gelu(t, approximate="tanh"),
        lambda t: TF.gelu(t, approximate="tanh"),
        [x[:-3]],
        dtype,
    )
    for approximate in ("none", "tanh"):  # +inf and NaN as the definition x Phi(x) has them
        # (not PyTorch's values: its vectorised float32 kernel gives NaN at +inf on some CPUs)
        got = F.gelu(zg.tensor(x[[-3, -1]]), approximate=approximate).numpy()
        np.testing.assert_array_equal(got, np.array([np.inf, np.nan], dtype))
        assert got.dtype == dtype


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_limits_at_infinity(path, approximate, dtype):
    """x Phi(x) -> 0 as x -> -inf; its derivative Phi(x) + x phi(x) -> 1 at +inf and 0 at -inf."""
    x = zg.tensor(np.array([np.inf, -np.inf], dtype), requires_grad=True)
    y = F.gelu(x, approximate=approximate)
    y.sum().backward()
    np.testing.assert_array_equal(y.numpy(), [np.inf, 0.0])
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0])


def test_float32_erf_one_formula_on_both_paths(monkeypatch):
    """The NumPy path evaluates the kernel's rational fit (in float32 arithmetic): both within a
    few float32 ulps of each other, erf bounded by 1, float16 computed in float32."""
    from zerograd.ops.activation import erf_array

    x = np.concatenate([_x(20000), np.linspace(-4.5, 4.5, 20001, dtype=np.float32)])
    monkeypatch.setattr(kernels, "ENABLED", False)
    numpy_path = erf_array(x)
    assert numpy_path.dtype == np.float32 and np.abs(numpy_path).max() <= 1.0
    h = erf_array(x[:100].astype(np.float16))
    assert h.dtype == np.float16
    np.testing.assert_allclose(h, numpy_path[:100], atol=1e-3, rtol=0)
    if kernels.numba is not None:
        np.testing.assert_allclose(gelu_kernels.erf(x), numpy_path, atol=4e-7, rtol=0)


def test_gelu_kernel_equals_numpy_path(monkeypatch):
    if kernels.numba is None:
        pytest.skip("numba is not installed")
    x = _x((64, 297))
    monkeypatch.setattr(kernels, "ENABLED", False)
    ref = F.gelu(zg.tensor(x)).numpy()
    np.testing.assert_allclose(gelu_kernels.gelu(x), ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 4, 9), (2, 2, 2, 3, 5), (6,)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_last_axis(path, shape, dtype):
    check_against_torch(
        lambda t: F.softmax(t, axis=-1), lambda t: TF.softmax(t, -1), [_x(shape, dtype)], dtype
    )


def test_softmax_noncontiguous_and_other_axis(path):
    x = _x((4, 6, 5)).transpose(2, 0, 1)
    check_against_torch(lambda t: F.softmax(t, -1), lambda t: TF.softmax(t, -1), [x], np.float32)
    check_against_torch(lambda t: F.softmax(t, 0), lambda t: TF.softmax(t, 0), [x], np.float32)


def test_softmax_inf_and_nan_rows(path):
    """By the definition, not against PyTorch's CPU kernel: a -inf entry weighs 0, a row of -inf
    only is 0/0 (NaN), and a NaN anywhere in a row makes the row NaN."""
    x = np.array([[1.0, -np.inf, 2.0], [-np.inf, -np.inf, -np.inf], [np.nan, 0.0, 1.0]], np.float32)
    got = F.softmax(zg.tensor(x), -1).numpy()
    e = np.exp(np.array([1.0, 2.0]))
    np.testing.assert_allclose(got[0], [e[0] / e.sum(), 0.0, e[1] / e.sum()], rtol=1e-6)
    assert got[0, 1] == 0.0 and np.isnan(got[1:]).all()


MASKS = [
    ("none", None),
    ("bool_padding", lambda B, H, L, S: rng.random((B, 1, 1, S)) > 0.3),
    ("bool_full", lambda B, H, L, S: rng.random((B, H, L, S)) > 0.3),
    ("float_2d", lambda B, H, L, S: rng.standard_normal((L, S))),
    ("float_per_query", lambda B, H, L, S: rng.standard_normal((B, 1, L, 1))),
]


@pytest.mark.parametrize("name,mask", MASKS)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_against_torch(path, name, mask, causal, dtype):
    B, H, L, S, E = 2, 3, 5, 5, 4
    q, k, v = (_x((B, H, n, E), dtype, 1.0) for n in (L, S, S))
    m = None if mask is None else mask(B, H, L, S)
    if m is not None and m.dtype == bool:
        m[..., 0] = True  # no fully masked row (PyTorch's math path gives NaN there, as ours)
    tm = None if m is None else torch.from_numpy(m if m.dtype == bool else m.astype(dtype))

    def zf(a, b, c):
        return F.scaled_dot_product_attention(a, b, c, attn_mask=m, is_causal=causal and m is None)

    def tf(a, b, c):
        return TF.scaled_dot_product_attention(
            a, b, c, attn_mask=tm, is_causal=causal and m is None
        )

    check_against_torch(zf, tf, [q, k, v], dtype)


def test_attention_scale_and_gradcheck(path):
    q, k, v = (zg.tensor(rng.standard_normal((1, 2, 3, 4)), requires_grad=True) for _ in range(3))
    mask = np.array([[True, True, False], [True, False, True], [True, True, True]])
    assert gradcheck(
        lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=mask, scale=0.7), q, k, v
    )


def test_attention_double_backward_against_torch(path):
    arrays = [rng.standard_normal((1, 2, 3, 4)) for _ in range(3)]
    zs = [zg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.from_numpy(a).requires_grad_() for a in arrays]
    zo = F.scaled_dot_product_attention(*zs, is_causal=True)
    causal = torch.ones(3, 3, dtype=torch.bool).tril()
    scores = (ts[0] @ ts[1].transpose(-1, -2) / 2.0).masked_fill(~causal, -torch.inf)
    to = torch.softmax(scores, -1) @ ts[2]  # PyTorch's fused attention has no double backward
    (zg_q,) = zg.autograd.grad((zo * zo).sum(), [zs[0]], create_graph=True)
    (tq,) = torch.autograd.grad((to * to).sum(), [ts[0]], create_graph=True)
    zg_q.sum().backward()
    tq.sum().backward()
    for z, t in zip(zs, ts):
        np.testing.assert_allclose(z.grad.numpy(), t.grad.numpy(), atol=1e-8)


def test_attention_five_dimensional_with_mask(path):
    q, k, v = (_x((2, 2, 3, 4, 5), np.float64, 1.0) for _ in range(3))
    m = rng.standard_normal((3, 1, 4))
    check_against_torch(
        lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=m),
        lambda a, b, c: TF.scaled_dot_product_attention(a, b, c, attn_mask=torch.from_numpy(m)),
        [q, k, v],
    )


def test_attention_mask_shape_error():
    q = zg.randn(2, 3, 5, 4)
    with pytest.raises(ValueError, match="attn_mask of shape"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((4, 4), bool))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_last_axis(path, dtype, affine):
    x = _x((3, 5, 16), dtype) + 4.0
    w, b = _x(16, dtype, 1.0), _x(16, dtype, 1.0)
    if affine:
        check_against_torch(
            lambda a, c, d: F.layer_norm(a, 16, c, d, eps=1e-6),
            lambda a, c, d: TF.layer_norm(a, (16,), c, d, eps=1e-6),
            [x, w, b],
            dtype,
        )
    else:
        check_against_torch(
            lambda a: F.layer_norm(a, 16), lambda a: TF.layer_norm(a, (16,)), [x], dtype
        )


def test_kernels_skip_other_arrays():
    n = tuning.KERNEL_MIN_SIZE
    assert not kernels.usable(np.zeros(n, np.int64))
    assert not kernels.usable(np.zeros(n, np.float16))
    assert not kernels.usable(np.zeros(n - 1, np.float32))  # small: NumPy is faster
    assert not kernels.usable([1.0] * n)
    assert kernels.usable(np.zeros(n, np.float32)) == (
        kernels.numba is not None and kernels.ENABLED
    )


@needs_numba
def test_kernel_softmax_bias_broadcast_is_not_copied_wrongly():
    x = _x((2, 3, 4, 6), np.float64)
    bias = np.where(rng.random((2, 1, 1, 6)) > 0.5, 0.0, -np.inf)
    bias[..., 0] = 0.0
    got = softmax_kernels.softmax_last(x, 0.5, bias)
    z = x * 0.5 + bias
    e = np.exp(z - z.max(-1, keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(-1, keepdims=True), atol=1e-15)
    assert math.isclose(got.sum(), 2 * 3 * 4)


@pytest.mark.parametrize("name,mask", MASKS)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block", [1 << 16, 40, 1])  # whole samples, head groups, single heads
def test_attention_without_gradients_against_torch(
    path, monkeypatch, name, mask, causal, dtype, block
):
    """The blocked, threaded inference path (numba) and the op path (NumPy), on strided heads as
    a model gives them: (B, L, H, E) memory seen as (B, H, L, E)."""
    monkeypatch.setattr(tuning, "ATTENTION_BLOCK", block)
    B, H, L, S, E = 3, 4, 5, 6, 8
    q = _x((B, L, H, E), dtype, 1.0).transpose(0, 2, 1, 3)
    k, v = _x((B, H, S, E), dtype, 1.0), _x((B, H, S, E + 2), dtype, 1.0)
    m = None if mask is None else mask(B, H, L, S)
    if m is not None and m.dtype == bool:
        m[..., 0] = True
    with zg.no_grad():
        got = F.scaled_dot_product_attention(
            zg.tensor(q), zg.tensor(k), zg.tensor(v), attn_mask=m, is_causal=causal and m is None
        ).numpy()
    tm = None if m is None else torch.from_numpy(m if m.dtype == bool else m.astype(dtype))
    want = TF.scaled_dot_product_attention(
        *(torch.from_numpy(np.ascontiguousarray(a)) for a in (q, k, v)),
        attn_mask=tm,
        is_causal=causal and m is None,
    ).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 if dtype == np.float32 else 1e-12)


@needs_numba
def test_attention_inference_layout_and_3d(monkeypatch):
    monkeypatch.setattr(tuning, "KERNEL_MIN_SIZE", 0)
    q, k, v = (_x((2, 3, 7, 4), np.float32, 1.0) for _ in range(3))
    assert attention_kernels.attention_usable(q, k, v)
    y = attention_kernels.attention(q, k, v, None, 0.5)
    assert y.swapaxes(1, 2).flags.c_contiguous  # heads merge back without a copy
    want = TF.scaled_dot_product_attention(*map(torch.from_numpy, (q, k, v)), scale=0.5).numpy()
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    y3 = attention_kernels.attention(q[0], k[0], v[0], None, 0.5)
    np.testing.assert_allclose(y3, want[0], rtol=1e-5, atol=1e-6)
    # not taken: gradients wanted, broadcast heads, mixed dtypes, integer arrays
    assert not attention_kernels.attention_usable(q, k[:, :1], v[:, :1])
    assert not attention_kernels.attention_usable(q, k.astype(np.float64), v)
    assert not attention_kernels.attention_usable(q.astype(np.int32), k, v)
    qt = zg.tensor(q, requires_grad=True)
    out = F.scaled_dot_product_attention(qt, zg.tensor(k), zg.tensor(v))
    out.sum().backward()
    assert qt.grad is not None and qt.grad.shape == q.shape


@needs_numba
def test_parallel_parts_runs_every_item_and_raises_errors():
    seen = []
    kernels.parallel_parts(lambda part: seen.extend(part), list(range(10)))
    assert sorted(seen) == list(range(10))

    def fail(part):
        if 9 in part:
            raise RuntimeError("block 9 failed")

    with pytest.raises(RuntimeError, match="block 9"):
        kernels.parallel_parts(fail, list(range(10)))


@needs_numba
def test_float32_softmax_exp_accuracy():
    """The float32 exp of the softmax kernel over its whole range (x <= 0) against float64."""
    x = np.concatenate([-np.geomspace(1e-8, 100, 20001), [0.0, -87.0, -87.5, -np.inf]])
    x = x.astype(np.float32)
    out = np.empty_like(x)
    rows = (1, 1, -1, 1)
    softmax_kernels._softmax_parallel(
        x.reshape(rows), np.zeros((1, 1, 1, 1), np.float32), 1.0, out.reshape(rows)
    )
    assert np.all(out[:-1] == 1.0) and np.isnan(out[-1])  # one-element rows; all -inf gives NaN
    got = np.array([kernels.exp32_neg(np.float32(v)) for v in x])
    want = np.exp(x.astype(np.float64))
    live = x >= -87
    np.testing.assert_allclose(got[live], want[live], rtol=1e-6)
    assert np.all(got[~live] == 0.0)
    assert np.isnan(kernels.exp32_neg(np.float32(np.nan)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_bias_add_both_paths(path, monkeypatch, dtype):
    """Linear's bias add (a numba pass when large; here on any size) and its gradients."""
    monkeypatch.setattr(tuning, "LINEAR_BIAS_KERNEL_MIN_SIZE", 0)
    check_against_torch(
        F.linear, TF.linear, [_x((3, 5, 7), dtype), _x((6, 7), dtype), _x(6, dtype)], dtype
    )
    x = _x((4, 7), np.float32)
    y = F.linear(zg.tensor(x), zg.tensor(_x((6, 7), np.float32)), zg.tensor(_x(6, np.float64)))
    assert y.dtype == np.float32  # a float64 bias takes the NumPy path, as before


@needs_numba
def test_serial_and_parallel_kernels_are_separate_functions():
    """numba's disk cache keys a kernel by its code and closure, not by ``parallel``: a serial and
    a parallel kernel made from one function would share machine code (a parallel kernel run on
    the attention's worker threads crashes numba's workqueue layer)."""
    pairs = [
        (_adam_kernel._adam_serial, _adam_kernel._adam_parallel),
        (softmax_kernels._softmax_serial, softmax_kernels._softmax_parallel),
    ]
    for serial, parallel in pairs:
        assert serial.py_func.__code__ is not parallel.py_func.__code__
        assert not serial.targetoptions.get("parallel") and parallel.targetoptions.get("parallel")
