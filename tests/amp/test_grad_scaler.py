"""zg.amp.GradScaler against torch.amp.GradScaler('cpu'): the scale sequence, the skipped steps
on inf/NaN gradients, growth, state dicts, every optimizer, and misuse errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import backend


def _pair(shape=(3, 2), seed=0):
    w = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return zg.tensor(w, requires_grad=True), torch.from_numpy(w.copy()).requires_grad_(True)


def _grad(step: int, bad: dict, shape) -> np.ndarray:
    g = np.random.default_rng(100 + step).standard_normal(shape).astype(np.float32)
    if step in bad:
        g.flat[step % g.size] = bad[step]
    return g


def _iteration(scaler, opt, p, g, backward):
    """scale(loss).backward() with a loss whose gradient is ``g`` (times the scale)."""
    opt.zero_grad()
    backward(scaler.scale((p * g).sum()))
    out = scaler.step(opt)
    scaler.update()
    return out


@pytest.mark.parametrize("growth_interval", [1, 3])
def test_scale_sequence_and_skips_match_torch(growth_interval):
    bad = {2: np.inf, 3: np.nan, 7: -np.inf}
    kw = dict(init_scale=2.0**10, growth_factor=2.0, backoff_factor=0.25)
    zp, tp = _pair()
    zs = zg.amp.GradScaler("cpu", growth_interval=growth_interval, **kw)
    ts = torch.amp.GradScaler("cpu", growth_interval=growth_interval, **kw)
    zo = zg.optim.SGD([zp], lr=0.1, momentum=0.9)
    to = torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    for step in range(12):
        g = _grad(step, bad, zp.shape)
        before = zp.numpy().copy()
        _iteration(zs, zo, zp, zg.tensor(g), lambda loss: loss.backward())
        _iteration(ts, to, tp, torch.from_numpy(g), lambda loss: loss.backward())
        assert zs.get_scale() == ts.get_scale(), f"step {step}"
        assert zs.state_dict() == ts.state_dict(), f"step {step}"
        if step in bad:
            np.testing.assert_array_equal(zp.numpy(), before, err_msg=f"step {step} not skipped")
        np.testing.assert_allclose(zp.numpy(), tp.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_step_returns_none_when_skipped_and_the_optimizer_result_otherwise():
    p = zg.tensor([1.0, 2.0], requires_grad=True)
    opt = zg.optim.SGD([p], lr=0.5)
    scaler = zg.amp.GradScaler("cpu", init_scale=4.0)
    scaler.scale((p * zg.tensor([np.inf, 1.0])).sum()).backward()
    assert scaler.step(opt) is None
    np.testing.assert_array_equal(p.numpy(), [1.0, 2.0])
    scaler.update()
    assert scaler.get_scale() == 2.0
    opt.zero_grad()
    scaler.scale(p.sum()).backward()
    assert scaler.step(opt, lambda: "closure result") == "closure result"  # forwarded


def test_unscale_then_step_gives_true_gradients_as_torch():
    zp, tp = _pair((4,))
    zs, ts = zg.amp.GradScaler("cpu", init_scale=3.0), torch.amp.GradScaler("cpu", init_scale=3.0)
    zo, to = zg.optim.Adam([zp], lr=0.1), torch.optim.Adam([tp], lr=0.1)
    g = np.array([0.1, -2.0, 3.0, 1e-3], np.float32)
    zs.scale((zp * zg.tensor(g)).sum()).backward()
    ts.scale((tp * torch.from_numpy(g)).sum()).backward()
    zs.unscale_(zo)
    ts.unscale_(to)
    np.testing.assert_array_equal(zp.grad.numpy(), tp.grad.numpy())
    zg.nn.utils.clip_grad_norm_([zp], 1.0)
    torch.nn.utils.clip_grad_norm_([tp], 1.0)
    zs.step(zo)  # does not unscale a second time
    ts.step(to)
    np.testing.assert_allclose(zp.numpy(), tp.detach().numpy(), rtol=1e-6)


def test_growth_after_growth_interval_and_never_to_inf():
    p = zg.tensor([1.0], requires_grad=True)
    opt = zg.optim.SGD([p], lr=0.0)
    scaler = zg.amp.GradScaler("cpu", init_scale=8.0, growth_interval=4)
    scales = []
    for _ in range(9):
        _iteration(scaler, opt, p, zg.tensor([1.0]), lambda loss: loss.backward())
        scales.append(scaler.get_scale())
    assert scales == [8.0] * 3 + [16.0] * 4 + [32.0] * 2
    big = zg.amp.GradScaler("cpu", init_scale=3e38, growth_interval=1)
    _iteration(big, opt, p, zg.tensor([0.0]), lambda loss: loss.backward())
    assert big.get_scale() == float(np.float32(3e38))  # x2 would overflow: kept


def _flat(sd: dict) -> str:
    return repr({k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in sd["state"].items()})


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: zg.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
        lambda ps: zg.optim.Adam(ps, lr=0.01),
        lambda ps: zg.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
        lambda ps: zg.optim.RMSprop(ps, lr=0.01),
        lambda ps: zg.optim.Adagrad(ps, lr=0.1),
        lambda ps: zg.optim.Adadelta(ps),
        lambda ps: zg.optim.Lion(ps, lr=0.01),
    ],
    ids=["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Lion"],
)
def test_every_optimizer_with_param_groups(make):
    a = zg.tensor(np.ones((2, 2), np.float32), requires_grad=True)
    b = zg.tensor(np.ones(3, np.float32), requires_grad=True)
    ref_a, ref_b = (
        zg.tensor(a.numpy(), requires_grad=True),
        zg.tensor(b.numpy(), requires_grad=True),
    )
    opt = make([{"params": [a]}, {"params": [b], "lr": 0.05}])
    ref = make([{"params": [ref_a]}, {"params": [ref_b], "lr": 0.05}])
    scaler = zg.amp.GradScaler("cpu", init_scale=2.0**8)
    # a skipped step: neither the parameters nor the optimizer state move
    state = _flat(opt.state_dict())
    opt.zero_grad()
    scaler.scale((a * np.inf).sum() + b.sum()).backward()
    assert scaler.step(opt) is None
    scaler.update()
    assert _flat(opt.state_dict()) == state
    assert np.all(a.numpy() == 1) and np.all(b.numpy() == 1)
    # a good step: the same as the optimizer on the unscaled gradients
    for _ in range(2):
        opt.zero_grad()
        ref.zero_grad()
        scaler.scale((a * 3).sum() + (b * b).sum()).backward()
        ((ref_a * 3).sum() + (ref_b * ref_b).sum()).backward()
        scaler.step(opt)
        scaler.update()
        ref.step()
    np.testing.assert_allclose(a.numpy(), ref_a.numpy(), rtol=1e-6)
    np.testing.assert_allclose(b.numpy(), ref_b.numpy(), rtol=1e-6)
    assert scaler.get_scale() == 2.0**7


def test_two_optimizers_share_one_update_as_torch():
    # each optimizer skips on its own gradients; update() backs off if either had inf/NaN
    results = []
    for lib in (zg, torch):
        a = lib.tensor([1.0], requires_grad=True)
        b = lib.tensor([1.0], requires_grad=True)
        oa, ob = lib.optim.SGD([a], lr=1.0), lib.optim.SGD([b], lr=1.0)
        scaler = lib.amp.GradScaler("cpu", init_scale=4.0)
        scaler.scale(a.sum() + (b * float("nan")).sum()).backward()
        scaler.step(oa)
        rb = scaler.step(ob)
        scaler.update()
        results.append((float(a.detach()[0]), float(b.detach()[0]), scaler.get_scale(), rb))
    assert results[0] == results[1] == (0.0, 1.0, 2.0, None)


def test_scale_accepts_tensors_lists_tuples_and_iterables():
    scaler = zg.amp.GradScaler("cpu", init_scale=4.0)
    x = zg.tensor([1.0, 2.0])
    nested = scaler.scale([x, (x, x)])
    assert isinstance(nested, list) and isinstance(nested[1], tuple)
    np.testing.assert_array_equal(nested[1][0].numpy(), [4.0, 8.0])
    assert [t.numpy().tolist() for t in scaler.scale(iter([x]))] == [[4.0, 8.0]]
    h = scaler.scale(zg.tensor([1.0], dtype="float16"))
    assert h.dtype == np.float16  # as torch: the loss keeps its dtype
    with pytest.raises(TypeError, match="GradScaler.scale: expected a Tensor or an iterable.*int"):
        scaler.scale(3)
    with pytest.raises(TypeError, match="GradScaler.scale: .*received str"):
        scaler.scale("loss")


def test_state_dict_round_trip_and_torch_compatibility():
    p = zg.tensor([1.0], requires_grad=True)
    opt = zg.optim.SGD([p], lr=0.1)
    scaler = zg.amp.GradScaler("cpu", init_scale=64.0, growth_interval=5)
    for g in (1.0, np.inf, 1.0, 1.0):
        _iteration(scaler, opt, p, zg.tensor([g]), lambda loss: loss.backward())
    sd = scaler.state_dict()
    assert sd == {
        "scale": 32.0,
        "growth_factor": 2.0,
        "backoff_factor": 0.5,
        "growth_interval": 5,
        "_growth_tracker": 2,
    }
    fresh = zg.amp.GradScaler("cpu")
    fresh.load_state_dict(sd)
    assert fresh.state_dict() == sd and fresh.get_scale() == 32.0
    ts = torch.amp.GradScaler("cpu")
    ts.load_state_dict(sd)  # ours loads into torch's and back
    back = zg.amp.GradScaler("cpu")
    back.load_state_dict(ts.state_dict())
    assert back.state_dict() == sd
    with pytest.raises(RuntimeError, match="GradScaler.load_state_dict: the state dict is empty"):
        fresh.load_state_dict({})
    with pytest.raises(ValueError, match=r"GradScaler.load_state_dict: .*missing \['_growth_tra"):
        fresh.load_state_dict({k: v for k, v in sd.items() if k != "_growth_tracker"})
    with pytest.raises(TypeError, match="GradScaler.load_state_dict: expected a dict, received"):
        fresh.load_state_dict([1])


def test_update_with_a_new_scale():
    p = zg.tensor([1.0], requires_grad=True)
    opt = zg.optim.SGD([p], lr=0.1)
    scaler = zg.amp.GradScaler("cpu")
    _iteration(scaler, opt, p, zg.tensor([1.0]), lambda loss: loss.backward())
    scaler.update(128.0)
    assert scaler.get_scale() == 128.0
    scaler.update(zg.tensor([8.0]))
    assert scaler.get_scale() == 8.0
    with pytest.raises(ValueError, match="GradScaler.update: new_scale must be .*shape \\(2,\\)"):
        scaler.update(zg.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="requires_grad=True"):
        scaler.update(zg.tensor([1.0], requires_grad=True))
    with pytest.raises(TypeError, match="GradScaler.update: new_scale must be .*str"):
        scaler.update("2")


def test_misuse_raises_as_torch_with_our_messages():
    p = zg.tensor([1.0], requires_grad=True)
    opt = zg.optim.SGD([p], lr=0.1)
    scaler = zg.amp.GradScaler("cpu")
    for fn in (lambda: scaler.unscale_(opt), lambda: scaler.step(opt), scaler.update):
        with pytest.raises(RuntimeError, match=r"GradScaler\.\w+_?: no scale yet; call scaler"):
            fn()
    scaler.scale(p.sum()).backward()
    with pytest.raises(RuntimeError, match="GradScaler.update: no inf/NaN checks were recorded"):
        scaler.update()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="GradScaler.unscale_: already called on this optim"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="GradScaler.step: already called since the last upd"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match=r"GradScaler.unscale_: called after step\(\)"):
        scaler.unscale_(opt)
    scaler.update()
    with pytest.raises(RuntimeError, match="GradScaler.step: a closure is not supported"):
        scaler.step(opt, closure=lambda: 0.0)
    with pytest.raises(TypeError, match="GradScaler: expected an optimizer .*received list"):
        scaler.unscale_([p])
    h = zg.tensor(np.ones(2, np.float16), requires_grad=True)
    small = zg.amp.GradScaler("cpu", init_scale=2.0)
    small.scale(h.sum()).backward()
    with pytest.raises(ValueError, match=r"GradScaler.unscale_: expected float32 gradients, .*\(2,\)"):  # fmt: skip
        small.unscale_(zg.optim.SGD([h], lr=0.1))


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(device="tpu"), ValueError, "GradScaler: expected device 'cuda', 'cuda:N' or 'cpu'"),
        (dict(growth_factor=1.0), ValueError, r"GradScaler: growth_factor must be > 1.0, rec"),
        (dict(backoff_factor=1.5), ValueError, r"GradScaler: backoff_factor must be in \(0, 1\)"),
        (dict(init_scale=0.0), ValueError, "GradScaler: init_scale must be > 0, received 0.0"),
        (dict(init_scale="big"), TypeError, "GradScaler: init_scale must be a number, rec"),
        (dict(growth_interval=0), ValueError, "GradScaler: growth_interval must be >= 1, rec"),
        (dict(growth_interval=2.5), TypeError, "GradScaler: growth_interval must be an int"),
        (dict(enabled=1), TypeError, "GradScaler: enabled must be a bool, received 1"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        zg.amp.GradScaler(**{"device": "cpu", **kwargs})


def test_disabled_scaler_is_a_pass_through():
    p = zg.tensor([1.0], requires_grad=True)
    opt = zg.optim.SGD([p], lr=1.0)
    scaler = zg.amp.GradScaler("cpu", enabled=False)
    loss = p.sum()
    assert scaler.scale(loss) is loss
    loss.backward()
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    np.testing.assert_array_equal(p.numpy(), [0.0])
    assert scaler.get_scale() == 1.0 and scaler.state_dict() == {} and not scaler.is_enabled()


@pytest.mark.skipif(backend.cuda_available(), reason="a GPU is present")
def test_cuda_scaler_without_a_gpu_warns_and_disables_itself():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scaler = zg.amp.GradScaler()
    assert not scaler.is_enabled()
    assert any("device='cuda' but CuPy sees no CUDA GPU" in str(w.message) for w in caught)


def test_setters_and_getters():
    scaler = zg.amp.GradScaler("cpu", init_scale=16.0)
    assert scaler.get_scale() == 16.0 and scaler.is_enabled()
    scaler.set_growth_factor(3.0)
    scaler.set_backoff_factor(0.1)
    scaler.set_growth_interval(7)
    assert (scaler.get_growth_factor(), scaler.get_backoff_factor()) == (3.0, 0.1)
    assert scaler.get_growth_interval() == 7
    assert "GradScaler(device='cpu', scale=16.0" in repr(scaler)


def test_setters_check_their_values():
    scaler = zg.amp.GradScaler("cpu")
    with pytest.raises(ValueError, match="GradScaler: growth_factor must be > 1.0, received 0.5"):
        scaler.set_growth_factor(0.5)
    with pytest.raises(ValueError, match=r"GradScaler: backoff_factor must be in \(0, 1\), rec"):
        scaler.set_backoff_factor(2.0)
    with pytest.raises(TypeError, match="GradScaler: growth_interval must be an int, received"):
        scaler.set_growth_interval("10")
