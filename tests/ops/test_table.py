"""Every op in one table: forward and input gradients vs PyTorch (float64, float32), gradcheck in
float64, and second-order gradients vs torch.autograd.grad(create_graph=True)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zerograd as zg
from tests.helpers import check_against_torch, check_second_order


def _all(t):
    return tuple(range(t.ndim))


def _tdim(axis, t):
    return _all(t) if axis is None else axis


# (name, zerograd fn, torch fn, input shapes, domain)
# domain: "any" normal draws; "pos" in [0.5, 2]; "nonzero" |x| in [0.5, 2] with random sign;
# "unit" in [-0.9, 0.9]; "square" 0.3 * normal, plus the identity on square matrices (well
# conditioned)
BINARY_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((2, 1, 3), (4, 1)),
    ((1,), (2, 3)),
    ((3, 0), (1,)),
    ((), (2, 2)),
]
ROWS = []
for i, shapes in enumerate(BINARY_SHAPES):
    ROWS += [
        (f"add{i}", lambda a, b: a + b, lambda a, b: a + b, shapes, "any"),
        (f"sub{i}", lambda a, b: a - b, lambda a, b: a - b, shapes, "any"),
        (f"mul{i}", lambda a, b: a * b, lambda a, b: a * b, shapes, "any"),
        (f"div{i}", lambda a, b: a / b, lambda a, b: a / b, shapes, "nonzero"),
        (f"pow{i}", lambda a, b: a**b, lambda a, b: a**b, shapes, "pos"),
        (f"maximum{i}", zg.maximum, torch.maximum, shapes, "any"),
        (f"minimum{i}", zg.minimum, torch.minimum, shapes, "any"),
    ]
S = [(2, 3)]
ROWS += [
    ("neg", lambda x: -x, lambda x: -x, S, "any"),
    ("exp", zg.exp, torch.exp, S, "any"),
    ("log", zg.log, torch.log, S, "pos"),
    ("sqrt", zg.sqrt, torch.sqrt, S, "pos"),
    ("abs", zg.abs, torch.abs, S, "nonzero"),
    ("sin", zg.sin, torch.sin, S, "any"),
    ("cos", zg.cos, torch.cos, S, "any"),
    ("tanh", zg.tanh, torch.tanh, S, "any"),
    ("arcsin", zg.arcsin, torch.asin, S, "unit"),
    ("arccos", zg.arccos, torch.acos, S, "unit"),
    ("arctan", zg.arctan, torch.atan, S, "any"),
    ("erfinv", zg.erfinv, torch.erfinv, S, "unit"),
    ("arctan2", zg.arctan2, torch.atan2, [(3, 4), (4,)], "nonzero"),
    ("arctan2_b", zg.arctan2, torch.atan2, [(2, 1), (1, 3)], "any"),
    ("sigmoid", zg.sigmoid, torch.sigmoid, S, "any"),
    ("relu", zg.relu, torch.relu, S, "nonzero"),
    ("clip", lambda x: zg.clip(x, -0.7, 0.9), lambda x: torch.clamp(x, -0.7, 0.9), S, "nonzero"),
    ("clip_lo", lambda x: x.clip(min=0.6), lambda x: x.clamp(min=0.6), S, "nonzero"),
    ("pow2", lambda x: x**2, lambda x: x**2, S, "any"),
    ("pow3", lambda x: x**3, lambda x: x**3, S, "any"),
    ("pow_half", lambda x: x**0.5, lambda x: x**0.5, S, "pos"),
    ("pow_neg", lambda x: x**-1.5, lambda x: x**-1.5, S, "pos"),
    ("rpow", lambda x: 2.0**x, lambda x: 2.0**x, S, "any"),
    ("rsub", lambda x: 1.0 - x, lambda x: 1.0 - x, S, "any"),
    ("rdiv", lambda x: 1.0 / x, lambda x: 1.0 / x, S, "nonzero"),
    (
        "where",
        lambda a, b: zg.where(a.data > 0, a, b),
        lambda a, b: torch.where(a > 0, a, b),
        [(3, 4), (4,)],
        "nonzero",
    ),
    ("empty_exp", zg.exp, torch.exp, [(0, 3)], "any"),
    ("inv", zg.inv, torch.linalg.inv, [(2, 3, 3)], "square"),
    (
        "unfold",
        lambda x: zg.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
        lambda x: torch.nn.functional.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
        [(2, 3, 5, 6)],
        "any",
    ),
    (
        "fold",
        lambda x: zg.fold(x, (4, 5), 2, padding=1, stride=(1, 2)),
        lambda x: torch.nn.functional.fold(x, (4, 5), 2, padding=1, stride=(1, 2)),
        [(2, 12, 15)],
        "any",
    ),
]
R = (2, 3, 4)
for axis in [None, 0, -1, (0, 2), 1]:
    for keep in [False, True]:
        k = f"{axis}_{keep}"
        ROWS += [
            (
                f"sum_{k}",
                lambda x, a=axis, kd=keep: x.sum(a, kd),
                lambda x, a=axis, kd=keep: x.sum(_tdim(a, x), keepdim=kd),
                [R],
                "any",
            ),
            (
                f"mean_{k}",
                lambda x, a=axis, kd=keep: x.mean(a, kd),
                lambda x, a=axis, kd=keep: x.mean(_tdim(a, x), keepdim=kd),
                [R],
                "any",
            ),
            (
                f"max_{k}",
                lambda x, a=axis, kd=keep: x.max(a, kd),
                lambda x, a=axis, kd=keep: torch.amax(x, _tdim(a, x), keepdim=kd),
                [R],
                "any",
            ),
            (
                f"min_{k}",
                lambda x, a=axis, kd=keep: x.min(a, kd),
                lambda x, a=axis, kd=keep: torch.amin(x, _tdim(a, x), keepdim=kd),
                [R],
                "any",
            ),
            (
                f"logsumexp_{k}",
                lambda x, a=axis, kd=keep: x.logsumexp(a, kd),
                lambda x, a=axis, kd=keep: torch.logsumexp(x, _tdim(a, x), keepdim=kd),
                [R],
                "any",
            ),
        ]
for ddof in [0, 1]:
    for axis in [None, 1, (0, 2)]:
        ROWS += [
            (
                f"var_{axis}_{ddof}",
                lambda x, a=axis, d=ddof: zg.var(x, a, ddof=d),
                lambda x, a=axis, d=ddof: torch.var(x, _tdim(a, x), correction=d),
                [R],
                "any",
            ),
            (
                f"std_{axis}_{ddof}",
                lambda x, a=axis, d=ddof: x.std(a, ddof=d),
                lambda x, a=axis, d=ddof: torch.std(x, _tdim(a, x), correction=d),
                [R],
                "any",
            ),
        ]
ROWS += [
    ("sum_empty_axis", lambda x: x.sum(1), lambda x: x.sum(1), [(3, 0)], "any"),
    (
        "sum_size1",
        lambda x: x.sum(0, keepdims=True),
        lambda x: x.sum(0, keepdim=True),
        [(1, 4)],
        "any",
    ),
    ("reshape", lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1), [R], "any"),
    ("transpose", lambda x: x.transpose(2, 0, 1), lambda x: x.permute(2, 0, 1), [R], "any"),
    ("transpose_rev", lambda x: x.transpose(), lambda x: x.permute(2, 1, 0), [R], "any"),
    ("T", lambda x: x.T, lambda x: x.T, [(3, 4)], "any"),
    ("swapaxes", lambda x: x.swapaxes(0, -1), lambda x: x.transpose(0, -1), [R], "any"),
    ("squeeze", lambda x: x.squeeze(), lambda x: x.squeeze(), [(1, 3, 1, 2)], "any"),
    ("squeeze_axis", lambda x: x.squeeze(2), lambda x: x.squeeze(2), [(1, 3, 1, 2)], "any"),
    ("expand_dims", lambda x: x.expand_dims(1), lambda x: x.unsqueeze(1), [R], "any"),
    ("flatten", lambda x: x.flatten(), lambda x: x.flatten(), [R], "any"),
    ("flatten_1", lambda x: x.flatten(1), lambda x: x.flatten(1), [R], "any"),
    (
        "broadcast_to",
        lambda x: x.broadcast_to((2, 3, 4)),
        lambda x: x.broadcast_to((2, 3, 4)),
        [(3, 1)],
        "any",
    ),
    (
        "concat",
        lambda a, b: zg.concat([a, b], axis=1),
        lambda a, b: torch.cat([a, b], 1),
        [(2, 3), (2, 5)],
        "any",
    ),
    (
        "concat_neg",
        lambda a, b: zg.concat([a, b, a], axis=-1),
        lambda a, b: torch.cat([a, b, a], -1),
        [(2, 3), (2, 1)],
        "any",
    ),
    (
        "stack",
        lambda a, b: zg.stack([a, b], axis=1),
        lambda a, b: torch.stack([a, b], 1),
        [(2, 3), (2, 3)],
        "any",
    ),
    (
        "split",
        lambda x: zg.split(x, 3, axis=1)[1] * 2 + zg.split(x, [1], axis=1)[0].sum(),
        lambda x: torch.split(x, 2, 1)[1] * 2 + x[:, :1].sum(),
        [(2, 6)],
        "any",
    ),
    (
        "pad",
        lambda x: zg.pad(x, ((1, 0), (2, 1))),
        lambda x: torch.nn.functional.pad(x, (2, 1, 1, 0)),
        [(2, 3)],
        "any",
    ),
    (
        "repeat",
        lambda x: zg.repeat(x, 3, axis=1),
        lambda x: torch.repeat_interleave(x, 3, 1),
        [(2, 3)],
        "any",
    ),
    (
        "repeat_flat",
        lambda x: zg.repeat(x, 2),
        lambda x: torch.repeat_interleave(x.flatten(), 2),
        [(2, 3)],
        "any",
    ),
    (
        "repeat_array",
        lambda x: zg.repeat(x, np.array([1, 0, 2]), axis=1),
        lambda x: torch.repeat_interleave(x, torch.tensor([1, 0, 2]), 1),
        [(2, 3)],
        "any",
    ),
    ("tile", lambda x: zg.tile(x, (2, 3)), lambda x: x.tile((2, 3)), [(2, 3)], "any"),
    ("tile_more", lambda x: zg.tile(x, (2, 1, 2)), lambda x: x.tile((2, 1, 2)), [(3,)], "any"),
    ("idx_int", lambda x: x[1], lambda x: x[1], [R], "any"),
    ("idx_slices", lambda x: x[:, 1:3, ::2], lambda x: x[:, 1:3, ::2], [R], "any"),
    ("idx_none_ellipsis", lambda x: x[None, ..., 1], lambda x: x[None, ..., 1], [R], "any"),
    ("idx_neg", lambda x: x[-1, :, -2], lambda x: x[-1, :, -2], [R], "any"),
    (
        "idx_array_repeats",
        lambda x: x[np.array([0, 2, 0, 0])],
        lambda x: x[torch.tensor([0, 2, 0, 0])],
        [(3, 4)],
        "any",
    ),
    (
        "idx_array_pair",
        lambda x: x[np.array([0, 1, 1]), np.array([2, 2, 0])],
        lambda x: x[torch.tensor([0, 1, 1]), torch.tensor([2, 2, 0])],
        [(3, 4)],
        "any",
    ),
    (
        "idx_mixed",
        lambda x: x[:, np.array([1, 1, 2])],
        lambda x: x[:, torch.tensor([1, 1, 2])],
        [R],
        "any",
    ),
    (
        "idx_tensor",
        lambda x: x[zg.tensor([2, 0, 2])],
        lambda x: x[torch.tensor([2, 0, 2])],
        [(3, 4)],
        "any",
    ),
    ("idx_mask", lambda x: x[x.data > 0], lambda x: x[x > 0], [(3, 4)], "nonzero"),
    ("idx_list", lambda x: x[[0, 0, 1]], lambda x: x[[0, 0, 1]], [(3, 4)], "any"),
    (
        "take_along_axis",
        lambda x: zg.take_along_axis(x, np.array([[0, 2, 2], [1, 1, 0]]), 1),
        lambda x: torch.take_along_dim(x, torch.tensor([[0, 2, 2], [1, 1, 0]]), 1),
        [(2, 3)],
        "any",
    ),
    (
        "take_along_axis0",
        lambda x: x.take_along_axis(np.array([[1, 0, 1]]), 0),
        lambda x: torch.take_along_dim(x, torch.tensor([[1, 0, 1]]), 0),
        [(2, 3)],
        "any",
    ),
]
MATMUL = [
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 3)),
    ((3, 0), (0, 2)),
]
ROWS += [
    (f"matmul{i}", lambda a, b: a @ b, lambda a, b: a @ b, s, "any") for i, s in enumerate(MATMUL)
]
ROWS += [
    (
        "linear",
        zg.nn.functional.linear,
        torch.nn.functional.linear,
        [(2, 3, 4), (5, 4), (5,)],
        "any",
    ),
    ("linear_nobias", zg.nn.functional.linear, torch.nn.functional.linear, [(3, 4), (5, 4)], "any"),
    (
        "composite",
        lambda x, y: (x.exp() * y).sum(1).logsumexp(0),
        lambda x, y: torch.logsumexp((x.exp() * y).sum(1), 0),
        [(3, 4), (4,)],
        "any",
    ),
]


def make_inputs(shapes, domain, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        if domain == "pos":
            out.append(rng.uniform(0.5, 2.0, s))
        elif domain == "nonzero":
            out.append(rng.uniform(0.5, 2.0, s) * rng.choice([-1.0, 1.0], s))
        elif domain == "unit":
            out.append(rng.uniform(-0.9, 0.9, s))
        elif domain == "square":
            square = len(s) >= 2 and s[-1] == s[-2]
            out.append(0.3 * rng.standard_normal(s) + (np.eye(s[-1]) if square else 0.0))
        else:
            out.append(rng.standard_normal(s))
    return out


IDS = [r[0] for r in ROWS]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_forward_and_grad_vs_torch(row, dtype):
    _, zf, tf, shapes, domain = row
    check_against_torch(zf, tf, make_inputs(shapes, domain), dtype=dtype)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_gradcheck(row):
    _, zf, _, shapes, domain = row
    xs = [zg.tensor(a, requires_grad=True) for a in make_inputs(shapes, domain)]
    assert zg.utils.gradcheck(zf, *xs)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_second_order_vs_torch(row):
    _, zf, tf, shapes, domain = row
    check_second_order(zf, tf, make_inputs(shapes, domain))


# first-order only: their backwards run on arrays (differentiable_backward = False)
FIRST_ORDER = [
    ("det", zg.det, torch.linalg.det, [(2, 3, 3)], "square"),
    ("solve", zg.solve, torch.linalg.solve, [(2, 3, 3), (2, 3, 2)], "square"),
    ("solve_vec", zg.solve, torch.linalg.solve, [(3, 3), (3,)], "square"),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("row", FIRST_ORDER, ids=[r[0] for r in FIRST_ORDER])
def test_first_order_ops_vs_torch(row, dtype):
    _, zf, tf, shapes, domain = row
    check_against_torch(zf, tf, make_inputs(shapes, domain), dtype=dtype)
    xs = [zg.tensor(a, requires_grad=True) for a in make_inputs(shapes, domain)]
    assert zg.utils.gradcheck(zf, *xs)


NOGRAD = [
    ("argmax", lambda x: x.argmax(), lambda x: x.argmax()),
    ("argmax1", lambda x: x.argmax(1), lambda x: x.argmax(1)),
    ("argmin_keep", lambda x: x.argmin(-1, keepdims=True), lambda x: x.argmin(-1, keepdim=True)),
    ("eq", lambda x: x == x[0], lambda x: x == x[0]),
    ("ne", lambda x: x != 0.1, lambda x: x != 0.1),
    ("lt", lambda x: x < 0, lambda x: x < 0),
    ("le", lambda x: x <= x.T[0].reshape(-1, 1)[:2], lambda x: x <= x.T[0].reshape(-1, 1)[:2]),
    ("gt", lambda x: x > 0.5, lambda x: x > 0.5),
    ("ge", lambda x: x >= -0.5, lambda x: x >= -0.5),
]


@pytest.mark.parametrize("row", NOGRAD, ids=[r[0] for r in NOGRAD])
def test_ops_without_gradient(row):
    _, zf, tf = row
    a = np.random.default_rng(0).standard_normal((2, 3))
    z, t = zf(zg.tensor(a, requires_grad=True)), tf(torch.from_numpy(a))
    np.testing.assert_array_equal(z.numpy(), t.numpy())
    assert not z.requires_grad


def test_reduction_ties_share_gradient_evenly():
    x = zg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    t = torch.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    torch.amax(t, 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_maximum_tie_splits_half():
    a, b = zg.tensor([1.0, 2.0], requires_grad=True), zg.tensor([1.0, 3.0], requires_grad=True)
    zg.maximum(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.5, 0.0])
    np.testing.assert_allclose(b.grad.numpy(), [0.5, 1.0])
