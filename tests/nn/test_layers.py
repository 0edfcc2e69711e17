"""Layers vs their PyTorch twins with the same weights: outputs, input and parameter gradients,
float64 and float32, train and eval."""

import numpy as np
import pytest
import torch

import zerograd as zg
import zerograd.nn as nn
from tests.helpers import tol


def copy_weights(zm: nn.Module, tm: torch.nn.Module) -> None:
    zm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})


def compare_layer(zm, tm, x, dtype, train=True, int_input=False):
    """Same weights, same input: compare outputs, the input gradient and every parameter gradient."""
    tm = tm.to(torch.float64 if dtype == np.float64 else torch.float32)
    zm.to(dtype=dtype)
    copy_weights(zm, tm)
    zm.train(train)
    tm.train(train)
    t = tol(dtype)
    if int_input:
        zx, tx = zg.tensor(x), torch.from_numpy(x)
    else:
        x = x.astype(dtype)
        zx, tx = zg.tensor(x, requires_grad=True), torch.from_numpy(x.copy()).requires_grad_()
    zy, ty = zm(zx), tm(tx)
    zy = zy[0] if isinstance(zy, tuple) else zy
    ty = ty[0] if isinstance(ty, tuple) else ty
    np.testing.assert_allclose(zy.numpy(), ty.detach().numpy(), **t, err_msg="output")
    w = np.random.default_rng(3).standard_normal(ty.shape).astype(dtype)
    (zy * zg.tensor(w)).sum().backward()
    (ty * torch.from_numpy(w)).sum().backward()
    if not int_input:
        np.testing.assert_allclose(zx.grad.numpy(), tx.grad.numpy(), **t, err_msg="input gradient")
    zp = dict(zm.named_parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(
            zp[name].grad.numpy(), p.grad.numpy(), **t, err_msg=f"gradient of {name}"
        )
    zs = zm.state_dict()
    for name, b in tm.named_buffers():  # running statistics after the step
        np.testing.assert_allclose(zs[name].numpy(), b.numpy(), **t, err_msg=f"buffer {name}")
    return zy


X = np.random.default_rng(0).standard_normal
LAYERS = [
    ("linear", lambda: nn.Linear(4, 3), lambda: torch.nn.Linear(4, 3), (2, 5, 4)),
    (
        "linear_nobias",
        lambda: nn.Linear(4, 3, bias=False),
        lambda: torch.nn.Linear(4, 3, bias=False),
        (2, 4),
    ),
    ("layernorm", lambda: nn.LayerNorm(4), lambda: torch.nn.LayerNorm(4), (2, 3, 4)),
    (
        "layernorm_nobias",
        lambda: nn.LayerNorm((3, 4), bias=False),
        lambda: torch.nn.LayerNorm((3, 4), bias=False),
        (2, 3, 4),
    ),
    ("rmsnorm", lambda: nn.RMSNorm(4), lambda: torch.nn.RMSNorm(4), (2, 3, 4)),
    ("groupnorm", lambda: nn.GroupNorm(2, 4), lambda: torch.nn.GroupNorm(2, 4), (2, 4, 3, 3)),
    ("batchnorm1d", lambda: nn.BatchNorm1d(3), lambda: torch.nn.BatchNorm1d(3), (6, 3)),
    ("batchnorm1d_seq", lambda: nn.BatchNorm1d(3), lambda: torch.nn.BatchNorm1d(3), (4, 3, 5)),
    (
        "batchnorm2d",
        lambda: nn.BatchNorm2d(3, momentum=0.3),
        lambda: torch.nn.BatchNorm2d(3, momentum=0.3),
        (4, 3, 2, 3),
    ),
    (
        "batchnorm2d_noaffine",
        lambda: nn.BatchNorm2d(3, affine=False),
        lambda: torch.nn.BatchNorm2d(3, affine=False),
        (4, 3, 2, 3),
    ),
    ("relu", nn.ReLU, torch.nn.ReLU, (3, 4)),
    ("leaky", lambda: nn.LeakyReLU(0.1), lambda: torch.nn.LeakyReLU(0.1), (3, 4)),
    ("elu", nn.ELU, torch.nn.ELU, (3, 4)),
    ("gelu", nn.GELU, torch.nn.GELU, (3, 4)),
    ("gelu_tanh", lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh"), (3, 4)),
    ("silu", nn.SiLU, torch.nn.SiLU, (3, 4)),
    ("sigmoid", nn.Sigmoid, torch.nn.Sigmoid, (3, 4)),
    ("tanh", nn.Tanh, torch.nn.Tanh, (3, 4)),
    ("softmax", lambda: nn.Softmax(axis=1), lambda: torch.nn.Softmax(dim=1), (3, 4)),
    ("logsoftmax", lambda: nn.LogSoftmax(axis=-1), lambda: torch.nn.LogSoftmax(dim=-1), (3, 4)),
    ("flatten", nn.Flatten, torch.nn.Flatten, (2, 3, 4)),
    (
        "conv2d",
        lambda: nn.Conv2d(3, 4, 3, padding=1),
        lambda: torch.nn.Conv2d(3, 4, 3, padding=1),
        (2, 3, 5, 5),
    ),
    (
        "conv2d_groups",
        lambda: nn.Conv2d(4, 6, (2, 3), stride=2, groups=2, bias=False),
        lambda: torch.nn.Conv2d(4, 6, (2, 3), stride=2, groups=2, bias=False),
        (2, 4, 6, 7),
    ),
    (
        "conv1d",
        lambda: nn.Conv1d(3, 4, 3, padding="same"),
        lambda: torch.nn.Conv1d(3, 4, 3, padding="same"),
        (2, 3, 8),
    ),
    (
        "convtranspose2d",
        lambda: nn.ConvTranspose2d(3, 2, 3, stride=2),
        lambda: torch.nn.ConvTranspose2d(3, 2, 3, stride=2),
        (2, 3, 4, 4),
    ),
    ("maxpool", lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), (2, 3, 6, 6)),
    ("avgpool", lambda: nn.AvgPool2d(3, 2, 1), lambda: torch.nn.AvgPool2d(3, 2, 1), (2, 3, 6, 6)),
    (
        "adaptiveavg",
        lambda: nn.AdaptiveAvgPool2d((1, 1)),
        lambda: torch.nn.AdaptiveAvgPool2d((1, 1)),
        (2, 3, 5, 5),
    ),
    (
        "cnn",
        lambda: nn.Sequential(
            nn.Conv2d(1, 4, 3),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(36, 3),
        ),
        lambda: torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3),
            torch.nn.BatchNorm2d(4),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(36, 3),
        ),
        (3, 1, 8, 8),
    ),
    (
        "sequential",
        lambda: nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)),
        lambda: torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)),
        (5, 4),
    ),
]


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("row", LAYERS, ids=[r[0] for r in LAYERS])
def test_layer_vs_torch(row, dtype, train):
    _, zf, tf, shape = row
    compare_layer(zf(), tf(), X(shape), dtype, train)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_embedding_vs_torch(dtype):
    idx = np.array([[0, 3, 3], [1, 0, 4]])
    compare_layer(
        nn.Embedding(5, 3, padding_idx=0),
        torch.nn.Embedding(5, 3, padding_idx=0),
        idx,
        dtype,
        int_input=True,
    )


def test_batchnorm_eval_uses_running_stats_after_training():
    zm, tm = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3).double()
    zm.double()
    copy_weights(zm, tm)
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal((4, 3, 2, 2)) * 2 + 1
        zm(zg.tensor(x))
        tm(torch.from_numpy(x))
    zm.eval()
    tm.eval()
    x = X((2, 3, 2, 2))
    np.testing.assert_allclose(
        zm(zg.tensor(x)).numpy(), tm(torch.from_numpy(x)).detach().numpy(), atol=1e-10
    )
    assert zm.num_batches_tracked.item() == 3


def test_dropout_module_train_and_eval():
    d = nn.Dropout(0.5)
    x = zg.ones(100)
    assert (d(x).numpy() == 0).any()
    d.eval()
    assert d(x) is x


def test_default_initialisations_match_torch_ranges():
    zg.manual_seed(0)
    lin = nn.Linear(400, 50)
    bound = 1 / np.sqrt(400)
    assert (
        np.abs(lin.weight.numpy()).max() <= bound and np.abs(lin.weight.numpy()).max() > 0.9 * bound
    )
    assert np.abs(lin.bias.numpy()).max() <= bound
    emb = nn.Embedding(1000, 20, padding_idx=3)
    assert abs(emb.weight.numpy().std() - 1) < 0.05 and not emb.weight.numpy()[3].any()
    assert (nn.LayerNorm(5).weight.numpy() == 1).all()


LOSSES = [
    ("mse", nn.MSELoss(), torch.nn.MSELoss(), "float"),
    ("l1", nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum"), "float"),
    ("smoothl1", nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5), "float"),
    ("huber", nn.HuberLoss(delta=2.0), torch.nn.HuberLoss(delta=2.0), "float"),
    (
        "ce",
        nn.CrossEntropyLoss(label_smoothing=0.1),
        torch.nn.CrossEntropyLoss(label_smoothing=0.1),
        "index",
    ),
    ("nll", nn.NLLLoss(), torch.nn.NLLLoss(), "index"),
    ("bcelogits", nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), "binary"),
    (
        "kldiv",
        nn.KLDivLoss(reduction="batchmean", log_target=True),
        torch.nn.KLDivLoss(reduction="batchmean", log_target=True),
        "float",
    ),
]


@pytest.mark.parametrize("row", LOSSES, ids=[r[0] for r in LOSSES])
def test_loss_modules_vs_torch(row):
    _, zl, tl, kind = row
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    y = {
        "float": rng.standard_normal((4, 3)),
        "index": rng.integers(0, 3, 4),
        "binary": rng.integers(0, 2, (4, 3)).astype(float),
    }[kind]
    zx, tx = zg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    zv, tv = zl(zx, zg.tensor(y)), tl(tx, torch.tensor(y))
    np.testing.assert_allclose(zv.numpy(), tv.detach().numpy(), atol=1e-10)
    zv.backward()
    tv.backward()
    np.testing.assert_allclose(zx.grad.numpy(), tx.grad.numpy(), atol=1e-10)


def test_layers_name_themselves_in_shape_errors():
    with pytest.raises(
        ValueError, match=r"Linear expected input with last axis 784, received shape \(32, 28, 28\)"
    ):
        nn.Linear(784, 10)(zg.ones(32, 28, 28))
    with pytest.raises(
        ValueError,
        match=r"BatchNorm2d expected input of shape \(N, 16, H, W\), received shape \(8, 3, 32, 32\)",
    ):
        nn.BatchNorm2d(16)(zg.ones(8, 3, 32, 32))
    with pytest.raises(
        ValueError,
        match=r"LayerNorm expected input with trailing shape \(5,\), received shape \(2, 4\)",
    ):
        nn.LayerNorm(5)(zg.ones(2, 4))
    with pytest.raises(ValueError, match=r"GroupNorm expected input of shape \(N, 6, \.\.\.\)"):
        nn.GroupNorm(2, 6)(zg.ones(2, 4, 3))
    with pytest.raises(ValueError, match=r"embedding: indices must be in \[0, 5\)"):
        nn.Embedding(5, 2)(zg.tensor([5]))
    with pytest.raises(
        ValueError,
        match=r"Conv2d expected input of shape \(N, 3, H, W\), received shape \(2, 1, 5, 5\)",
    ):
        nn.Conv2d(3, 4, 3)(zg.ones(2, 1, 5, 5))
    with pytest.raises(TypeError, match="embedding: expected integer indices"):
        nn.Embedding(5, 2)(zg.ones(2))


def test_linear_with_no_input_features_matches_torch():
    """Linear(0, 3): the initialiser has nothing to draw (a no-op, with PyTorch's warning) and the
    output is the bias, its gradient counted per row, as PyTorch."""
    with pytest.warns(UserWarning, match="zero-element"):
        layer = nn.Linear(0, 3)
    x = zg.randn(2, 0, requires_grad=True)
    y = layer(x)
    y.sum().backward()
    with pytest.warns(UserWarning, match="zero-element"):
        ref = torch.nn.Linear(0, 3)
    with torch.no_grad():
        ref.bias.copy_(torch.from_numpy(layer.bias.numpy()))
    tx = torch.randn(2, 0, requires_grad=True)
    ty = ref(tx)
    ty.sum().backward()
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(layer.bias.grad.numpy(), ref.bias.grad.numpy())
    assert layer.weight.grad.shape == (3, 0) and x.grad.shape == (2, 0)
