"""RNN, LSTM, GRU vs PyTorch with the same weights: outputs, final states and all gradients."""

import numpy as np
import pytest
import torch

import zerograd as zg
import zerograd.nn as nn
from tests.helpers import tol

CASES = [
    ("rnn", dict(), "RNN"),
    ("rnn_relu_2layer", dict(num_layers=2, nonlinearity="relu"), "RNN"),
    ("lstm", dict(), "LSTM"),
    ("lstm_bi_2layer_bf", dict(num_layers=2, bidirectional=True, batch_first=True), "LSTM"),
    ("lstm_nobias", dict(bias=False), "LSTM"),
    ("gru", dict(), "GRU"),
    ("gru_bi_bf", dict(bidirectional=True, batch_first=True), "GRU"),
]


def _run(kind, kwargs, dtype, with_state):
    rng = np.random.default_rng(0)
    zm, tm = getattr(nn, kind)(3, 4, **kwargs), getattr(torch.nn, kind)(3, 4, **kwargs)
    tm = tm.to(torch.float64 if dtype == np.float64 else torch.float32)
    zm.to(dtype=dtype)
    zm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    shape = (2, 5, 3) if kwargs.get("batch_first") else (5, 2, 3)
    x = rng.standard_normal(shape).astype(dtype)
    dirs = 2 if kwargs.get("bidirectional") else 1
    hshape = (kwargs.get("num_layers", 1) * dirs, 2, 4)
    h0 = rng.standard_normal(hshape).astype(dtype)
    c0 = rng.standard_normal(hshape).astype(dtype)
    zx, tx = zg.tensor(x, requires_grad=True), torch.from_numpy(x.copy()).requires_grad_()
    zh, th = zg.tensor(h0, requires_grad=True), torch.from_numpy(h0.copy()).requires_grad_()
    zc, tc = zg.tensor(c0, requires_grad=True), torch.from_numpy(c0.copy()).requires_grad_()
    if with_state:
        zs, ts = ((zh, zc), (th, tc)) if kind == "LSTM" else (zh, th)
        zout, tout = zm(zx, zs), tm(tx, ts)
    else:
        zout, tout = zm(zx), tm(tx)
    return zm, tm, (zx, zh, zc), (tx, th, tc), zout, tout


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_recurrent_vs_torch(path, case, dtype, with_state):
    _, kwargs, kind = case
    zm, tm, zin, tin, (zy, zstate), (ty, tstate) = _run(kind, kwargs, dtype, with_state)
    t = tol(dtype)
    zstates = zstate if kind == "LSTM" else (zstate,)
    tstates = tstate if kind == "LSTM" else (tstate,)
    np.testing.assert_allclose(zy.numpy(), ty.detach().numpy(), **t, err_msg="output")
    for a, b in zip(zstates, tstates):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **t, err_msg="final state")
    rng = np.random.default_rng(1)
    wy = rng.standard_normal(ty.shape).astype(dtype)
    ws = [rng.standard_normal(s.shape).astype(dtype) for s in tstates]
    zloss = (zy * zg.tensor(wy)).sum() + sum((s * zg.tensor(w)).sum() for s, w in zip(zstates, ws))
    tloss = (ty * torch.from_numpy(wy)).sum() + sum(
        (s * torch.from_numpy(w)).sum() for s, w in zip(tstates, ws)
    )
    zloss.backward()
    tloss.backward()
    np.testing.assert_allclose(
        zin[0].grad.numpy(), tin[0].grad.numpy(), **t, err_msg="input gradient"
    )
    if with_state:
        np.testing.assert_allclose(
            zin[1].grad.numpy(), tin[1].grad.numpy(), **t, err_msg="h0 gradient"
        )
        if kind == "LSTM":
            np.testing.assert_allclose(
                zin[2].grad.numpy(), tin[2].grad.numpy(), **t, err_msg="c0 gradient"
            )
    zp = dict(zm.named_parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(
            zp[name].grad.numpy(), p.grad.numpy(), **t, err_msg=f"gradient of {name}"
        )


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent_gradcheck(path, kind):
    m = getattr(nn, kind)(2, 3).double()
    x = zg.randn(4, 2, 2, dtype="float64", requires_grad=True)
    params = list(m.parameters())
    assert zg.utils.gradcheck(lambda x, *ps: m(x)[0], x, *params)


def test_unbatched_input_and_names():
    m = nn.LSTM(3, 4)
    out, (h, c) = m(zg.randn(5, 3))
    assert out.shape == (5, 4) and h.shape == (1, 4) and c.shape == (1, 4)
    assert [n for n, _ in m.named_parameters()] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
    ]


def test_recurrent_bad_input():
    with pytest.raises(ValueError, match=r"LSTM expected input of shape \(T, B, 3\)"):
        nn.LSTM(3, 4)(zg.ones(5, 2, 6))
    with pytest.raises(ValueError, match=r"GRU expected h0 of shape \(1, 2, 4\)"):
        nn.GRU(3, 4)(zg.ones(5, 2, 3), zg.ones(2, 4))
