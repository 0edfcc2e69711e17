"""The LSTM time loop as compiled code: each step's recurrent product and the cell, forward and
backward, with no return to Python between steps.

The hidden units are split into ``parts`` blocks, one thread each (``run_parts``). A step of one
part is the product into its units' columns of the four gates, then its units' cells; the parts
meet at a barrier once per step (the next product reads every unit's new state). Backward: a
part's cells write the gradients of its units' gate pre-activations, the parts meet, then each
computes its units' columns of the state's gradient. The products use W_hh packed once per call
(``packed_gemm``: a third faster than OpenBLAS on these shapes, which packs it again per call);
the columns past the last whole panel go to BLAS (``blas.gemm``). ``forward`` and ``backward``
run the input projection and the weight gradients (one large GEMM each, over all steps) around
the loops.
"""

from __future__ import annotations

import os

import numpy as np

from zerograd.kernels import blas, jit_nogil, jit_serial, numba, packed_gemm

_state: dict = {}  # "yield": sched_yield found and registered with llvmlite (bool), "pool"


def _lookup() -> dict:
    if not _state:
        import ctypes

        ok = False
        try:
            fn = ctypes.CDLL(None).sched_yield
        except (OSError, AttributeError, TypeError):  # pragma: no cover - not on this platform
            fn = None
        if fn is not None and numba is not None:
            import llvmlite.binding as llvm

            llvm.add_symbol("zerograd_sched_yield", ctypes.cast(fn, ctypes.c_void_p).value)
            ok = True
        _state.update({"yield": ok, "pool": None})
    return _state


def usable(*arrays) -> bool:
    """The compiled loops may run: BLAS callable from numba (``blas.available``) and NumPy
    float32/float64 arrays of one dtype."""
    from zerograd import kernels

    return kernels.serial_usable(*arrays) and blas.available()


def max_parts() -> int:
    """Threads the loops may split the units over: numba's thread count, at most the CPUs this
    process may run on (the parts wait for each other at every step: more threads than CPUs
    would wait for the scheduler), where threads can yield while they wait; else 1."""
    if not _lookup()["yield"]:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(numba.get_num_threads(), cpus or 1))


def unit_bounds(H: int, parts: int) -> list:
    """The first unit of each part and H: parts of nearly equal size."""
    return [H * p // parts for p in range(parts + 1)]


def run_parts(fn, parts: int) -> None:
    """fn(p) for p in range(parts), each on its own thread at the same time (the loops wait for
    each other at their barriers: all must run at once). Part 0 runs on this thread, inside
    ``blas.one_thread()`` (each thread's products on that thread)."""
    if parts == 1:
        fn(0)
        return
    state = _lookup()
    pool = state["pool"]
    if pool is None or pool[0] != os.getpid() or pool[1] < parts - 1:
        from concurrent.futures import ThreadPoolExecutor

        if pool is not None and pool[0] == os.getpid():
            pool[2].shutdown(wait=False)
        executor = ThreadPoolExecutor(max_workers=parts - 1, thread_name_prefix="zerograd-lstm")
        pool = state["pool"] = (os.getpid(), parts - 1, executor)
    with blas.one_thread():
        futures = [pool[2].submit(fn, p) for p in range(1, parts)]
        try:
            fn(0)
        finally:
            for f in futures:
                f.result()


if numba is not None:
    from numba import types
    from numba.extending import intrinsic

    from zerograd.kernels import exp32_neg, exp_neg

    _sched_yield = types.ExternalFunction("zerograd_sched_yield", types.int32())

    @intrinsic
    def _fetch_add(typingctx, counter):
        """Atomically add 1 to counter[0] (int64 array); the old value."""

        def codegen(context, builder, signature, args):
            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            one = context.get_constant(types.int64, 1)
            return builder.atomic_rmw("add", data, one, "seq_cst")

        return types.int64(counter), codegen

    @intrinsic
    def _load(typingctx, counter):
        """counter[0] (int64 array), read atomically: every write made before another thread
        incremented it is seen after."""

        def codegen(context, builder, signature, args):
            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            return builder.load_atomic(data, "seq_cst", 8)

        return types.int64(counter), codegen

    _SPINS = 2000  # reads of the counter before each yield of the CPU to another thread

    @jit_serial
    def _barrier(counter, k, parts):
        """Wait until every part has reached its k-th barrier (k from 1)."""
        _fetch_add(counter)
        target = parts * k
        n = 0
        while _load(counter) < target:
            n += 1
            if n >= _SPINS:
                _sched_yield()
                n = 0

    from numba.extending import overload

    from zerograd.kernels import _FAST
    from zerograd.kernels.packed_gemm import gemm_packed

    # sigmoid and tanh from exp(-|a|), without branches, so the cell loops vectorise; one
    # function for both float types (its constants of the argument's type: no float64
    # promotion), chosen when a loop compiles. The loops refer to these as globals: numba keys
    # its disk cache of a closure by its pickled variables, and a jitted function pickles
    # differently in every process (no cache hit: seconds to compile again).

    def _sigmoid(z):  # pragma: no cover - stands for the overload below in compiled code
        raise NotImplementedError

    def _tanh(z):  # pragma: no cover - likewise
        raise NotImplementedError

    def _typed(z):
        if z == types.float32:
            return np.float32, exp32_neg
        return np.float64, exp_neg

    @overload(_sigmoid, jit_options=dict(fastmath=_FAST))
    def _sigmoid_impl(z):
        ftype, exp = _typed(z)
        one = ftype(1)

        def impl(z):
            e = exp(-abs(z))
            r = one / (one + e)
            return r if z >= 0 else e * r

        return impl

    @overload(_tanh, jit_options=dict(fastmath=_FAST))
    def _tanh_impl(z):
        ftype, exp = _typed(z)
        one, two = ftype(1), ftype(2)

        def impl(z):
            e = exp(-two * abs(z))
            t = (one - e) / (one + e)
            return t if z >= 0 else -t

        return impl

    def _make_lstm(ftype):
        """The LSTM loops for one float type."""

        one, zero = ftype(1), ftype(0)  # of the array's type: no float64 promotion

        @jit_nogil
        def forward(gates, bias, hs, cs, tcs, Bp, W, counter, parts, u0, u1):
            """Part (u0, u1) of the forward loop. gates (T, B, 4H): the input projection on
            entry, the gates (i, f, g, o) on exit; bias (4H,); hs (T + 1, B, H) with h0 in hs[0];
            cs likewise; tcs (T, B, H) gets tanh(c); W (4H, H): W_hh; Bp (4, panels, H, NR): for
            each gate, the part's rows of W transposed and packed
            (``packed_gemm.pack_transposed``); its units past the panels from W. (Splitting each
            product at the barrier, the part's own units' states first while the other parts
            finish their step, or computing the next step's input projection there, measured
            no faster.)"""
            T, B, H = gates.shape[0], gates.shape[1], hs.shape[2]
            n = u1 - u0
            v1 = u0 + Bp.shape[1] * Bp.shape[3]  # the first unit past the panels
            # views indexed from 0 in the loops: numba checks an index of unknown sign for
            # wrap-around on every access, and the loop no longer vectorises (8x slower)
            bi, bf = bias[u0:u1], bias[H + u0 : H + u1]
            bg, bo = bias[2 * H + u0 : 2 * H + u1], bias[3 * H + u0 : 3 * H + u1]
            for t in range(T):
                a = gates[t]
                for k in range(4):
                    gemm_packed(hs[t], Bp[k], a[:, k * H + u0 : k * H + v1])
                    if v1 < u1:
                        blas.gemm(False, hs[t], True, W[k * H + v1 : k * H + u1],
                                  a[:, k * H + v1 : k * H + u1], 1.0, 1.0)  # fmt: skip
                for b in range(B):
                    ai, af = a[b, u0:u1], a[b, H + u0 : H + u1]
                    ag, ao = a[b, 2 * H + u0 : 2 * H + u1], a[b, 3 * H + u0 : 3 * H + u1]
                    c_prev, c = cs[t, b, u0:u1], cs[t + 1, b, u0:u1]
                    tc, h = tcs[t, b, u0:u1], hs[t + 1, b, u0:u1]
                    for j in range(n):
                        i = _sigmoid(ai[j] + bi[j])
                        f = _sigmoid(af[j] + bf[j])
                        g = _tanh(ag[j] + bg[j])
                        o = _sigmoid(ao[j] + bo[j])
                        ai[j], af[j], ag[j], ao[j] = i, f, g, o
                        cj = f * c_prev[j] + i * g
                        c[j] = cj
                        t_c = _tanh(cj)
                        tc[j] = t_c
                        h[j] = o * t_c
                if parts > 1 and t + 1 < T:
                    _barrier(counter, t + 1, parts)

        @jit_nogil
        def backward(gy, dh, dc, gates, tcs, cs, da, Bp, W, counter, parts, u0, u1):
            """Part (u0, u1) of BPTT. gy (T, B, H): the gradient of the outputs; dh, dc (B, H):
            those of the last states on entry, of h0 and c0 on exit; da (T, B, 4H) gets the
            gradients of the gates' pre-activations; W (4H, H): W_hh; Bp: its columns u0..
            packed (``packed_gemm.pack``), the columns past its panels from W."""
            T, B, H = gates.shape[0], gates.shape[1], dh.shape[1]
            n = u1 - u0
            v1 = u0 + Bp.shape[0] * Bp.shape[2]  # the first unit past the panels
            for s in range(T):
                t = T - 1 - s
                a, d_a = gates[t], da[t]
                for b in range(B):
                    ai, af = a[b, u0:u1], a[b, H + u0 : H + u1]
                    ag, ao = a[b, 2 * H + u0 : 2 * H + u1], a[b, 3 * H + u0 : 3 * H + u1]
                    di, df = d_a[b, u0:u1], d_a[b, H + u0 : H + u1]
                    dg, do = d_a[b, 2 * H + u0 : 2 * H + u1], d_a[b, 3 * H + u0 : 3 * H + u1]
                    tc, c_prev, g_t = tcs[t, b, u0:u1], cs[t, b, u0:u1], gy[t, b, u0:u1]
                    dhb, dcb = dh[b, u0:u1], dc[b, u0:u1]
                    for j in range(n):
                        i, f, g, o = ai[j], af[j], ag[j], ao[j]
                        t_c = tc[j]
                        d = dhb[j] + g_t[j]
                        dcj = dcb[j] + d * o * (one - t_c * t_c)
                        di[j] = dcj * g * (i * (one - i))
                        df[j] = dcj * c_prev[j] * (f * (one - f))
                        dg[j] = dcj * i * (one - g * g)
                        do[j] = d * t_c * (o * (one - o))
                        dcb[j] = dcj * f
                        dhb[j] = zero  # the products below add to it
                if parts > 1:
                    _barrier(counter, s + 1, parts)
                gemm_packed(d_a, Bp, dh[:, u0:v1])
                if v1 < u1:
                    blas.gemm(False, d_a, False, W[:, v1:u1], dh[:, v1:u1], 1.0, 0.0)

        return forward, backward

    _lstm_f32 = _make_lstm(np.float32)
    _lstm_f64 = _make_lstm(np.float64)


def loops(dtype):
    """(forward, backward) LSTM loops for a float dtype (see ``_make_lstm``); the symbols they
    call registered first."""
    _lookup()
    blas.available()
    return _lstm_f32 if dtype == np.float32 else _lstm_f64


def _parts(H: int) -> int:
    from zerograd import tuning

    return max(1, min(max_parts(), H // tuning.LSTM_MIN_PART_UNITS))


def forward(x, h0, c0, W_ih, W_hh, b_ih=None, b_hh=None) -> tuple:
    """One LSTM layer over x (T, B, I) from h0, c0 (B, H): (all hidden states (T, B, H), the last
    hidden state, the last cell state, what ``backward`` needs)."""
    T, B, _ = x.shape
    H = W_hh.shape[1]
    dtype = x.dtype
    W_hh = np.ascontiguousarray(W_hh)  # the products past the panels need unit-stride rows
    parts = _parts(H)
    bounds = unit_bounds(H, parts)
    bias = b_ih + b_hh if b_ih is not None else np.zeros(4 * H, dtype)
    x2 = x.reshape(T * B, -1)
    gates = np.empty((T, B, 4 * H), dtype)
    np.matmul(x2, W_ih.T, out=gates.reshape(T * B, -1))  # the input projection: one GEMM
    hs = np.empty((T + 1, B, H), dtype)  # hs[t] is the state before step t
    cs = np.empty((T + 1, B, H), dtype)
    hs[0], cs[0] = h0, c0
    tcs = np.empty((T, B, H), dtype)
    counter = np.zeros(1, np.int64)
    loop = loops(dtype)[0]
    nr = packed_gemm.panel_width(dtype)
    packs = []  # per part (4, panels, H, NR): its rows of each gate's W_hh block, packed
    for u0, u1 in zip(bounds, bounds[1:]):
        gate_rows = [W_hh[k * H + u0 : k * H + u1] for k in range(4)]
        packs.append(np.stack([packed_gemm.pack_transposed(w, (u1 - u0) // nr) for w in gate_rows]))

    def part(p):
        loop(gates, bias, hs, cs, tcs, packs[p], W_hh, counter, parts, bounds[p], bounds[p + 1])

    run_parts(part, parts)
    saved = (x2, x.shape, parts, W_ih, W_hh, gates, hs, cs, tcs, b_ih is not None)
    return hs[1:], hs[T].copy(), cs[T].copy(), saved


def backward(saved, gy, g_h, g_c) -> tuple:
    """BPTT for ``forward``: the gradients of x, h0, c0, W_ih, W_hh (and b_ih, b_hh) given
    those of its three outputs (None where an output took no part)."""
    x2, shape, parts, W_ih, W_hh, gates, hs, cs, tcs, has_bias = saved
    T, B, G = gates.shape
    H = G // 4
    dtype = gates.dtype
    gy = np.zeros((T, B, H), dtype) if gy is None else np.ascontiguousarray(gy)
    dh = np.zeros((B, H), dtype) if g_h is None else np.array(g_h, dtype, order="C")
    dc = np.zeros((B, H), dtype) if g_c is None else np.array(g_c, dtype, order="C")
    da = np.empty((T, B, G), dtype)
    counter = np.zeros(1, np.int64)
    loop = loops(dtype)[1]
    bounds = unit_bounds(H, parts)
    nr = packed_gemm.panel_width(dtype)
    packs = [  # each part's columns of W_hh, packed
        packed_gemm.pack(W_hh[:, u0:u1], (u1 - u0) // nr) for u0, u1 in zip(bounds, bounds[1:])
    ]
    # (the input's gradient da[t] @ W_ih computed in the loop, each step as soon as da[t] is
    # complete, measured no faster than the one GEMM below)

    def part(p):
        loop(gy, dh, dc, gates, tcs, cs, da, packs[p], W_hh, counter, parts, bounds[p],
             bounds[p + 1])  # fmt: skip

    run_parts(part, parts)
    flat = da.reshape(T * B, G)
    # the weights' gradients: one GEMM each over all steps
    grads = ((flat @ W_ih).reshape(shape), dh, dc, flat.T @ x2, flat.T @ hs[:T].reshape(T * B, H))
    if has_bias:
        db = np.ones(T * B, dtype) @ flat  # column sums as one BLAS product
        grads += (db, db)
    return grads
