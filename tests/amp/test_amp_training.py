"""A small MLP trained 20 steps under autocast float16 with a GradScaler, against the same loop
in PyTorch (torch.autocast('cpu', float16) + torch.amp.GradScaler('cpu'))."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zerograd as zg
import zerograd.nn.functional as F


def _data(steps: int, batch: int = 16, poisoned: int | None = None):
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((steps, batch, 10)).astype(np.float32)
    ys = (xs @ rng.standard_normal((10, 4)).astype(np.float32)).argmax(-1)  # a linear teacher
    if poisoned is not None:
        xs[poisoned, 0, 0] = 7e4  # overflows float16 in the first matmul: inf gradients
    return xs, ys


def _models():
    zm = zg.nn.Sequential(zg.nn.Linear(10, 32), zg.nn.ReLU(), zg.nn.Linear(32, 4))
    tm = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    with torch.no_grad():
        for zp, tp in zip(zm.parameters(), tm.parameters()):
            tp.copy_(torch.from_numpy(zp.numpy()))
    return zm, tm


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # float16 overflows: what the scaler is for
@pytest.mark.parametrize("optimizer", ["SGD", "AdamW"])
@pytest.mark.parametrize("poisoned", [None, 5])
def test_mlp_under_autocast_and_grad_scaler_matches_torch(optimizer, poisoned):
    steps = 20
    xs, ys = _data(steps, poisoned=poisoned)
    zm, tm = _models()
    kw = dict(lr=0.05, momentum=0.9) if optimizer == "SGD" else dict(lr=1e-2, weight_decay=0.01)
    zo = getattr(zg.optim, optimizer)(zm.parameters(), **kw)
    to = getattr(torch.optim, optimizer)(tm.parameters(), **kw)
    zs = zg.amp.GradScaler("cpu", growth_interval=4)
    ts = torch.amp.GradScaler("cpu", growth_interval=4)
    z_losses, t_losses, z_scales, t_scales = [], [], [], []
    for x, y in zip(xs, ys):
        zo.zero_grad()
        with zg.autocast("cpu", dtype="float16"):
            logits = zm(zg.tensor(x))
            loss = F.cross_entropy(logits, y)
        assert logits.dtype == np.float16 and loss.dtype == np.float32
        zs.scale(loss).backward()
        assert all(p.grad.dtype == np.float32 for p in zm.parameters())
        zs.step(zo)
        zs.update()
        to.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            t_loss = torch.nn.functional.cross_entropy(tm(torch.from_numpy(x)), torch.from_numpy(y))
        ts.scale(t_loss).backward()
        ts.step(to)
        ts.update()
        z_losses.append(float(loss.item()))
        t_losses.append(float(t_loss.item()))
        z_scales.append(zs.get_scale())
        t_scales.append(ts.get_scale())
    assert z_scales == t_scales  # the same skipped steps and the same growth
    if poisoned is not None:
        assert not np.isfinite(z_losses[poisoned]) or z_scales[poisoned] < z_scales[poisoned - 1]
    good = [i for i in range(steps) if np.isfinite(t_losses[i])]
    np.testing.assert_allclose(
        np.array(z_losses)[good], np.array(t_losses)[good], rtol=2e-2, atol=2e-2
    )
    assert z_losses[-1] < z_losses[0]  # it learns
    # Adam's step is ~lr whatever the gradient's size, so a near-zero gradient that rounds
    # differently in float16 moves a weight by ~lr the other way: a looser bound there
    atol = 2e-2 if optimizer == "SGD" else 0.1
    for zp, tp in zip(zm.parameters(), tm.parameters()):
        assert zp.dtype == np.float32
        np.testing.assert_allclose(zp.numpy(), tp.detach().numpy(), atol=atol, rtol=2e-2)
