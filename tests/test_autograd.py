"""The engine: accumulation, graph lifetime, grad modes, higher order, dtype rules, errors."""

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd.autograd import Function


def test_gradients_accumulate_over_two_backwards():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])


def test_two_leaves_do_not_share_a_gradient_array():
    a, b = zg.ones(3, requires_grad=True), zg.ones(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.data *= 10  # an in-place change (as gradient clipping does) must not reach b
    np.testing.assert_allclose(b.grad.numpy(), [1, 1, 1])


def test_shared_subexpression_gets_summed_gradient():
    x = zg.tensor(2.0, requires_grad=True)
    y = x * x
    (y + y * y).backward()  # d/dx (x^2 + x^4) = 2x + 4x^3
    assert x.grad.item() == pytest.approx(4 + 32)


def test_second_backward_through_freed_graph_raises():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(ValueError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4, 8])


def test_backward_on_non_scalar_needs_grad():
    x = zg.ones(2, 3, requires_grad=True)
    y = x * 2
    with pytest.raises(ValueError, match=r"scalar output.*\(2, 3\)"):
        y.backward()
    y.backward(zg.ones(2, 3))
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 2.0))


def test_backward_grad_of_wrong_shape_raises():
    y = zg.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(zg.ones(3))


def test_backward_on_tensor_without_graph_raises():
    with pytest.raises(ValueError, match="does not require grad"):
        zg.ones(2).sum().backward()


def test_no_grad_records_nothing_and_restores():
    x = zg.ones(2, requires_grad=True)
    with zg.no_grad():
        y = x * 2
        assert not zg.is_grad_enabled()
        with zg.enable_grad():
            z = x * 2
    assert zg.is_grad_enabled()
    assert y.creator is None and not y.requires_grad
    assert z.creator is not None and z.requires_grad


def test_no_grad_and_enable_grad_as_decorators():
    @zg.no_grad()
    def f(x):
        return x * 2

    @zg.enable_grad()
    def g(x):
        return x * 2

    x = zg.ones(2, requires_grad=True)
    assert not f(x).requires_grad
    with zg.no_grad():
        assert g(x).requires_grad


def test_detach_cuts_the_graph():
    x = zg.ones(2, requires_grad=True)
    y = (x * 2).detach()
    assert y.is_leaf and not y.requires_grad


def test_hessian_vector_product_vs_torch():
    a = np.random.default_rng(0).standard_normal(4)
    v = np.random.default_rng(1).standard_normal(4)
    x = zg.tensor(a, requires_grad=True)
    f = (x.sin() * x * x).sum() + x.exp().sum() * (x * x).sum()
    (g,) = zg.autograd.grad(f, [x], create_graph=True)
    (g * zg.tensor(v)).sum().backward()
    t = torch.from_numpy(a.copy()).requires_grad_()
    tf = (t.sin() * t * t).sum() + t.exp().sum() * (t * t).sum()
    (tg,) = torch.autograd.grad(tf, [t], create_graph=True)
    (hv,) = torch.autograd.grad((tg * torch.from_numpy(v)).sum(), [t])
    np.testing.assert_allclose(x.grad.numpy(), hv.numpy(), rtol=1e-10)


def test_gradient_penalty_vs_torch():
    rng = np.random.default_rng(0)
    w, xa = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    W, x = zg.tensor(w, requires_grad=True), zg.tensor(xa, requires_grad=True)
    out = (x @ W.T).tanh().sum()
    (gx,) = zg.autograd.grad(out, [x], create_graph=True)
    penalty = ((gx * gx).sum(axis=1).sqrt() - 1) ** 2
    penalty.mean().backward()
    tW, tx = (
        torch.from_numpy(w.copy()).requires_grad_(),
        torch.from_numpy(xa.copy()).requires_grad_(),
    )
    tout = (tx @ tW.T).tanh().sum()
    (tgx,) = torch.autograd.grad(tout, [tx], create_graph=True)
    ((tgx.pow(2).sum(1).sqrt() - 1) ** 2).mean().backward()
    np.testing.assert_allclose(W.grad.numpy(), tW.grad.numpy(), rtol=1e-9)


def test_backward_create_graph_gives_differentiable_grad():
    x = zg.tensor(3.0, dtype="float64", requires_grad=True)
    (x**3).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.item() == pytest.approx(27)
    x.grad = None
    g.backward()
    assert x.grad.item() == pytest.approx(18)


def test_autograd_grad_leaves_dot_grad_untouched_and_reaches_intermediates():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    gh, gx = zg.autograd.grad(y, [h, x])
    assert x.grad is None
    np.testing.assert_allclose(gh.numpy(), [6, 12])
    np.testing.assert_allclose(gx.numpy(), [18, 36])


def test_grad_of_unused_input_raises():
    x, z = zg.ones(2, requires_grad=True), zg.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="not used"):
        zg.autograd.grad((x * 2).sum(), [z])


def test_engine_names_op_when_backward_returns_wrong_shape():
    class Bad(Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return gy[:1]

    x = zg.ones(3, requires_grad=True)
    with pytest.raises(ValueError, match=r"Bad\.backward.*\(1,\).*\(3,\)|Bad.*shape"):
        Bad.apply(x).sum().backward()


def test_deep_chain_does_not_hit_recursion_limit():
    x = zg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**5000, rel=1e-4)


# --- dtype rules -----------------------------------------------------------------------------


def test_python_scalar_never_upcasts_float32():
    x = zg.ones(3)
    for y in (x * 2.5, 2.5 * x, x + 1, x / 3, x**2, 1 - x, x**0.5):
        assert y.dtype == np.float32


def test_float16_stays_float16():
    assert (zg.ones(2, dtype="float16") * 3.0).dtype == np.float16


def test_mixed_dtypes_promote_as_pytorch():
    i, f32, f64 = zg.tensor([1, 2]), zg.ones(2), zg.ones(2, dtype="float64")
    assert i.dtype == np.int64
    assert (i + f32).dtype == np.float32
    assert (f32 + f64).dtype == np.float64
    assert (i / i).dtype == np.float32
    assert (i * 2).dtype == np.int64
    assert (i * 2.5).dtype == np.float32
    assert zg.exp(i).dtype == np.float32
    b = zg.tensor([True, False])
    assert (b + b.astype("int32")).dtype == np.int32


def test_gradient_flows_through_dtype_promotion():
    a = zg.ones(2, requires_grad=True)
    b = zg.ones(2, dtype="float64", requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_requires_grad_on_int_tensor_raises():
    with pytest.raises(TypeError, match="floating"):
        zg.tensor([1, 2], requires_grad=True)


def test_setitem_on_graph_tensor_refused_but_allowed_in_no_grad():
    x = zg.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="in-place"):
        x[0] = 1.0
    with zg.no_grad():
        x[0] = 1.0
    assert x.tolist() == [1.0, 0.0, 0.0]


def test_leaf_gradients_never_share_memory():
    """Leaves take over fresh gradient arrays without a copy; shared or borrowed ones are copied."""
    a = zg.tensor(np.ones(3), requires_grad=True)
    b = zg.tensor(np.ones(3), requires_grad=True)
    (a + b).sum().backward()  # the same gradient array reaches both leaves
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data *= 5  # in place on one (as clip_grad_norm_ does) leaves the other alone
    np.testing.assert_array_equal(b.grad.numpy(), np.ones(3))
    seed = np.full(3, 2.0)
    c = zg.tensor(np.ones(3), requires_grad=True)
    (c + 0).backward(seed)
    assert not np.shares_memory(c.grad.data, seed)
    d = zg.tensor(np.ones((2, 3)), requires_grad=True)
    (d * 3).sum().backward()  # a broadcast view: copied
    d.grad.data[0, 0] = 7
    assert d.grad.numpy()[1, 1] == 3


def test_lifted_scalars_are_reused_per_type_and_dtype_and_keep_signed_zero():
    x32 = zg.tensor(np.array([1.0, -2.0], np.float32))
    x64 = zg.tensor(np.array([1.0, -2.0]))
    xi = zg.tensor(np.array([1, 2]))
    assert (x32 * 0.5).dtype == np.float32 and (x64 * 0.5).dtype == np.float64
    assert (xi * 1.5).dtype == zg.get_default_dtype()  # a float scalar makes ints float
    assert (xi + True).dtype == xi.dtype and (zg.tensor([True, False]) + 1).numpy().tolist() == [
        2,
        1,
    ]
    np.testing.assert_array_equal(np.signbit((x32 * -0.0).numpy()), [True, False])
    np.testing.assert_array_equal(np.signbit((x32 * 0.0).numpy()), [False, True])
    a, b = zg.tensor(np.ones(3), requires_grad=True), zg.tensor(np.ones(3), requires_grad=True)
    (a * 3.0 + b * 3.0).sum().backward()  # one cached constant in two places of one graph
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 3.0, 3.0])
