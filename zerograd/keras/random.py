"""``keras.random``: seeded random tensors, dropout and shuffling.

``seed`` is an int (the same draw on every call), a ``SeedGenerator`` (a new, reproducible draw on
each call) or None (zerograd's global generator, which ``zerograd.manual_seed`` seeds).
"""

from __future__ import annotations

import numpy as np

import zerograd as zg
from zerograd import backend
from zerograd.keras.ops.core import standardize_dtype, tensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.ops import argcheck
from zerograd.tensor import Tensor

__all__ = [
    "SeedGenerator",
    "beta",
    "binomial",
    "categorical",
    "dropout",
    "gamma",
    "normal",
    "randint",
    "shuffle",
    "truncated_normal",
    "uniform",
]


class SeedGenerator:
    """A reproducible stream of random draws: ``SeedGenerator(1337)`` gives the same sequence of
    tensors every time it is created with that seed.

    Example:
        >>> gen = keras.random.SeedGenerator(1337)
        >>> a, b = keras.random.normal((2,), seed=gen), keras.random.normal((2,), seed=gen)
    """

    def __init__(self, seed=None, name=None, **kwargs):
        kwargs.pop("backend", None)
        if kwargs:
            raise TypeError(f"SeedGenerator: unexpected keyword arguments {sorted(kwargs)}")
        if seed is None:
            seed = int(backend.rng().integers(2**31 - 1))
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"SeedGenerator: expected an int seed, received {seed!r}")
        self.initial_seed = int(seed)
        self.name = name or "seed_generator"
        self.generator = np.random.default_rng(self.initial_seed)

    def next(self) -> int:
        """A fresh integer seed drawn from the stream."""
        return int(self.generator.integers(2**31 - 1))

    def get_config(self) -> dict:
        return {"seed": self.initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> SeedGenerator:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<SeedGenerator seed={self.initial_seed}>"


def _rng(seed, op: str) -> np.random.Generator:
    if seed is None:
        return backend.rng()
    if isinstance(seed, SeedGenerator):
        return seed.generator
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise TypeError(f"{op}: expected seed to be an int, a SeedGenerator or None, received {seed!r}")


def _shape(shape, op: str = "random") -> tuple:
    from zerograd.keras.ops.creation import new_shape

    return new_shape(shape, op)


def _float_dtype(dtype, op: str):
    dt = standardize_dtype(dtype, op) or backend.get_default_dtype()
    if dt.kind != "f":
        raise ValueError(f"{op}: expected a float dtype, received {dt}")
    return dt


def _draw_dtype(dt):
    return np.float64 if dt == np.float64 else np.float32


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Tensor:
    """Draws from N(mean, stddev^2)."""
    dt = _float_dtype(dtype, "normal")
    z = _rng(seed, "normal").standard_normal(_shape(shape, "normal"), dtype=_draw_dtype(dt))
    return Tensor((z * stddev + mean).astype(dt))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None) -> Tensor:
    """Draws from U[minval, maxval)."""
    dt = _float_dtype(dtype, "uniform")
    u = _rng(seed, "uniform").random(_shape(shape, "uniform"), dtype=_draw_dtype(dt))
    return Tensor((u * (maxval - minval) + minval).astype(dt))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Tensor:
    """Normal draws, those beyond two standard deviations drawn again."""
    dt = _float_dtype(dtype, "truncated_normal")
    rng, shape = _rng(seed, "truncated_normal"), _shape(shape, "truncated_normal")
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return Tensor((z * stddev + mean).astype(dt))


def randint(shape, minval, maxval, dtype="int32", seed=None) -> Tensor:
    """Integers drawn uniformly from [minval, maxval)."""
    dt = standardize_dtype(dtype, "randint")
    if dt.kind not in "iu":
        raise ValueError(f"randint: expected an integer dtype, received {dt}")
    return Tensor(
        _rng(seed, "randint").integers(minval, maxval, _shape(shape, "randint")).astype(dt)
    )


def gamma(shape, alpha, dtype=None, seed=None) -> Tensor:
    """Draws from Gamma(alpha, 1)."""
    dt = _float_dtype(dtype, "gamma")
    return Tensor(_rng(seed, "gamma").gamma(alpha, size=_shape(shape, "gamma")).astype(dt))


def beta(shape, alpha, beta, dtype=None, seed=None) -> Tensor:
    """Draws from Beta(alpha, beta)."""
    dt = _float_dtype(dtype, "beta")
    return Tensor(_rng(seed, "beta").beta(alpha, beta, size=_shape(shape, "beta")).astype(dt))


def binomial(shape, counts, probabilities, dtype=None, seed=None) -> Tensor:
    """Draws from Binomial(counts, probabilities), as floats."""
    dt = _float_dtype(dtype, "binomial")
    draws = _rng(seed, "binomial").binomial(counts, probabilities, size=_shape(shape, "binomial"))
    return Tensor(draws.astype(dt))


@symbolic
def dropout(inputs, rate, noise_shape=None, seed=None) -> Tensor:
    """Entries zeroed with probability ``rate``, the others scaled by 1 / (1 - rate)."""
    x = tensor(inputs)
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be in [0, 1), received {rate}")
    shape = x.shape
    if noise_shape is not None:
        shape = tuple(n if m is None else int(m) for n, m in zip(x.shape, noise_shape))
    keep = _rng(seed, "dropout").random(shape) >= rate
    mask = backend.to_device((keep / (1 - rate)).astype(x.dtype), x.device)
    return zg.mul(x, Tensor._make(mask))


@symbolic
def shuffle(x, axis=0, seed=None) -> Tensor:
    """Entries permuted at random along ``axis``."""
    x = tensor(x)
    axis = argcheck.axis("shuffle", axis, x.ndim)
    perm = _rng(seed, "shuffle").permutation(x.shape[axis])
    return x[(slice(None),) * axis + (perm,)]


@symbolic
def categorical(logits, num_samples, dtype="int32", seed=None) -> Tensor:
    """``num_samples`` class indices per row of ``logits`` (batch, classes), drawn from
    softmax(logits)."""
    p = zg.softmax(zg.cast(tensor(logits), backend.float64), -1).numpy()
    if p.ndim != 2:
        raise ValueError(
            f"categorical: expected logits of shape (batch, classes), received {p.shape}"
        )
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise TypeError(f"categorical: num_samples must be an int, received {num_samples!r}")
    if num_samples < 1:
        raise ValueError(f"categorical: num_samples must be >= 1, received {num_samples}")
    u = _rng(seed, "categorical").random((p.shape[0], int(num_samples)))
    cdf = np.cumsum(p, axis=-1)
    idx = np.stack([np.searchsorted(c, r, side="right") for c, r in zip(cdf, u)])
    return Tensor(np.minimum(idx, p.shape[1] - 1).astype(standardize_dtype(dtype, "categorical")))
