"""CuPy's ``ElementwiseKernel`` and ``ReductionKernel`` for the stand-in device, compiled as C++ by
the host compiler: the kernels' CUDA C bodies (which use only C++ that both compilers accept) run
on the CPU, one loop over the broadcast elements, so the GPU kernels' arithmetic is tested here.

What is kept from CuPy: parameters typed ``T`` take the dtype of the first array bound to a ``T``;
scalars bind to typed parameters; arrays broadcast; output parameters are references (a kernel may
read them, as an in-place update does); ``i`` is the element index; a reduction maps each element,
folds the mapped values with ``reduce_expr`` over ``a`` and ``b`` from ``identity``, then runs
``post_map_expr`` with the folded ``a``. Float16 is not compiled (C++ has no portable half type).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile

import numpy as np

CTYPES = {"float32": "float", "float64": "double", "int64": "long long", "int32": "int",
          "uint64": "unsigned long long", "bool": "bool"}  # fmt: skip
DTYPES = ("float32", "float64")  # the T the stand-in compiles for
_HEADER = """
#include <cmath>
#include <cstdint>
using std::erf; using std::exp; using std::tanh; using std::sqrt; using std::log; using std::max;
using std::min; using std::abs;
"""
_CACHE = pathlib.Path(tempfile.gettempdir()) / "zerograd-fake-kernels"
_loaded: dict = {}


@functools.cache
def available() -> bool:
    """A host C++ compiler that builds a shared library with <cmath> (tried once)."""
    if shutil.which("g++") is None:
        return False
    try:
        _compile(_HEADER + 'extern "C" double probe(double x) { return erf(x); }\n')
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


def _params(text: str):
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        typ, name = part.split()
        out.append((typ, name))
    return out


def _compile(source: str):
    key = hashlib.sha256(source.encode()).hexdigest()[:20]
    lib = _loaded.get(key)
    if lib is not None:
        return lib
    _CACHE.mkdir(exist_ok=True)
    so = _CACHE / f"k{key}.so"
    if not so.exists():
        cpp = _CACHE / f"k{key}.{os.getpid()}.cpp"  # per process: test workers compile at once
        cpp.write_text(source)
        tmp = _CACHE / f"k{key}.{os.getpid()}.so"
        subprocess.run(
            ["g++", "-O1", "-shared", "-fPIC", "-o", str(tmp), str(cpp)],
            check=True,
            capture_output=True,
            text=True,
        )
        tmp.replace(so)
    lib = _loaded[key] = ctypes.CDLL(str(so))
    return lib


class _Kernel:
    def __init__(self, in_params, out_params, name):
        self.ins, self.outs, self.name = _params(in_params), _params(out_params), name

    def _bind(self, args):
        """(T's dtype, {name: array or scalar}) from the call's arguments."""
        from tests.gpu.fake_cupy import ndarray

        params = self.ins + self.outs
        if len(args) not in (len(self.ins), len(params)):
            raise TypeError(f"{self.name}: expected {len(self.ins)} or {len(params)} arguments")
        t = None
        for (typ, _), a in zip(params, args):
            if typ == "T" and isinstance(a, ndarray):
                t = a._a.dtype
                break
        if t is None or t.name not in DTYPES:
            raise NotImplementedError(f"stand-in kernel {self.name}: T={t} is not compiled")
        bound = {}
        for (_, name), a in zip(params, args):
            bound[name] = a._a if isinstance(a, ndarray) else a
        return t, bound

    def _ctype(self, typ: str, t) -> str:
        return CTYPES[t.name if typ == "T" else typ]


class ElementwiseKernel(_Kernel):
    def __init__(self, in_params, out_params, operation, name="kernel", **unused):
        super().__init__(in_params, out_params, name)
        self.operation = operation

    def __call__(self, *args):
        from tests.gpu.fake_cupy import _wrap

        t, bound = self._bind(args)
        arrays = [v for v in bound.values() if isinstance(v, np.ndarray) and v.ndim >= 0]
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        outs = {}
        for typ, name in self.outs:
            given = bound.get(name)
            dtype = t if typ == "T" else np.dtype(typ)
            outs[name] = given if given is not None else np.empty(shape, dtype)
        sig, decl, call = [], [], []
        for typ, name in self.ins:
            c = self._ctype(typ, t)
            v = bound[name]
            if isinstance(v, np.ndarray):
                buf = np.ascontiguousarray(np.broadcast_to(v.astype(c_dtype(c), copy=False), shape))
                sig.append(f"const {c}* {name}_p")
                decl.append(f"const {c} {name} = {name}_p[i];")
                call.append(buf)
            else:
                sig.append(f"{c} {name}")
                call.append(np.asarray(v, dtype=c_dtype(c))[()])
        work = {}
        for typ, name in self.outs:
            c = self._ctype(typ, t)
            o = outs[name]
            w = np.ascontiguousarray(np.broadcast_to(o, shape)).copy()
            work[name] = w
            sig.append(f"{c}* {name}_p")
            decl.append(f"{c}& {name} = {name}_p[i];")
            call.append(w)
        src = (
            _HEADER
            + f'extern "C" void run(long long n, {", ".join(sig)}) {{\n'
            + f"  typedef {CTYPES[t.name]} T;\n"
            + "  for (long long i = 0; i < n; ++i) {\n    "
            + "\n    ".join(decl)
            + "\n    {\n"
            + self.operation
            + ";\n    }\n  }\n}\n"
        )
        _invoke(_compile(src).run, int(np.prod(shape)), call)
        for name, w in work.items():
            outs[name][...] = w
        results = [_wrap(outs[name]) for _, name in self.outs]
        return results[0] if len(results) == 1 else tuple(results)


class ReductionKernel(_Kernel):
    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity,
                 name="reduce_kernel", **unused):  # fmt: skip
        super().__init__(in_params, out_params, name)
        self.map_expr, self.reduce_expr = map_expr, reduce_expr
        self.post_map_expr, self.identity = post_map_expr, identity

    def __call__(self, *args, axis=None, keepdims=False):
        from tests.gpu.fake_cupy import _wrap

        t, bound = self._bind(args)
        arrays = [v for v in bound.values() if isinstance(v, np.ndarray)]
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        nd = len(shape)
        axes = tuple(range(nd)) if axis is None else tuple(
            a % nd for a in ((axis,) if isinstance(axis, int) else axis)
        )  # fmt: skip
        keep = [d for d in range(nd) if d not in axes]
        order = keep + list(axes)
        m = int(np.prod([shape[d] for d in keep]))
        k = int(np.prod([shape[d] for d in axes]))
        sig, decl, call = [], [], []
        for typ, name in self.ins:
            c = self._ctype(typ, t)
            v = bound[name]
            if isinstance(v, np.ndarray):
                b = np.broadcast_to(v.astype(c_dtype(c), copy=False), shape).transpose(order)
                sig.append(f"const {c}* {name}_p")
                decl.append(f"const {c} {name} = {name}_p[_r * _K + _j];")
                call.append(np.ascontiguousarray(b))
            else:
                sig.append(f"{c} {name}")
                call.append(np.asarray(v, dtype=c_dtype(c))[()])
        ((otyp, oname),) = self.outs
        oc = self._ctype(otyp, t)
        out = np.empty(m, c_dtype(oc))
        sig.append(f"{oc}* {oname}_p")
        call.append(out)
        src = (
            _HEADER
            + f'extern "C" void run(long long _M, long long _K, {", ".join(sig)}) {{\n'
            + f"  typedef {CTYPES[t.name]} T;\n"
            + "  for (long long _r = 0; _r < _M; ++_r) {\n"
            + f"    {oc} a = ({oc})({self.identity});\n"
            + "    for (long long _j = 0; _j < _K; ++_j) {\n      "
            + "\n      ".join(decl)
            + f"\n      {oc} b = ({oc})({self.map_expr});\n"
            + f"      a = ({self.reduce_expr});\n    }}\n"
            + f"    {oc}& {oname} = {oname}_p[_r];\n    {self.post_map_expr};\n  }}\n}}\n"
        )
        _invoke(_compile(src).run, m, call, extra=(k,))
        result = out.reshape([shape[d] for d in keep])
        if keepdims:
            result = result.reshape([1 if d in axes else shape[d] for d in range(nd)])
        return _wrap(result)


def c_dtype(c: str):
    return {v: np.dtype(k) for k, v in CTYPES.items()}[c]


def _invoke(fn, n, call, extra=()):
    argv = [ctypes.c_longlong(n)] + [ctypes.c_longlong(e) for e in extra]
    for v in call:
        if isinstance(v, np.ndarray):
            argv.append(v.ctypes.data_as(ctypes.c_void_p))
        elif isinstance(v, (np.floating,)):
            argv.append((ctypes.c_double if v.dtype == np.float64 else ctypes.c_float)(v))
        elif isinstance(v, np.bool_):
            argv.append(ctypes.c_bool(bool(v)))
        else:
            argv.append((ctypes.c_ulonglong if v.dtype == np.uint64 else ctypes.c_longlong)(int(v)))
    fn(*argv)
