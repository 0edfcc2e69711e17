"""Intersection-over-union metrics over an accumulated confusion matrix: IoU, MeanIoU, BinaryIoU,
OneHotIoU and OneHotMeanIoU (NumPy arithmetic)."""

from __future__ import annotations

import warnings

import numpy as np

from zerograd.keras.metrics.base import Metric, to_numpy
from zerograd.tensor import Tensor

EPSILON = 1e-7  # Keras's backend.epsilon()


class _IoUBase(Metric):
    """State: a ``(num_classes, num_classes)`` confusion matrix, rows labels and columns
    predictions, of the metric's dtype (int32 by default, as Keras)."""

    def __init__(
        self,
        num_classes,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true=True,
        sparse_y_pred=True,
        axis=-1,
    ):
        super().__init__(name=name, dtype="int32" if dtype in (None, "int") else dtype)
        if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(
                f"{type(self).__name__}: expected num_classes a positive int, "
                f"received {num_classes!r}"
            )
        self.num_classes = int(num_classes)
        self.ignore_class = ignore_class
        self.sparse_y_true, self.sparse_y_pred, self.axis = sparse_y_true, sparse_y_pred, axis
        self.total_cm = self.add_variable(
            (self.num_classes, self.num_classes), "zeros", name="total_confusion_matrix"
        )

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Add the batch's (weighted) label/prediction pairs to the confusion matrix; pairs out of
        [0, num_classes) or labelled ``ignore_class`` are left out."""
        y_true, y_pred = to_numpy(y_true), to_numpy(y_pred)
        if not self.sparse_y_true:
            y_true = y_true.argmax(axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = y_pred.argmax(axis=self.axis)
        dtype = np.dtype(self.dtype)
        y_true, y_pred = y_true.astype(dtype).reshape(-1), y_pred.astype(dtype).reshape(-1)
        if sample_weight is None:
            weight = np.ones(y_true.shape, dtype)
        else:
            weight = to_numpy(sample_weight)
            if hasattr(sample_weight, "dtype") and weight.dtype.kind == "f" and dtype.kind in "iu":
                warnings.warn(
                    f"{type(self).__name__}: float sample_weight is cast to the metric's "
                    f"dtype {self.dtype}; consider integer weights",
                    stacklevel=2,
                )
            weight = np.broadcast_to(weight.astype(dtype).reshape(-1), y_true.shape)
        n = self.num_classes
        keep = (y_true >= 0) & (y_true < n) & (y_pred >= 0) & (y_pred < n)
        if self.ignore_class is not None:
            keep &= y_true != self.ignore_class
        cm = np.zeros((n, n), dtype)
        np.add.at(
            cm,
            (
                np.where(keep, y_true, 0).astype(np.int64),
                np.where(keep, y_pred, 0).astype(np.int64),
            ),
            np.where(keep, weight, 0).astype(dtype),
        )
        self.total_cm.assign_add(cm)


class IoU(_IoUBase):
    """Mean intersection-over-union ``tp / (tp + fp + fn)`` over ``target_class_ids``; classes
    never seen (zero denominator) are left out of the mean."""

    def __init__(
        self,
        num_classes,
        target_class_ids,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true=True,
        sparse_y_pred=True,
        axis=-1,
    ):
        super().__init__(
            num_classes,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )
        target_class_ids = list(target_class_ids)
        if not target_class_ids or max(target_class_ids) >= num_classes:
            raise ValueError(
                f"{type(self).__name__}: expected target_class_ids in [0, {num_classes}), "
                f"received {target_class_ids}"
            )
        self.target_class_ids = target_class_ids

    def result(self) -> Tensor:
        cm = self.total_cm.numpy()
        tp = np.diag(cm)
        denominator = cm.sum(axis=0) + cm.sum(axis=1) - tp
        ids = np.asarray(self.target_class_ids)
        tp, denominator = tp[ids].astype(np.float32), denominator[ids].astype(np.float32)
        valid = denominator > 1e-9
        iou = np.where(valid, tp / (denominator + np.float32(EPSILON)), np.float32(0.0))
        return Tensor(np.float32(iou.sum() / (valid.sum() + np.float32(EPSILON))))

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "num_classes": self.num_classes,
            "target_class_ids": self.target_class_ids,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }


class BinaryIoU(IoU):
    """IoU of two classes, a prediction being class 1 when ``>= threshold``."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_pred = to_numpy(y_pred, np.float32) >= self.threshold
        super().update_state(to_numpy(y_true), y_pred, sample_weight)

    def get_config(self) -> dict:
        return {
            "target_class_ids": self.target_class_ids,
            "threshold": self.threshold,
            "name": self.name,
            "dtype": self.dtype,
        }


class MeanIoU(IoU):
    """IoU averaged over all ``num_classes`` classes."""

    def __init__(
        self,
        num_classes,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true=True,
        sparse_y_pred=True,
        axis=-1,
    ):
        super().__init__(
            num_classes,
            list(range(num_classes)) if isinstance(num_classes, int) else [],
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        del config["target_class_ids"]
        return config


class OneHotIoU(IoU):
    """IoU over ``target_class_ids`` for one-hot labels (and, by default, predicted scores)."""

    def __init__(
        self,
        num_classes,
        target_class_ids,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_pred=False,
        axis=-1,
    ):
        super().__init__(
            num_classes,
            target_class_ids,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """MeanIoU for one-hot labels (and, by default, predicted scores)."""

    def __init__(
        self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1
    ):
        super().__init__(
            num_classes,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        del config["sparse_y_true"]
        return config
