"""Elementwise ops: arithmetic, unary math, activations, comparisons, casts."""

from __future__ import annotations

from zerograd import backend
from zerograd.amp import autocast_mode as _autocast
from zerograd.autograd import Function, _lift, _scalar
from zerograd.tensor import Tensor

_NUMBERS = (bool, int, float)


def binary_operands(a, b) -> tuple[Tensor, Tensor]:
    """Two Tensors of one dtype: scalars take the tensor's dtype, floats win over ints (as PyTorch)."""
    if not isinstance(b, Tensor):  # the common cases first: tensor op Python number
        b = _scalar(b, a) if isinstance(a, Tensor) and type(b) in _NUMBERS else _lift((a, b))[1]
    if not isinstance(a, Tensor):
        a = _scalar(a, b) if type(a) in _NUMBERS else _lift((a, b))[0]
    if a.dtype != b.dtype:
        dt = backend.result_type(a.dtype, b.dtype)
        a, b = (a if a.dtype == dt else cast(a, dt)), (b if b.dtype == dt else cast(b, dt))
    return a, b


def float_operand(x) -> Tensor:
    """A Tensor of a float dtype: ints and bools become the default float dtype."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    return x if x.dtype.kind == "f" else cast(x, backend.get_default_dtype())


# --- arithmetic ----------------------------------------------------------------------------------


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        return gy, (-gy if self.inputs[1].requires_grad else None)


class Mul(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, gy):
        a, b = self.saved
        ga, gb = self.needs_grad
        return (gy * b if ga else None), (gy * a if gb else None)


class Div(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a / b

    def backward(self, gy):
        a, b = self.saved
        ga = gy / b
        return ga, (-ga * a / b if self.inputs[1].requires_grad else None)


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class PowScalar(Function):
    """x ** c for a Python number c."""

    c: float

    def forward(self, x):
        self.save_for_backward(x)
        return x**self.c

    def backward(self, gy):
        (x,) = self.saved
        if self.c == 0:
            return gy * 0
        return gy * (self.c * x ** (self.c - 1))


class Pow(Function):
    """a ** b for two tensors."""

    def forward(self, a, b):
        y = a**b
        self.save_for_backward(a, b, y)
        return y

    def backward(self, gy):
        a, b, y = self.saved
        xp = self.xp
        ga = gy * b * a ** (b - 1) if self.inputs[0].requires_grad else None
        gb = None
        if self.inputs[1].requires_grad:
            # d/db a**b = a**b log a, taken as 0 where a == 0 and b >= 0 (as PyTorch does)
            zero = (a == 0) & (b >= 0)
            gb = gy * xp.where(zero, 0.0, y * xp.log(xp.where(zero, 1.0, a)))
        return ga, gb


def add(a, b) -> Tensor:
    """a + b with broadcasting."""
    return Add.apply(*binary_operands(a, b))


def sub(a, b) -> Tensor:
    return Sub.apply(*binary_operands(a, b))


def mul(a, b) -> Tensor:
    return Mul.apply(*binary_operands(a, b))


def div(a, b) -> Tensor:
    """True division; integer operands give the default float dtype."""
    a, b = binary_operands(a, b)
    if a.dtype.kind != "f":
        a, b = float_operand(a), float_operand(b)
    return Div.apply(a, b)


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


def pow(a, b) -> Tensor:  # noqa: A001 - NumPy/PyTorch name
    """a ** b; a Python-number exponent keeps ``a``'s dtype."""
    if _autocast._ACTIVE:  # in an autocast region: half inputs run in float32
        a, b = _autocast.cast_inputs("fp32", a, b)
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        if a.dtype.kind != "f" and (isinstance(b, float) or b < 0):
            a = float_operand(a)
        return PowScalar.apply(a, c=b)
    return Pow.apply(*binary_operands(a, b))


# --- unary math ----------------------------------------------------------------------------------


class Exp(Function):
    def forward(self, x):
        y = self.xp.exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * y


class Log(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.log(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy / x


class Sqrt(Function):
    def forward(self, x):
        y = self.xp.sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy / (2 * y)


class Abs(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.abs(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy * self.xp.sign(x)


class Sin(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.sin(x)

    def backward(self, gy):
        (x,) = self.saved
        return gy * self.xp.cos(x)


class Cos(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.cos(x)

    def backward(self, gy):
        (x,) = self.saved
        return -gy * self.xp.sin(x)


class Tanh(Function):
    def forward(self, x):
        y = self.xp.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * (1 - y * y)


def sigmoid_array(x):
    """1 / (1 + exp(-x)) on a NumPy/CuPy array, without overflow: the one stable sigmoid of the
    forward passes (sigmoid, silu, the GRU's gates)."""
    xp = backend.namespace(x)
    e = xp.exp(-xp.abs(x))  # in (0, 1]: never overflows, keeps precision for x << 0
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Function):
    def forward(self, x):
        y = sigmoid_array(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved
        return gy * (y * (1 - y))


class ReLU(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.maximum(x, 0)

    def backward(self, gy):
        (x,) = self.saved
        return gy * (x > 0)


class Clip(Function):
    lo: float | None
    hi: float | None

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.clip(x, self.lo, self.hi)

    def backward(self, gy):
        (x,) = self.saved
        if self.lo is not None:
            gy = gy * (x >= self.lo)
        if self.hi is not None:
            gy = gy * (x <= self.hi)
        return gy


def exp(x) -> Tensor:
    if _autocast._ACTIVE:  # in an autocast region: half inputs run in float32
        (x,) = _autocast.cast_inputs("fp32", x)
    return Exp.apply(float_operand(x))


def log(x) -> Tensor:
    """Natural logarithm."""
    if _autocast._ACTIVE:  # in an autocast region: half inputs run in float32
        (x,) = _autocast.cast_inputs("fp32", x)
    return Log.apply(float_operand(x))


def sqrt(x) -> Tensor:
    return Sqrt.apply(float_operand(x))


def abs(x) -> Tensor:  # noqa: A001
    return Abs.apply(x if isinstance(x, Tensor) else Tensor(x))


def sin(x) -> Tensor:
    return Sin.apply(float_operand(x))


def cos(x) -> Tensor:
    return Cos.apply(float_operand(x))


def tanh(x) -> Tensor:
    return Tanh.apply(float_operand(x))


def sigmoid(x) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow."""
    return Sigmoid.apply(float_operand(x))


def relu(x) -> Tensor:
    """max(x, 0); the gradient at 0 is 0 (as PyTorch)."""
    return ReLU.apply(x)


def clip(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    """Limit values to [min, max]; either bound may be None. Gradient flows where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clip: expected at least one of min and max, received neither")
    return Clip.apply(x, lo=min, hi=max)


# --- two-tensor selections -----------------------------------------------------------------------


class Maximum(Function):
    """Elementwise max; a tie sends half the gradient to each side (as PyTorch)."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return self.xp.maximum(a, b)

    def backward(self, gy):
        a, b = self.saved
        return _tie_split(gy, a > b, a == b)


class Minimum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return self.xp.minimum(a, b)

    def backward(self, gy):
        a, b = self.saved
        return _tie_split(gy, a < b, a == b)


def _tie_split(gy, first, tie):
    """Gradients of a two-way selection: to the first operand where it won, half each on a tie."""
    ga = gy * first + gy * tie * 0.5
    return ga, gy - ga


class Where(Function):
    """cond ? a : b, with ``cond`` a constant boolean array."""

    cond: object  # a boolean array

    def forward(self, a, b):
        return self.xp.where(self.cond, a, b)

    def backward(self, gy):
        xp = self.xp
        return xp.where(self.cond, gy, 0), xp.where(self.cond, 0, gy)


def maximum(a, b) -> Tensor:
    return Maximum.apply(*binary_operands(a, b))


def minimum(a, b) -> Tensor:
    return Minimum.apply(*binary_operands(a, b))


def where(cond, a, b) -> Tensor:
    """Elements of ``a`` where ``cond`` is true, else of ``b``; no gradient flows to ``cond``."""
    cond = cond.data if isinstance(cond, Tensor) else cond
    a, b = binary_operands(a, b)
    cond = a.xp.asarray(cond)
    if cond.dtype != bool:  # as PyTorch: 0/1 numbers are not silently taken as truth values
        raise TypeError(
            f"where: expected a boolean condition, received dtype {cond.dtype}; compare it "
            "first (e.g. cond > 0)"
        )
    return Where.apply(a, b, cond=cond)


# --- dtype, device, copy -------------------------------------------------------------------------


class Cast(Function):
    dtype: object

    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, gy):
        src = self.inputs[0].dtype
        return gy.astype(src) if src.kind == "f" else None


class Copy(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


class ToDevice(Function):
    device: str

    def forward(self, x):
        return backend.to_device(x, self.device)

    def backward(self, gy):
        return ToDevice.call(gy, device=self.inputs[0].device)


def cast(x: Tensor, dtype) -> Tensor:
    dtype = backend.as_dtype(dtype)
    if x.dtype == dtype:
        return x
    return Cast.apply(x, dtype=dtype)


def copy(x: Tensor) -> Tensor:
    return Copy.apply(x)


def to_device(x: Tensor, device: str) -> Tensor:
    out = ToDevice.apply(x, device=device)
    return out


# --- comparisons and logic (no gradient) ---------------------------------------------------------


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _compare(op, name: str = ""):
    def compare(a, b) -> Tensor:
        if name and (isinstance(a, (str, bytes)) or isinstance(b, (str, bytes)) or b is None):
            other = b if isinstance(a, Tensor) else a
            raise TypeError(
                f"{name}: cannot compare a Tensor with {type(other).__name__} {other!r}"
            )
        out = op(_data(a), _data(b))
        return Tensor._make(backend.namespace(out).asarray(out))

    return compare


eq = _compare(lambda a, b: a == b)
ne = _compare(lambda a, b: a != b)
lt = _compare(lambda a, b: a < b, "lt")
le = _compare(lambda a, b: a <= b, "le")
gt = _compare(lambda a, b: a > b, "gt")
ge = _compare(lambda a, b: a >= b, "ge")
logical_and = _compare(lambda a, b: a & b)
logical_or = _compare(lambda a, b: a | b)


def logical_not(x: Tensor) -> Tensor:
    return Tensor._make(~x.data if x.dtype.kind == "b" else x.data == 0)


def sign(x: Tensor) -> Tensor:
    return Tensor._make(x.xp.sign(x.data))


def isnan(x: Tensor) -> Tensor:
    return Tensor._make(x.xp.isnan(x.data))


def isfinite(x: Tensor) -> Tensor:
    return Tensor._make(x.xp.isfinite(x.data))
