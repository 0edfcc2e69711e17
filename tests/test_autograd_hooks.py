"""Tensor.register_post_accumulate_grad_hook and autograd_hooks.queue_callback, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import autograd_hooks


def _record(log, name, end_log=None):
    def hook(t):
        g = t.grad
        log.append(
            (name, g.detach().numpy().copy() if isinstance(g, torch.Tensor) else g.data.copy())
        )
        if end_log is not None:
            autograd_hooks.queue_callback(lambda: end_log.append(len(log)))

    return hook


def test_fires_once_after_the_last_contribution_like_pytorch():
    w0, b0 = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.5, 0.5])
    ours, theirs, ends = [], [], []
    w, b = zg.Tensor(w0, requires_grad=True), zg.Tensor(b0, requires_grad=True)
    handles = [
        w.register_post_accumulate_grad_hook(_record(ours, "w", ends)),
        b.register_post_accumulate_grad_hook(_record(ours, "b")),
    ]
    tw = torch.tensor(w0, requires_grad=True)
    tb = torch.tensor(b0, requires_grad=True)
    tw.register_post_accumulate_grad_hook(_record(theirs, "w"))
    tb.register_post_accumulate_grad_hook(_record(theirs, "b"))
    for x, bb in ((w, b), (tw, tb)):  # w used three times (a tied weight)
        ((x * bb).sum() + (x * x).sum() + x.tanh().sum()).backward()
    assert sorted(n for n, _ in ours) == sorted(n for n, _ in theirs) == ["b", "w"]
    for name, g in ours:
        np.testing.assert_allclose(g, dict(theirs)[name], rtol=1e-12)
    assert ends == [2]  # the callback ran once, after both hooks, when backward ended
    for h in handles:
        h.remove()
    assert autograd_hooks.active == 0
    ours.clear()
    (w * b).sum().backward()
    assert ours == []


def test_leaf_backward_and_accumulation_over_two_backwards():
    log = []
    w = zg.Tensor([1.0, 2.0], requires_grad=True)
    h = w.register_post_accumulate_grad_hook(_record(log, "w"))
    w.backward(zg.Tensor([1.0, 1.0]))
    (w * 3).sum().backward()
    h.remove()
    assert [n for n, _ in log] == ["w", "w"]
    np.testing.assert_array_equal(log[1][1], [4.0, 4.0])  # the accumulated .grad


def test_bad_hooks_raise():
    w = zg.Tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="hook must be callable, received int"):
        w.register_post_accumulate_grad_hook(3)
    with pytest.raises(ValueError, match="only a leaf tensor that requires grad"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(ValueError, match="only a leaf tensor that requires grad"):
        zg.Tensor([1.0]).register_post_accumulate_grad_hook(lambda t: None)
    assert autograd_hooks.active == 0


def test_checkpointing_runs_the_callback_once_at_the_end_of_the_outer_backward():
    from zerograd import nn
    from zerograd.nn.utils import checkpoint

    inner, outer = nn.Linear(3, 3, dtype="float64"), nn.Linear(3, 1, dtype="float64")
    events = []

    def hook(p):
        events.append("hook")
        autograd_hooks.queue_callback(lambda: events.append("end"))

    handles = [p.register_post_accumulate_grad_hook(hook) for p in inner.parameters()]
    handles += [p.register_post_accumulate_grad_hook(hook) for p in outer.parameters()]
    x = zg.Tensor(np.random.randn(4, 3), requires_grad=True)
    y = outer(checkpoint(lambda t: inner(t).tanh(), x, params=inner.parameters()))
    y.sum().backward()
    for h in handles:
        h.remove()
    # four hooks (two inside the checkpoint's own backward), then each queued callback, once
    assert events == ["hook"] * 4 + ["end"] * 4
    assert autograd_hooks._depth == 0
