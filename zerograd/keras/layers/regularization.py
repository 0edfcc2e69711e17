"""Regularisation layers: Dropout (with noise_shape), SpatialDropout1D/2D/3D, GaussianNoise,
GaussianDropout, AlphaDropout and ActivityRegularization.

The random layers change their inputs only when called with ``training=True`` (``fit`` does so) and
are the identity otherwise. An integer ``seed`` gives the layer its own generator: two layers built
with the same seed draw the same masks.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from zerograd import backend
from zerograd.keras import regularizers
from zerograd.keras.base import Layer
from zerograd.keras.layers.random_state import RandomState, check_seed
from zerograd.tensor import Tensor

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _check_fraction(layer: str, arg: str, value, below_one: bool = False) -> float:
    """``value`` in [0, 1] (in [0, 1) where 1 would divide by zero)."""
    bound = "[0, 1)" if below_one else "[0, 1]"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{layer}: {arg} must be a float in {bound}, received {value!r}")
    if not (0 <= value < 1 if below_one else 0 <= value <= 1):
        raise ValueError(f"{layer}: {arg} must be a float in {bound}, received {arg}={value}")
    return value


def _constant_like(x: Tensor, a: np.ndarray) -> Tensor:
    """A constant (no gradient) of x's dtype on x's device."""
    return Tensor(backend.to_device(a.astype(x.dtype, copy=False), x.device))


def _check_data_format(layer: str, data_format) -> str:
    data_format = "channels_last" if data_format is None else data_format
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{layer}: data_format must be 'channels_last' or 'channels_first', "
            f"received {data_format!r}"
        )
    return data_format


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of the inputs while training and scales the rest by 1/(1-rate).

    ``noise_shape`` shapes the mask (None entries take the input's size), so a mask can be shared
    along axes: ``noise_shape=(None, 1, None)`` drops the same features at every time step.

    Example:
        >>> Dropout(0.5, seed=0)(np.ones((2, 4)), training=True).numpy()  # zeros and 2.0s
    """

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # the input's mask passes on (Keras)
        self.rate = _check_fraction(f"{type(self).__name__} '{self.name}'", "rate", rate)
        self.noise_shape = self._check_noise_shape(noise_shape)
        self.seed = check_seed(f"{type(self).__name__} '{self.name}'", seed)
        self._random = RandomState(self.seed)

    def _check_noise_shape(self, noise_shape):
        if noise_shape is None:
            return None
        bad = TypeError(
            f"{type(self).__name__} '{self.name}': noise_shape must be a tuple of positive ints "
            f"or None entries, received {noise_shape!r}"
        )
        if isinstance(noise_shape, (str, bytes)):
            raise bad
        try:
            dims = tuple(noise_shape)
        except TypeError:
            raise bad from None
        for d in dims:
            if d is not None and (isinstance(d, bool) or not isinstance(d, numbers.Integral)):
                raise bad
            if d is not None and d <= 0:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': noise_shape entries must be positive, "
                    f"received {noise_shape!r}"
                )
        return tuple(None if d is None else int(d) for d in dims)

    def _mask_shape(self, shape: tuple) -> tuple:
        if self.noise_shape is None:
            return shape
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': noise_shape {self.noise_shape} needs inputs "
                f"of rank {len(self.noise_shape)}, received shape {shape}"
            )
        out = tuple(n if d is None else d for d, n in zip(self.noise_shape, shape))
        if any(d not in (1, n) for d, n in zip(out, shape)):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': noise_shape {self.noise_shape} does not "
                f"broadcast to the input shape {shape}"
            )
        return out

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        keep = self._random.random(self._mask_shape(tuple(inputs.shape)), np.float32) >= self.rate
        mask = keep.astype(inputs.dtype)  # the scaled mask in the input's dtype, no float64 copy
        mask *= 0.0 if self.rate == 1 else 1.0 / (1.0 - self.rate)
        return inputs * _constant_like(inputs, mask)

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "seed": self.seed,
            "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
        }


class _SpatialDropout(Dropout):
    _RANK = 0

    def __init__(self, rate: float, data_format=None, seed: int | None = None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = _check_data_format(f"{type(self).__name__} '{self.name}'", data_format)

    def _mask_shape(self, shape: tuple) -> tuple:
        if len(shape) != self._RANK:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expected inputs of rank {self._RANK}, "
                f"received shape {shape}"
            )
        if self.data_format == "channels_first":
            return (shape[0], shape[1]) + (1,) * (self._RANK - 2)
        return (shape[0],) + (1,) * (self._RANK - 2) + (shape[-1],)

    def get_config(self):
        cfg = {**super().get_config(), "data_format": self.data_format}
        # Keras's spatial dropouts take no noise_shape and no trainable (their configs fail
        # to load in Keras with either key)
        del cfg["noise_shape"]
        cfg.pop("trainable", None)
        return cfg


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole channels of (batch, steps, channels) inputs."""

    _RANK = 3

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)

    def get_config(self):
        cfg = super().get_config()
        del cfg["data_format"]
        return cfg


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole feature maps of (batch, rows, cols, channels) inputs."""

    _RANK = 4


class SpatialDropout3D(_SpatialDropout):
    """Dropout of whole feature volumes of 5-D inputs."""

    _RANK = 5


class GaussianNoise(Layer):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` while training."""

    def __init__(self, stddev: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # the input's mask passes on (Keras)
        self.stddev = _check_fraction(f"GaussianNoise '{self.name}'", "stddev", stddev)
        self.seed = check_seed(f"GaussianNoise '{self.name}'", seed)
        self._random = RandomState(self.seed)

    def call(self, inputs, training=None):
        if not training or self.stddev == 0:
            return inputs
        noise = self._random.normal(tuple(inputs.shape), 0.0, self.stddev)
        return inputs + _constant_like(inputs, noise)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    """Multiplies the inputs by noise N(1, rate / (1 - rate)) while training."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # the input's mask passes on (Keras)
        self.rate = _check_fraction(f"GaussianDropout '{self.name}'", "rate", rate, True)
        self.seed = check_seed(f"GaussianDropout '{self.name}'", seed)
        self._random = RandomState(self.seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = self._random.normal(tuple(inputs.shape), 1.0, stddev)
        return inputs * _constant_like(inputs, noise)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(Dropout):
    """Dropout for SELU networks: dropped units take SELU's negative saturation and an affine map
    keeps the mean and variance of the inputs."""

    def __init__(self, rate: float, noise_shape=None, seed: int | None = None, **kwargs):
        super().__init__(rate, noise_shape, seed, **kwargs)
        _check_fraction(f"AlphaDropout '{self.name}'", "rate", rate, below_one=True)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        keep = self._random.uniform(self._mask_shape(tuple(inputs.shape))) >= self.rate
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * self.rate
        keep = keep.astype(np.float64)
        # a * (x * keep + alpha_p * (1 - keep)) + b, with the constants folded into two arrays
        return inputs * _constant_like(inputs, a * keep) + _constant_like(
            inputs, a * alpha_p * (1 - keep) + b
        )


class ActivityRegularization(Layer):
    """Identity that adds l1 * sum|x| + l2 * sum(x**2), divided by the batch size, to the losses.

    The penalty is added at every call (training or not, as Keras does): ``layer.losses`` lists
    that of the latest forward pass, and ``fit`` adds it to the training loss.
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # the input's mask passes on (Keras)
        for arg, value in (("l1", l1), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
                raise ValueError(
                    f"ActivityRegularization '{self.name}': {arg} must be a non-negative float, "
                    f"received {arg}={value!r}"
                )
        self.l1, self.l2 = l1, l2
        self._regularizer = regularizers.L1L2(l1=l1, l2=l2)

    def call(self, inputs):
        penalty = self._regularizer(inputs)
        if not isinstance(penalty, Tensor):  # l1 == l2 == 0
            penalty = Tensor(inputs.xp.zeros((), dtype=inputs.dtype))
        if inputs.ndim > 0 and inputs.shape[0] > 0:
            penalty = penalty / inputs.shape[0]
        self.add_loss(penalty)
        return inputs

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
