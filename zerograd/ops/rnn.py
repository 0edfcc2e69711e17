"""Recurrent layers as single ops: the time loop runs on arrays, with a hand-written BPTT backward.

One op per layer and direction keeps the graph small (no per-step slicing, whose gradients would
each be as large as the whole sequence). The input projection of all steps is one GEMM. An LSTM
on NumPy float arrays runs its time loops compiled (``kernels.lstm``: no return to Python between
steps, the units split over threads) where numba and BLAS callable from it are there; the NumPy
loops below are its fallback (CuPy, ``ZEROGRAD_JIT=0``) and the GRU's and plain RNN's path.
Shapes: x (T, B, I), h0 / c0 (B, H), W_ih (G*H, I), W_hh (G*H, H), biases (G*H,), G gates.
"""

from __future__ import annotations

import numpy as np

from zerograd import backend
from zerograd.amp import autocast_mode as _autocast
from zerograd.autograd import Function
from zerograd.kernels import lstm as lstm_kernels
from zerograd.ops.elementwise import sigmoid_array
from zerograd.tensor import Tensor


class RecurrentLayer(Function):
    """mode 'lstm' | 'gru' | 'rnn_tanh' | 'rnn_relu'. Its outputs: the hidden states of all steps
    (T, B, H), the last hidden state (B, H) and, for an LSTM only, the last cell state (B, H). Its
    backward (BPTT on arrays) is not itself differentiable: a second derivative would need the
    recurrence again as per-step ops, a third forward beside the kernel and NumPy ones."""

    differentiable_backward = False
    mode: str
    has_bias: bool
    # set by forward, for the backward: the hidden states (T + 1 steps), the GRU gates per
    # step, the LSTM's gates, cells and tanh(cells)
    hs: object
    cache: list
    gates: object
    cs: object
    tcs: object
    fast: object = None  # what the compiled LSTM loops keep for backward, where they ran

    def forward(self, x, h0, *rest):
        xp = self.xp
        c0 = rest[0] if self.mode == "lstm" else None
        W_ih, W_hh, *bias = rest[1:] if self.mode == "lstm" else rest
        self.save_for_backward(x, W_ih, W_hh)
        if self.mode == "lstm" and lstm_kernels.usable(x, h0, c0, W_ih, W_hh, *bias):
            hs, h, c, self.fast = lstm_kernels.forward(x, h0, c0, W_ih, W_hh, *bias)
            return hs, h, c
        b_ih, b_hh = bias if bias else (0, 0)
        T, B, _ = x.shape
        H = W_hh.shape[1]
        xw = (x.reshape(T * B, -1) @ W_ih.T).reshape(T, B, -1)  # all steps in one GEMM
        if bias:
            xw += b_ih if self.mode == "gru" else b_ih + b_hh  # GRU: b_hh sits inside r * (...)
        hs = xp.empty((T + 1, B, H), dtype=x.dtype)  # hs[t] is the state before step t
        hs[0] = h0
        cache = []
        if self.mode == "lstm":
            self._lstm_forward(xw, hs, c0, W_hh)
        W_hhT = xp.ascontiguousarray(W_hh.T) if self.mode != "lstm" else None  # row-major GEMMs
        for t in range(T if self.mode != "lstm" else 0):
            h = hs[t]
            if self.mode == "gru":
                hh = h @ W_hhT + b_hh
                r = sigmoid_array(xw[t, :, :H] + hh[:, :H])
                z = sigmoid_array(xw[t, :, H : 2 * H] + hh[:, H : 2 * H])
                n = xp.tanh(xw[t, :, 2 * H :] + r * hh[:, 2 * H :])
                hs[t + 1] = (1 - z) * n + z * h
                cache.append((r, z, n, hh[:, 2 * H :]))
            else:
                a = xw[t] + h @ W_hhT
                hs[t + 1] = xp.tanh(a) if self.mode == "rnn_tanh" else xp.maximum(a, 0)
        self.hs, self.cache = hs, cache
        if self.mode == "lstm":
            return hs[1:], hs[T].copy(), self.cs[T].copy()
        return hs[1:], hs[T].copy()

    def _lstm_forward(self, xw, hs, c0, W_hh):
        """The LSTM time loop in NumPy on preallocated buffers; gates (i, f, g, o), cells and
        tanh(cells) are kept for BPTT. The gate activations take one exp pass over all four
        gates: sigmoid(a) = 1 / (1 + exp(-a)), tanh(a) = 2 sigmoid(2a) - 1 (NumPy's exp is
        vectorised, its tanh is not)."""
        xp = self.xp
        T, B, G = xw.shape
        H = G // 4
        W_hhT = xp.ascontiguousarray(W_hh.T)  # row-major: a third faster per small GEMM
        gates = xp.empty((T, B, G), dtype=xw.dtype)
        cs = xp.empty((T + 1, B, H), dtype=xw.dtype)
        tcs = xp.empty((T, B, H), dtype=xw.dtype)
        cs[0] = c0
        scale = xp.ones(G, dtype=xw.dtype)
        scale[2 * H : 3 * H] = 2  # the g gate: tanh through the sigmoid of 2a
        with np.errstate(over="ignore"):  # exp(-a) = inf for very negative a gives sigmoid 0
            for t in range(T):
                a = gates[t]
                xp.matmul(hs[t], W_hhT, out=a)
                a += xw[t]
                a *= -scale
                xp.exp(a, out=a)
                a += 1
                xp.reciprocal(a, out=a)  # sigmoid of all four (g: of 2a)
                i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
                g *= 2
                g -= 1  # tanh
                c = cs[t + 1]
                xp.multiply(f, cs[t], out=c)
                c += i * g
                tc = tcs[t]
                xp.multiply(c, -2, out=tc)
                xp.exp(tc, out=tc)
                tc += 1
                xp.divide(2, tc, out=tc)
                tc -= 1  # tanh(c)
                xp.multiply(o, tc, out=hs[t + 1])
        self.gates, self.cs, self.tcs = gates, cs, tcs

    def backward(self, g_seq, g_h, g_c=None):
        if self.fast is not None:
            return lstm_kernels.backward(self.fast, g_seq, g_h, g_c)
        xp = self.xp
        mode, hs = self.mode, self.hs
        x, W_ih, W_hh = self.saved
        T, B, _ = x.shape
        H = W_hh.shape[1]
        # the last state's gradient joins that of the last step of the sequence
        g = xp.zeros((T, B, H), dtype=x.dtype) if g_seq is None else g_seq
        if g_h is not None:
            g = g.copy() if g is g_seq else g
            g[T - 1] += g_h
        dh = xp.zeros((B, H), dtype=x.dtype)
        dc = None
        if mode == "lstm":
            dc = xp.zeros((B, H), dtype=x.dtype) if g_c is None else g_c.copy()
        da_all = xp.empty((T, B, W_hh.shape[0]), dtype=x.dtype)  # gradient of the input projection
        # the recurrent weight's gradient is one GEMM after the loop, over the gradients of its
        # products (all steps), where a GEMM per step would run on small matrices
        dhh_all = da_all if mode != "gru" else xp.empty_like(da_all)
        db_hh = None
        for t in range(T - 1, -1, -1):
            dh = dh + g[t]
            h_prev = hs[t]
            if mode == "lstm":
                s = self.gates[t]
                i, f, gg, o = s[:, :H], s[:, H : 2 * H], s[:, 2 * H : 3 * H], s[:, 3 * H :]
                tc = self.tcs[t]
                dc += dh * o * (1 - tc * tc)
                da = da_all[t]
                xp.multiply(dc, gg, out=da[:, :H])
                xp.multiply(dc, self.cs[t], out=da[:, H : 2 * H])
                xp.multiply(dc, i, out=da[:, 2 * H : 3 * H])
                xp.multiply(dh, tc, out=da[:, 3 * H :])
                deriv = s * (1 - s)  # sigmoid' of i, f, o; the g column is replaced by tanh'
                xp.multiply(gg, gg, out=deriv[:, 2 * H : 3 * H])
                xp.subtract(1, deriv[:, 2 * H : 3 * H], out=deriv[:, 2 * H : 3 * H])
                da *= deriv
                dc *= f
                dh = da @ W_hh
            elif mode == "gru":
                r, z, n, hh_n = self.cache[t]
                dn = dh * (1 - z) * (1 - n * n)
                dr = dn * hh_n * r * (1 - r)
                dz = dh * (h_prev - n) * z * (1 - z)
                da = da_all[t]
                da[:, :H], da[:, H : 2 * H], da[:, 2 * H :] = dr, dz, dn
                dhh = dhh_all[t]
                dhh[:, :H], dhh[:, H : 2 * H] = dr, dz
                xp.multiply(dn, r, out=dhh[:, 2 * H :])
                dh = dh * z + dhh @ W_hh
            else:
                h = hs[t + 1]
                da = dh * (1 - h * h) if mode == "rnn_tanh" else dh * (h > 0)
                da_all[t] = da
                dh = da @ W_hh
        dW_hh = dhh_all.reshape(T * B, -1).T @ hs[:T].reshape(T * B, -1)
        if mode == "gru":
            db_hh = backend.sum_axes(xp, dhh_all.reshape(T * B, -1), (0,))
        flat = da_all.reshape(T * B, -1)
        dx = (flat @ W_ih).reshape(x.shape)
        dW_ih = flat.T @ x.reshape(T * B, -1)
        grads = [dx, dh]
        if mode == "lstm":
            grads.append(dc)
        grads += [dW_ih, dW_hh]
        if self.has_bias:
            db_ih = backend.sum_axes(xp, flat, (0,))
            grads += [db_ih, db_hh if mode == "gru" else db_ih]
        return tuple(grads)


@_autocast.lower_precision  # as PyTorch's CUDA autocast runs its RNNs (cuDNN) in half
def recurrent_layer(
    mode: str, x: Tensor, h0: Tensor, c0, W_ih, W_hh, b_ih=None, b_hh=None
) -> tuple:
    """Run one recurrent layer over a (T, B, I) sequence: (all hidden states (T, B, H), the last
    hidden state (B, H), the last cell state (B, H) or None). See ``RecurrentLayer``."""
    inputs = [x, h0] + ([c0] if mode == "lstm" else []) + [W_ih, W_hh]
    if b_ih is not None:
        inputs += [b_ih, b_hh]
    outs = RecurrentLayer.apply(*inputs, mode=mode, has_bias=b_ih is not None)
    return outs if mode == "lstm" else (*outs, None)
