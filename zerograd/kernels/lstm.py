"""The LSTM cell, forward and backward, as one serial pass per time step (one step is small and
the steps are sequential: no threads to start). ``zerograd.ops.rnn`` runs the GEMMs between."""

from __future__ import annotations

import numpy as np

from zerograd.kernels import jit_nogil, jit_serial, numba

if numba is not None:
    from zerograd.kernels import exp32_neg, exp_neg

    def _make_lstm(exp, ftype):
        """LSTM cell kernels for one float type, given its exp for arguments <= 0: sigmoid and
        tanh from exp(-|a|)."""

        one, two = ftype(1), ftype(2)  # constants of the array's type: no float64 promotion

        @jit_serial
        def sigmoid(z):
            e = exp(-abs(z))
            return one / (one + e) if z >= 0 else e / (one + e)

        @jit_serial
        def tanh(z):
            e = exp(-two * abs(z))
            t = (one - e) / (one + e)
            return t if z >= 0 else -t

        @jit_nogil
        def forward(a, xw, c_prev, c, tc, h):
            """a (B, 4H): h_prev W_hh^T on entry, the gates (i, f, g, o) on exit; then
            c = f c_prev + i g, tc = tanh(c), h = o tc."""
            B, G = a.shape
            H = G // 4
            for b in range(B):
                # one loop over the four gates (measured twice as fast as a loop per gate; a step
                # 88 us -> 60 us): tanh(z) = 2 sigmoid(2z) - 1 for the g gate, as the NumPy path
                for j in range(G):
                    s = two if 2 * H <= j < 3 * H else one
                    a[b, j] = sigmoid((a[b, j] + xw[b, j]) * s) * s - (s - one)
                ab = a[b]
                for j in range(H):
                    cj = ab[H + j] * c_prev[b, j] + ab[j] * ab[2 * H + j]
                    c[b, j] = cj
                    t = tanh(cj)
                    tc[b, j] = t
                    h[b, j] = ab[3 * H + j] * t

        @jit_nogil
        def backward(dh, gt, dc, s, tc, c_prev, da):
            """One step back: dh + gt is the gradient of h; dc (in place) that of c, passed on
            to c_prev; da (B, 4H) that of the gates' pre-activations."""
            B, G = s.shape
            H = G // 4
            for b in range(B):
                for j in range(H):
                    i, f, g, o = s[b, j], s[b, H + j], s[b, 2 * H + j], s[b, 3 * H + j]
                    t = tc[b, j]
                    d = dh[b, j] + gt[b, j]
                    dcj = dc[b, j] + d * o * (one - t * t)
                    da[b, j] = dcj * g * (i * (one - i))
                    da[b, H + j] = dcj * c_prev[b, j] * (f * (one - f))
                    da[b, 2 * H + j] = dcj * i * (one - g * g)
                    da[b, 3 * H + j] = d * t * (o * (one - o))
                    dc[b, j] = dcj * f

        return forward, backward

    _lstm_f32 = _make_lstm(exp32_neg, np.float32)
    _lstm_f64 = _make_lstm(exp_neg, np.float64)


def cell_kernels(dtype):
    """(forward, backward) LSTM cell kernels for a float dtype (see ``_make_lstm``)."""
    return _lstm_f32 if dtype == np.float32 else _lstm_f64
