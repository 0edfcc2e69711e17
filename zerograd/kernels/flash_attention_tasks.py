"""FlashAttention's task kernels: a whole task, one (batch, key/value head) pair and the query
heads that read it, forward or backward in one numba call without the GIL (the block loop of
``kernels.flash_attention`` without returning to Python for each block), the products by
``blas.gemm`` on views of the inputs. ``kernels.flash_attention`` builds them from its block
kernels and runs them on the pool when ``blas.available()``.

Grouped-query attention: query head h reads key/value head h // (H / K); a task holds every
query head of its key/value head, so the key and value gradients are summed in place, with no
repeated copies and no two threads writing one head.
"""

from __future__ import annotations

import numpy as np

from zerograd.kernels import jit_nogil
from zerograd.kernels.blas import gemm


def make(fwd, bwd, ftype):
    """Forward and backward over whole tasks, each a (batch, key/value head) pair and the
    query heads that read it, in one call without the GIL; the products by ``blas.gemm``.
    Arguments as ``kernels.flash_attention``'s forward and backward pass them: inputs with a
    unit stride along their last axis (``_rows``), ``tasks`` an (n, 2) array of (batch, key/value
    head), the mask 4-D with its key axis spelled out (a dummy when ``has_bias`` is False)."""
    nan, inf = ftype(np.nan), ftype(np.inf)

    @jit_nogil
    def fwd_tasks(q, k, v, y, lse, b4, has_bias, scale, causal, has_causal, tasks, bq, bk,
                  drop, seed, cut, inv):  # fmt: skip
        B, H, L, _ = q.shape
        K, S, Ev = k.shape[1], k.shape[2], v.shape[3]
        rep, ncol = H // K, np.uint64(S)
        sbuf = np.empty(bq * min(bk, S), ftype)
        acc = np.empty((bq, Ev), ftype)
        m, l, alpha = np.empty(bq, ftype), np.empty(bq, ftype), np.empty(bq, ftype)
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
                        yh[i0:i1] = nan
                        lh[i0:i1] = -inf
                        continue
                    mq, lq, aq, a = m[:nq], l[:nq], alpha[:nq], acc[:nq]
                    mq[:] = -inf
                    lq[:] = 0
                    for j0 in range(0, kmax, bk):
                        j1 = min(j0 + bk, kmax)
                        nk = j1 - j0
                        s = sbuf[: nq * nk].reshape((nq, nk))
                        gemm(False, qh[i0:i1], True, kh[j0:j1], s, 1.0, 0.0)
                        bb = bh[i0:i1, j0:j1] if bh.shape[0] > 1 else bh[0:1, j0:j1]
                        lim0 = i0 + causal - j0 + 1 if has_causal else nk
                        row0 = np.uint64((bi * H + hi) * L + i0)
                        fwd(s, bb, has_bias, scale, lim0, mq, lq, aq, drop, seed, row0,
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
        sbuf = np.empty(bq * min(bk, S), ftype)
        dpbuf = np.empty(bq * min(bk, S), ftype)
        d = np.empty(L, ftype)
        for t in range(tasks.shape[0]):
            bi, g = tasks[t, 0], tasks[t, 1]
            kh, vh, gkh, gvh = k[bi, g], v[bi, g], gk[bi, g], gv[bi, g]
            dead = False
            for hi in range(g * rep, (g + 1) * rep):
                qh, gyh, gqh, lh = q[bi, hi], gy[bi, hi], gq[bi, hi], lse[bi, hi]
                bh = b4[bi if b4.shape[0] > 1 else 0, hi if b4.shape[1] > 1 else 0]
                yh = y[bi, hi]
                for r in range(L):  # rowsum(dO * O)
                    x = ftype(0.0)
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
                        bwd(s, dp, bb, has_bias, scale, lim0, lh[i0:i1], d[i0:i1], drop,
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
                    if lh[r] == -inf:
                        gqh[r] = nan
                        dead = True
            if dead:
                gkh[:] = nan
                gvh[:] = nan

    return fwd_tasks, bwd_tasks
