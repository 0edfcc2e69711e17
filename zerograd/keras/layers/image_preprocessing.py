"""Image layers: the shared base (rank checks, channels_first/channels_last layouts), and the
deterministic Resizing and CenterCrop, which act in training and at inference alike.

Images are a batch (N, H, W, C) or one image (H, W, C) (channels_first: C before H, W). The outputs
carry no gradient: these layers prepare data (resizing in a model's middle is not supported).
"""

from __future__ import annotations

import numbers

import numpy as np

from zerograd import backend
from zerograd.keras.base import Layer
from zerograd.keras.layers import image_transforms as T
from zerograd.tensor import Tensor


class ImageLayer(Layer):
    """Base of the image layers: checks the rank, converts to floats and runs ``_augment`` on an
    (N, H, W, C) array while ``_active(training)``; the input comes back unchanged otherwise."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        data_format = "channels_last" if data_format is None else data_format
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                f"{self._what}: data_format must be 'channels_last' or 'channels_first', "
                f"received {data_format!r}"
            )
        self.data_format = data_format

    @property
    def _what(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    def _check_choice(self, arg: str, value, choices: tuple) -> str:
        if value not in choices:
            raise ValueError(f"{self._what}: {arg} must be one of {choices}, received {value!r}")
        return value

    def _check_size(self, **sizes) -> tuple:
        for arg, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(
                    f"{self._what}: {arg} must be a positive int, received {arg}={value!r}"
                )
        return tuple(int(v) for v in sizes.values())

    def _active(self, training) -> bool:
        return bool(training)

    def call(self, inputs, training=True):
        if inputs.ndim not in (3, 4):
            raise ValueError(
                f"{self._what} expected images of rank 4 (batch, height, width, channels) or "
                f"rank 3 (one image), received shape {tuple(inputs.shape)}"
            )
        if inputs.dtype.kind != "f":
            inputs = inputs.astype(backend.get_default_dtype())
        if not self._active(training):
            return inputs
        images = inputs.data if inputs.ndim == 4 else inputs.data[None]
        if self.data_format == "channels_first":
            images = images.transpose(0, 2, 3, 1)
        out = self._augment(images)  # (N, H', W', C)
        if self.data_format == "channels_first":
            out = out.transpose(0, 3, 1, 2)
        return Tensor(out if inputs.ndim == 4 else out[0])

    def _augment(self, images):
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Resizing(ImageLayer):
    """Resizes images to height x width (half-pixel centres, as Keras on PyTorch); integer images
    come back rounded in their dtype.

    ``crop_to_aspect_ratio`` first crops the centre to the target's aspect ratio,
    ``pad_to_aspect_ratio`` first pads both sides with ``fill_value`` instead.

    Example:
        >>> Resizing(150, 150)(np.zeros((2, 300, 200, 3))).shape
        (2, 150, 150, 3)
    """

    def __init__(
        self,
        height: int,
        width: int,
        interpolation: str = "bilinear",
        crop_to_aspect_ratio: bool = False,
        pad_to_aspect_ratio: bool = False,
        fill_mode: str = "constant",
        fill_value: float = 0.0,
        antialias: bool = False,
        data_format=None,
        **kwargs,
    ):
        super().__init__(data_format, **kwargs)
        self.height, self.width = self._check_size(height=height, width=width)
        self.interpolation = self._check_choice("interpolation", interpolation, T.INTERPOLATIONS)
        self.fill_mode = self._check_choice("fill_mode", fill_mode, ("constant",))
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(
                f"{self._what}: crop_to_aspect_ratio and pad_to_aspect_ratio cannot both be True"
            )
        if antialias:
            raise ValueError(f"{self._what}: antialias=True is not supported, received True")
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_value, self.antialias = fill_value, False

    def _active(self, training) -> bool:
        return True

    def call(self, inputs, training=True):
        out = super().call(inputs, training)
        if inputs.dtype.kind in "iu":  # Keras hands integer images back in their dtype
            info = np.iinfo(inputs.dtype)
            out = Tensor(out.data.round().clip(info.min, info.max).astype(inputs.dtype))
        return out

    def _augment(self, images):
        xp = backend.namespace(images)
        n, h, w, c = images.shape
        if self.crop_to_aspect_ratio:
            top, left, ch, cw = T.center_crop_box(h, w, self.height, self.width)
            images = images[:, top : top + ch, left : left + cw]
        elif self.pad_to_aspect_ratio:
            # as Keras: the same margin on both sides, from the rounded-down padded size
            pad_h = int(float(max(h, int(float(w * self.height) / self.width)) - h) / 2)
            pad_w = int(float(max(w, int(float(h * self.width) / self.height)) - w) / 2)
            padded = xp.full((n, h + 2 * pad_h, w + 2 * pad_w, c), self.fill_value, images.dtype)
            padded[:, pad_h : pad_h + h, pad_w : pad_w + w] = images
            images = padded
        return T.resize(images, self.height, self.width, self.interpolation)

    def get_config(self):
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "antialias": self.antialias,
        }


class CenterCrop(ImageLayer):
    """Crops the central height x width window; an image smaller than the window has its centre
    cropped to the window's aspect ratio and resized to it instead (as Keras' smart_resize).

    Example:
        >>> CenterCrop(24, 24)(np.zeros((2, 32, 40, 3))).shape
        (2, 24, 24, 3)
    """

    def __init__(self, height: int, width: int, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.height, self.width = self._check_size(height=height, width=width)

    def _active(self, training) -> bool:
        return True

    def _augment(self, images):
        _, h, w, _ = images.shape
        if h >= self.height and w >= self.width:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            return images[:, top : top + self.height, left : left + self.width]
        top, left, ch, cw = T.center_crop_box(h, w, self.height, self.width)
        return T.resize(images[:, top : top + ch, left : left + cw], self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
