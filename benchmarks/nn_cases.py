"""Layer and training-step cases."""

import numpy as np
import torch

import zerograd as zg
from benchmarks import case


def _mlp_data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((128, 784)).astype(np.float32), rng.integers(0, 10, 128)


def _torch_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(784, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )


@case("mlp_train")
def mlp_train():
    """784-256-128-10 MLP, batch 128, one Adam step with softmax cross-entropy."""
    x, y = _mlp_data()
    tm = _torch_mlp()
    zm = zg.nn.Sequential(
        zg.nn.Linear(784, 256),
        zg.nn.ReLU(),
        zg.nn.Linear(256, 128),
        zg.nn.ReLU(),
        zg.nn.Linear(128, 10),
    )
    _pair_layers(zm, tm)
    zopt = zg.optim.Adam(zm.parameters(), lr=1e-3)
    topt = torch.optim.Adam(tm.parameters(), lr=1e-3)
    zx, tx, ty = zg.tensor(x), torch.from_numpy(x), torch.from_numpy(y)

    def zg_step():
        loss = zg.nn.functional.cross_entropy(zm(zx), y)
        zopt.zero_grad()
        loss.backward()
        zopt.step()

    def torch_step():
        loss = torch.nn.functional.cross_entropy(tm(tx), ty)
        topt.zero_grad()
        loss.backward()
        topt.step()

    return zg_step, torch_step


def _pair_layers(zm, tm):
    zm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})


def _conv_case(zm, tm, shape):
    _pair_layers(zm, tm)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    zx, tx = zg.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()

    def zg_step():
        zx.grad = None
        zm(zx).sum().backward()

    def torch_step():
        tx.grad = None
        tm(tx).sum().backward()

    return zg_step, torch_step


@case("conv2d")
def conv2d():
    """Conv2d forward and backward: batch 64, 32 -> 64 channels, 3x3, 14x14."""
    zm, tm = zg.nn.Conv2d(32, 64, 3, padding=1), torch.nn.Conv2d(32, 64, 3, padding=1)
    return _conv_case(zm, tm, (64, 32, 14, 14))


@case("conv2d_1x1")
def conv2d_1x1():
    """Conv2d 1x1 forward and backward: batch 64, 64 -> 128 channels, 14x14."""
    zm, tm = zg.nn.Conv2d(64, 128, 1), torch.nn.Conv2d(64, 128, 1)
    return _conv_case(zm, tm, (64, 64, 14, 14))


@case("conv2d_depthwise")
def conv2d_depthwise():
    """Depthwise Conv2d forward and backward: batch 64, 64 channels, 3x3, 28x28, groups 64."""
    zm = zg.nn.Conv2d(64, 64, 3, padding=1, groups=64)
    tm = torch.nn.Conv2d(64, 64, 3, padding=1, groups=64)
    return _conv_case(zm, tm, (64, 64, 28, 28))


@case("lstm")
def lstm():
    """LSTM forward and backward: batch 32, 64 steps, 256 inputs and units."""
    x = np.random.default_rng(0).standard_normal((64, 32, 256)).astype(np.float32)
    zm, tm = zg.nn.LSTM(256, 256), torch.nn.LSTM(256, 256)
    _pair_layers(zm, tm)
    zx, tx = zg.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()

    def zg_step():
        zx.grad = None
        zm(zx)[0].sum().backward()

    def torch_step():
        tx.grad = None
        tm(tx)[0].sum().backward()

    return zg_step, torch_step


@case("cnn_train")
def cnn_train():
    """One Adam step of the demo CNN (zerograd.keras, channels last) vs the same net in PyTorch, batch 64."""
    from zerograd import keras
    from zerograd.apps.train import build_cnn

    rng = np.random.default_rng(0)
    x = rng.random((64, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    model = build_cnn(batch_norm=False)  # the plain CNN: the same net as the PyTorch twin below
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Dropout(0.3),
        torch.nn.Linear(64 * 7 * 7, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    tx, ty = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y)

    def zg_step():
        model.train_on_batch(x, y)

    def torch_step():
        loss = torch.nn.functional.cross_entropy(net(tx), ty)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return zg_step, torch_step


@case("lstm_train")
def lstm_train():
    """One Adam step of an LSTM (batch 32, 64 steps, 256 units) with a linear read-out."""
    x = np.random.default_rng(0).standard_normal((64, 32, 256)).astype(np.float32)
    zm, tm = zg.nn.LSTM(256, 256), torch.nn.LSTM(256, 256)
    _pair_layers(zm, tm)
    zh, th = zg.nn.Linear(256, 1), torch.nn.Linear(256, 1)
    _pair_layers(zh, th)
    zopt = zg.optim.Adam(list(zm.parameters()) + list(zh.parameters()))
    topt = torch.optim.Adam(list(tm.parameters()) + list(th.parameters()))
    zx, tx = zg.tensor(x), torch.from_numpy(x)

    def zg_step():
        loss = (zh(zm(zx)[0]) ** 2).mean()
        zopt.zero_grad()
        loss.backward()
        zopt.step()

    def torch_step():
        loss = (th(tm(tx)[0]) ** 2).mean()
        topt.zero_grad()
        loss.backward()
        topt.step()

    return zg_step, torch_step
