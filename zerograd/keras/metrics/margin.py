"""Hinge metrics: means over the data of the hinge losses of ``zerograd.keras.losses``."""

from __future__ import annotations

import numpy as np

from zerograd.keras.losses.margin import categorical_hinge, hinge, squared_hinge
from zerograd.keras.metrics.base import MeanMetricWrapper
from zerograd.tensor import Tensor


class _LossMean(MeanMetricWrapper):
    """The mean of a per-sample loss function; its config is just name and dtype."""

    def result(self) -> Tensor:
        """The mean so far as a float32 Tensor (Keras returns a tensor)."""
        return Tensor(np.float32(super().result()))

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}


class Hinge(_LossMean):
    """Mean hinge loss ``max(1 - y_true * y_pred, 0)`` (labels {0, 1} read as {-1, 1})."""

    def __init__(self, name="hinge", dtype=None):
        super().__init__(hinge, name=name, dtype=dtype)


class SquaredHinge(_LossMean):
    """Mean squared hinge loss ``max(1 - y_true * y_pred, 0) ** 2``."""

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(_LossMean):
    """Mean categorical hinge loss on one-hot labels."""

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, dtype=dtype)
