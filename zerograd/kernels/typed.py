"""The float-type-dependent pieces of the kernels, chosen when a kernel compiles (numba overloads).

numba's disk cache keys a jitted function by its code and, for a closure, by its pickled cell
variables; a jitted function pickles differently in every process, so a kernel made by a factory
over ``exp`` or a float type (``def make(exp, ftype): @jit def fwd ...``) never hits the cache
and compiles again in every new process (the fused attention: 6 s at its first call). The kernels
are module-level functions instead, one for both float types, and ask for the pieces here by the
type of an argument: ``exp_of(like, x)`` and ``cast(like, v)``, ``like`` a float32 or float64
array or scalar. Inlined by LLVM where called: the same results as the closures gave, bit for
bit. (A kernel's disk cache is keyed by its own file: after editing this one, clear the
``__pycache__`` of ``zerograd/kernels``, as for the exps.)
"""

from __future__ import annotations

import numpy as np

from zerograd.kernels import numba


def exp_of(like, x):  # pragma: no cover - stands for the overload below in compiled code
    """exp(x) for x <= 0 by the vectorised exp of ``like``'s float type: ``exp32_neg`` for
    float32, ``exp_neg`` otherwise (whatever x's own type)."""
    raise NotImplementedError


def cast(like, v):  # pragma: no cover - likewise
    """v converted to ``like``'s float type: float32 for float32, float64 otherwise."""
    raise NotImplementedError


def is_float32(like) -> bool:
    """True when a numba type (an array or a scalar) is, or holds, float32: the overloads' test."""
    from numba import types

    return getattr(like, "dtype", like) == types.float32


if numba is not None:
    from numba.extending import overload

    from zerograd.kernels import _FAST, exp32_neg, exp_neg

    # the options of ``kernels.jit_serial`` for an overload's implementation, compiled on its own
    # (the exps inlined into it) and inlined by LLVM where called. (Inlined as numba IR,
    # ``inline="always"``, the machine code is the same but numba warns of variables out of
    # scope where an inlined exp's branches meet.)
    OPTIONS = dict(fastmath=_FAST, error_model="numpy")

    # implementations without closure variables
    @overload(exp_of, jit_options=OPTIONS)
    def _exp_of(like, x):
        if is_float32(like):
            return lambda like, x: exp32_neg(x)
        return lambda like, x: exp_neg(x)

    @overload(cast, jit_options=OPTIONS)
    def _cast(like, v):
        if is_float32(like):
            return lambda like, v: np.float32(v)
        return lambda like, v: np.float64(v)
