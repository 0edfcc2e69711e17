"""Keras initializers: objects that fill a weight of a Keras-layout shape (fans read as Keras does)."""

from __future__ import annotations

import functools
import math

import numpy as np

from zerograd import backend
from zerograd.ops import argcheck
from zerograd.tensor import Tensor


def _fans(shape) -> tuple[int, int]:
    """Keras fans: the last axis is the output; the second-to-last the input; leading axes are the
    receptive field (conv kernels are (kh, kw, in, out))."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__call__" in cls.__dict__:  # every initializer checks the shape it is asked for
            cls.__call__ = _checks_shape(cls.__dict__["__call__"])

    def __call__(self, shape, dtype=None) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        """Rebuild from ``get_config()`` (zerograd's or Keras's: Keras-only keys left at their
        neutral value are dropped, any other is an error)."""
        from zerograd.keras.saving.keras_compat import builtin_kwargs

        return cls(**builtin_kwargs(cls, config))


def _checks_shape(call):
    @functools.wraps(call)
    def wrapper(self, shape, dtype=None, **kwargs):
        from zerograd.keras.keras_tensor import standardize_shape

        shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
        shape = standardize_shape(shape, type(self).__name__, "shape")
        if None in shape:
            raise ValueError(f"{type(self).__name__}: shape must be fully known, received {shape}")
        return call(self, shape, dtype, **kwargs)

    return wrapper


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return np.zeros(shape, dtype or backend.get_default_dtype())


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return np.ones(shape, dtype or backend.get_default_dtype())


class Constant(Initializer):
    def __init__(self, value=0.0):
        if np.asarray(value).dtype.kind not in "biuf":
            raise ValueError(
                f"Constant: value must be a number (or an array of numbers), received {value!r}"
            )
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, dtype or backend.get_default_dtype())

    def get_config(self):
        return {"value": self.value}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=None):
        rng = np.random.default_rng(self.seed) if self.seed is not None else backend.rng()
        if self.maxval < self.minval:  # as Keras: minval + (maxval - minval) * U[0, 1)
            out = self.minval + (self.maxval - self.minval) * rng.random(shape)
            return out.astype(dtype or backend.get_default_dtype())
        return rng.uniform(self.minval, self.maxval, shape).astype(
            dtype or backend.get_default_dtype()
        )

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        argcheck.number(type(self).__name__, "stddev", stddev, 0.0)
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=None):
        rng = np.random.default_rng(self.seed) if self.seed is not None else backend.rng()
        return rng.normal(self.mean, self.stddev, shape).astype(
            dtype or backend.get_default_dtype()
        )

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """Normal draws redrawn when further than two standard deviations from the mean."""

    def __call__(self, shape, dtype=None):
        rng = np.random.default_rng(self.seed) if self.seed is not None else backend.rng()
        out = rng.normal(self.mean, self.stddev, shape)
        bad = np.abs(out - self.mean) > 2 * self.stddev
        while bad.any():
            out[bad] = rng.normal(self.mean, self.stddev, int(bad.sum()))
            bad = np.abs(out - self.mean) > 2 * self.stddev
        return out.astype(dtype or backend.get_default_dtype())


class VarianceScaling(Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        me = type(self).__name__
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)) or scale <= 0:
            raise ValueError(f"{me}: scale must be a positive float, received {scale!r}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(
                f"{me}: mode must be one of 'fan_in', 'fan_out', 'fan_avg', received {mode!r}"
            )
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                f"{me}: distribution must be one of 'truncated_normal', 'untruncated_normal', "
                f"'uniform', received {distribution!r}"
            )
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3 * var)
            return RandomUniform(-limit, limit, self.seed)(shape, dtype)
        if self.distribution == "untruncated_normal":
            return RandomNormal(0.0, math.sqrt(var), self.seed)(shape, dtype)
        return TruncatedNormal(0.0, math.sqrt(var) / 0.87962566103423978, self.seed)(shape, dtype)

    def get_config(self):
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
        }


class GlorotUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


class HeUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class HeNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


class Orthogonal(Initializer):
    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = gain, seed

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise ValueError(
                f"Orthogonal: the tensor to initialize must be at least two-dimensional, "
                f"received shape={shape}"
            )
        rng = np.random.default_rng(self.seed) if self.seed is not None else backend.rng()
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (
            (self.gain * q[:rows, :cols])
            .reshape(shape)
            .astype(dtype or backend.get_default_dtype())
        )

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class LecunNormal(VarianceScaling):
    """Truncated normal with variance 1 / fan_in."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


class LecunUniform(VarianceScaling):
    """Uniform with variance 1 / fan_in."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only; a rectangle gets ones on its
    diagonal)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(
                f"Identity initializer: expected a 2-D shape, received shape={tuple(shape)}"
            )
        return (self.gain * np.eye(*shape)).astype(dtype or backend.get_default_dtype())

    def get_config(self):
        return {"gain": self.gain}


IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal

ALIASES = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "uniform": RandomUniform,
    "random_uniform": RandomUniform,
    "normal": RandomNormal,
    "random_normal": RandomNormal,
    "truncated_normal": TruncatedNormal,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "orthogonal": Orthogonal,
    "variance_scaling": VarianceScaling,
    "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform,
    "identity": Identity,
    "identity_initializer": Identity,
    "orthogonal_initializer": Orthogonal,
}
# Keras's lower-case names are the classes themselves
zeros, ones, constant, random_uniform, random_normal = (
    Zeros,
    Ones,
    Constant,
    RandomUniform,
    RandomNormal,
)
truncated_normal, variance_scaling, orthogonal, identity = (
    TruncatedNormal,
    VarianceScaling,
    Orthogonal,
    Identity,
)
glorot_uniform, glorot_normal, he_uniform, he_normal = (
    GlorotUniform,
    GlorotNormal,
    HeUniform,
    HeNormal,
)
lecun_uniform, lecun_normal = LecunUniform, LecunNormal


def get(identifier) -> Initializer:
    """An initializer from a name ('glorot_uniform'), a config dict, a class, an object, a callable,
    or an array or tensor (then the initializer returns its values for that shape only)."""
    if identifier is None:
        return None
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, (np.ndarray, np.generic, Tensor)):
        return _from_values(identifier)
    if (
        isinstance(identifier, Initializer)
        or callable(identifier)
        and not isinstance(identifier, type)
    ):
        return identifier
    if isinstance(identifier, dict):
        name = _snake(identifier.get("class_name", ""))
        if name not in ALIASES:
            raise ValueError(
                f"unknown initializer: expected one of {sorted(ALIASES)}, received "
                f"{identifier.get('class_name')!r}"
            )
        return ALIASES[name].from_config(identifier.get("config", {}))
    if isinstance(identifier, str) and identifier.lower() in ALIASES:
        return ALIASES[identifier.lower()]()
    if isinstance(identifier, str) and _snake(identifier) in ALIASES:
        return ALIASES[_snake(identifier)]()
    raise ValueError(
        f"unknown initializer: expected one of {sorted(ALIASES)}, received {identifier!r}"
    )


def deserialize(config, custom_objects=None) -> Initializer:
    """The initializer saved as ``config`` (a name or a ``{"class_name", "config"}`` dict)."""
    if isinstance(config, str) and custom_objects and config in custom_objects:
        found = custom_objects[config]
        return found() if isinstance(found, type) else found
    if not isinstance(config, (str, dict)):
        raise TypeError(
            f"initializers.deserialize: expected a name or a config dict, received {config!r}"
        )
    return get(config)


def _from_values(values):
    """An initializer that returns ``values`` (cast to the weight's dtype) for their own shape."""
    array = backend.to_numpy(values.data) if isinstance(values, Tensor) else np.asarray(values)

    def initialize_fn(shape, dtype=None):
        if tuple(shape) != array.shape:
            raise ValueError(
                f"initializers.get: the given values have shape {array.shape}, but the weight "
                f"asks for shape={tuple(shape)}"
            )
        return array.astype(dtype or backend.get_default_dtype())

    return initialize_fn


def serialize(init) -> dict | str:
    return (
        {"class_name": type(init).__name__, "config": init.get_config()}
        if isinstance(init, Initializer)
        else init
    )


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return {"random_uniform": "random_uniform", "glorot_uniform": "glorot_uniform"}.get(out, out)
