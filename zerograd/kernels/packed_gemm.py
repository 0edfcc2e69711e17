"""C += A @ B for few rows of A (a batch) and a B that stays the same over many products (a
recurrent weight), B packed once into panels: the product of a time loop's step.

OpenBLAS packs its operands again in every call, a large share of the work when A has 32 rows.
Here B is packed once into panels of ``NR`` columns, (panels, K, NR) contiguous, and a
register-blocked micro-kernel, written as LLVM IR (512-bit vectors, which LLVM splits on
narrower machines; fused multiply-adds; the tile's accumulators kept in registers), computes an
``MR`` x ``NR`` tile of C per call. Measured (issue 16, one thread, float32, us per product,
packed / OpenBLAS's sgemm): (32, 256) @ (256, 512) 50 / 67, (32, 1024) @ (1024, 128) 45 / 76.
"""

from __future__ import annotations

import numpy as np

from zerograd.kernels import jit_serial, numba

MR = 8  # rows of a tile (fewer for the last rows of A: 4, 2, 1)
_LANES = {4: 16, 8: 8}  # elements of a 512-bit vector, by item size
_VECTORS = 2  # vectors per tile row: NR = 2 * lanes


def panel_width(dtype) -> int:
    """NR: the columns of a panel for this float dtype (32 for float32, 16 for float64)."""
    return _LANES[np.dtype(dtype).itemsize] * _VECTORS


def pack(B: np.ndarray, panels: int) -> np.ndarray:
    """The first ``panels * NR`` columns of B (K, N) as panels (panels, K, NR), contiguous."""
    nr = panel_width(B.dtype)
    K = B.shape[0]
    return np.ascontiguousarray(B[:, : panels * nr].reshape(K, panels, nr).transpose(1, 0, 2))


def pack_transposed(W: np.ndarray, panels: int) -> np.ndarray:
    """``pack(W.T, panels)`` for W (N, K), without the transposed copy in between."""
    nr = panel_width(W.dtype)
    K = W.shape[1]
    return np.ascontiguousarray(W[: panels * nr].reshape(panels, nr, K).transpose(0, 2, 1))


if numba is not None:
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    def _make_tile(nbtype, size: int, rows: int):
        """An intrinsic tile(a_addr, lda, b_addr, c_addr, ldc, K): C[:rows, :NR] += A[:rows, :K]
        @ panel, A and C by address and row stride (elements), the panel (K, NR) contiguous."""
        lanes = _LANES[size]
        nr = lanes * _VECTORS

        @intrinsic
        def tile(typingctx, a_addr, lda, b_addr, c_addr, ldc, K):
            sig = types.void(types.uintp, types.intp, types.uintp, types.uintp, types.intp,
                             types.intp)  # fmt: skip

            def codegen(context, builder, signature, args):
                a_addr, lda, b_addr, c_addr, ldc, K = args
                fty = context.get_value_type(nbtype)
                ity = context.get_value_type(types.intp)
                vty = ir.VectorType(fty, lanes)
                fptr, vptr = fty.as_pointer(), vty.as_pointer()
                a = builder.inttoptr(a_addr, fptr)
                b = builder.inttoptr(b_addr, fptr)
                c = builder.inttoptr(c_addr, fptr)
                name = f"llvm.fma.v{lanes}f{8 * size}"
                fma = cgutils.get_or_insert_function(
                    builder.module, ir.FunctionType(vty, [vty, vty, vty]), name
                )

                def const(v):
                    return ir.Constant(ity, v)

                def vec_at(base, offset):
                    return builder.bitcast(builder.gep(base, [offset]), vptr)

                # accumulators in stack slots of the entry block: LLVM keeps them in registers
                accs = [[cgutils.alloca_once(builder, vty) for _ in range(_VECTORS)]
                        for _ in range(rows)]  # fmt: skip
                c_vecs = []
                for r in range(rows):
                    row = builder.mul(const(r), ldc)
                    for v in range(_VECTORS):
                        p = vec_at(c, builder.add(row, const(v * lanes)))
                        c_vecs.append(p)
                        builder.store(builder.load(p, align=size), accs[r][v])
                splat = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)
                undef = ir.Constant(vty, ir.Undefined)
                first = ir.Constant(ir.IntType(32), 0)
                with cgutils.for_range(builder, K) as loop:
                    k = loop.index
                    base = builder.mul(k, const(nr))
                    bv = [builder.load(vec_at(b, builder.add(base, const(v * lanes))), align=size)
                          for v in range(_VECTORS)]  # fmt: skip
                    for r in range(rows):
                        s = builder.load(
                            builder.gep(a, [builder.add(builder.mul(const(r), lda), k)])
                        )
                        sv = builder.shuffle_vector(builder.insert_element(undef, s, first), undef,
                                                    splat)  # fmt: skip
                        for v in range(_VECTORS):
                            acc = builder.load(accs[r][v])
                            builder.store(builder.call(fma, [sv, bv[v], acc]), accs[r][v])
                for i, p in enumerate(c_vecs):
                    builder.store(builder.load(accs[i // _VECTORS][i % _VECTORS]), p, align=size)
                return context.get_dummy_value()

            return sig, codegen

        return tile

    # module globals, not closure variables: numba keys its disk cache of a closure by its pickled
    # variables, and intrinsics pickle differently in every process (no cache hit, 3 s to compile)
    _s8, _s4, _s2, _s1 = (_make_tile(types.float32, 4, r) for r in (8, 4, 2, 1))
    _d8, _d4, _d2, _d1 = (_make_tile(types.float64, 8, r) for r in (8, 4, 2, 1))

    @jit_serial
    def _tile(single, rows, pa, lda, pb, pc, ldc, K):
        if single:
            if rows == 8:
                _s8(pa, lda, pb, pc, ldc, K)
            elif rows == 4:
                _s4(pa, lda, pb, pc, ldc, K)
            elif rows == 2:
                _s2(pa, lda, pb, pc, ldc, K)
            else:
                _s1(pa, lda, pb, pc, ldc, K)
        elif rows == 8:
            _d8(pa, lda, pb, pc, ldc, K)
        elif rows == 4:
            _d4(pa, lda, pb, pc, ldc, K)
        elif rows == 2:
            _d2(pa, lda, pb, pc, ldc, K)
        else:
            _d1(pa, lda, pb, pc, ldc, K)

    @jit_serial
    def gemm_packed(a, Bp, c):
        """c[:, :panels * NR] += a @ B, B packed by ``pack`` as Bp (panels, K, NR); a (M, K)
        and c 2-D float32 or float64 arrays with a unit last-axis stride (any row stride)."""
        M, K = a.shape
        size = a.itemsize
        single = size == 4
        nr = Bp.shape[2]
        lda = a.strides[0] // size
        ldc = c.strides[0] // size
        pa, pc = a.ctypes.data, c.ctypes.data
        for p in range(Bp.shape[0]):
            pb = Bp[p].ctypes.data
            cp = pc + p * nr * size
            r = 0
            while r + 8 <= M:  # tiles of 8 rows, then of 4, 2 and 1 for the last rows
                _tile(single, 8, pa + r * lda * size, lda, pb, cp + r * ldc * size, ldc, K)
                r += 8
            for rows in (4, 2, 1):
                if r + rows <= M:
                    _tile(single, rows, pa + r * lda * size, lda, pb, cp + r * ldc * size, ldc, K)
                    r += rows
