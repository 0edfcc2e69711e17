"""Weight initialisers, in place, drawing from zerograd's seeded generator (as torch.nn.init)."""

from __future__ import annotations

import math
import warnings

import numpy as np

from zerograd import backend, versions
from zerograd.tensor import Tensor


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    t.data[...] = backend.to_device(values.astype(t.dtype, copy=False), t.device)
    versions.bump(t.data)  # an in-place write: a graph that saved t sees it at backward
    return t


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for an activation ('relu', 'tanh', 'leaky_relu', 'selu', ...)."""
    linear = {
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "sigmoid",
    }
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def calculate_fan_in_and_fan_out(t: Tensor) -> tuple[int, int]:
    """Fans of a weight laid out as PyTorch's: (out, in, *kernel)."""
    if t.ndim < 2:
        raise ValueError(
            f"fan in/out needs a tensor with at least 2 dimensions, received shape {t.shape}"
        )
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fan(t: Tensor, mode: str) -> int:
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode: expected 'fan_in' or 'fan_out', received {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    return _fill(t, backend.rng().uniform(a, b, t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    return _fill(t, backend.rng().normal(mean, std, t.shape))


def trunc_normal_(
    t: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0
) -> Tensor:
    """Normal draws redrawn until they fall in [a, b] (absolute bounds, as PyTorch)."""
    rng = backend.rng()
    out = rng.normal(mean, std, t.shape)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = rng.normal(mean, std, int(bad.sum()))
        bad = (out < a) | (out > b)
    return _fill(t, out)


def constant_(t: Tensor, val: float) -> Tensor:
    t.data[...] = val
    versions.bump(t.data)
    return t


def zeros_(t: Tensor) -> Tensor:
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    return constant_(t, 1.0)


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a)


def xavier_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(
    t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He uniform: U(-b, b), b = gain * sqrt(3 / fan)."""
    if t.size == 0:  # an empty layer (Linear(0, n)): nothing to draw, and fan 0 has no bound
        warnings.warn(
            "kaiming_uniform_: initializing a zero-element tensor is a no-op", stacklevel=2
        )
        return t
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(t, mode))
    return uniform_(t, -bound, bound)


def kaiming_normal_(
    t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    if t.size == 0:
        warnings.warn(
            "kaiming_normal_: initializing a zero-element tensor is a no-op", stacklevel=2
        )
        return t
    return normal_(t, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode)))


def orthogonal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a normal draw."""
    if t.ndim < 2:
        raise ValueError(f"orthogonal_: expected at least 2 dimensions, received shape {t.shape}")
    rows, cols = t.shape[0], t.size // t.shape[0]
    flat = backend.rng().normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # make the decomposition unique
    if rows < cols:
        q = q.T
    return _fill(t, gain * q.reshape(t.shape))
