"""Optimizers vs PyTorch: the same network trained 20 steps from the same weights (float64)."""

import numpy as np
import pytest
import torch

import zerograd as zg
import zerograd.nn as nn
from zerograd import optim


def make_pair():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()
    zm = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    zm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    return zm, tm


def train(zm, tm, zopt, topt, steps=20, zsched=None, tsched=None):
    rng = np.random.default_rng(0)
    for _ in range(steps):
        x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
        zopt.zero_grad()
        topt.zero_grad()
        ((zm(zg.tensor(x)) - zg.tensor(y)) ** 2).mean().backward()
        ((tm(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean().backward()
        zopt.step()
        topt.step()
        if zsched:
            zsched.step()
            tsched.step()
    zp = dict(zm.named_parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(
            zp[name].numpy(), p.detach().numpy(), atol=1e-6, rtol=1e-6, err_msg=name
        )


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.05)),
]


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_optimizer_matches_torch(path, name, kw):
    zm, tm = make_pair()
    train(
        zm,
        tm,
        getattr(optim, name)(zm.parameters(), **kw),
        getattr(torch.optim, name)(tm.parameters(), **kw),
    )


def test_parameter_groups_match_torch():
    zm, tm = make_pair()
    zopt = optim.SGD(
        [{"params": zm[0].parameters()}, {"params": zm[2].parameters(), "lr": 0.01}],
        lr=0.1,
        momentum=0.9,
    )
    topt = torch.optim.SGD(
        [{"params": tm[0].parameters()}, {"params": tm[2].parameters(), "lr": 0.01}],
        lr=0.1,
        momentum=0.9,
    )
    train(zm, tm, zopt, topt)


def _lion_reference(params, grads_seq, lr, betas, wd):
    """Lion as published (Chen et al., 2023, Algorithm 2), written with torch tensors."""
    m = [torch.zeros_like(p) for p in params]
    for grads in grads_seq:
        for p, g, mi in zip(params, grads, m):
            c = betas[0] * mi + (1 - betas[0]) * g
            p.mul_(1 - lr * wd).sub_(lr * torch.sign(c))
            mi.mul_(betas[1]).add_((1 - betas[1]) * g)
    return params


def test_lion_matches_published_algorithm():
    rng = np.random.default_rng(0)
    p0 = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    grads = [[rng.standard_normal(p.shape) for p in p0] for _ in range(10)]
    zp = [nn.Parameter(zg.tensor(p)) for p in p0]
    opt = optim.Lion(zp, lr=0.01, betas=(0.9, 0.99), weight_decay=0.1)
    for gs in grads:
        for p, g in zip(zp, gs):
            p.grad = zg.tensor(g)
        opt.step()
    ref = _lion_reference(
        [torch.tensor(p) for p in p0],
        [[torch.tensor(g) for g in gs] for gs in grads],
        0.01,
        (0.9, 0.99),
        0.1,
    )
    for a, b in zip(zp, ref):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Lion"])
def test_state_dict_round_trip_continues_identically(name):
    kw = dict(lr=0.01, momentum=0.9) if name in ("SGD", "RMSprop") else dict(lr=0.01)
    zm, _ = make_pair()
    zm2, _ = make_pair()
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((8, 3)), rng.standard_normal((8, 2))) for _ in range(10)]

    def run(model, opt, bs):
        for x, y in bs:
            opt.zero_grad()
            ((model(zg.tensor(x)) - zg.tensor(y)) ** 2).mean().backward()
            opt.step()

    opt = getattr(optim, name)(zm.parameters(), **kw)
    run(zm, opt, batches)
    opt2 = getattr(optim, name)(zm2.parameters(), **kw)
    run(zm2, opt2, batches[:5])
    saved = opt2.state_dict()
    opt3 = getattr(optim, name)(zm2.parameters(), **kw)
    opt3.load_state_dict(saved)
    run(zm2, opt3, batches[5:])
    for a, b in zip(zm.parameters(), zm2.parameters()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adadelta", "Lion"])
def test_step_keeps_state_arrays_in_place(name):
    zm, _ = make_pair()
    opt = getattr(optim, name)(
        zm.parameters(), **(dict(lr=0.1, momentum=0.9) if name in ("SGD", "RMSprop") else {})
    )
    ids = None
    for _ in range(3):
        opt.zero_grad()
        zm(zg.ones(2, 3, dtype="float64")).sum().backward()
        datas = [id(p.data) for p in zm.parameters()]
        opt.step()
        assert datas == [id(p.data) for p in zm.parameters()], "parameters must be updated in place"
        now = [id(v) for st in opt.state.values() for v in st.values() if hasattr(v, "shape")]
        assert ids is None or now == ids
        ids = now
    assert ids


def test_optimizer_bad_input():
    p = nn.Parameter(zg.ones(2))
    with pytest.raises(
        ValueError, match=r"SGD: lr must be a finite number in \[0, inf\), received -1\.0"
    ):
        optim.SGD([p], lr=-1)
    with pytest.raises(
        ValueError, match=r"Adam: betas\[1\] must be a finite number in \[0, 1\), received 1.0"
    ):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Adam: received an empty parameter list"):
        optim.Adam([])
    with pytest.raises(
        TypeError, match="AdamW: expected parameters to be Tensors, received ndarray"
    ):
        optim.AdamW([np.ones(2)])


def test_clip_grad_norm_and_value_match_torch():
    zm, tm = make_pair()
    x = np.random.default_rng(0).standard_normal((8, 3))
    (zm(zg.tensor(x)) ** 2).sum().backward()
    (tm(torch.from_numpy(x)) ** 2).sum().backward()
    for norm_type in (2.0, 1.0, float("inf")):
        zn = nn.utils.clip_grad_norm_(zm.parameters(), 0.5, norm_type)
        tn = torch.nn.utils.clip_grad_norm_(tm.parameters(), 0.5, norm_type)
        np.testing.assert_allclose(zn.item(), tn.item(), rtol=1e-9)
        for a, b in zip(zm.parameters(), tm.parameters()):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9)
    nn.utils.clip_grad_value_(zm.parameters(), 0.01)
    torch.nn.utils.clip_grad_value_(tm.parameters(), 0.01)
    for a, b in zip(zm.parameters(), tm.parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9)


@pytest.mark.parametrize(
    "name,kw",
    [
        ("Adam", dict(lr=0.01, weight_decay=0.1)),
        ("AdamW", dict(lr=0.01)),
        ("AdamW", dict(lr=0.01, weight_decay=0.3, betas=(0.8, 0.95), eps=1e-6)),
        ("Adam", dict(lr=0.01, maximize=True)),
    ],
)
@pytest.mark.parametrize("threads", ["serial", "parallel"])
def test_adam_float32_in_place_path_matches_torch(path, monkeypatch, threads, name, kw):
    """The fused Adam step (numba; one thread, or all cores for large tensors) and the NumPy
    path, in float32, against PyTorch."""
    from zerograd import tuning

    monkeypatch.setattr(tuning, "ADAM_PARALLEL_MIN_SIZE", 0 if threads == "parallel" else 1 << 40)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((64, 32)).astype(np.float32)
    zp, tp = nn.Parameter(w.copy()), torch.nn.Parameter(torch.from_numpy(w.copy()))
    zo, to = getattr(optim, name)([zp], **kw), getattr(torch.optim, name)([tp], **kw)
    buffer = zp.data
    for _ in range(10):
        g = rng.standard_normal(w.shape).astype(np.float32)
        zp.grad, tp.grad = zg.tensor(g), torch.from_numpy(g.copy())
        zo.step()
        to.step()
    assert zp.data is buffer and zp.data.dtype == np.float32  # updated in place, no up-cast
    np.testing.assert_allclose(zp.numpy(), tp.detach().numpy(), atol=2e-6, rtol=1e-5)
