"""Learning-rate schedules: the lr sequence equals PyTorch's."""

import math

import numpy as np
import pytest
import torch

import zerograd as zg
import zerograd.nn as nn
from zerograd import optim
from zerograd.optim import lr_scheduler as zs

ts = torch.optim.lr_scheduler


def pair(opt="SGD", **kw):
    zp = [nn.Parameter(zg.ones(2)), nn.Parameter(zg.ones(3))]
    tp = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))]
    kw = kw or dict(lr=0.1, momentum=0.9)
    zopt = getattr(optim, opt)([{"params": [zp[0]]}, {"params": [zp[1]], "lr": 0.05}], **kw)
    topt = getattr(torch.optim, opt)([{"params": [tp[0]]}, {"params": [tp[1]], "lr": 0.05}], **kw)
    return zopt, topt


def sequence(opt, sched, steps=30, metric=None):
    out = []
    for i in range(steps):
        out.append(
            [g["lr"] for g in opt.param_groups]
            + [g.get("momentum", g.get("betas", (0,))[0]) for g in opt.param_groups]
        )
        opt.step()
        sched.step(metric[i]) if metric is not None else sched.step()
    return np.array(out)


CASES = [
    ("step", lambda o: zs.StepLR(o, 7, 0.5), lambda o: ts.StepLR(o, 7, 0.5)),
    (
        "multistep",
        lambda o: zs.MultiStepLR(o, [3, 10, 11], 0.3),
        lambda o: ts.MultiStepLR(o, [3, 10, 11], 0.3),
    ),
    ("exponential", lambda o: zs.ExponentialLR(o, 0.9), lambda o: ts.ExponentialLR(o, 0.9)),
    (
        "cosine",
        lambda o: zs.CosineAnnealingLR(o, 10, 0.001),
        lambda o: ts.CosineAnnealingLR(o, 10, 0.001),
    ),
    ("linear", lambda o: zs.LinearLR(o, 0.25, 0.9, 8), lambda o: ts.LinearLR(o, 0.25, 0.9, 8)),
    (
        "lambda",
        lambda o: zs.LambdaLR(o, lambda e: 1 / (1 + e)),
        lambda o: ts.LambdaLR(o, lambda e: 1 / (1 + e)),
    ),
    (
        "onecycle",
        lambda o: zs.OneCycleLR(o, 1.0, total_steps=31),
        lambda o: ts.OneCycleLR(o, 1.0, total_steps=31),
    ),
    (
        "onecycle_3phase_linear",
        lambda o: zs.OneCycleLR(
            o, [1.0, 0.5], epochs=4, steps_per_epoch=8, three_phase=True, anneal_strategy="linear"
        ),
        lambda o: ts.OneCycleLR(
            o, [1.0, 0.5], epochs=4, steps_per_epoch=8, three_phase=True, anneal_strategy="linear"
        ),
    ),
    (
        "sequential",
        lambda o: zs.SequentialLR(o, [zs.LinearLR(o, 0.1, 1.0, 5), zs.ExponentialLR(o, 0.9)], [5]),
        lambda o: ts.SequentialLR(o, [ts.LinearLR(o, 0.1, 1.0, 5), ts.ExponentialLR(o, 0.9)], [5]),
    ),
    (
        "sequential_cos",
        lambda o: zs.SequentialLR(
            o, [zs.LinearLR(o, 0.5, 1.0, 4), zs.CosineAnnealingLR(o, 20)], [4]
        ),
        lambda o: ts.SequentialLR(
            o, [ts.LinearLR(o, 0.5, 1.0, 4), ts.CosineAnnealingLR(o, 20)], [4]
        ),
    ),
]


@pytest.mark.parametrize("row", CASES, ids=[c[0] for c in CASES])
def test_schedule_matches_torch(row):
    _, zf, tf = row
    zopt, topt = pair()
    z, t = sequence(zopt, zf(zopt)), sequence(topt, tf(topt))
    np.testing.assert_allclose(z, t, rtol=1e-9, atol=1e-15)


def test_onecycle_cycles_adam_beta1():
    zopt, topt = pair("Adam", lr=0.01)
    z = sequence(zopt, zs.OneCycleLR(zopt, 0.1, total_steps=30))
    t = sequence(topt, ts.OneCycleLR(topt, 0.1, total_steps=30))
    np.testing.assert_allclose(z, t, rtol=1e-9)


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(mode="max", factor=0.5, patience=2, cooldown=1),
        dict(threshold_mode="abs", threshold=0.1, patience=1, min_lr=0.02),
    ],
)
def test_reduce_on_plateau_matches_torch(kw):
    metric = [1.0, 0.9, 0.95, 0.95, 0.96, 0.89, 0.9, 0.91, 0.92, 0.93] * 3
    zopt, topt = pair()
    z = sequence(zopt, zs.ReduceLROnPlateau(zopt, **kw), metric=metric)
    t = sequence(topt, ts.ReduceLROnPlateau(topt, **kw), metric=metric)
    np.testing.assert_allclose(z, t, rtol=1e-12)


def test_warmup_cosine_formula_and_agreement_with_sequential():
    zopt, _ = pair(lr=0.1)
    s = zs.WarmupCosineLR(zopt, warmup_steps=5, total_steps=25, min_lr=0.0)
    lrs = []
    for _ in range(30):
        lrs.append(zopt.param_groups[0]["lr"])
        s.step()
    expected = [
        0.1 * (e + 1) / 5
        if e < 5
        else (0.05 * (1 + math.cos(math.pi * (e - 5) / 20)) if e < 25 else 0.0)
        for e in range(30)
    ]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)
    # after warm-up it is the cosine schedule that PyTorch's SequentialLR hands over to
    _, topt = pair(lr=0.1)
    t = sequence(
        topt,
        ts.SequentialLR(
            topt, [ts.LinearLR(topt, 0.2, 1.0, 4), ts.CosineAnnealingLR(topt, 20)], [5]
        ),
        steps=25,
    )
    np.testing.assert_allclose(lrs[5:25], t[5:25, 0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lrs[:4], t[:4, 0], rtol=1e-12)


def test_get_last_lr_and_bad_input():
    zopt, _ = pair()
    s = zs.StepLR(zopt, 2)
    s.step()
    s.step()
    assert s.get_last_lr() == pytest.approx([0.01, 0.005])
    with pytest.raises(TypeError, match="expected an Optimizer"):
        zs.StepLR(object(), 2)
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        zs.ReduceLROnPlateau(zopt, factor=1.5)
