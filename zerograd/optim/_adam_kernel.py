"""The fused Adam/AdamW step (numba): one pass over the parameter, its gradient and both moments
instead of eleven NumPy passes; serial, or on all cores from ``tuning.ADAM_PARALLEL_MIN_SIZE``
elements. ``Adam.update`` falls back to NumPy in place where it cannot run."""

from __future__ import annotations

import numpy as np

from zerograd import kernels, tuning
from zerograd.kernels import jit, jit_nogil, jit_serial, numba, serial_usable

if numba is not None:

    @jit_serial
    def _adam_at(i, p, g, m, v, b1, c1, b2, c2, step_size, bc2_sqrt, eps, decay):
        """One element of an Adam/AdamW step, in the arrays' dtype and in the order of the NumPy
        path: m = b1 m + c1 g, v = b2 v + c2 g^2,
        p = decay p - step_size m / (sqrt(v) / bc2_sqrt + eps)."""
        gi = g[i]
        mi = m[i] * b1 + gi * c1
        vi = v[i] * b2 + (gi * gi) * c2
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * decay - (mi / (np.sqrt(vi) / bc2_sqrt + eps)) * step_size

    # two functions, not one decorated twice (see the softmax kernels: numba's disk cache)
    @jit_nogil
    def _adam_serial(p, g, m, v, b1, c1, b2, c2, step_size, bc2_sqrt, eps, decay):
        for i in range(p.size):
            _adam_at(i, p, g, m, v, b1, c1, b2, c2, step_size, bc2_sqrt, eps, decay)

    @jit
    def _adam_parallel(p, g, m, v, b1, c1, b2, c2, step_size, bc2_sqrt, eps, decay):
        for i in numba.prange(p.size):
            _adam_at(i, p, g, m, v, b1, c1, b2, c2, step_size, bc2_sqrt, eps, decay)


def usable(p, g, m, v) -> bool:
    """The fused step may run: numba enabled, C-contiguous NumPy float arrays of one dtype."""
    return serial_usable(p, g, m, v, contiguous=True)


def adam_step(p, g, m, v, b1, b2, step_size, bc2_sqrt, eps, decay=1.0) -> None:
    """In place on ``p``, ``m`` and ``v`` (see ``zerograd.optim.Adam.update``)."""
    t = p.dtype.type
    step = _adam_parallel if p.size >= tuning.ADAM_PARALLEL_MIN_SIZE else _adam_serial
    flat = [a.reshape(-1) for a in (p, g, m, v)]
    step(*flat, t(b1), t(1 - b1), t(b2), t(1 - b2), t(step_size), t(bc2_sqrt), t(eps), t(decay))


def adam_steps(updates: list) -> None:
    """``adam_step(*args)`` for each of ``updates``: the large ones each on all cores, the others
    (each serial, without the GIL) split by size into one contiguous share per core, so a model
    of many small tensors is updated on all cores too."""
    small = []
    for args in updates:
        if args[0].size >= tuning.ADAM_PARALLEL_MIN_SIZE:
            adam_step(*args)
        else:
            small.append(args)
    total = sum(a[0].size for a in small)
    threads = numba.get_num_threads() if numba is not None else 1
    if threads < 2 or total < tuning.ADAM_PARALLEL_MIN_SIZE // 4:
        for args in small:
            adam_step(*args)
        return
    shares, share, done = [], [], 0
    for args in small:  # contiguous shares of about total / threads elements
        share.append(args)
        done += args[0].size
        if done * threads >= total * (len(shares) + 1) and len(shares) < threads - 1:
            shares.append(share)
            share = []
    shares.append(share)

    def run(part):
        for share in part:
            for args in share:
                adam_step(*args)

    kernels.parallel_parts(run, shares)
