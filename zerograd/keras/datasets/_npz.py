"""Reading ``.npz`` archives whose arrays may hold Python lists (Keras's imdb.npz) without running
any pickled code, and without the ``pickle`` module's unpickler.

An object array in a ``.npy`` member is a pickle stream after the header. It is walked with the
standard library's disassembler ``pickletools.genops`` (which only parses opcodes) and read by a
small stack machine that knows the data opcodes (ints, floats, strings, bytes, lists, tuples, the
memo). NumPy's array reconstruction (``_reconstruct``, ``ndarray``, ``dtype`` with REDUCE and
BUILD) is not called: its arguments are read as markers giving the array's shape, dtype and
elements. Any other global, and any other opcode, is refused with a ValueError naming the file.
"""

from __future__ import annotations

import io
import math
import os
import zipfile
from pickletools import genops

import numpy as np

_RECONSTRUCT = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}
_ALLOWED = _RECONSTRUCT | {("numpy", "ndarray"), ("numpy", "dtype")}
_NUMERIC_KINDS = "biufc"  # bool, int, uint, float, complex: the dtypes of a nested non-object array


class UnsafeNpzError(ValueError):
    """A ``.npy`` member holds a pickle that is not only arrays and plain data."""


class _Global:
    """The marker that GLOBAL/STACK_GLOBAL push for an allowed NumPy name; it is never called."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    @property
    def key(self) -> tuple[str, str]:
        return self.module, self.name


class _Dtype:
    """What ``numpy.dtype(code, align, copy)`` and its BUILD described: resolved without calls."""

    __slots__ = ("code", "state")

    def __init__(self, code: str):
        self.code, self.state = code, None


class _Array:
    """What ``_reconstruct(ndarray, ...)`` stands for; BUILD fills in ``array``."""

    __slots__ = ("array",)

    def __init__(self):
        self.array = None


# the types of elements that may hold (or be) a marker to replace or refuse
_NESTED = frozenset({list, tuple, _Global, _Dtype, _Array})


class _Reader:
    """One pickle stream from ``buffer``'s position, read by ``read`` into an object ndarray."""

    def __init__(self, buffer: io.BytesIO, where: str):
        self.buffer, self.where = buffer, where
        self.op, self.pos = "", None

    def fail(self, why: str, after: bool = False) -> UnsafeNpzError:
        at = f"opcode {self.op} at byte {self.pos}" if self.op else "the pickle stream"
        at = f"after {at}" if after and self.op else at
        return UnsafeNpzError(
            f"load_npz: {why} ({at} of {self.where}); a dataset file holds only arrays and lists "
            "(is the file damaged or not what it claims to be?)"
        )

    # The stack machine. `stack` is the current frame; MARK pushes it on `marks` and starts anew.
    def read(self):
        stack: list = []
        marks: list = []
        memo: dict = {}
        push = stack.append
        try:
            for opcode, arg, pos in genops(self.buffer):
                name = opcode.name
                self.op, self.pos = name, pos
                if name in ("BININT1", "BININT2", "BININT", "LONG1", "LONG4", "INT", "BINFLOAT"):
                    push(arg)
                elif name == "APPENDS":
                    items = stack
                    stack = marks.pop()
                    push = stack.append
                    self.as_list(stack[-1]).extend(items)
                elif name == "EMPTY_LIST":
                    push([])
                elif name == "MEMOIZE":
                    memo[len(memo)] = stack[-1]
                elif name in ("BINPUT", "LONG_BINPUT"):
                    memo[arg] = stack[-1]
                elif name in ("BINGET", "LONG_BINGET"):
                    if arg not in memo:
                        raise self.fail(f"memo entry {arg} was never stored")
                    push(memo[arg])
                elif name == "MARK":
                    marks.append(stack)
                    stack = []
                    push = stack.append
                elif name == "APPEND":
                    value = stack.pop()
                    self.as_list(stack[-1]).append(value)
                elif name in ("TUPLE", "LIST"):
                    items = stack
                    stack = marks.pop()
                    push = stack.append
                    push(tuple(items) if name == "TUPLE" else items)
                elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                    n = int(name[-1])
                    items = tuple(stack[-n:])
                    if len(items) != n:
                        raise IndexError
                    del stack[-n:]
                    push(items)
                elif name == "EMPTY_TUPLE":
                    push(())
                elif name in ("NEWTRUE", "NEWFALSE", "NONE"):
                    push({"NEWTRUE": True, "NEWFALSE": False, "NONE": None}[name])
                elif name in ("BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"):
                    push(arg)
                elif name in ("SHORT_BINBYTES", "BINBYTES", "BINBYTES8"):
                    push(arg)
                elif name in ("SHORT_BINSTRING", "BINSTRING"):  # Python 2's str, as latin-1
                    push(arg)
                elif name == "GLOBAL":
                    module, _, attr = arg.partition(" ")
                    push(self.named(module, attr))
                elif name == "STACK_GLOBAL":
                    attr, module = stack.pop(), stack.pop()
                    if not (isinstance(module, str) and isinstance(attr, str)):
                        raise self.fail("a global named by something other than two strings")
                    push(self.named(module, attr))
                elif name == "REDUCE":
                    args = stack.pop()
                    push(self.reduce(stack.pop(), args))
                elif name == "BUILD":
                    state = stack.pop()
                    self.build(stack[-1], state)
                elif name == "PROTO":
                    if not 2 <= arg <= 5:
                        raise self.fail(f"unsupported pickle protocol {arg}")
                elif name == "FRAME":
                    pass
                elif name == "STOP":
                    result = stack.pop()
                    break
                else:
                    raise self.fail("an opcode that is not plain data or an array's")
            else:  # genops always ends at STOP or raises; this is a guard
                raise self.fail("no STOP opcode")
        except UnsafeNpzError:
            raise
        except IndexError:
            raise self.fail("the stack or its marks ran out: the stream is malformed") from None
        except ValueError as error:  # raised by genops on an unknown opcode or a truncated stream
            raise self.fail(f"unreadable pickle: {error}", after=True) from None
        if not isinstance(result, _Array) or result.array is None:
            self.op = ""
            raise self.fail("the pickle does not hold a NumPy array")
        return result.array

    def as_list(self, target) -> list:
        if type(target) is not list:
            raise self.fail(f"appending to a {type(target).__name__}, not a list")
        return target

    def named(self, module: str, attr: str) -> _Global:
        if (module, attr) not in _ALLOWED:
            raise self.fail(f"refusing to load {module}.{attr}")
        return _Global(module, attr)

    def reduce(self, func, args):
        if not isinstance(func, _Global) or not isinstance(args, tuple):
            raise self.fail("REDUCE on something other than numpy's _reconstruct or dtype")
        if func.key in _RECONSTRUCT:  # _reconstruct(ndarray, (0,), b'b'): an empty array
            if len(args) != 3 or not isinstance(args[0], _Global) or args[0].name != "ndarray":
                raise self.fail("_reconstruct called with other than (ndarray, shape, code)")
            return _Array()
        if func.key == ("numpy", "dtype"):  # dtype('O8', False, True)
            code = args[0] if args else None
            if isinstance(code, bytes):
                code = code.decode("ascii", "replace")
            if not isinstance(code, str):
                raise self.fail("numpy.dtype called without a type code")
            return _Dtype(code)
        raise self.fail(f"{func.module}.{func.name} may not be called")

    def build(self, target, state) -> None:
        if not isinstance(state, tuple):
            raise self.fail("BUILD with a state that is not a tuple")
        if isinstance(target, _Dtype) and target.state is None:
            target.state = state
        elif isinstance(target, _Array) and target.array is None:
            target.array = self.array(state)
        else:
            raise self.fail("BUILD on something other than a new array or dtype")

    def dtype(self, marker) -> np.dtype:
        if not isinstance(marker, _Dtype):
            raise self.fail("an array whose dtype is not a numpy.dtype")
        state, code = marker.state, marker.code
        if code[:1] == "O":
            return np.dtype(object)
        # (version, byteorder, subarray, names, fields, itemsize, alignment, flags[, metadata])
        if code[:1] not in _NUMERIC_KINDS or not code[1:].isdigit():
            raise self.fail(f"unsupported dtype {code!r}")
        order = "|"
        if state is not None:
            if len(state) < 8 or any(part is not None for part in state[2:5]):
                raise self.fail(f"unsupported state of dtype {code!r}")
            order = state[1]
        if order not in ("<", ">", "|", "="):
            raise self.fail(f"dtype {code!r} with byte order {order!r}")
        try:
            dtype = np.dtype(code)
        except TypeError:  # a code such as 'i3'
            raise self.fail(f"unknown dtype {code!r}") from None
        return dtype.newbyteorder(order) if order in "<>" else dtype

    def array(self, state: tuple) -> np.ndarray:
        # (version, shape, dtype, is_fortran, data); NumPy before 1.0 left the version out
        if len(state) == 5:
            state = state[1:]
        if len(state) != 4:
            raise self.fail("an ndarray state that is not (version, shape, dtype, order, data)")
        shape, dtype, fortran, data = state
        if not (
            isinstance(shape, tuple) and all(type(d) is int and d >= 0 for d in shape)
        ) or not isinstance(fortran, (bool, int)):
            raise self.fail("an ndarray state whose shape or order is malformed")
        dtype = self.dtype(dtype)
        size = math.prod(shape)
        if dtype.hasobject:
            if type(data) is not list or len(data) != size:
                raise self.fail(f"an object array of shape {shape} without {size} elements")
            flat = np.empty(size, dtype=object)
            for i, item in enumerate(data):  # one by one: equal-length lists must stay lists
                flat[i] = self.value(item, set())
            # the elements come in C order even when the array is Fortran-contiguous
            array = flat.reshape(shape)
            return np.asfortranarray(array) if fortran and array.ndim > 1 else array
        if isinstance(data, str):  # Python 2 pickles hold the raw bytes as a latin-1 str
            data = data.encode("latin-1")
        if not isinstance(data, bytes) or len(data) != size * dtype.itemsize:
            raise self.fail(f"a {dtype} array of shape {shape} with the wrong number of bytes")
        return (
            np.frombuffer(data, dtype=dtype)
            .reshape(shape, order="F" if fortran else "C")
            .astype(dtype.newbyteorder("="), order="K")  # a writable copy in native order, as NumPy
        )

    def value(self, item, seen: set):
        """An element with the array markers inside it replaced by the arrays they built."""
        if isinstance(item, _Array):
            if item.array is None:
                raise self.fail("an array used before it was built")
            return item.array
        if isinstance(item, (_Global, _Dtype)):
            raise self.fail("a numpy global or dtype among the elements")
        if type(item) is list and id(item) not in seen:
            seen.add(id(item))
            if _NESTED.isdisjoint(map(type, item)):  # a list of ints: nothing to replace
                return item
            for i, x in enumerate(item):
                if type(x) in _NESTED:
                    item[i] = self.value(x, seen)
        elif type(item) is tuple:
            return tuple(self.value(x, seen) for x in item)
        return item


def _read_npy(buffer: io.BytesIO, where: str) -> np.ndarray:
    major, _ = np.lib.format.read_magic(buffer)
    if major == 1:
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(buffer)
    elif major in (2, 3):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(buffer)
    else:
        raise ValueError(f"load_npz: unsupported .npy version {major} in {where}")
    if not dtype.hasobject:
        buffer.seek(0)
        return np.lib.format.read_array(buffer, allow_pickle=False)
    array = _Reader(buffer, where).read()
    if array.shape != tuple(shape):
        raise UnsafeNpzError(
            f"load_npz: the pickled array in {where} has shape {array.shape}, "
            f"its header says {tuple(shape)}"
        )
    return array


def load_npz(path) -> dict:
    """The arrays of an ``.npz`` file by name; object arrays of lists are allowed."""
    shown = os.fspath(path) if isinstance(path, (str, os.PathLike)) else repr(path)
    out = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                where = f"{member} in {shown}"
                out[member[: -len(".npy")]] = _read_npy(io.BytesIO(archive.read(member)), where)
    return out
