"""Image augmentation layers: RandomFlip, RandomRotation, RandomTranslation, RandomZoom, RandomCrop,
RandomContrast, on a batch (N, H, W, C) or one image (H, W, C) (channels_first: C before H, W).

They transform only when called with ``training=True`` (a direct call in the default training mode,
or ``fit``); at inference they return their input as floats, RandomCrop included (Keras 3 does not
crop at inference either). Each image of a batch gets its own draw; an integer ``seed`` makes
the sequence of draws reproducible. The outputs carry no gradient (Keras does not backpropagate
into augmentation either).
"""

from __future__ import annotations

import numbers

import numpy as np

from zerograd import backend
from zerograd.keras.layers import image_transforms as T
from zerograd.keras.layers.image_preprocessing import ImageLayer
from zerograd.keras.layers.random_state import RandomState, check_seed

HORIZONTAL, VERTICAL = "horizontal", "vertical"
HORIZONTAL_AND_VERTICAL = "horizontal_and_vertical"


def _check_range(layer: str, arg: str, factor, low: float, high: float, open_low=False) -> tuple:
    """A factor given as x (meaning (-|x|, |x|)) or (lower, upper) inside [low, high]."""
    bound = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
    bad = f"{layer}: {arg} must be a number or a pair of numbers in {bound}, received {factor!r}"

    def ok(v) -> bool:
        return (
            isinstance(v, numbers.Real)
            and not isinstance(v, bool)
            and (low < v if open_low else low <= v)
            and v <= high
        )

    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(ok(v) for v in factor):
            raise ValueError(bad)
        return tuple(sorted(float(v) for v in factor))
    if not ok(factor):
        raise ValueError(bad)
    return -abs(float(factor)), abs(float(factor))


class _RandomImageLayer(ImageLayer):
    """An image layer that transforms only while training, with its own random source."""

    def __init__(self, seed: int | None = None, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.seed = check_seed(self._what, seed)
        self._random = RandomState(self.seed)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class RandomFlip(_RandomImageLayer):
    """Flips each image left-right and/or upside down with probability 1/2 while training.

    With ``mode='horizontal_and_vertical'`` one draw decides both flips, as in Keras.

    Example:
        >>> RandomFlip('horizontal', seed=0)(images, training=True)
    """

    def __init__(self, mode: str = HORIZONTAL_AND_VERTICAL, seed=None, data_format=None, **kw):
        super().__init__(seed, data_format, **kw)
        self.mode = self._check_choice(
            "mode", mode, (HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL)
        )

    def _augment(self, images):
        xp = backend.namespace(images)
        flips = xp.asarray(self._random.uniform((images.shape[0], 1, 1, 1)) <= 0.5)
        out = images
        if self.mode != VERTICAL:
            out = xp.where(flips, out[:, :, ::-1], out)
        if self.mode != HORIZONTAL:
            out = xp.where(flips, out[:, ::-1], out)
        return out

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class _AffineLayer(_RandomImageLayer):
    """A random affine resampling per image, with Keras' fill modes and interpolations."""

    def __init__(
        self,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(seed, data_format, **kwargs)
        self.fill_mode = self._check_choice("fill_mode", fill_mode, T.FILL_MODES)
        self.interpolation = self._check_choice("interpolation", interpolation, T.INTERPOLATIONS)
        if isinstance(fill_value, bool) or not isinstance(fill_value, numbers.Real):
            raise TypeError(f"{self._what}: fill_value must be a number, received {fill_value!r}")
        self.fill_value = fill_value

    def _augment(self, images):
        n, h, w, _ = images.shape
        matrix = self._matrix(n, h, w)
        return T.affine_transform(
            images, matrix, self.interpolation, self.fill_mode, self.fill_value
        )

    def _matrix(self, n: int, h: int, w: int) -> np.ndarray:
        raise NotImplementedError

    def get_config(self):
        return {
            **super().get_config(),
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "fill_value": self.fill_value,
        }


class RandomRotation(_AffineLayer):
    """Rotates each image by a random angle of ``factor`` turns (0.1: up to +-36 degrees) about
    its centre while training; ``factor=(0.25, 0.25)`` always rotates by 90 degrees.

    Example:
        >>> RandomRotation(0.1, fill_mode='constant', seed=0)(images, training=True)
    """

    def __init__(
        self,
        factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = _check_range(self._what, "factor", factor, -1.0, 1.0)

    def _matrix(self, n, h, w):
        angle = self._random.uniform((n,), self.factor[0] * 360.0, self.factor[1] * 360.0)
        return T.affine_matrix(angle, 0.0, 0.0, 1.0, 1.0, h, w)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class RandomTranslation(_AffineLayer):
    """Shifts each image by random fractions of its height and width while training.

    Example:
        >>> RandomTranslation(0.1, (-0.2, 0.3), fill_mode='wrap')(images, training=True)
    """

    def __init__(
        self,
        height_factor,
        width_factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_range = _check_range(self._what, "height_factor", height_factor, -1.0, 1.0)
        self.width_range = _check_range(self._what, "width_factor", width_factor, -1.0, 1.0)
        self.height_factor, self.width_factor = height_factor, width_factor

    def _matrix(self, n, h, w):
        dy = self._random.uniform((n,), *self.height_range) * h
        dx = self._random.uniform((n,), *self.width_range) * w
        return T.affine_matrix(np.zeros(n), -dx, -dy, 1.0, 1.0, h, w)

    def get_config(self):
        return {
            **super().get_config(),
            "height_factor": self.height_factor,
            "width_factor": self.width_factor,
        }


class RandomZoom(_AffineLayer):
    """Zooms each image about its centre while training: a factor f in (-1, 1] samples the input
    at 1 + f times the pixel spacing (f > 0 zooms out, f < 0 zooms in); ``width_factor=None``
    keeps the aspect ratio.

    Example:
        >>> RandomZoom((-0.2, 0.2), seed=0)(images, training=True)
    """

    def __init__(
        self,
        height_factor,
        width_factor=None,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        what = self._what
        self.height_range = _check_range(what, "height_factor", height_factor, -1.0, 1.0, True)
        self.width_range = (
            None
            if width_factor is None
            else _check_range(what, "width_factor", width_factor, -1.0, 1.0, True)
        )
        self.height_factor, self.width_factor = height_factor, width_factor

    def _matrix(self, n, h, w):
        lo, hi = self.height_range
        zy = self._random.uniform((n,), 1.0 + lo, 1.0 + hi)
        zx = zy
        if self.width_range is not None:
            zx = self._random.uniform((n,), 1.0 + self.width_range[0], 1.0 + self.width_range[1])
        return T.affine_matrix(np.zeros(n), 0.0, 0.0, zx, zy, h, w)

    def get_config(self):
        return {
            **super().get_config(),
            "height_factor": self.height_factor,
            "width_factor": self.width_factor,
        }


class RandomCrop(_RandomImageLayer):
    """Crops a random height x width window (the same for the whole batch) while training; an
    image not larger than the window in both sizes is resized (bilinear) to it instead, as
    Keras 3 does it. The identity at inference, as in Keras 3.

    Example:
        >>> RandomCrop(24, 24, seed=0)(np.zeros((8, 32, 32, 3)), training=True).shape
        (8, 24, 24, 3)
    """

    def __init__(self, height: int, width: int, seed=None, data_format=None, **kwargs):
        super().__init__(seed, data_format, **kwargs)
        self.height, self.width = self._check_size(height=height, width=width)

    def _augment(self, images):
        _, h, w, _ = images.shape
        if h > self.height and w > self.width:
            top = int(self._random.generator.integers(0, h - self.height + 1))
            left = int(self._random.generator.integers(0, w - self.width + 1))
            return images[:, top : top + self.height, left : left + self.width]
        # Keras 3 starts the window where the centred crop of the window's aspect ratio would start
        # and resizes what of the window lies inside the image
        top, left, _, _ = T.center_crop_box(h, w, self.height, self.width)
        window = images[:, top : top + self.height, left : left + self.width]
        return T.resize(window, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class RandomContrast(_RandomImageLayer):
    """Scales each image's deviation from its per-channel mean by a random factor while training,
    then clips to ``value_range``. A number f draws the factor from [1, 1 + f] (Keras 3's rule);
    a pair (a, b) draws it from [1 - a, 1 + b].

    Example:
        >>> RandomContrast(0.5, seed=0)(images, training=True)
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed, data_format, **kwargs)
        lower, upper = _check_range(self._what, "factor", factor, 0.0, 1.0)
        self.factor = (max(lower, 0.0), upper)  # a number f gives (0, f), as in Keras
        if (
            not isinstance(value_range, (tuple, list))
            or len(value_range) != 2
            or not value_range[0] < value_range[1]
        ):
            raise ValueError(
                f"{self._what}: value_range must be a pair (low, high) with low < high, "
                f"received {value_range!r}"
            )
        self.value_range = tuple(value_range)

    def _augment(self, images):
        xp = backend.namespace(images)
        n = images.shape[0]
        factor = self._random.uniform((n, 1, 1, 1), 1.0 - self.factor[0], 1.0 + self.factor[1])
        factor = xp.asarray(factor.astype(images.dtype))
        mean = images.mean(axis=(1, 2), keepdims=True)
        out = (images - mean) * factor + mean
        return out.clip(*self.value_range).astype(images.dtype)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}
