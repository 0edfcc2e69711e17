"""Vectorised exps for arguments <= 0, shared by the softmax, GELU-gradient and LSTM kernels.

A call to libm's exp keeps a loop from vectorising; these are multiply-adds and bit operations
only. numba's disk cache keys a kernel by its own file: after editing this one, clear the
``__pycache__`` of ``zerograd/kernels`` so the kernels that inline these are compiled again.
"""

from __future__ import annotations

import math

import numpy as np

from zerograd.kernels import jit_serial, numba

if numba is not None:
    e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12 = (1 / math.factorial(i) for i in range(2, 13))
    f2, f3, f4, f5, f6, f7 = (np.float32(1 / math.factorial(i)) for i in range(2, 8))

    @jit_serial
    def exp_neg(x):
        """exp(x) for x <= 0 (a softmax after its max is subtracted), in float64: 2^k e^r with
        |r| <= ln2 / 2, a degree-12 Taylor polynomial and the exponent written as bits. All
        multiply-adds, so the loop vectorises (a call to libm's exp does not); relative error
        3e-16. Below -708 it is 0 (as exp in float32, and the weight of a masked position);
        NaN stays NaN."""
        c = max(x, -708.0)
        k = math.floor(c * 1.4426950408889634 + 0.5)
        r = (c - k * 0.6931471803691238) - k * 1.9082149292705877e-10
        p = e11 + r * e12
        p = e10 + r * p
        p = e9 + r * p
        p = e8 + r * p
        p = e7 + r * p
        p = e6 + r * p
        p = e5 + r * p
        p = e4 + r * p
        p = e3 + r * p
        p = e2 + r * p
        p = 1.0 + r * (1.0 + r * p)
        s = np.int64((np.int64(k) + 1023) << 52).view(np.float64)
        out = 0.0 if x < -708.0 else p * s
        return x if x != x else out

    @jit_serial
    def exp32_neg(x):
        """exp(x) for float32 x <= 0, in float32: 2^k e^r with |r| <= ln2 / 2, a degree-7 Taylor
        polynomial and 2^k written as exponent bits; k by truncation, not floor, so the loop
        vectorises. Relative error 5e-7 (4 ulp); below -87 it is 0; NaN stays NaN."""
        c = max(x, np.float32(-87.0))
        k = -np.int32(np.float32(0.5) - c * np.float32(1.4426950408889634))  # round(c / ln2)
        kf = np.float32(k)
        r = (c - kf * np.float32(0.693359375)) + kf * np.float32(2.12194440e-4)
        p = np.float32(1.0) + r * (
            np.float32(1.0) + r * (f2 + r * (f3 + r * (f4 + r * (f5 + r * (f6 + r * f7)))))
        )
        s = np.int32((k + np.int32(127)) << np.int32(23)).view(np.float32)
        out = np.float32(0.0) if x < np.float32(-87.0) else p * s
        return out if x == x else x
