"""Identity, Flatten, Unflatten, Linear."""

from __future__ import annotations

import math

from zerograd import backend
from zerograd.amp import autocast_mode as _autocast
from zerograd.nn import init
from zerograd.nn.module import Module
from zerograd.nn.parameter import Parameter
from zerograd.ops import argcheck
from zerograd.ops.linalg import Linear as LinearOp
from zerograd.ops.linalg import linear
from zerograd.ops.shape import flatten
from zerograd.tensor import Tensor


class Identity(Module):
    """Returns its input."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge axes ``start_axis..end_axis`` (default: all but the batch axis)."""

    def __init__(self, start_axis: int = 1, end_axis: int = -1):
        super().__init__()
        self.start_axis = argcheck.integer("Flatten", "start_axis", start_axis)
        self.end_axis = argcheck.integer("Flatten", "end_axis", end_axis)

    def forward(self, x: Tensor) -> Tensor:
        return flatten(x, self.start_axis, self.end_axis)

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"


class Unflatten(Module):
    """Split axis ``axis`` into ``unflattened_size`` (the inverse of Flatten), as PyTorch.

    Example:
        >>> nn.Unflatten(1, (2, 5))(zg.ones(3, 10)).shape
        (3, 2, 5)
    """

    def __init__(self, axis: int, unflattened_size):
        super().__init__()
        self.axis = argcheck.integer("Unflatten", "axis", axis)
        sizes = unflattened_size
        if not isinstance(sizes, (tuple, list)) or not sizes:
            raise TypeError(
                f"Unflatten: unflattened_size must be a non-empty tuple of integers, received "
                f"{unflattened_size!r}"
            )
        sizes = tuple(argcheck.integer("Unflatten", "unflattened_size", v, -1) for v in sizes)
        if sizes.count(-1) > 1:
            raise ValueError(
                f"Unflatten: unflattened_size may hold one -1 at most, received {unflattened_size!r}"
            )
        self.unflattened_size = sizes

    def forward(self, x: Tensor) -> Tensor:
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError(
                f"Unflatten: axis {self.axis} is out of range for an input of shape {x.shape}"
            )
        a = self.axis % x.ndim
        known = math.prod(v for v in self.unflattened_size if v != -1)
        n = x.shape[a]
        if (-1 in self.unflattened_size and (known == 0 or n % known)) or (
            -1 not in self.unflattened_size and known != n
        ):
            raise ValueError(
                f"Unflatten: cannot split axis {self.axis} of size {n} into "
                f"{self.unflattened_size} (input shape {x.shape})"
            )
        return x.reshape(x.shape[:a] + self.unflattened_size + x.shape[a + 1 :])

    def extra_repr(self) -> str:
        return f"axis={self.axis}, unflattened_size={self.unflattened_size}"


class Linear(Module):
    """y = x @ W.T + b, with W of shape (out_features, in_features).

    ``in_features=None`` learns the input size on the first call (as Keras's Dense).
    Weights start as PyTorch's: U(-1/sqrt(in), 1/sqrt(in)) for both W and b.

    Example:
        >>> nn.Linear(784, 10)(zg.randn(32, 784)).shape
        (32, 10)
    """

    def __init__(self, in_features: int | None, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        if in_features is not None:
            in_features = argcheck.size("Linear", "in_features", in_features)
        out_features = argcheck.size("Linear", "out_features", out_features)
        argcheck.flag("Linear", "bias", bias)
        self.in_features, self.out_features = in_features, out_features
        self.dtype = backend.as_dtype(dtype) or backend.get_default_dtype()
        self.weight = Parameter.uninitialized()
        if bias:
            self.bias = Parameter.uninitialized()
        else:
            self.register_parameter("bias", None)
        if in_features is not None:
            self._build(in_features)

    def _build(self, in_features: int) -> None:
        self.in_features = in_features
        self.weight.materialize(backend.np.empty((self.out_features, in_features), self.dtype))
        if self.bias is not None:
            self.bias.materialize(backend.np.empty((self.out_features,), self.dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if self.weight.is_uninitialized:
            self._build(x.shape[-1])
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear expected input with last axis {self.in_features}, received shape {x.shape}"
            )
        if _autocast._ACTIVE:  # maybe an autocast region: F.linear casts input and weight
            return linear(x, self.weight, self.bias)
        argcheck.same_dtype("Linear", x, self.weight)
        # checked here, naming the layer: the op itself, without F.linear's checks a second time
        if self.bias is None:
            return LinearOp.apply(x, self.weight)
        return LinearOp.apply(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
