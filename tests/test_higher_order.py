"""Higher-order gradients and ops with several outputs, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zerograd as zg
import zerograd.nn.functional as F
from zerograd.ops.rnn import recurrent_layer


def test_backward_with_create_graph_keeps_the_graph():
    # a Hessian-vector product through sin(x) * x: create_graph implies retain_graph (PyTorch)
    a = np.array([0.3, -1.2, 2.0])
    v = np.array([1.0, 0.5, -2.0])
    x = zg.tensor(a, requires_grad=True)
    y = (zg.sin(x) * x).sum()
    y.backward(create_graph=True)
    g = x.grad
    x.grad = None
    (g * zg.tensor(v)).sum().backward()
    t = torch.tensor(a, requires_grad=True)
    (tg,) = torch.autograd.grad((torch.sin(t) * t).sum(), [t], create_graph=True)
    (th,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), [t])
    np.testing.assert_allclose(x.grad.numpy(), th.numpy(), rtol=1e-12, atol=1e-12)


def _cnn(x, w1, b1, w2, lw, mods):
    conv, relu, maxp, avgp, linear, gelu = mods
    h = maxp(relu(conv(x, w1, b1, padding=1)), 2)
    h = avgp(gelu(conv(h, w2, None, padding=1)), 2)
    return linear(h.reshape(h.shape[0], -1), lw)


def test_gradient_penalty_on_a_cnn_matches_torch():
    # WGAN-GP style: || d f / d x ||^2 minimised over the weights needs conv, pooling, activations
    # and linear differentiated twice
    rng = np.random.default_rng(0)
    arrays = [
        rng.standard_normal((2, 3, 8, 8)),
        rng.standard_normal((4, 3, 3, 3)) * 0.3,
        rng.standard_normal(4) * 0.1,
        rng.standard_normal((5, 4, 3, 3)) * 0.3,
        rng.standard_normal((2, 20)) * 0.3,
    ]
    zs = [zg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    zmods = (F.conv2d, F.relu, F.max_pool2d, F.avg_pool2d, F.linear, F.gelu)
    tmods = (TF.conv2d, TF.relu, TF.max_pool2d, TF.avg_pool2d, TF.linear, TF.gelu)
    (zgx,) = zg.autograd.grad(_cnn(*zs, zmods).sum(), [zs[0]], create_graph=True)
    (tgx,) = torch.autograd.grad(_cnn(*ts, tmods).sum(), [ts[0]], create_graph=True)
    np.testing.assert_allclose(zgx.numpy(), tgx.detach().numpy(), rtol=1e-10, atol=1e-12)
    (zgx * zgx).sum().backward()
    (tgx * tgx).sum().backward()
    for i, (z, t) in enumerate(zip(zs, ts)):
        np.testing.assert_allclose(
            z.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=f"input {i}"
        )


@pytest.mark.parametrize("channels_last_relu", [False, True])
def test_keras_conv_second_order(channels_last_relu):
    # the channels-last op with its fused ReLU, as the Keras layers run it
    from zerograd.ops.conv import Conv2d

    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 5, 3))
    w = rng.standard_normal((3, 3, 3, 4))
    zx, zw = zg.tensor(x, requires_grad=True), zg.tensor(w, requires_grad=True)
    pads = ((1, 1), (1, 1))
    zy = Conv2d.apply(
        zx, zw, stride=(1, 1), padding=pads, dilation=(1, 1), groups=1,
        channels_last=True, relu=channels_last_relu,
    )  # fmt: skip
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = TF.conv2d(tx.permute(0, 3, 1, 2), tw.permute(3, 2, 0, 1), padding=1).permute(0, 2, 3, 1)
    ty = TF.relu(ty) if channels_last_relu else ty
    (zg_,) = zg.autograd.grad((zy * zy).sum(), [zx], create_graph=True)
    (tg_,) = torch.autograd.grad((ty * ty).sum(), [tx], create_graph=True)
    (zg_ * zg_).sum().backward()
    (tg_ * tg_).sum().backward()
    np.testing.assert_allclose(zw.grad.numpy(), tw.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(zx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_recurrent_double_backward_is_a_clear_error():
    lstm = zg.nn.LSTM(3, 4)
    x = zg.randn(5, 2, 3, requires_grad=True)
    out, _ = lstm(x)
    with pytest.raises(zg.autograd.GraphError, match="RecurrentLayer: its backward is not"):
        zg.autograd.grad(out.sum(), [x], create_graph=True)


@pytest.mark.parametrize("use", ["seq", "h", "c", "all"])
def test_lstm_op_returns_its_states_as_outputs(use):
    rng = np.random.default_rng(3)
    T, B, I, H = 4, 2, 3, 5
    a = [rng.standard_normal(s) * 0.5 for s in [(T, B, I), (B, H), (B, H), (4 * H, I), (4 * H, H)]]
    zs = [zg.tensor(v, requires_grad=True) for v in a]
    seq, h, c = recurrent_layer("lstm", *zs)
    assert seq.shape == (T, B, H) and h.shape == (B, H) and c.shape == (B, H)
    lstm = torch.nn.LSTM(I, H, bias=False).double()
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.tensor(a[3]))
        lstm.weight_hh_l0.copy_(torch.tensor(a[4]))
    tx, th, tc = (torch.tensor(v, requires_grad=True) for v in a[:3])
    tseq, (tH, tC) = lstm(tx, (th[None], tc[None]))
    for z, t in [(seq, tseq), (h, tH[0]), (c, tC[0])]:
        np.testing.assert_allclose(z.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    pick = {"seq": [0], "h": [1], "c": [2], "all": [0, 1, 2]}[use]
    zsum = sum(((seq, h, c)[i] ** 2).sum() for i in pick)
    tsum = sum(((tseq, tH[0], tC[0])[i] ** 2).sum() for i in pick)
    zsum.backward()
    tsum.backward()
    for z, t in zip(zs[:3], (tx, th, tc)):
        np.testing.assert_allclose(z.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_split_is_one_op_with_several_outputs():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 7))
    x = zg.tensor(a, requires_grad=True)
    parts = zg.split(x, [2, 5], axis=1)
    assert isinstance(parts, tuple) and [p.shape for p in parts] == [(3, 2), (3, 3), (3, 2)]
    assert parts[0].creator is parts[2].creator  # one op, three outputs
    (parts[0] * 2).sum().backward()  # the sections nobody used get zeros
    t = torch.tensor(a, requires_grad=True)
    (torch.split(t, [2, 3, 2], dim=1)[0] * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    # and twice differentiable
    x.grad = None
    q, k = zg.split(x, [1], axis=0)
    (g,) = zg.autograd.grad((q * q).sum() + (k**3).sum(), [x], create_graph=True)
    (g * g).sum().backward()
    t.grad = None
    tq, tk = torch.split(t, [1, 2], dim=0)
    (tg,) = torch.autograd.grad((tq * tq).sum() + (tk**3).sum(), [t], create_graph=True)
    (tg * tg).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("largest", [True, False])
def test_topk_matches_torch(largest):
    rng = np.random.default_rng(5)
    a = rng.permutation(24).reshape(4, 6).astype(np.float64)  # distinct: one right answer
    x = zg.tensor(a, requires_grad=True)
    values, indices = zg.topk(x, 3, axis=1, largest=largest)
    t = torch.tensor(a, requires_grad=True)
    tv, ti = torch.topk(t, 3, dim=1, largest=largest)
    np.testing.assert_array_equal(values.numpy(), tv.detach().numpy())
    np.testing.assert_array_equal(indices.numpy(), ti.numpy())
    assert indices.dtype == np.int64 and not indices.requires_grad
    w = rng.standard_normal((4, 3))
    (values * zg.tensor(w)).sum().backward()
    (tv * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_max_with_indices_matches_torch_and_sends_the_gradient_to_the_first_max():
    a = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]])
    x = zg.tensor(a, requires_grad=True)
    v, i = zg.max_with_indices(x, axis=1)
    t = torch.tensor(a, requires_grad=True)
    tv, ti = torch.max(t, dim=1)
    np.testing.assert_array_equal(v.numpy(), tv.detach().numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    v.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    v, i = zg.min_with_indices(x, axis=0, keepdims=True)
    assert v.shape == (1, 3) and i.numpy().tolist() == [[0, 1, 1]]
    with pytest.raises(ValueError, match="topk: k must be in"):
        zg.topk(x, 4, axis=1)


def test_to_dot_draws_an_op_with_several_outputs_once():
    x = zg.ones(2, 6, requires_grad=True)
    a, b, c = zg.split(x, 3, axis=1)
    dot = zg.utils.to_dot((a * b + c).sum())
    assert dot.count('label="Split"') == 1
    assert dot.count(f"t{id(x)} -> f{id(a.creator)};") == 1


class Cube(zg.autograd.Function):
    """A user's op in the house style: its derivative once, for both engines."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x * x

    def backward(self, gy):
        (x,) = self.saved
        return gy * 3 * x * x


class CubeOnArrays(Cube):
    def backward(self, gy):
        (x,) = self.saved
        return 3 * gy.data * x.data * x.data if self.recording else 3 * gy * x * x


def test_a_user_function_is_differentiable_twice():
    x = zg.tensor([1.5, -2.0], dtype="float64", requires_grad=True)
    (g,) = zg.autograd.grad(Cube.apply(x).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())
    assert zg.utils.gradcheck(lambda t: Cube.apply(t), x)


def test_a_backward_that_leaves_the_graph_under_create_graph_is_an_error():
    x = zg.tensor([1.5, -2.0], dtype="float64", requires_grad=True)
    (g,) = zg.autograd.grad(CubeOnArrays.apply(x).sum(), [x])  # fine without create_graph
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    with pytest.raises(zg.autograd.GraphError, match="CubeOnArrays.backward returned an array"):
        zg.autograd.grad(CubeOnArrays.apply(x).sum(), [x], create_graph=True)


def test_gradients_of_0d_tensors_are_arrays():
    # arithmetic on 0-d NumPy arrays gives NumPy scalars; gradients stay arrays, so an optimizer
    # can update in place
    x = zg.tensor(0.7, requires_grad=True)
    (x.exp() * x).backward()
    assert type(x.grad.data) is np.ndarray and x.grad.shape == ()
    (g,) = zg.autograd.grad((x * x) * x, [x])
    assert type(g.data) is np.ndarray
    np.testing.assert_allclose(g.numpy(), 3 * 0.7**2, rtol=1e-6)
    p = zg.nn.Parameter(zg.tensor(0.5))
    opt = zg.optim.Adam([p], lr=0.1)
    (p * p).backward()
    opt.step()
    np.testing.assert_allclose(p.numpy(), 0.4, rtol=1e-6)


@pytest.mark.parametrize("indices", [[-2], [1, -1], [2, 9], [-9, 3], [3, 1], [0], [5], 5])
def test_split_follows_numpy(indices):
    a = np.arange(10.0).reshape(2, 5)
    x = zg.tensor(a, requires_grad=True)
    got = zg.split(x, indices, axis=1)
    want = np.split(a, indices, axis=1)
    assert [p.numpy().tolist() for p in got] == [p.tolist() for p in want]
    sum(
        ((p * (i + 1)).sum() for i, p in enumerate(got)), zg.tensor(0.0, dtype="float64")
    ).backward()
    expect = np.zeros_like(a)  # each element's weight: the number of the sections it lies in
    for i, p in enumerate(np.split(np.arange(10).reshape(2, 5), indices, axis=1)):
        for v in p.ravel():
            expect.flat[v] += i + 1
    np.testing.assert_array_equal(x.grad.numpy(), expect)


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pooling_gradient_outlives_the_pooling_graph(pool):
    # the gradient ops carry their own copy of the windows: freeing the forward graph (a backward
    # without retain_graph) leaves the recorded gradient differentiable, as in PyTorch
    rng = np.random.default_rng(6)
    a, wa = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((1, 2, 2, 2))
    zf, tf = {"max": (F.max_pool2d, TF.max_pool2d), "avg": (F.avg_pool2d, TF.avg_pool2d)}[pool]
    x, w = zg.tensor(a, requires_grad=True), zg.tensor(wa, requires_grad=True)
    loss = (zf(x, 2) * w).sum()
    (g,) = zg.autograd.grad(loss, [x], create_graph=True)  # the pooling's gradient of w
    loss.backward()  # frees the forward graph
    w.grad = None
    (g * g).sum().backward()
    t, tw = torch.tensor(a, requires_grad=True), torch.tensor(wa, requires_grad=True)
    tloss = (tf(t, 2) * tw).sum()
    (tg,) = torch.autograd.grad(tloss, [t], create_graph=True)
    tloss.backward()
    (th,) = torch.autograd.grad((tg * tg).sum(), [tw])
    np.testing.assert_allclose(w.grad.numpy(), th.numpy(), rtol=1e-10, atol=1e-12)


def test_a_constant_sharing_an_input_array_stays_constant_when_recording():
    # x * x.detach(): both operands hold one array; only the first is differentiable
    a = np.array([0.5, -1.2, 2.0])
    p = zg.Tensor(a, requires_grad=True)
    (g,) = zg.autograd.grad((p * a * p).sum(), [p], create_graph=True)  # a: p's own array
    g.sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), 2 * a)
    x = zg.tensor(a, requires_grad=True)
    (g,) = zg.autograd.grad((x * x.detach()).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), a)
    assert not g.requires_grad  # d/dx of x * const is a constant


def test_edge_cases_of_repeat_split_and_topk():
    x = zg.ones(2, 3, requires_grad=True)
    (x.repeat(0, axis=1).sum() + x.sum()).backward()  # an empty repeat has a zero gradient
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))
    assert [p.shape for p in zg.split(zg.ones(2, 0), 3, axis=1)] == [(2, 0)] * 3
    u = np.array([3, 0, 7, 1], dtype=np.uint8)  # unsigned: the largest without wrapping
    values, indices = zg.topk(zg.tensor(u), 2)
    tv, ti = torch.topk(torch.tensor(u), 2)
    assert values.numpy().tolist() == tv.tolist() and indices.numpy().tolist() == ti.tolist()


def test_leaf_gradients_under_create_graph_are_their_own_arrays():
    # a + b hands both leaves one gradient, and a sum's is a read-only broadcast view: each .grad
    # is its own writable array, so clipping in place works and touches one leaf only
    a, b = zg.randn(3, requires_grad=True), zg.randn(3, requires_grad=True)
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad and a.grad.data is not b.grad.data
    zg.nn.utils.clip_grad_norm_([a, b], 0.1)
    np.testing.assert_allclose(np.sqrt((a.grad.numpy() ** 2).sum() * 2), 0.1, rtol=1e-5)
    x = zg.randn(2, 3, requires_grad=True)
    ((x * x).sum() * 1.0).backward(create_graph=True)
    (x.grad * x.grad).sum().backward()  # the copy is recorded: still differentiable
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 8 * x.numpy(), rtol=1e-5)
