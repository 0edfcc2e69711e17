"""Preprocessing: splitting, scaling, one-hot labels, dropping non-finite rows."""

from __future__ import annotations

import logging

import numpy as np

from zerograd import backend
from zerograd.tensor import Tensor

log = logging.getLogger("zerograd.data")


def _np(a) -> np.ndarray:
    return a.numpy() if isinstance(a, Tensor) else np.asarray(a)


def train_test_split(
    *arrays, test_size=0.25, train_size=None, shuffle: bool = True, random_state=None, stratify=None
) -> list:
    """Split arrays into train and test parts (sklearn's semantics): returns [a_train, a_test, b_train, ...].

    Example:
        >>> x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    """
    if not arrays:
        raise ValueError("train_test_split: expected at least one array")
    arrays = [_np(a) for a in arrays]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(
            f"train_test_split: arrays have different lengths {[len(a) for a in arrays]}"
        )
    n_test = int(np.ceil(test_size * n)) if isinstance(test_size, float) else int(test_size)
    if train_size is not None:
        n_train = (
            int(np.floor(train_size * n)) if isinstance(train_size, float) else int(train_size)
        )
        n_test = n - n_train if test_size is None else n_test
    if not 0 < n_test < n:
        raise ValueError(
            f"train_test_split: test_size={test_size} leaves no train or test samples out of {n}"
        )
    rng = np.random.default_rng(random_state) if random_state is not None else backend.rng()
    if stratify is not None:
        labels = _np(stratify)
        classes, y = np.unique(labels, return_inverse=True)
        test_idx = []
        for c in range(len(classes)):
            members = np.flatnonzero(y == c)
            members = rng.permutation(members) if shuffle else members
            k = int(round(len(members) * n_test / n))
            test_idx.extend(members[:k])
        test_idx = np.array(sorted(test_idx), dtype=np.int64)
        mask = np.ones(n, bool)
        mask[test_idx] = False
        train_idx = np.flatnonzero(mask)
        if shuffle:
            train_idx, test_idx = rng.permutation(train_idx), rng.permutation(test_idx)
    else:
        order = rng.permutation(n) if shuffle else np.arange(n)
        test_idx, train_idx = (
            order[n - n_test :] if not shuffle else order[:n_test],
            order[: n - n_test] if not shuffle else order[n_test:],
        )
    out = []
    for a in arrays:
        out += [a[train_idx], a[test_idx]]
    return out


class StandardScaler:
    """(x - mean) / std per column; columns with zero variance are left unscaled (as sklearn)."""

    def __init__(self, with_mean: bool = True, with_std: bool = True):
        self.with_mean, self.with_std = with_mean, with_std

    def fit(self, x) -> StandardScaler:
        x = _np(x).astype(np.float64)
        self.mean_ = x.mean(axis=0) if self.with_mean else np.zeros(x.shape[1:])
        var = x.var(axis=0)
        self.var_ = var
        self.scale_ = (
            np.where(var > 0, np.sqrt(var), 1.0) if self.with_std else np.ones(x.shape[1:])
        )
        return self

    def transform(self, x) -> np.ndarray:
        a = _np(x)
        return ((a - self.mean_) / self.scale_).astype(
            a.dtype if a.dtype.kind == "f" else np.float64
        )

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, x) -> np.ndarray:
        return _np(x) * self.scale_ + self.mean_


class MinMaxScaler:
    """Scale each column to ``feature_range`` (constant columns map to its lower end, as sklearn)."""

    def __init__(self, feature_range=(0.0, 1.0)):
        self.feature_range = feature_range

    def fit(self, x) -> MinMaxScaler:
        x = _np(x).astype(np.float64)
        lo, hi = self.feature_range
        self.data_min_, self.data_max_ = x.min(axis=0), x.max(axis=0)
        span = self.data_max_ - self.data_min_
        self.scale_ = (hi - lo) / np.where(span > 0, span, 1.0)
        self.min_ = lo - self.data_min_ * self.scale_
        return self

    def transform(self, x) -> np.ndarray:
        a = _np(x)
        return (a * self.scale_ + self.min_).astype(a.dtype if a.dtype.kind == "f" else np.float64)

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, x) -> np.ndarray:
        return (_np(x) - self.min_) / self.scale_


def one_hot(labels, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    """Integer labels (N,) -> (N, num_classes) indicator rows."""
    y = _np(labels).astype(np.int64).reshape(-1)
    n = int(y.max()) + 1 if num_classes is None else num_classes
    if y.size and (y.min() < 0 or y.max() >= n):
        raise ValueError(
            f"one_hot: labels must be in [0, {n}), received min {y.min()} max {y.max()}"
        )
    out = np.zeros((len(y), n), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out


def drop_nonfinite(x, y=None):
    """Drop rows of ``x`` (and ``y``) holding NaN or inf. Returns (x, y, n_dropped) and logs the count.

    Example:
        >>> x_clean, y_clean, dropped = drop_nonfinite(x, y)
    """
    a = _np(x)
    keep = (
        np.isfinite(a.reshape(len(a), -1)).all(axis=1)
        if a.dtype.kind in "fc"
        else np.ones(len(a), bool)
    )
    if y is not None:
        b = _np(y)
        if b.dtype.kind in "fc":
            keep &= np.isfinite(b.reshape(len(b), -1)).all(axis=1)
    dropped = int((~keep).sum())
    log.info("drop_nonfinite: dropped %d of %d rows with NaN or inf", dropped, len(a))
    return a[keep], (None if y is None else _np(y)[keep]), dropped
