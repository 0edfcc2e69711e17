"""Recurrent layers as single ops: the time loop runs on arrays, with a hand-written BPTT backward.

One op per layer and direction keeps the graph small (no per-step slicing, whose gradients would
each be as large as the whole sequence). The input projection of all steps is one GEMM.
Shapes: x (T, B, I), h0 / c0 (B, H), W_ih (G*H, I), W_hh (G*H, H), biases (G*H,), G gates.
"""

from __future__ import annotations

from zerograd.autograd import Function
from zerograd.ops.conv import _no_double_backward
from zerograd.tensor import Tensor


def _sigmoid(xp, a):
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))


class RecurrentLayer(Function):
    """mode 'lstm' | 'gru' | 'rnn_tanh' | 'rnn_relu'; the output is (T, B, H) of hidden states,
    with the final cell state appended as step T for an LSTM."""

    def forward(self, x, h0, *rest):
        xp = self.xp
        c0 = rest[0] if self.mode == "lstm" else None
        W_ih, W_hh, *bias = rest[1:] if self.mode == "lstm" else rest
        b_ih, b_hh = bias if bias else (0, 0)
        T, B, _ = x.shape
        H = W_hh.shape[1]
        xw = (x.reshape(T * B, -1) @ W_ih.T).reshape(T, B, -1) + b_ih  # all steps in one GEMM
        if self.mode != "gru":
            xw = xw + b_hh
        hs = xp.empty((T + 1, B, H), dtype=x.dtype)  # hs[t] is the state before step t
        hs[0] = h0
        cache = []
        c = c0
        for t in range(T):
            h = hs[t]
            if self.mode == "lstm":
                a = xw[t] + h @ W_hh.T
                i, f, o = (_sigmoid(xp, a[:, k * H : (k + 1) * H]) for k in (0, 1, 3))
                g = xp.tanh(a[:, 2 * H : 3 * H])
                c_prev, c = c, f * c + i * g
                tc = xp.tanh(c)
                hs[t + 1] = o * tc
                cache.append((i, f, g, o, c_prev, tc))
            elif self.mode == "gru":
                hh = h @ W_hh.T + b_hh
                r = _sigmoid(xp, xw[t, :, :H] + hh[:, :H])
                z = _sigmoid(xp, xw[t, :, H : 2 * H] + hh[:, H : 2 * H])
                n = xp.tanh(xw[t, :, 2 * H :] + r * hh[:, 2 * H :])
                hs[t + 1] = (1 - z) * n + z * h
                cache.append((r, z, n, hh[:, 2 * H :]))
            else:
                a = xw[t] + h @ W_hh.T
                hs[t + 1] = xp.tanh(a) if self.mode == "rnn_tanh" else xp.maximum(a, 0)
        self.hs, self.cache = hs, cache
        out = hs[1:]
        if self.mode == "lstm":
            out = xp.concatenate([out, c[None]], axis=0)
        return out

    def backward(self, gy):
        _no_double_backward(f"{self.mode} layer")
        xp = self.xp
        mode, hs = self.mode, self.hs
        x = self.inputs[0].data
        W_ih = self.inputs[3 if mode == "lstm" else 2].data
        W_hh = self.inputs[4 if mode == "lstm" else 3].data
        T, B, _ = x.shape
        H = W_hh.shape[1]
        g = gy.data
        dh = xp.zeros((B, H), dtype=x.dtype)
        dc = g[T].copy() if mode == "lstm" else None
        da_all = xp.empty((T, B, W_hh.shape[0]), dtype=x.dtype)  # gradient of the input projection
        dW_hh = xp.zeros_like(W_hh)
        db_hh = xp.zeros(W_hh.shape[0], dtype=x.dtype) if mode == "gru" else None
        for t in range(T - 1, -1, -1):
            dh = dh + g[t]
            h_prev = hs[t]
            if mode == "lstm":
                i, f, gg, o, c_prev, tc = self.cache[t]
                dc = dc + dh * o * (1 - tc * tc)
                da = da_all[t]
                da[:, :H] = dc * gg * i * (1 - i)
                da[:, H : 2 * H] = dc * c_prev * f * (1 - f)
                da[:, 2 * H : 3 * H] = dc * i * (1 - gg * gg)
                da[:, 3 * H :] = dh * tc * o * (1 - o)
                dc = dc * f
                dW_hh += da.T @ h_prev
                dh = da @ W_hh
            elif mode == "gru":
                r, z, n, hh_n = self.cache[t]
                dn = dh * (1 - z) * (1 - n * n)
                dr = dn * hh_n * r * (1 - r)
                dz = dh * (h_prev - n) * z * (1 - z)
                da = da_all[t]
                da[:, :H], da[:, H : 2 * H], da[:, 2 * H :] = dr, dz, dn
                dhh = xp.concatenate([dr, dz, dn * r], axis=1)
                dW_hh += dhh.T @ h_prev
                db_hh += dhh.sum(axis=0)
                dh = dh * z + dhh @ W_hh
            else:
                h = hs[t + 1]
                da = dh * (1 - h * h) if mode == "rnn_tanh" else dh * (h > 0)
                da_all[t] = da
                dW_hh += da.T @ h_prev
                dh = da @ W_hh
        flat = da_all.reshape(T * B, -1)
        dx = (flat @ W_ih).reshape(x.shape)
        dW_ih = flat.T @ x.reshape(T * B, -1)
        grads = [dx, dh]
        if mode == "lstm":
            grads.append(dc)
        grads += [dW_ih, dW_hh]
        if self.has_bias:
            db_ih = flat.sum(axis=0)
            grads += [db_ih, db_hh if mode == "gru" else db_ih]
        return tuple(Tensor._make(a) for a in grads)


def recurrent_layer(
    mode: str, x: Tensor, h0: Tensor, c0, W_ih, W_hh, b_ih=None, b_hh=None
) -> Tensor:
    """Run one recurrent layer over a (T, B, I) sequence; see ``RecurrentLayer``."""
    inputs = [x, h0] + ([c0] if mode == "lstm" else []) + [W_ih, W_hh]
    if b_ih is not None:
        inputs += [b_ih, b_hh]
    return RecurrentLayer.apply(*inputs, mode=mode, has_bias=b_ih is not None)
