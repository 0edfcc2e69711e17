"""Keras's Masking layer: time steps whose features all equal ``mask_value`` are masked out."""

from __future__ import annotations

import numpy as np

from zerograd.keras import mask_flow
from zerograd.keras.base import Layer


class Masking(Layer):
    """Masks the steps (positions of the second-to-last axis) whose every feature is
    ``mask_value``, and zeroes them in the output.

    Example:
        >>> Masking()(np.zeros((2, 3, 4), 'float32'))._keras_mask.shape
        (2, 3)
    """

    def __init__(self, mask_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, (str, bytes)) or np.asarray(mask_value).dtype.kind not in "biuf":
            raise TypeError(
                f"Masking '{self.name}': mask_value must be a number, received {mask_value!r}"
            )
        self.mask_value = mask_value

    def compute_mask(self, inputs, mask=None):
        return (inputs != self.mask_value).any(axis=-1).detach()

    def call(self, inputs):
        keep = self.compute_mask(inputs)  # (batch, ..., steps)
        outputs = inputs * keep.astype(inputs.dtype).reshape((*keep.shape, 1))
        mask_flow.set_mask(outputs, keep)
        return outputs

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
