"""Attention with gradients in blocks (FlashAttention on the CPU): forward and backward.

The forward keeps no scores: for each block of queries it walks the keys in blocks, keeping a
running row max ``m`` and sum ``l`` of the exponentials, and rescales the partial output when the
max grows (the online softmax); it returns the output and the row log-sum-exp ``lse = m + log l``.
The backward recomputes each block's probabilities from ``lse`` (``P = exp(S - lse)``) and forms
``dS = P * (dP - rowsum(dO * O))``. Memory: the inputs, the output, ``lse`` and one block of
scores per thread: linear in the context. Dropout on the weights draws no stored mask: each
weight's keep bit is a hash of the call's seed and its position (``flash_attention_tasks.bits``),
computed again in the backward's blocks.

Work is split into tasks, one per (batch, key/value head) pair with the query heads that read it
(grouped-query attention: query head h reads key/value head h // (H / K), no repeated copies), on
the thread pool of ``kernels.parallel_parts``. With numba and NumPy's bundled OpenBLAS a task is
one numba call without the GIL, its products by ``blas.gemm`` (``flash_attention_tasks``);
otherwise the block loop below runs in Python (NumPy's products release the GIL, so do the numba
block kernels). A causal mask (key j allowed for query i when j <= i + offset) skips the key
blocks above the diagonal. The elementwise work of a block is one numba pass
(``flash_attention_tasks``: ``fwd_block``, ``bwd_block``), or NumPy's operations when numba is
off (``_fwd_block_np``, ``_bwd_block_np``, the twins the tests compare). Block sizes:
``tuning.FLASH_ATTENTION_BLOCK_Q`` and ``FLASH_ATTENTION_BLOCK_K``.
"""

from __future__ import annotations

import numpy as np

from zerograd import kernels, tuning
from zerograd.kernels import blas, numba
from zerograd.kernels.flash_attention_tasks import GOLDEN, M1, M2

if numba is not None:
    from zerograd.kernels import flash_attention_tasks as flash_tasks
    from zerograd.kernels.flash_attention_tasks import bwd_block, fwd_block


def _keep(nq: int, nk: int, lim0: int):
    """Boolean (nq, nk): row r keeps its first lim0 + r keys; None when every key is kept."""
    if lim0 >= nk:
        return None
    return np.arange(nk) < (lim0 + np.arange(nq))[:, None]


def _bits_np(seed, row0, col0, ncol, nq: int, nk: int) -> np.ndarray:
    """NumPy twin of ``flash_attention_tasks.bits`` for a (nq, nk) block whose first element
    is (row0, col0)."""
    u = np.uint64
    rows = (u(row0) + np.arange(nq, dtype=u))[:, None] * u(ncol)
    x = u(seed) + (rows + (u(col0) + np.arange(nk, dtype=u))) * u(GOLDEN)
    x = (x ^ (x >> u(30))) * u(M1)
    x = (x ^ (x >> u(27))) * u(M2)
    return (x ^ (x >> u(31))) >> u(40)


def dropout_mask(shape: tuple, p: float, seed: int, dtype) -> np.ndarray:
    """The whole (B, H, L, S) dropout mask (0 or 1 / (1 - p)) that the block kernels regenerate
    for ``seed``: for the recorded backward (create_graph) and the tests."""
    B, H, L, S = shape
    drop, seed, cut, inv = _dropout_args((p, seed), np.dtype(dtype))
    bits = _bits_np(seed, 0, 0, S, B * H * L, S)
    return np.where(bits >= cut, inv, 0).astype(dtype).reshape(shape)


def _fwd_block_np(s, b, has_bias, scale, lim0, m, l, alpha, drop, seed, row0, col0, ncol, cut, inv):
    """NumPy twin of the numba forward block kernel (same arguments, same results)."""
    s *= s.dtype.type(scale)
    if has_bias:
        s += b
    keep = _keep(*s.shape, lim0)
    if keep is not None:
        s[~keep] = -np.inf
    mn = np.maximum(m, s.max(axis=1))
    ref = np.where(mn > -np.inf, mn, 0).astype(s.dtype)
    s -= ref[:, None]
    np.exp(s, out=s)
    np.exp(m - ref, out=alpha)
    l *= alpha
    l += s.sum(axis=1)
    m[:] = mn
    if drop:
        s *= np.where(_bits_np(seed, row0, col0, ncol, *s.shape) >= cut, inv, 0).astype(s.dtype)


def _bwd_block_np(s, dp, b, has_bias, scale, lim0, lse, d, drop, seed, row0, col0, ncol, cut, inv):
    """NumPy twin of the numba backward block kernel."""
    s *= s.dtype.type(scale)
    if has_bias:
        s += b
    with np.errstate(invalid="ignore"):  # a fully masked row: -inf - -inf, NaN as it should
        s -= lse[:, None]
    np.exp(s, out=s)
    keep = _keep(*s.shape, lim0)
    if keep is not None:
        s[~keep] = 0
    z = None
    if drop:
        z = np.where(_bits_np(seed, row0, col0, ncol, *s.shape) >= cut, inv, 0).astype(s.dtype)
        dp *= z
    dp -= d[:, None]
    dp *= s
    dp *= dp.dtype.type(scale)
    if z is not None:
        s *= z  # P * Z, for the values' gradient


def _block_kernels(dtype):
    if kernels.ENABLED and numba is not None:
        return fwd_block, bwd_block
    return _fwd_block_np, _bwd_block_np


def _fused() -> bool:
    """Whole tasks in one numba call each (``flash_attention_tasks``), or the block loop here."""
    return kernels.ENABLED and numba is not None and blas.available()


def _run(fn, tasks) -> None:
    """fn(part) over the tasks, on the pool when the kernels are on; OpenBLAS on one thread
    meanwhile (``blas.one_thread``)."""
    with blas.one_thread():
        if kernels.ENABLED and numba is not None:
            kernels.parallel_parts(fn, tasks)
        else:
            fn(tasks)


def _plan(L: int, S: int, causal: int | None):
    """[(i0, i1, [(j0, j1, lim0), ...]), ...]: query blocks and, for each, its key blocks (those
    above a causal diagonal left out) with the kept keys of the block's first row."""
    bq, bk = tuning.FLASH_ATTENTION_BLOCK_Q, tuning.FLASH_ATTENTION_BLOCK_K
    plan = []
    for i0 in range(0, L, bq):
        i1 = min(i0 + bq, L)
        kmax = S if causal is None else min(S, i1 - 1 + causal + 1)
        keys = []
        for j0 in range(0, max(kmax, 0), bk):
            j1 = min(j0 + bk, kmax)
            lim0 = j1 - j0 if causal is None else i0 + causal - j0 + 1
            keys.append((j0, j1, lim0))
        plan.append((i0, i1, keys))
    return plan


def _bias_rows(b4, bi: int, hi: int, S: int):
    """The (L or 1, S) additive mask of one (batch, head) pair, or None."""
    if b4 is None:
        return None
    b2 = b4[bi if b4.shape[0] > 1 else 0, hi if b4.shape[1] > 1 else 0]
    return np.broadcast_to(b2, (b2.shape[0], S))


def as_bias4(bias, ndim: int, dtype):
    """An additive mask broadcastable to the scores, as 4-D (B or 1, H or 1, L or 1, S or 1) of
    the scores' dtype; ``ndim``: 3 (no head axis) or 4."""
    if bias is None:
        return None
    b = bias.astype(dtype, copy=False)
    b = b.reshape((1,) * (ndim - b.ndim) + b.shape)
    return b[:, None] if ndim == 3 else b


def _dropout_args(dropout, dtype) -> tuple:
    """(drop, seed, cut, inv) for the block kernels: an element is kept when its 24 random bits
    are >= cut (probability 1 - p) and then scaled by inv = 1 / (1 - p)."""
    if dropout is None:
        return False, np.uint64(0), np.uint64(0), dtype.type(1)
    p, seed = dropout
    inv = dtype.type(0 if p >= 1 else 1 / (1 - p))
    return True, np.uint64(seed), np.uint64(round(p * (1 << 24))), inv


def _rows(a: np.ndarray) -> np.ndarray:
    """``a`` with unit strides along its last axis and rows that do not overlap (what BLAS reads
    as a matrix with a leading dimension): itself when it has them, else a copy."""
    size = a.itemsize
    if a.strides[-1] == size and a.strides[-2] >= a.shape[-1] * size and min(a.strides) >= 0:
        return a
    return np.ascontiguousarray(a)


def _fused_args(q, k, v, bias4, causal, dropout):
    """The arguments the task kernels share: inputs as ``_rows``, the mask (a dummy without
    one) with its key axis spelled out, the causal offset and flag, block sizes, dropout."""
    S, dtype = k.shape[2], q.dtype
    b4 = np.zeros((1, 1, 1, 1), dtype) if bias4 is None else bias4
    b4 = np.broadcast_to(b4, b4.shape[:3] + (S,))
    bq, bk = tuning.FLASH_ATTENTION_BLOCK_Q, tuning.FLASH_ATTENTION_BLOCK_K
    return (
        (_rows(q), _rows(k), _rows(v)),
        (b4, bias4 is not None),
        (0 if causal is None else int(causal), causal is not None),
        (bq, bk, *_dropout_args(dropout, dtype)),
    )


def _tasks(B: int, K: int) -> list:
    return [(bi, g) for bi in range(B) for g in range(K)]


def forward(q, k, v, bias4, scale: float, causal: int | None, dropout: tuple | None = None):
    """softmax(q k^T * scale + bias [+ causal mask]) v, in blocks.

    Args:
        q, k, v: (B, H, L, E), (B, K, S, E), (B, K, S, Ev) float arrays of one dtype, any
            strides; K divides H and query head h reads key/value head h // (H / K) (grouped-query
            attention without repeated copies; K = H: one each).
        bias4: None or a 4-D additive mask from ``as_bias4``.
        scale: multiplies q k^T.
        causal: None, or the offset: query i attends keys j <= i + causal.
        dropout: None, or (p, seed): drop each weight with probability p (after the softmax),
            the mask a hash of (seed, position), so that ``backward`` regenerates it.

    Returns:
        (y, lse): the (B, H, L, Ev) output (a view of a (B, L, H, Ev) array, so merging the heads
        is free) and the (B, H, L) row log-sum-exp of the masked, scaled scores.
    """
    B, H, L, _ = q.shape
    K, S, Ev = k.shape[1], k.shape[2], v.shape[3]
    dtype = q.dtype
    y = np.empty((B, L, H, Ev), dtype).transpose(0, 2, 1, 3)
    lse = np.empty((B, H, L), dtype)
    if _fused():
        (q, k, v), bias, causal_args, rest = _fused_args(q, k, v, bias4, causal, dropout)
        kern = flash_tasks.fwd_tasks
        _run(
            lambda part: kern(
                q, k, v, y, lse, *bias, scale, *causal_args, np.array(part, np.int64), *rest
            ),
            _tasks(B, K),
        )
        return y, lse
    rep = H // K
    plan = _plan(L, S, causal)
    fwd = _block_kernels(dtype)[0]
    bq, bk = tuning.FLASH_ATTENTION_BLOCK_Q, tuning.FLASH_ATTENTION_BLOCK_K
    kt = k.swapaxes(2, 3)
    drop, seed, cut, inv = _dropout_args(dropout, dtype)
    u, ncol = np.uint64, np.uint64(S)

    def run(tasks):
        sbuf = np.empty(bq * min(bk, S), dtype)
        acc_buf, tmp_buf = np.empty(bq * Ev, dtype), np.empty(bq * Ev, dtype)
        m_buf, l_buf, a_buf = np.empty(bq, dtype), np.empty(bq, dtype), np.empty(bq, dtype)
        for bi, hi in ((bi, hi) for bi, g in tasks for hi in range(g * rep, (g + 1) * rep)):
            qh, kth, vh = q[bi, hi], kt[bi, hi // rep], v[bi, hi // rep]
            yh, lh = y[bi, hi], lse[bi, hi]
            b2 = _bias_rows(bias4, bi, hi, S)
            for i0, i1, keys in plan:
                nq = i1 - i0
                if not keys:  # every key masked (a causal mask with L > S): as softmax, NaN
                    yh[i0:i1] = np.nan
                    lh[i0:i1] = -np.inf
                    continue
                m, l, alpha = m_buf[:nq], l_buf[:nq], a_buf[:nq]
                m.fill(-np.inf)
                l.fill(0)
                acc = acc_buf[: nq * Ev].reshape(nq, Ev)
                for n, (j0, j1, lim0) in enumerate(keys):
                    s = sbuf[: nq * (j1 - j0)].reshape(nq, j1 - j0)
                    np.matmul(qh[i0:i1], kth[:, j0:j1], out=s)
                    bb = None if b2 is None else b2[i0:i1, j0:j1] if len(b2) > 1 else b2[:, j0:j1]
                    fwd(s, s if bb is None else bb, bb is not None, scale, lim0, m, l, alpha,
                        drop, seed, u((bi * H + hi) * L + i0), u(j0), ncol, cut, inv)  # fmt: skip
                    if n == 0:
                        np.matmul(s, vh[j0:j1], out=acc)
                    else:
                        acc *= alpha[:, None]
                        tmp = tmp_buf[: nq * Ev].reshape(nq, Ev)
                        acc += np.matmul(s, vh[j0:j1], out=tmp)
                with np.errstate(divide="ignore", invalid="ignore"):  # a fully masked row: NaN
                    np.divide(acc, l[:, None], out=yh[i0:i1])
                    lh[i0:i1] = m + np.log(l)

    _run(run, _tasks(B, K))
    return y, lse


def backward(q, k, v, y, lse, gy, bias4, scale: float, causal: int | None, dropout=None):
    """The gradients (gq, gk, gv) of ``forward``'s output, given its gradient ``gy``; the
    arguments as ``forward`` took them and returned them. The gradients are views of (B, L, H, E)
    and (B, S, K, E) arrays."""
    B, H, L, E = q.shape
    K, S, Ev = k.shape[1], k.shape[2], v.shape[3]
    dtype = q.dtype
    # laid out (B, L, H, E) and (B, S, K, E) in memory, as the heads were split from the
    # projections: merging the heads of the gradients back is free (as ``forward``'s y)
    gq = np.empty((B, L, H, E), dtype).transpose(0, 2, 1, 3)
    gk = np.zeros((B, S, K, E), dtype).transpose(0, 2, 1, 3)
    gv = np.zeros((B, S, K, Ev), dtype).transpose(0, 2, 1, 3)
    if _fused():
        (q, k, v), bias, causal_args, rest = _fused_args(q, k, v, bias4, causal, dropout)
        gy, kern = _rows(gy), flash_tasks.bwd_tasks
        _run(
            lambda part: kern(
                q,
                k,
                v,
                y,
                lse,
                gy,
                gq,
                gk,
                gv,
                *bias,
                scale,
                *causal_args,
                np.array(part, np.int64),
                *rest,
            ),  # fmt: skip
            _tasks(B, K),
        )
        return gq, gk, gv
    rep = H // K
    plan = _plan(L, S, causal)
    bwd = _block_kernels(dtype)[1]
    bq, bk = tuning.FLASH_ATTENTION_BLOCK_Q, tuning.FLASH_ATTENTION_BLOCK_K
    kt, vt = k.swapaxes(2, 3), v.swapaxes(2, 3)
    drop, seed, cut, inv = _dropout_args(dropout, dtype)
    u, ncol = np.uint64, np.uint64(S)

    def run(tasks):
        sbuf, dpbuf = np.empty(bq * min(bk, S), dtype), np.empty(bq * min(bk, S), dtype)
        dq_buf, tq_buf = np.empty(bq * E, dtype), np.empty(bq * E, dtype)
        tk_buf, tv_buf = np.empty(min(bk, S) * E, dtype), np.empty(min(bk, S) * Ev, dtype)
        for bi, g in tasks:  # one task: a key/value head and the query heads that read it
            kh, kth, vth, gkh, gvh = k[bi, g], kt[bi, g], vt[bi, g], gk[bi, g], gv[bi, g]
            for hi in range(g * rep, (g + 1) * rep):
                qh, gyh, lh, gqh = q[bi, hi], gy[bi, hi], lse[bi, hi], gq[bi, hi]
                d = np.einsum("ij,ij->i", gyh, y[bi, hi])  # rowsum(dO * O), (L,)
                b2 = _bias_rows(bias4, bi, hi, S)
                for i0, i1, keys in plan:
                    nq = i1 - i0
                    dq = dq_buf[: nq * E].reshape(nq, E)
                    for n, (j0, j1, lim0) in enumerate(keys):
                        nk = j1 - j0
                        s = sbuf[: nq * nk].reshape(nq, nk)
                        dp = dpbuf[: nq * nk].reshape(nq, nk)
                        np.matmul(qh[i0:i1], kth[:, j0:j1], out=s)
                        np.matmul(gyh[i0:i1], vth[:, j0:j1], out=dp)
                        bb = (
                            None
                            if b2 is None
                            else b2[i0:i1, j0:j1]
                            if len(b2) > 1
                            else b2[:, j0:j1]
                        )
                        bwd(s, dp, s if bb is None else bb, bb is not None, scale, lim0,
                            lh[i0:i1], d[i0:i1],
                            drop, seed, u((bi * H + hi) * L + i0), u(j0), ncol, cut, inv)  # fmt: skip
                        gvh[j0:j1] += np.matmul(
                            s.T, gyh[i0:i1], out=tv_buf[: nk * Ev].reshape(nk, Ev)
                        )
                        gkh[j0:j1] += np.matmul(
                            dp.T, qh[i0:i1], out=tk_buf[: nk * E].reshape(nk, E)
                        )
                        if n == 0:
                            np.matmul(dp, kh[j0:j1], out=dq)
                        else:
                            dq += np.matmul(dp, kh[j0:j1], out=tq_buf[: nq * E].reshape(nq, E))
                    if keys:  # else every key masked: NaN (below)
                        gqh[i0:i1] = dq
                dead = np.isneginf(lh)  # rows with no key to attend: NaN, as the softmax path
                if dead.any():
                    gqh[dead] = np.nan
                    gkh.fill(np.nan)
                    gvh.fill(np.nan)

    _run(run, _tasks(B, K))
    return gq, gk, gv
