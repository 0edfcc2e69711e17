"""F functions vs torch.nn.functional: forward and gradients (float64, float32), gradcheck."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zerograd as zg
import zerograd.nn.functional as F
from tests.helpers import check_against_torch, check_second_order
from tests.ops.test_table import make_inputs

rng = np.random.default_rng(0)
IDX = rng.integers(0, 5, (6,))
IDX_IGN = np.array([1, -100, 4, 0, 2, -100])
IDX2D = rng.integers(0, 5, (2, 3, 4))
PROBS = rng.dirichlet(np.ones(5), 6)
W5 = rng.uniform(0.5, 2.0, 5)
Y01 = rng.integers(0, 2, (3, 4)).astype(np.float64)

ROWS = [
    (
        "leaky_relu",
        lambda x: F.leaky_relu(x, 0.2),
        lambda x: TF.leaky_relu(x, 0.2),
        [(3, 4)],
        "nonzero",
    ),
    ("elu", lambda x: F.elu(x, 1.3), lambda x: TF.elu(x, 1.3), [(3, 4)], "nonzero"),
    ("gelu", F.gelu, TF.gelu, [(3, 4)], "any"),
    (
        "gelu_tanh",
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: TF.gelu(x, approximate="tanh"),
        [(3, 4)],
        "any",
    ),
    ("silu", F.silu, TF.silu, [(3, 4)], "any"),
    ("erf", F.erf, torch.erf, [(3, 4)], "any"),
    ("softmax", lambda x: F.softmax(x, axis=1), lambda x: TF.softmax(x, 1), [(2, 3, 4)], "any"),
    ("softmax_last", F.softmax, lambda x: TF.softmax(x, -1), [(3, 4)], "any"),
    (
        "log_softmax",
        lambda x: F.log_softmax(x, axis=0),
        lambda x: TF.log_softmax(x, 0),
        [(3, 4)],
        "any",
    ),
    ("linear", F.linear, TF.linear, [(2, 3), (4, 3), (4,)], "any"),
    (
        "layer_norm",
        lambda x, w, b: F.layer_norm(x, (4,), w, b),
        lambda x, w, b: TF.layer_norm(x, (4,), w, b),
        [(2, 3, 4), (4,), (4,)],
        "any",
    ),
    (
        "layer_norm_2d",
        lambda x: F.layer_norm(x, (3, 4), eps=1e-3),
        lambda x: TF.layer_norm(x, (3, 4), eps=1e-3),
        [(2, 3, 4)],
        "any",
    ),
    (
        "rms_norm",
        lambda x, w: F.rms_norm(x, (4,), w, 1e-6),
        lambda x, w: TF.rms_norm(x, (4,), w, 1e-6),
        [(2, 3, 4), (4,)],
        "any",
    ),
    (
        "group_norm",
        lambda x, w, b: F.group_norm(x, 2, w, b),
        lambda x, w, b: TF.group_norm(x, 2, w, b),
        [(2, 4, 3), (4,), (4,)],
        "any",
    ),
    (
        "batch_norm_train",
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
        [(5, 3, 2, 2), (3,), (3,)],
        "any",
    ),
    ("mse", lambda a, b: F.mse_loss(a, b), TF.mse_loss, [(3, 4), (3, 4)], "any"),
    (
        "mse_sum",
        lambda a, b: F.mse_loss(a, b, "sum"),
        lambda a, b: TF.mse_loss(a, b, reduction="sum"),
        [(3, 4), (3, 4)],
        "any",
    ),
    (
        "l1_none",
        lambda a, b: F.l1_loss(a, b, "none"),
        lambda a, b: TF.l1_loss(a, b, reduction="none"),
        [(3, 4), (3, 4)],
        "any",
    ),
    (
        "smooth_l1",
        lambda a, b: F.smooth_l1_loss(a, b, beta=0.5),
        lambda a, b: TF.smooth_l1_loss(a, b, beta=0.5),
        [(3, 4), (3, 4)],
        "any",
    ),
    (
        "huber",
        lambda a, b: F.huber_loss(a, b, delta=0.7),
        lambda a, b: TF.huber_loss(a, b, delta=0.7),
        [(3, 4), (3, 4)],
        "any",
    ),
    (
        "bce",
        lambda p: F.binary_cross_entropy(p.sigmoid(), zg.tensor(Y01, dtype=p.dtype)),
        lambda p: TF.binary_cross_entropy(p.sigmoid(), torch.tensor(Y01, dtype=p.dtype)),
        [(3, 4)],
        "any",
    ),
    (
        "bce_logits",
        lambda x: F.binary_cross_entropy_with_logits(x, zg.tensor(Y01, dtype=x.dtype)),
        lambda x: TF.binary_cross_entropy_with_logits(x, torch.tensor(Y01, dtype=x.dtype)),
        [(3, 4)],
        "any",
    ),
    (
        "bce_logits_pw",
        lambda x: F.binary_cross_entropy_with_logits(
            x, zg.tensor(Y01, dtype=x.dtype), pos_weight=zg.tensor(W5[:4], dtype=x.dtype)
        ),
        lambda x: TF.binary_cross_entropy_with_logits(
            x, torch.tensor(Y01, dtype=x.dtype), pos_weight=torch.tensor(W5[:4], dtype=x.dtype)
        ),
        [(3, 4)],
        "any",
    ),
    (
        "ce",
        lambda x: F.cross_entropy(x, zg.tensor(IDX)),
        lambda x: TF.cross_entropy(x, torch.tensor(IDX)),
        [(6, 5)],
        "any",
    ),
    (
        "ce_weight_ignore",
        lambda x: F.cross_entropy(x, zg.tensor(IDX_IGN), weight=zg.tensor(W5, dtype=x.dtype)),
        lambda x: TF.cross_entropy(
            x, torch.tensor(IDX_IGN), weight=torch.tensor(W5, dtype=x.dtype)
        ),
        [(6, 5)],
        "any",
    ),
    (
        "ce_smooth",
        lambda x: F.cross_entropy(x, zg.tensor(IDX), label_smoothing=0.2, reduction="sum"),
        lambda x: TF.cross_entropy(x, torch.tensor(IDX), label_smoothing=0.2, reduction="sum"),
        [(6, 5)],
        "any",
    ),
    (
        "ce_spatial_none",
        lambda x: F.cross_entropy(x, zg.tensor(IDX2D), reduction="none"),
        lambda x: TF.cross_entropy(x, torch.tensor(IDX2D), reduction="none"),
        [(2, 5, 3, 4)],
        "any",
    ),
    (
        "ce_probs",
        lambda x: F.cross_entropy(x, zg.tensor(PROBS, dtype=x.dtype), label_smoothing=0.1),
        lambda x: TF.cross_entropy(x, torch.tensor(PROBS, dtype=x.dtype), label_smoothing=0.1),
        [(6, 5)],
        "any",
    ),
    (
        "nll",
        lambda x: F.nll_loss(
            F.log_softmax(x), zg.tensor(IDX_IGN), weight=zg.tensor(W5, dtype=x.dtype)
        ),
        lambda x: TF.nll_loss(
            TF.log_softmax(x, -1), torch.tensor(IDX_IGN), weight=torch.tensor(W5, dtype=x.dtype)
        ),
        [(6, 5)],
        "any",
    ),
    (
        "kl_div",
        lambda x: F.kl_div(
            F.log_softmax(x), zg.tensor(PROBS, dtype=x.dtype), reduction="batchmean"
        ),
        lambda x: TF.kl_div(
            TF.log_softmax(x, -1), torch.tensor(PROBS, dtype=x.dtype), reduction="batchmean"
        ),
        [(6, 5)],
        "any",
    ),
    (
        "kl_div_log",
        lambda x, t: F.kl_div(x, t, log_target=True),
        lambda x, t: TF.kl_div(x, t, log_target=True),
        [(6, 5), (6, 5)],
        "any",
    ),
    (
        "cosine",
        lambda a, b: F.cosine_similarity(a, b),
        lambda a, b: TF.cosine_similarity(a, b),
        [(3, 4), (3, 4)],
        "any",
    ),
    (
        "embedding",
        lambda w: F.embedding(zg.tensor(IDX2D), w),
        lambda w: TF.embedding(torch.tensor(IDX2D), w),
        [(5, 3)],
        "any",
    ),
    (
        "embedding_pad",
        lambda w: F.embedding(zg.tensor(IDX2D), w, padding_idx=1),
        lambda w: TF.embedding(torch.tensor(IDX2D), w, padding_idx=1),
        [(5, 3)],
        "any",
    ),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_functional_vs_torch(row, dtype):
    _, zf, tf, shapes, domain = row
    check_against_torch(zf, tf, make_inputs(shapes, domain), dtype=dtype)


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_functional_gradcheck(row):
    _, zf, _, shapes, domain = row
    if row[0] == "embedding_pad":
        pytest.skip(
            "the padding row gets no gradient by definition (as PyTorch), unlike the numeric one"
        )
    xs = [zg.tensor(a, requires_grad=True) for a in make_inputs(shapes, domain)]
    assert zg.utils.gradcheck(zf, *xs)


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_functional_second_order_vs_torch(row):
    # every derivative is written once, so the functional ops are twice differentiable too
    _, zf, tf, shapes, domain = row
    check_second_order(zf, tf, make_inputs(shapes, domain))


def test_softmax_and_cross_entropy_are_stable_at_huge_logits():
    x = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4]], dtype=np.float32)
    for zf, tf in [
        (lambda t: F.softmax(t), lambda t: TF.softmax(t, -1)),
        (lambda t: F.log_softmax(t), lambda t: TF.log_softmax(t, -1)),
        (
            lambda t: F.cross_entropy(t, zg.tensor([2, 0])),
            lambda t: TF.cross_entropy(t, torch.tensor([2, 0])),
        ),
    ]:
        z = check_against_torch(zf, tf, [x], dtype=np.float32)
        assert np.isfinite(z.numpy()).all()


def test_dropout_scales_and_masks():
    zg.manual_seed(0)
    x = zg.ones(1000, requires_grad=True)
    y = F.dropout(x, 0.3)
    kept = y.numpy() != 0
    assert 0.6 < kept.mean() < 0.8
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.7, rtol=1e-6)
    assert F.dropout(x, 0.3, training=False) is x


def test_one_hot_matches_torch():
    t = np.array([0, 2, 1, 2])
    np.testing.assert_array_equal(
        F.one_hot(zg.tensor(t)).numpy(), TF.one_hot(torch.tensor(t)).numpy()
    )
    assert F.one_hot(zg.tensor(t), 5).shape == (4, 5)


def test_loss_bad_input():
    with pytest.raises(
        ValueError,
        match=r"mse_loss: expected target of the input's shape \(3, 4\), received shape \(4,\)",
    ):
        F.mse_loss(zg.ones(3, 4), zg.ones(4))
    with pytest.raises(ValueError, match="cross_entropy: class indices must be in"):
        F.cross_entropy(zg.ones(2, 3), zg.tensor([0, 3]))
    with pytest.raises(
        ValueError, match=r"cross_entropy: expected class-index target of shape \(2,\)"
    ):
        F.cross_entropy(zg.ones(2, 3), zg.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(zg.ones(2), zg.ones(2), reduction="avg")


CONV_ROWS = [
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b), TF.conv2d, [(2, 3, 5, 6), (4, 3, 3, 2), (4,)]),
    (
        "conv2d_stride_pad",
        lambda x, w: F.conv2d(x, w, stride=2, padding=1),
        lambda x, w: TF.conv2d(x, w, stride=2, padding=1),
        [(2, 3, 5, 6), (4, 3, 3, 3)],
    ),
    (
        "conv2d_same_dil",
        lambda x, w: F.conv2d(x, w, padding="same", dilation=2),
        lambda x, w: TF.conv2d(x, w, padding="same", dilation=2),
        [(1, 2, 6, 6), (3, 2, 3, 2)],
    ),
    (
        "conv2d_groups",
        lambda x, w, b: F.conv2d(x, w, b, groups=2, stride=(1, 2)),
        lambda x, w, b: TF.conv2d(x, w, b, groups=2, stride=(1, 2)),
        [(2, 4, 5, 5), (6, 2, 2, 3), (6,)],
    ),
    (
        "conv2d_depthwise",
        lambda x, w: F.conv2d(x, w, groups=3, padding=1),
        lambda x, w: TF.conv2d(x, w, groups=3, padding=1),
        [(2, 3, 4, 4), (3, 1, 3, 3)],
    ),
    (
        "conv1d",
        lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1),
        lambda x, w, b: TF.conv1d(x, w, b, stride=2, padding=1),
        [(2, 3, 9), (4, 3, 3), (4,)],
    ),
    (
        "conv1d_same",
        lambda x, w: F.conv1d(x, w, padding="same"),
        lambda x, w: TF.conv1d(x, w, padding="same"),
        [(2, 3, 7), (2, 3, 4)],
    ),
    (
        "conv_transpose2d",
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        [(2, 3, 4, 3), (3, 2, 3, 3), (2,)],
    ),
    (
        "conv_transpose2d_dil",
        lambda x, w: F.conv_transpose2d(x, w, dilation=2),
        lambda x, w: TF.conv_transpose2d(x, w, dilation=2),
        [(1, 2, 3, 3), (2, 3, 2, 2)],
    ),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [(2, 3, 6, 5)]),
    (
        "max_pool2d_pad",
        lambda x: F.max_pool2d(x, 3, 2, padding=1),
        lambda x: TF.max_pool2d(x, 3, 2, padding=1),
        [(2, 2, 7, 6)],
    ),
    (
        "max_pool2d_ceil",
        lambda x: F.max_pool2d(x, 2, ceil_mode=True),
        lambda x: TF.max_pool2d(x, 2, ceil_mode=True),
        [(1, 2, 5, 5)],
    ),
    (
        "max_pool2d_dil",
        lambda x: F.max_pool2d(x, 2, 1, dilation=2),
        lambda x: TF.max_pool2d(x, 2, 1, dilation=2),
        [(1, 2, 5, 5)],
    ),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2), [(2, 3, 6, 5)]),
    (
        "avg_pool2d_pad",
        lambda x: F.avg_pool2d(x, 3, 2, padding=1),
        lambda x: TF.avg_pool2d(x, 3, 2, padding=1),
        [(2, 2, 7, 6)],
    ),
    (
        "avg_pool2d_nopad_count",
        lambda x: F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False),
        lambda x: TF.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False),
        [(2, 2, 7, 6)],
    ),
    (
        "avg_pool2d_ceil",
        lambda x: F.avg_pool2d(x, 2, ceil_mode=True),
        lambda x: TF.avg_pool2d(x, 2, ceil_mode=True),
        [(1, 2, 5, 5)],
    ),
    (
        "adaptive_avg",
        lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
        lambda x: TF.adaptive_avg_pool2d(x, (2, 3)),
        [(2, 3, 5, 7)],
    ),
    (
        "adaptive_avg_1",
        lambda x: F.adaptive_avg_pool2d(x, 1),
        lambda x: TF.adaptive_avg_pool2d(x, 1),
        [(2, 3, 4, 4)],
    ),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("row", CONV_ROWS, ids=[r[0] for r in CONV_ROWS])
def test_conv_pool_vs_torch(row, dtype):
    _, zf, tf, shapes = row
    check_against_torch(zf, tf, make_inputs(shapes, "any"), dtype=dtype)


@pytest.mark.parametrize("row", CONV_ROWS, ids=[r[0] for r in CONV_ROWS])
def test_conv_pool_gradcheck(row):
    _, zf, _, shapes = row
    xs = [zg.tensor(a, requires_grad=True) for a in make_inputs(shapes, "any")]
    assert zg.utils.gradcheck(zf, *xs)


def test_conv_bad_input():
    with pytest.raises(
        ValueError,
        match=r"conv2d: expected input with 3 channels for weight of shape \(4, 3, 3, 3\)",
    ):
        F.conv2d(zg.ones(1, 2, 5, 5), zg.ones(4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: expected input of shape \(N, C, H, W\)"):
        F.conv2d(zg.ones(2, 5, 5), zg.ones(4, 2, 3, 3))
    with pytest.raises(ValueError, match="larger than"):
        F.conv2d(zg.ones(1, 1, 2, 2), zg.ones(1, 1, 3, 3))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_smoothing_weights_ignore_together(dtype):
    x = rng.standard_normal((6, 5))
    check_against_torch(
        lambda t: F.cross_entropy(
            t, zg.tensor(IDX_IGN), weight=W5.astype(dtype), label_smoothing=0.15
        ),
        lambda t: TF.cross_entropy(
            t, torch.tensor(IDX_IGN), weight=torch.tensor(W5, dtype=t.dtype), label_smoothing=0.15
        ),
        [x],
        dtype,
    )


def test_cross_entropy_double_backward_against_torch():
    x = rng.standard_normal((6, 5))
    zx, tx = zg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (zgx,) = zg.autograd.grad(
        F.cross_entropy(zx, IDX, label_smoothing=0.1), [zx], create_graph=True
    )
    (tgx,) = torch.autograd.grad(
        TF.cross_entropy(tx, torch.tensor(IDX), label_smoothing=0.1), [tx], create_graph=True
    )
    (zgx**2).sum().backward()
    (tgx**2).sum().backward()
    np.testing.assert_allclose(zx.grad.numpy(), tx.grad.numpy(), atol=1e-10)


SECOND_ORDER_CONV_ROWS = [r for r in CONV_ROWS if not r[0].startswith("conv_transpose")]


@pytest.mark.parametrize("row", SECOND_ORDER_CONV_ROWS, ids=[r[0] for r in SECOND_ORDER_CONV_ROWS])
def test_conv_pool_second_order_vs_torch(row):
    # convolutions and pooling are differentiable twice: their gradients are ops too
    _, zf, tf, shapes = row
    check_second_order(zf, tf, make_inputs(shapes, "any"))


def test_conv_transpose_double_backward_is_a_clear_error():
    x = zg.randn(1, 2, 3, 3, requires_grad=True)
    w = zg.randn(2, 2, 3, 3, requires_grad=True)
    with pytest.raises(zg.autograd.GraphError, match="ConvTranspose2d: its backward is not"):
        zg.autograd.grad(F.conv_transpose2d(x, w).sum(), [x], create_graph=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "zf, tf",
    [
        (F.gelu, TF.gelu),
        (lambda t: F.gelu(t, approximate="tanh"), lambda t: TF.gelu(t, approximate="tanh")),
        (zg.erf, torch.erf),
    ],
    ids=["gelu", "gelu_tanh", "erf"],
)
def test_gelu_and_erf_of_a_0d_tensor(zf, tf, dtype):
    # 0-d arithmetic gives NumPy scalars: the in-place passes must still work (float32 crashed)
    check_against_torch(zf, tf, [np.array(0.7)], dtype=dtype)


@pytest.mark.parametrize("affine", ["weight", "bias"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_with_only_a_weight_or_only_a_bias(affine, dtype):
    # the op's inputs are (x, weight, bias) less the missing ones: a lone bias is not a weight
    rng = np.random.default_rng(0)
    x, p = rng.standard_normal((3, 5)), rng.standard_normal(5)
    kw = lambda p: {affine: p}  # noqa: E731
    check_against_torch(
        lambda x, p: F.layer_norm(x, 5, **kw(p)),
        lambda x, p: TF.layer_norm(x, (5,), **kw(p)),
        [x, p],
        dtype=dtype,
    )
