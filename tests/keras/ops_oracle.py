"""The oracle of keras.ops tests: run an op on zerograd and on real Keras (torch backend) with the
same inputs, compare outputs and dtypes, then every float input's gradient (float64)."""

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd.keras import ops

rng = np.random.default_rng(0)
A = rng.standard_normal((2, 3)).astype("float32")
B = rng.standard_normal((2, 3)).astype("float32")
C = rng.standard_normal((3, 4)).astype("float32")
V = rng.standard_normal((4,)).astype("float32")
P = rng.uniform(0.1, 2.0, (2, 3)).astype("float32")  # positive
U = rng.uniform(0.05, 0.95, (2, 3)).astype("float32")  # in (0, 1)
T3 = rng.standard_normal((2, 3, 4)).astype("float32")
SQ = rng.standard_normal((3, 3)).astype("float32")
Q = rng.standard_normal((2, 5, 2, 4)).astype("float32")  # (batch, seq, heads, dim)
I3 = np.array([[1, 0, 2], [2, 2, 0]], dtype="int32")
LAB = np.array([2, 0], dtype="int32")
M = np.array([[True, False, True], [False, True, True]])
ONEHOT = np.eye(3, dtype="float32")[[2, 0]]
PROBS = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]], dtype="float32")
WI = np.array([[3, -1, 7], [0, 5, 2]], dtype="int32")
NA = np.array([[1.0, np.nan, 3.0, -2.0], [np.nan, 0.5, 4.0, 2.0]], dtype="float32")
IMG = rng.standard_normal((2, 7, 6, 3)).astype("float32")
SEQ = rng.standard_normal((2, 9, 3)).astype("float32")
K2 = rng.standard_normal((3, 2, 3, 4)).astype("float32")
K1 = rng.standard_normal((3, 3, 4)).astype("float32")
V3 = rng.standard_normal((2, 3)).astype("float32")


def cases(rows) -> list:
    """pytest params from rows (name, *args[, options]); options hold grad=, tol= and keyword
    arguments of the op."""
    out = []
    for row in rows:
        opts = dict(row[-1]) if isinstance(row[-1], dict) else {}
        args = row[1:-1] if isinstance(row[-1], dict) else row[1:]
        grad, tol = opts.pop("grad", True), opts.pop("tol", 1e-5)
        out.append(pytest.param(row[0], args, opts, grad, tol, id=f"{row[0]}-{len(out)}"))
    return out


def _leaves(x, fn):
    """``x`` with every ndarray replaced by fn(array) (inside lists and tuples too)."""
    if isinstance(x, np.ndarray):
        return fn(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_leaves(v, fn) for v in x)
    return x


def _outputs(y) -> list:
    return list(y) if isinstance(y, (list, tuple)) else [y]


def check_against_keras(real_keras, name, args, kwargs, grad, tol):
    ours = _outputs(getattr(ops, name)(*args, **kwargs))
    theirs = _outputs(
        getattr(real_keras.ops, name)(*_leaves(args, real_keras.ops.convert_to_tensor), **kwargs)
    )
    assert len(ours) == len(theirs)
    for i, (z, k) in enumerate(zip(ours, theirs)):
        k = real_keras.ops.convert_to_numpy(k)
        assert isinstance(z, zg.Tensor), f"{name}: output {i} is a {type(z).__name__}"
        np.testing.assert_allclose(z.numpy(), k, rtol=tol, atol=tol, err_msg=f"{name} output {i}")
        assert z.dtype == k.dtype, f"{name} output {i}: dtype {z.dtype}, Keras gives {k.dtype}"
    if grad:
        _check_gradients(real_keras, name, args, kwargs)


def _check_gradients(real_keras, name, args, kwargs):
    """Gradients (float64) of a random weighting of every float output, for every float input."""
    floats = lambda a: a.astype("float64") if a.dtype.kind == "f" else a  # noqa: E731
    zs, ts = [], []

    def to_zg(a):
        t = zg.tensor(floats(a), requires_grad=a.dtype.kind == "f")
        zs.append(t)
        return t

    def to_torch(a):
        t = torch.tensor(floats(a), requires_grad=a.dtype.kind == "f")
        ts.append(t)
        return t

    z_out = _outputs(getattr(ops, name)(*_leaves(args, to_zg), **kwargs))
    t_out = _outputs(getattr(real_keras.ops, name)(*_leaves(args, to_torch), **kwargs))
    w = np.random.default_rng(1)
    z_loss, t_loss = 0.0, 0.0
    for z, t in zip(z_out, t_out):
        if t.dtype.is_floating_point and t.requires_grad:
            wi = w.standard_normal(tuple(t.shape))
            z_loss = z_loss + (z * zg.tensor(wi, dtype=z.dtype)).sum()
            t_loss = t_loss + (t * torch.tensor(wi, dtype=t.dtype)).sum()
    assert isinstance(t_loss, torch.Tensor), f"{name}: Keras gives no gradient; set grad=False"
    t_loss.backward()
    z_loss.backward()
    for i, (z, t) in enumerate(zip(zs, ts)):
        if not t.requires_grad:
            continue
        tg = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
        zgrad = np.zeros(z.shape) if z.grad is None else z.grad.numpy()
        np.testing.assert_allclose(zgrad, tg, rtol=1e-6, atol=1e-6, err_msg=f"{name} grad {i}")
