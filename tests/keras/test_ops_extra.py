"""keras.ops against real Keras 3 (torch backend): inverse trigonometry, erfinv, cdist, image
blocks (depth/space, unfold/fold, adaptive pooling), linear algebra, histogram, view, polar and
associative_scan; outputs, dtypes and every input's gradient where Keras's op is differentiable."""

import numpy as np
import pytest

import zerograd as zg
from tests.keras.ops_oracle import I3, IMG, SEQ, T3, A, B, C, U, cases, check_against_keras
from zerograd.keras import ops

rng = np.random.default_rng(3)
W = (rng.uniform(-0.9, 0.9, (2, 3))).astype("float32")  # in (-1, 1)
DS = rng.standard_normal((2, 3, 2, 8)).astype("float32")  # 8 channels: block 2
SD = rng.standard_normal((2, 4, 6, 3)).astype("float32")
NCHW = rng.standard_normal((2, 3, 5, 6)).astype("float32")
COLS = rng.standard_normal((2, 12, 15)).astype("float32")
SQW = (0.3 * rng.standard_normal((2, 3, 3)) + np.eye(3)).astype("float32")  # well conditioned
RHS = rng.standard_normal((2, 3, 2)).astype("float32")
_G = rng.standard_normal((3, 3))
SPD = (_G @ _G.T + 3 * np.eye(3)).astype("float32")
RANK2 = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]], dtype="float32")


def add(a, b):
    return a + b


def mul(a, b):
    return a * b


def pair_sum(a, b):
    return [a[0] + b[0], a[1] * b[1]]


ROWS = [
    ("arcsin", W),
    ("arccos", W),
    ("arctan", A),
    ("arctan2", A, B),
    ("arctan2", A, C[:, 0:1].T[:, :3]),
    ("arctan2", I3, I3 + 1, dict(grad=False)),
    ("erfinv", W),
    ("cdist", A, C.T),
    ("cdist", T3, T3[:, :2] + 1.0),
    ("depth_to_space", DS, 2),
    ("depth_to_space", DS.transpose(0, 3, 1, 2), 2, dict(data_format="channels_first")),
    ("space_to_depth", SD, 2),
    ("space_to_depth", SD.transpose(0, 3, 1, 2), 2, dict(data_format="channels_first")),
    ("unfold", NCHW, 2, dict(stride=2)),
    ("unfold", NCHW, (2, 3), dict(dilation=(1, 2), padding=1, stride=(2, 1))),
    ("fold", COLS, (4, 5), 2, dict(padding=1, stride=(1, 2))),
    ("adaptive_average_pool", IMG, (3, 4)),
    ("adaptive_average_pool", IMG.transpose(0, 3, 1, 2), 2, dict(data_format="channels_first")),
    ("adaptive_average_pool", SEQ, 4),
    ("adaptive_max_pool", IMG, (3, 4)),
    ("adaptive_max_pool", IMG.transpose(0, 3, 1, 2), 4, dict(data_format="channels_first")),
    ("adaptive_max_pool", SEQ, 4),
    ("inv", SQW, dict(tol=1e-4)),
    ("det", SQW, dict(tol=1e-4)),
    ("solve", SQW, RHS, dict(tol=1e-4)),
    ("solve", SQW[0], RHS[0, :, 0], dict(tol=1e-4)),
    ("cholesky", SPD, dict(grad=False, tol=1e-4)),
    ("cholesky", SPD, dict(upper=True, grad=False, tol=1e-4)),
    ("svd", SQW, dict(compute_uv=False, grad=False, tol=1e-4)),
    ("matrix_rank", RANK2, dict(grad=False)),
    ("matrix_rank", SQW, dict(grad=False)),
    ("pinv", RANK2[:, :2], dict(grad=False, tol=1e-4)),
    ("pinv", RANK2, dict(grad=False, tol=1e-4)),
    ("solve_triangular", SQW, RHS, dict(tol=1e-4)),
    ("solve_triangular", SQW, RHS, dict(lower=True, tol=1e-4)),
    ("solve_triangular", SQW[0], RHS[0, :, 0], dict(tol=1e-4)),
    ("cholesky_inverse", np.linalg.cholesky(SPD), dict(tol=1e-4)),
    ("cholesky_inverse", np.linalg.cholesky(SPD).T.copy(), dict(upper=True, tol=1e-4)),
    ("lstsq", RANK2[:, :2].copy(), RHS[0], dict(grad=False, tol=1e-4)),
    ("lstsq", SQW[0], RHS[0, :, 0], dict(grad=False, tol=1e-4)),
    ("logdet", SQW, dict(tol=1e-4)),
    ("slogdet", SQW - 0.5 * np.eye(3, dtype="float32"), dict(tol=1e-4)),
    ("histogram", A.ravel(), dict(grad=False)),
    ("histogram", A.ravel(), 4, (-1.0, 1.0), dict(grad=False)),
    ("view", I3, "float32", dict(grad=False)),
    ("view", A, "int32", dict(grad=False)),
    ("view", A, "int16", dict(grad=False)),
    ("polar", U, A, dict(grad=False)),
    ("associative_scan", add, A, dict(axis=1)),
    ("associative_scan", mul, T3, dict(axis=2, reverse=True)),
    ("associative_scan", pair_sum, [A, B]),
    ("average", A, dict(axis=1, weights=np.array([1.0, 2.0, 3.0], dtype="float32"))),
]


@pytest.mark.parametrize("name, args, kwargs, grad, tol", cases(ROWS))
def test_op_matches_keras(real_keras, name, args, kwargs, grad, tol):
    check_against_keras(real_keras, name, args, kwargs, grad, tol)


def test_factorizations_rebuild_their_input(real_keras):
    q, r = ops.qr(SQW)
    np.testing.assert_allclose((q @ r).numpy(), SQW, atol=1e-5)
    u, s, vh = ops.svd(A, full_matrices=False)
    np.testing.assert_allclose(((u * s[None, :]) @ vh).numpy(), A, atol=1e-5)
    w, v = ops.eigh(SPD)
    kw = real_keras.ops.convert_to_numpy(real_keras.ops.eigh(SPD)[0])
    np.testing.assert_allclose(w.numpy(), kw, rtol=1e-4)
    np.testing.assert_allclose((v @ zg.tensor(np.diag(w.numpy())) @ v.T).numpy(), SPD, atol=1e-4)
    ew, ev = ops.eig(SQW[0])
    kw = real_keras.ops.convert_to_numpy(real_keras.ops.eig(SQW[0])[0])
    assert ew.dtype == kw.dtype == np.complex64
    np.testing.assert_allclose(np.sort_complex(ew.numpy()), np.sort_complex(kw), atol=1e-5)
    np.testing.assert_allclose(ev.numpy() @ np.diag(ew.numpy()), SQW[0] @ ev.numpy(), atol=1e-5)


def test_new_ops_build_functional_models(real_keras):
    from zerograd import keras

    inp = keras.Input((4, 6, 3))
    out = ops.adaptive_max_pool(ops.space_to_depth(inp, 2), (1, 2))
    model = keras.Model(inp, ops.arctan2(out, ops.ones_like(out)))
    x = SD.astype("float32")
    ref = real_keras.ops.arctan2(
        real_keras.ops.adaptive_max_pool(real_keras.ops.space_to_depth(x, 2), (1, 2)), 1.0
    )
    np.testing.assert_allclose(model(x).numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)


def test_no_gradient_through_factorizations_names_the_op():
    x = zg.tensor(SPD, requires_grad=True)
    y = ops.cholesky(x)
    with pytest.raises(RuntimeError, match="cholesky: zerograd has no gradient"):
        y.sum().backward()


def test_polar_refuses_gradients_and_average_broadcasts_weights(real_keras):
    with pytest.raises(ValueError, match="polar"):
        ops.polar(zg.tensor(U, requires_grad=True), A)
    w = np.array([1.0, 2.0, 3.0])  # no axis: broadcast over A (2, 3), as Keras's torch backend
    want = real_keras.ops.convert_to_numpy(real_keras.ops.average(A, weights=w))
    np.testing.assert_allclose(ops.average(A, weights=w).numpy(), want, rtol=1e-6)


def test_bad_arguments_name_the_op():
    with pytest.raises(ValueError, match="depth_to_space: channels 3"):
        ops.depth_to_space(IMG, 2)
    with pytest.raises(ValueError, match="space_to_depth: height and width"):
        ops.space_to_depth(IMG, 2)
    with pytest.raises(ValueError, match="fold: expected input of shape"):
        ops.fold(COLS, (5, 5), 2)
    with pytest.raises(ValueError, match="histogram: bins"):
        ops.histogram(A.ravel(), bins=0)
    with pytest.raises(ValueError, match="histogram: expected a 1-D"):
        ops.histogram(A)
    with pytest.raises(ValueError, match="cdist"):
        ops.cdist(A, C)
