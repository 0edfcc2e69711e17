"""The compiled LSTM loops (``zerograd.kernels.lstm``) against PyTorch and against the NumPy loops:
outputs, final states and every gradient, with the units on one thread or split over several."""

import numpy as np
import pytest
import torch

import zerograd as zg
import zerograd.nn as nn
from tests.helpers import tol
from zerograd import kernels, tuning
from zerograd.kernels import lstm as lstm_kernels

pytestmark = pytest.mark.skipif(
    not (kernels.ENABLED and lstm_kernels.usable(np.zeros(1))),
    reason="needs numba and BLAS callable from it",
)

# (input size, hidden size, layer arguments, units per thread): 1 puts H = 5 on two threads as
# 2 + 3 units (an uneven split, on a machine with two or more); a huge value keeps one part. H 5
# and 130 have units past the packed panels (BLAS products), H 64 none.
CASES = [
    ("one_part", 3, 5, dict(), 10**9),
    ("one_part_panels", 4, 64, dict(), 10**9),
    ("uneven_parts", 3, 5, dict(), 1),
    ("parts_no_bias", 4, 6, dict(bias=False), 1),
    ("bi_2layer_bf", 3, 4, dict(num_layers=2, bidirectional=True, batch_first=True), 1),
    ("wide", 7, 130, dict(), 64),
]


@pytest.fixture
def count_fast(monkeypatch):
    """How many times the compiled forward ran."""
    calls = []
    real = lstm_kernels.forward

    def counted(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(lstm_kernels, "forward", counted)
    return calls


def _pair(I, H, kwargs, dtype, seed=0):
    torch.manual_seed(seed)
    tm = torch.nn.LSTM(I, H, **kwargs).to(torch.float64 if dtype == np.float64 else torch.float32)
    zm = nn.LSTM(I, H, **kwargs)
    zm.to(dtype=dtype)
    zm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    return zm, tm


def _inputs(I, H, kwargs, dtype, losses=("y", "h", "c")):
    """x, h0, c0 for the layer, and the outputs that enter the loss."""
    rng = np.random.default_rng(1)
    B, T = 3, 6
    shape = (B, T, I) if kwargs.get("batch_first") else (T, B, I)
    hshape = (kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1), B, H)
    arrays = [rng.standard_normal(s).astype(dtype) for s in (shape, hshape, hshape)]
    return arrays, losses


def _run_zg(zm, arrays, losses, dtype):
    x, h0, c0 = (zg.tensor(a, requires_grad=True) for a in arrays)
    y, (h, c) = zm(x, (h0, c0))
    rng = np.random.default_rng(2)
    outs = dict(y=y, h=h, c=c)
    loss = sum((outs[k] * zg.tensor(rng.standard_normal(outs[k].shape).astype(dtype))).sum()
               for k in losses)  # fmt: skip
    loss.backward()
    res = {k: v.numpy() for k, v in outs.items()}
    res.update(dx=x.grad.numpy(), dh0=h0.grad.numpy(), dc0=c0.grad.numpy())
    res.update({n: p.grad.numpy() for n, p in zm.named_parameters()})
    return res


def _run_torch(tm, arrays, losses, dtype):
    x, h0, c0 = (torch.from_numpy(a.copy()).requires_grad_() for a in arrays)
    y, (h, c) = tm(x, (h0, c0))
    rng = np.random.default_rng(2)
    outs = dict(y=y, h=h, c=c)
    loss = sum((outs[k] * torch.from_numpy(rng.standard_normal(tuple(outs[k].shape)).astype(dtype))).sum()
               for k in losses)  # fmt: skip
    loss.backward()
    res = {k: v.detach().numpy() for k, v in outs.items()}
    res.update(dx=x.grad.numpy(), dh0=h0.grad.numpy(), dc0=c0.grad.numpy())
    res.update({n: p.grad.numpy() for n, p in tm.named_parameters()})
    return res


def _compare(a, b, **t):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], **t, err_msg=k)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fast_lstm_vs_torch(case, dtype, monkeypatch, count_fast):
    _, I, H, kwargs, units = case
    monkeypatch.setattr(tuning, "LSTM_MIN_PART_UNITS", units)
    zm, tm = _pair(I, H, kwargs, dtype)
    arrays, losses = _inputs(I, H, kwargs, dtype)
    ours = _run_zg(zm, arrays, losses, dtype)
    assert len(count_fast) == kwargs.get("num_layers", 1) * (1 + kwargs.get("bidirectional", 0))
    _compare(ours, _run_torch(tm, arrays, losses, dtype), **tol(dtype))


@pytest.mark.parametrize("losses", [("y",), ("h",), ("c",), ("h", "c")])
def test_fast_lstm_unused_outputs(losses, monkeypatch, count_fast):
    """Outputs that take no part in the loss reach backward as None."""
    monkeypatch.setattr(tuning, "LSTM_MIN_PART_UNITS", 1)
    zm, tm = _pair(3, 5, {}, np.float64)
    arrays, _ = _inputs(3, 5, {}, np.float64)
    ours = _run_zg(zm, arrays, losses, np.float64)
    assert count_fast
    _compare(ours, _run_torch(tm, arrays, losses, np.float64), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("units", [1, 10**9])
def test_fast_lstm_matches_numpy_loops(units, monkeypatch):
    """float64: the compiled loops and the NumPy ones agree to rounding, on one thread or two."""
    monkeypatch.setattr(tuning, "LSTM_MIN_PART_UNITS", units)
    kwargs = dict(num_layers=2)
    zm, _ = _pair(5, 9, kwargs, np.float64)
    arrays, losses = _inputs(5, 9, kwargs, np.float64)
    fast = _run_zg(zm, arrays, losses, np.float64)
    zm.zero_grad()
    monkeypatch.setattr(kernels, "ENABLED", False)
    slow = _run_zg(zm, arrays, losses, np.float64)
    _compare(fast, slow, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("units", [1, 10**9])
def test_fast_lstm_transposed_weights(units, monkeypatch):
    """Weights that are transposed views (as the Keras layers pass them) give the same results
    and gradients as contiguous ones, with units past the packed panels (H = 40)."""
    from zerograd.ops.rnn import recurrent_layer

    monkeypatch.setattr(tuning, "LSTM_MIN_PART_UNITS", units)
    rng = np.random.default_rng(0)
    H = 40
    arrays = [rng.standard_normal(s) for s in ((4, 3, 5), (3, H), (3, H))]
    kernels_t = [rng.standard_normal(s) for s in ((5, 4 * H), (H, 4 * H))]
    results = []
    for view in (True, False):
        x, h0, c0 = (zg.tensor(a, requires_grad=True) for a in arrays)
        if view:  # (I, 4H) and (H, 4H) leaves, passed transposed
            leaves = [zg.tensor(k, requires_grad=True) for k in kernels_t]
            W_ih, W_hh = (k.T for k in leaves)
        else:
            leaves = [zg.tensor(np.ascontiguousarray(k.T), requires_grad=True) for k in kernels_t]
            W_ih, W_hh = leaves
        assert W_hh.data.flags.c_contiguous != view
        ys, h, c = recurrent_layer("lstm", x, h0, c0, W_ih, W_hh)
        (ys.sum() + (h * h).sum() + (c * 2).sum()).backward()
        grads = [t.grad.numpy() for t in (x, h0, c0)]
        grads += [k.grad.numpy() if view else k.grad.numpy().T for k in leaves]
        results.append([ys.numpy(), *grads])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_fast_lstm_backward_twice(monkeypatch):
    """backward leaves what forward kept unchanged: a second backward (retain_graph) gives the
    same gradients."""
    monkeypatch.setattr(tuning, "LSTM_MIN_PART_UNITS", 1)
    m = nn.LSTM(3, 4).double()
    x = zg.tensor(np.random.default_rng(0).standard_normal((5, 2, 3)), requires_grad=True)
    loss = m(x)[0].sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    x.grad = None
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), first)


def test_fast_lstm_gradcheck(monkeypatch):
    monkeypatch.setattr(tuning, "LSTM_MIN_PART_UNITS", 1)
    m = nn.LSTM(2, 3).double()
    x = zg.randn(4, 2, 2, dtype="float64", requires_grad=True)
    assert zg.utils.gradcheck(lambda x, *ps: m(x)[0], x, *m.parameters())


def test_unit_bounds_split_evenly():
    assert lstm_kernels.unit_bounds(5, 2) == [0, 2, 5]
    assert lstm_kernels.unit_bounds(256, 2) == [0, 128, 256]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M", [1, 3, 8, 15, 32])
def test_packed_gemm_matches_numpy(M, dtype):
    """c += a @ B with B packed, on strided views of a and c (rows of any stride); the columns
    past the last whole panel are left alone."""
    from zerograd.kernels import packed_gemm

    nr = packed_gemm.panel_width(dtype)
    rng = np.random.default_rng(M)
    K, N = 37, 3 * nr + 5
    a = rng.standard_normal((M, K + 4)).astype(dtype)[:, 2 : 2 + K]
    B = rng.standard_normal((K, N)).astype(dtype)
    c = rng.standard_normal((M, N + 3)).astype(dtype)
    expected = c.copy()
    expected[:, : 3 * nr] += a @ B[:, : 3 * nr]
    packed_gemm.gemm_packed(a, packed_gemm.pack(B, 3), c[:, : 3 * nr])
    np.testing.assert_allclose(c, expected, **tol(dtype))
    packed = packed_gemm.pack_transposed(np.ascontiguousarray(B.T), 3)
    np.testing.assert_array_equal(packed, packed_gemm.pack(B, 3))
