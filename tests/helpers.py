"""Test helpers: compare zerograd against PyTorch, forward and every input gradient."""

from __future__ import annotations

import numpy as np
import torch

import zerograd as zg

TOL = {np.float64: dict(atol=1e-6, rtol=1e-6), np.float32: dict(atol=1e-4, rtol=1e-4)}


def tol(dtype) -> dict:
    return TOL[np.dtype(dtype).type]


def to_torch(a: np.ndarray, requires_grad: bool) -> torch.Tensor:
    t = torch.from_numpy(np.array(a))
    return t.requires_grad_(requires_grad and t.is_floating_point())


def check_against_torch(zg_fn, torch_fn, inputs, dtype=np.float64, atol=None, rtol=None, grad=True):
    """Run both on the same inputs; compare outputs and, when ``grad``, every float input's gradient.

    The output is reduced with fixed random weights so every element's gradient is exercised.
    Failures show the largest difference (numpy.testing).
    """
    t = tol(dtype)
    atol = t["atol"] if atol is None else atol
    rtol = t["rtol"] if rtol is None else rtol
    arrays = [
        np.asarray(a).astype(dtype) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
        for a in inputs
    ]
    zs = [zg.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    ts = [to_torch(a, grad) for a in arrays]
    zy, ty = zg_fn(*zs), torch_fn(*ts)
    np.testing.assert_allclose(
        zy.numpy(), ty.detach().numpy(), atol=atol, rtol=rtol, err_msg="forward"
    )
    assert zy.dtype == np.dtype(str(ty.dtype).replace("torch.", "")), (
        f"dtype {zy.dtype} vs {ty.dtype}"
    )
    if not grad or not ty.requires_grad:
        return zy
    w = np.random.default_rng(1).standard_normal(ty.shape).astype(dtype)
    (zy * zg.tensor(w)).sum().backward()
    (ty * torch.from_numpy(w)).sum().backward()
    for i, (z, tt) in enumerate(zip(zs, ts)):
        if not tt.requires_grad:
            continue
        tg = np.zeros(tt.shape) if tt.grad is None else tt.grad.numpy()
        zgrad = np.zeros(z.shape) if z.grad is None else z.grad.numpy()
        np.testing.assert_allclose(
            zgrad, tg, atol=atol, rtol=rtol, err_msg=f"gradient of input {i}"
        )
        if z.grad is not None:
            assert z.grad.dtype == z.dtype, (
                f"gradient dtype {z.grad.dtype} for input dtype {z.dtype}"
            )
    return zy


def check_second_order(zg_fn, torch_fn, inputs, atol=1e-6, rtol=1e-6):
    """d/dx of sum(grad_x(f) * v), with create_graph, against torch.autograd.grad."""
    arrays = [np.asarray(a, dtype=np.float64) for a in inputs]
    zs = [zg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.from_numpy(a.copy()).requires_grad_(True) for a in arrays]
    rng = np.random.default_rng(2)
    zy, ty = zg_fn(*zs), torch_fn(*ts)
    w = rng.standard_normal(ty.shape)
    zgs = zg.autograd.grad((zy * zg.tensor(w)).sum(), zs, create_graph=True)
    tgs = torch.autograd.grad((ty * torch.from_numpy(w)).sum(), ts, create_graph=True)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    zs_out = sum(
        ((g * zg.tensor(v)).sum() for g, v in zip(zgs, vs)), zg.tensor(0.0, dtype="float64")
    )
    ts_out = sum((g * torch.from_numpy(v)).sum() for g, v in zip(tgs, vs))
    t2 = (
        torch.autograd.grad(ts_out, ts, allow_unused=True)
        if ts_out.requires_grad
        else [None] * len(ts)
    )
    if not zs_out.requires_grad:  # zerograd's gradient is constant in x: torch's must be too
        for i, g in enumerate(t2):
            if g is not None:
                np.testing.assert_allclose(
                    g.numpy(force=True), 0, atol=atol, err_msg=f"second-order grad of input {i}"
                )
        return
    zs_out.backward()
    for i, (z, g) in enumerate(zip(zs, t2)):
        expect = np.zeros(z.shape) if g is None else g.numpy(force=True)
        got = np.zeros(z.shape) if z.grad is None else z.grad.numpy()
        np.testing.assert_allclose(
            got, expect, atol=atol, rtol=rtol, err_msg=f"second-order grad of input {i}"
        )
