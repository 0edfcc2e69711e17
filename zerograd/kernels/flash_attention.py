"""Attention with gradients in blocks (FlashAttention on the CPU): forward and backward.

The forward keeps no scores: for each block of queries it walks the keys in blocks, keeping a
running row max ``m`` and sum ``l`` of the exponentials, and rescales the partial output when the
max grows (the online softmax); it returns the output and the row log-sum-exp ``lse = m + log l``.
The backward recomputes each block's probabilities from ``lse`` (``P = exp(S - lse)``) and forms
``dS = P * (dP - rowsum(dO * O))``. Memory: the inputs, the output, ``lse`` and one block of
scores per thread: linear in the context. Dropout on the weights draws no stored mask: each
weight's keep bit is a hash of the call's seed and its position (``_bits``), computed again in the
backward's blocks.

Work is split over (batch, head) pairs on the thread pool of ``kernels.parallel_parts`` (NumPy's
matrix products release the GIL; so do the numba block kernels). A causal mask (key j allowed for
query i when j <= i + offset) skips the key blocks above the diagonal. The elementwise work of a
block is one numba pass (``_fwd_block``, ``_bwd_block``), or NumPy's operations when numba is off
(``_fwd_block_np``, ``_bwd_block_np``, the twins the tests compare). Block sizes:
``tuning.FLASH_ATTENTION_BLOCK_Q`` and ``FLASH_ATTENTION_BLOCK_K``.
"""

from __future__ import annotations

import numpy as np

from zerograd import kernels, tuning
from zerograd.kernels import jit_nogil, numba

_GOLDEN = 0x9E3779B97F4A7C15  # the 64-bit hash (splitmix64's finaliser) of dropout's masks
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB

if numba is not None:
    from zerograd.kernels import exp32_neg, exp_neg, jit_serial

    @jit_serial
    def _bits(seed, i):
        """24 random bits for element i (row * S + column) of a call's weights: the mask is
        recomputed, not stored, so the backward regenerates the forward's."""
        x = seed + i * np.uint64(_GOLDEN)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(_M1)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(_M2)
        return (x ^ (x >> np.uint64(31))) >> np.uint64(40)

    def _make(exp, ftype):
        """The two block kernels for one float type. ``s``: a C-contiguous (nq, nk) block of
        q k^T; ``b``: the additive mask's rows, (1 or nq, nk) (ignored unless ``has_bias``);
        row r of the block may attend its first ``lim0 + r`` keys (clipped to [0, nk])."""

        @jit_nogil
        def fwd(s, b, has_bias, scale, lim0, m, l, alpha, drop, seed, row0, col0, ncol, cut, inv):
            # s <- exp(s * scale + b - m_new) (0 where masked; dropped and the rest scaled by inv
            # when drop: l sums them before dropout); m, l updated; alpha: rescale
            nq, nk = s.shape
            sc = ftype(scale)
            for r in range(nq):
                n = min(max(lim0 + r, 0), nk)
                row = s[r]
                mx = ftype(-np.inf)
                if has_bias:
                    br = b[r if b.shape[0] > 1 else 0]
                    for c in range(n):
                        x = row[c] * sc + br[c]
                        row[c] = x
                        mx = max(mx, x)
                else:
                    for c in range(n):
                        x = row[c] * sc
                        row[c] = x
                        mx = max(mx, x)
                mo = m[r]
                mn = max(mo, mx)
                ref = mn if mn > -np.inf else ftype(0.0)  # a row masked so far: no NaN from -inf
                t = ftype(0.0)
                if drop:
                    base = (row0 + np.uint64(r)) * ncol + col0
                    for c in range(n):
                        e = exp(row[c] - ref)
                        t += e
                        kept = _bits(seed, base + np.uint64(c)) >= cut
                        row[c] = e * inv if kept else ftype(0.0)
                else:
                    for c in range(n):
                        e = exp(row[c] - ref)
                        row[c] = e
                        t += e
                for c in range(n, nk):
                    row[c] = ftype(0.0)
                a = exp(mo - ref)
                alpha[r] = a
                l[r] = l[r] * a + t
                m[r] = mn

        @jit_nogil
        def bwd(s, dp, b, has_bias, scale, lim0, lse, d, drop, seed, row0, col0, ncol, cut, inv):
            # s <- P = exp(s * scale + b - lse); dp <- dS * scale = P * (dp - d) * scale; with
            # drop, Z = the forward's mask * inv: s <- P * Z, dp <- P * (dp * Z - d) * scale
            nq, nk = s.shape
            sc = ftype(scale)
            for r in range(nq):
                n = min(max(lim0 + r, 0), nk)
                row, drow = s[r], dp[r]
                lr, dr = lse[r], d[r]
                if drop:
                    base = (row0 + np.uint64(r)) * ncol + col0
                    for c in range(n):
                        x = row[c] * sc + (b[r if b.shape[0] > 1 else 0, c] if has_bias else 0)
                        p = exp(x - lr)
                        z = inv if _bits(seed, base + np.uint64(c)) >= cut else ftype(0.0)
                        row[c] = p * z
                        drow[c] = p * (drow[c] * z - dr) * sc
                elif has_bias:
                    br = b[r if b.shape[0] > 1 else 0]
                    for c in range(n):
                        p = exp(row[c] * sc + br[c] - lr)
                        row[c] = p
                        drow[c] = p * (drow[c] - dr) * sc
                else:
                    for c in range(n):
                        p = exp(row[c] * sc - lr)
                        row[c] = p
                        drow[c] = p * (drow[c] - dr) * sc
                for c in range(n, nk):
                    row[c] = ftype(0.0)
                    drow[c] = ftype(0.0)

        return fwd, bwd

    _KERNELS = {
        np.dtype(np.float32): _make(exp32_neg, np.float32),
        np.dtype(np.float64): _make(exp_neg, np.float64),
    }


def _keep(nq: int, nk: int, lim0: int):
    """Boolean (nq, nk): row r keeps its first lim0 + r keys; None when every key is kept."""
    if lim0 >= nk:
        return None
    return np.arange(nk) < (lim0 + np.arange(nq))[:, None]


def _bits_np(seed, row0, col0, ncol, nq: int, nk: int) -> np.ndarray:
    """NumPy twin of ``_bits`` for a (nq, nk) block whose first element is (row0, col0)."""
    u = np.uint64
    rows = (u(row0) + np.arange(nq, dtype=u))[:, None] * u(ncol)
    x = u(seed) + (rows + (u(col0) + np.arange(nk, dtype=u))) * u(_GOLDEN)
    x = (x ^ (x >> u(30))) * u(_M1)
    x = (x ^ (x >> u(27))) * u(_M2)
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
        return _KERNELS[np.dtype(dtype)]
    return _fwd_block_np, _bwd_block_np


_blas = []  # [(get_num_threads, set_num_threads)] of NumPy's bundled OpenBLAS, or [None]


def _blas_threads():
    if not _blas:
        from zerograd import tuning as _tuning

        lib, found = _tuning._bundled_openblas(), None
        for prefix, suffix in (("scipy_", "64_"), ("", "64_"), ("", "")):
            get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
            put = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                found = (get, put)
                break
        _blas.append(found)
    return _blas[0]


def _run(fn, tasks) -> None:
    """fn(part) over the (batch, head) pairs, on the pool when the kernels are on. OpenBLAS runs
    single-threaded meanwhile: a block's products (64 x 512 x 64) are above its threshold for
    threads, and its threads woken for each of them, next to the pool's, made the blocks 15-20
    times slower (measured: 920 ms against 42 ms for (1, 4, 1024, 64), forward + backward)."""
    blas = _blas_threads()
    n = blas[0]() if blas is not None else 1
    if n > 1:
        blas[1](1)
    try:
        if kernels.ENABLED and numba is not None:
            kernels.parallel_parts(fn, tasks)
        else:
            fn(tasks)
    finally:
        if n > 1:
            blas[1](n)


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


def forward(q, k, v, bias4, scale: float, causal: int | None, dropout: tuple | None = None):
    """softmax(q k^T * scale + bias [+ causal mask]) v, in blocks.

    Args:
        q, k, v: (B, H, L, E), (B, H, S, E), (B, H, S, Ev) float arrays of one dtype, any strides.
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
    S, Ev = k.shape[2], v.shape[3]
    dtype = q.dtype
    y = np.empty((B, L, H, Ev), dtype).transpose(0, 2, 1, 3)
    lse = np.empty((B, H, L), dtype)
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
        for bi, hi in tasks:
            qh, kth, vh, yh, lh = q[bi, hi], kt[bi, hi], v[bi, hi], y[bi, hi], lse[bi, hi]
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

    _run(run, [(bi, hi) for bi in range(B) for hi in range(H)])
    return y, lse


def backward(q, k, v, y, lse, gy, bias4, scale: float, causal: int | None, dropout=None):
    """The gradients (gq, gk, gv) of ``forward``'s output, given its gradient ``gy``; the
    arguments as ``forward`` took them and returned them."""
    B, H, L, E = q.shape
    S, Ev = k.shape[2], v.shape[3]
    dtype = q.dtype
    gq, gk, gv = np.empty(q.shape, dtype), np.zeros(k.shape, dtype), np.zeros(v.shape, dtype)
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
        for bi, hi in tasks:
            qh, kh, kth, vth = q[bi, hi], k[bi, hi], kt[bi, hi], vt[bi, hi]
            gyh, lh = gy[bi, hi], lse[bi, hi]
            gqh, gkh, gvh = gq[bi, hi], gk[bi, hi], gv[bi, hi]
            d = np.einsum("ij,ij->i", gyh, y[bi, hi])  # rowsum(dO * O), (L,)
            b2 = _bias_rows(bias4, bi, hi, S)
            for i0, i1, keys in plan:
                nq = i1 - i0
                if not keys:  # every key masked: NaN (below)
                    continue
                dq = dq_buf[: nq * E].reshape(nq, E)
                for n, (j0, j1, lim0) in enumerate(keys):
                    nk = j1 - j0
                    s = sbuf[: nq * nk].reshape(nq, nk)
                    dp = dpbuf[: nq * nk].reshape(nq, nk)
                    np.matmul(qh[i0:i1], kth[:, j0:j1], out=s)
                    np.matmul(gyh[i0:i1], vth[:, j0:j1], out=dp)
                    bb = None if b2 is None else b2[i0:i1, j0:j1] if len(b2) > 1 else b2[:, j0:j1]
                    bwd(s, dp, s if bb is None else bb, bb is not None, scale, lim0,
                        lh[i0:i1], d[i0:i1],
                        drop, seed, u((bi * H + hi) * L + i0), u(j0), ncol, cut, inv)  # fmt: skip
                    gvh[j0:j1] += np.matmul(s.T, gyh[i0:i1], out=tv_buf[: nk * Ev].reshape(nk, Ev))
                    gkh[j0:j1] += np.matmul(dp.T, qh[i0:i1], out=tk_buf[: nk * E].reshape(nk, E))
                    if n == 0:
                        np.matmul(dp, kh[j0:j1], out=dq)
                    else:
                        dq += np.matmul(dp, kh[j0:j1], out=tq_buf[: nq * E].reshape(nq, E))
                gqh[i0:i1] = dq
            dead = np.isneginf(lh)  # rows with no key to attend: NaN, as the softmax path gives
            if dead.any():
                gqh[dead] = np.nan
                gkh.fill(np.nan)
                gvh.fill(np.nan)

    _run(run, [(bi, hi) for bi in range(B) for hi in range(H)])
    return gq, gk, gv
