"""FlashAttention's numba kernels: the elementwise work of one block of scores, and whole tasks.

The block kernels: forward (``fwd_block``, the online softmax) and backward (``bwd_block``, P and
dS from the row log-sum-exp), dropout's keep bits (``bits``) hashed from the call's seed and the
position. The task kernels: a whole task, one (batch, key/value head) pair and the query heads
that read it, forward or backward in one numba call without the GIL (the block loop of
``kernels.flash_attention`` without returning to Python for each block), the products by
``blas.gemm`` on views of the inputs. ``kernels.flash_attention`` runs the tasks on the pool when
``blas.available()``, else its block loop with the block kernels.

Grouped-query attention: query head h reads key/value head h // (H / K); a task holds every
query head of its key/value head, so the key and value gradients are summed in place, with no
repeated copies and no two threads writing one head.

Module-level functions for both float types (the type's exp and constants chosen when they
compile, ``kernels.typed``), so numba caches them on disk. One file for both: numba keys the
cache of a function by its own file, and a task kernel holds a copy of the block kernels'
machine code, so an edit to these must invalidate it too.
"""

from __future__ import annotations

import numpy as np

from zerograd.kernels import numba

GOLDEN = 0x9E3779B97F4A7C15  # the 64-bit hash (splitmix64's finaliser) of dropout's masks
M1, M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB

if numba is not None:
    from numba.extending import overload

    from zerograd.kernels import jit_nogil, jit_serial
    from zerograd.kernels.blas import gemm
    from zerograd.kernels.typed import OPTIONS, cast, exp_of, is_float32

    @jit_serial
    def bits(seed, i):
        """24 random bits for element i (row * S + column) of a call's weights: the mask is
        recomputed, not stored, so the backward regenerates the forward's."""
        x = seed + i * np.uint64(GOLDEN)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(M1)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(M2)
        return (x ^ (x >> np.uint64(31))) >> np.uint64(40)

    # The row max as a max of integers: the float bits made monotone (negatives' magnitude bits
    # flipped). A max of floats does not vectorise in numba (no nnan flag on the loop): the
    # forward block kernel took 3.6 ns an element with it, 1.? ns with this.

    @jit_serial
    def _key32(x):
        i = np.float32(x).view(np.int32)
        return i ^ ((i >> np.int32(31)) & np.int32(0x7FFFFFFF))

    @jit_serial
    def _unkey32(i):
        return np.int32(i ^ ((i >> np.int32(31)) & np.int32(0x7FFFFFFF))).view(np.float32)

    @jit_serial
    def _key64(x):
        i = np.float64(x).view(np.int64)
        return i ^ ((i >> np.int64(63)) & np.int64(0x7FFFFFFFFFFFFFFF))

    @jit_serial
    def _unkey64(i):
        return np.int64(i ^ ((i >> np.int64(63)) & np.int64(0x7FFFFFFFFFFFFFFF))).view(np.float64)

    def _key(like, x):  # pragma: no cover - stands for the overload below in compiled code
        """x (converted to ``like``'s float type) as an integer of its size, ordered as x."""
        raise NotImplementedError

    def _unkey(like, i):  # pragma: no cover - likewise
        """The float of ``like``'s type whose key is i."""
        raise NotImplementedError

    @overload(_key, jit_options=OPTIONS)
    def _key_impl(like, x):
        if is_float32(like):
            return lambda like, x: _key32(x)
        return lambda like, x: _key64(x)

    @overload(_unkey, jit_options=OPTIONS)
    def _unkey_impl(like, i):
        if is_float32(like):
            return lambda like, i: _unkey32(i)
        return lambda like, i: _unkey64(i)

    # ``s``: a C-contiguous (nq, nk) block of q k^T; ``b``: the additive mask's rows, (1 or nq,
    # nk) (ignored unless ``has_bias``); row r of the block may attend its first ``lim0 + r``
    # keys (clipped to [0, nk]). Float32 blocks in float32 with exp32_neg, float64 with exp_neg.

    @jit_nogil
    def fwd_block(s, b, has_bias, scale, lim0, m, l, alpha, drop, seed, row0, col0, ncol, cut, inv):
        # s <- exp(s * scale + b - m_new) (0 where masked; dropped and the rest scaled by inv
        # when drop: l sums them before dropout); m, l updated; alpha: rescale
        nq, nk = s.shape
        sc = cast(s, scale)
        for r in range(nq):
            n = min(max(lim0 + r, 0), nk)
            row = s[r]
            mk = _key(s, cast(s, -np.inf))
            if has_bias:
                br = b[r if b.shape[0] > 1 else 0]
                for c in range(n):
                    x = row[c] * sc + br[c]
                    row[c] = x
                    kx = _key(s, x)
                    mk = kx if kx > mk else mk
            else:
                for c in range(n):
                    x = row[c] * sc
                    row[c] = x
                    kx = _key(s, x)
                    mk = kx if kx > mk else mk
            mx = _unkey(s, mk)
            mo = m[r]
            mn = max(mo, mx)
            ref = mn if mn > -np.inf else cast(s, 0.0)  # a row masked so far: no NaN from -inf
            t = cast(s, 0.0)
            if drop:
                base = (row0 + np.uint64(r)) * ncol + col0
                for c in range(n):
                    e = exp_of(s, row[c] - ref)
                    t += e
                    kept = bits(seed, base + np.uint64(c)) >= cut
                    row[c] = e * inv if kept else cast(s, 0.0)
            else:
                for c in range(n):
                    e = exp_of(s, row[c] - ref)
                    row[c] = e
                    t += e
            for c in range(n, nk):
                row[c] = cast(s, 0.0)
            a = exp_of(s, mo - ref)
            alpha[r] = a
            l[r] = l[r] * a + t
            m[r] = mn

    @jit_nogil
    def bwd_block(s, dp, b, has_bias, scale, lim0, lse, d, drop, seed, row0, col0, ncol, cut, inv):
        # s <- P = exp(s * scale + b - lse); dp <- dS * scale = P * (dp - d) * scale; with
        # drop, Z = the forward's mask * inv: s <- P * Z, dp <- P * (dp * Z - d) * scale
        nq, nk = s.shape
        sc = cast(s, scale)
        for r in range(nq):
            n = min(max(lim0 + r, 0), nk)
            row, drow = s[r], dp[r]
            lr, dr = lse[r], d[r]
            if drop:
                base = (row0 + np.uint64(r)) * ncol + col0
                for c in range(n):
                    x = row[c] * sc + (b[r if b.shape[0] > 1 else 0, c] if has_bias else 0)
                    p = exp_of(s, x - lr)
                    z = inv if bits(seed, base + np.uint64(c)) >= cut else cast(s, 0.0)
                    row[c] = p * z
                    drow[c] = p * (drow[c] * z - dr) * sc
            elif has_bias:
                br = b[r if b.shape[0] > 1 else 0]
                for c in range(n):
                    p = exp_of(s, row[c] * sc + br[c] - lr)
                    row[c] = p
                    drow[c] = p * (drow[c] - dr) * sc
            else:
                for c in range(n):
                    p = exp_of(s, row[c] * sc - lr)
                    row[c] = p
                    drow[c] = p * (drow[c] - dr) * sc
            for c in range(n, nk):
                row[c] = cast(s, 0.0)
                drow[c] = cast(s, 0.0)

    # The task kernels. Arguments as ``kernels.flash_attention``'s forward and backward pass
    # them: inputs with a unit stride along their last axis (``_rows``), ``tasks`` an (n, 2)
    # array of (batch, key/value head), the mask 4-D with its key axis spelled out (a dummy when
    # ``has_bias`` is False).

    @jit_nogil
    def fwd_tasks(q, k, v, y, lse, b4, has_bias, scale, causal, has_causal, tasks, bq, bk,
                  drop, seed, cut, inv):  # fmt: skip
        B, H, L, _ = q.shape
        K, S, Ev = k.shape[1], k.shape[2], v.shape[3]
        rep, ncol = H // K, np.uint64(S)
        sbuf = np.empty(bq * min(bk, S), q.dtype)
        acc = np.empty((bq, Ev), q.dtype)
        m, l, alpha = np.empty(bq, q.dtype), np.empty(bq, q.dtype), np.empty(bq, q.dtype)
        for t in range(tasks.shape[0]):
            bi, g = tasks[t, 0], tasks[t, 1]
            kh, vh = k[bi, g], v[bi, g]
            for hi in range(g * rep, (g + 1) * rep):
                qh, yh, lh = q[bi, hi], y[bi, hi], lse[bi, hi]
                bh = b4[bi if b4.shape[0] > 1 else 0, hi if b4.shape[1] > 1 else 0]
                for i0 in range(0, L, bq):
                    i1 = min(i0 + bq, L)
                    nq = i1 - i0
                    kmax = min(S, i1 + causal) if has_causal else S
                    if kmax <= 0:  # every key masked: NaN, as the softmax gives
                        yh[i0:i1] = cast(q, np.nan)
                        lh[i0:i1] = cast(q, -np.inf)
                        continue
                    mq, lq, aq, a = m[:nq], l[:nq], alpha[:nq], acc[:nq]
                    mq[:] = cast(q, -np.inf)
                    lq[:] = 0
                    for j0 in range(0, kmax, bk):
                        j1 = min(j0 + bk, kmax)
                        nk = j1 - j0
                        s = sbuf[: nq * nk].reshape((nq, nk))
                        gemm(False, qh[i0:i1], True, kh[j0:j1], s, 1.0, 0.0)
                        bb = bh[i0:i1, j0:j1] if bh.shape[0] > 1 else bh[0:1, j0:j1]
                        lim0 = i0 + causal - j0 + 1 if has_causal else nk
                        row0 = np.uint64((bi * H + hi) * L + i0)
                        fwd_block(s, bb, has_bias, scale, lim0, mq, lq, aq, drop, seed, row0,
                            np.uint64(j0), ncol, cut, inv)  # fmt: skip
                        if j0 > 0:
                            for r in range(nq):
                                for e in range(Ev):
                                    a[r, e] *= aq[r]
                        gemm(False, s, False, vh[j0:j1], a, 1.0, 0.0 if j0 == 0 else 1.0)
                    for r in range(nq):
                        for e in range(Ev):
                            yh[i0 + r, e] = a[r, e] / lq[r]
                        lh[i0 + r] = mq[r] + np.log(lq[r])

    @jit_nogil
    def bwd_tasks(q, k, v, y, lse, gy, gq, gk, gv, b4, has_bias, scale, causal, has_causal,
                  tasks, bq, bk, drop, seed, cut, inv):  # fmt: skip
        # gk, gv: zeros, accumulated over a task's query heads
        B, H, L, E = q.shape
        K, S = k.shape[1], k.shape[2]
        rep, ncol = H // K, np.uint64(S)
        sbuf = np.empty(bq * min(bk, S), q.dtype)
        dpbuf = np.empty(bq * min(bk, S), q.dtype)
        d = np.empty(L, q.dtype)
        for t in range(tasks.shape[0]):
            bi, g = tasks[t, 0], tasks[t, 1]
            kh, vh, gkh, gvh = k[bi, g], v[bi, g], gk[bi, g], gv[bi, g]
            dead = False
            for hi in range(g * rep, (g + 1) * rep):
                qh, gyh, gqh, lh = q[bi, hi], gy[bi, hi], gq[bi, hi], lse[bi, hi]
                bh = b4[bi if b4.shape[0] > 1 else 0, hi if b4.shape[1] > 1 else 0]
                yh = y[bi, hi]
                for r in range(L):  # rowsum(dO * O)
                    x = cast(q, 0.0)
                    for e in range(yh.shape[1]):
                        x += gyh[r, e] * yh[r, e]
                    d[r] = x
                for i0 in range(0, L, bq):
                    i1 = min(i0 + bq, L)
                    nq = i1 - i0
                    kmax = min(S, i1 + causal) if has_causal else S
                    for j0 in range(0, max(kmax, 0), bk):
                        j1 = min(j0 + bk, kmax)
                        nk = j1 - j0
                        s = sbuf[: nq * nk].reshape((nq, nk))
                        dp = dpbuf[: nq * nk].reshape((nq, nk))
                        gemm(False, qh[i0:i1], True, kh[j0:j1], s, 1.0, 0.0)
                        gemm(False, gyh[i0:i1], True, vh[j0:j1], dp, 1.0, 0.0)
                        bb = bh[i0:i1, j0:j1] if bh.shape[0] > 1 else bh[0:1, j0:j1]
                        lim0 = i0 + causal - j0 + 1 if has_causal else nk
                        row0 = np.uint64((bi * H + hi) * L + i0)
                        bwd_block(s, dp, bb, has_bias, scale, lim0, lh[i0:i1], d[i0:i1], drop,
                            seed, row0, np.uint64(j0), ncol, cut, inv)  # fmt: skip
                        gemm(True, s, False, gyh[i0:i1], gvh[j0:j1], 1.0, 1.0)
                        gemm(True, dp, False, qh[i0:i1], gkh[j0:j1], 1.0, 1.0)
                        gemm(
                            False,
                            dp,
                            False,
                            kh[j0:j1],
                            gqh[i0:i1],
                            1.0,
                            0.0 if j0 == 0 else 1.0,
                        )
                for r in range(L):  # no key to attend: NaN, as the softmax path gives
                    if lh[r] == cast(q, -np.inf):
                        gqh[r] = cast(q, np.nan)
                        dead = True
            if dead:
                gkh[:] = cast(q, np.nan)
                gvh[:] = cast(q, np.nan)
