"""Preprocessing: splitting, scaling, one-hot labels, dropping non-finite rows."""

from __future__ import annotations

import logging

import numpy as np

from zerograd import backend
from zerograd.tensor import Tensor

log = logging.getLogger("zerograd.data")


def _np(a) -> np.ndarray:
    return a.numpy() if isinstance(a, Tensor) else np.asarray(a)


class NotFittedError(ValueError, AttributeError):
    """A scaler used before ``fit`` (the same bases as scikit-learn's)."""


def _fitted(scaler, attr: str, x, method: str) -> np.ndarray:
    """``x`` as an array after checking that ``scaler`` was fitted on as many columns."""
    name = type(scaler).__name__
    if not hasattr(scaler, attr):
        raise NotFittedError(f"{name}.{method}: call fit (or fit_transform) first")
    a = _np(x)
    want = getattr(scaler, attr).shape
    if a.shape[1:] != want:
        raise ValueError(
            f"{name}.{method}: expected rows of shape {want} (as in fit), received an array of "
            f"shape {a.shape}"
        )
    return a


def _split_sizes(n: int, test_size, train_size) -> tuple[int, int]:
    """scikit-learn's sizes: floats are fractions in (0, 1), ints counts; one may be None."""
    if test_size is None and train_size is None:
        test_size = 0.25
    sizes = {}
    for name, v in (("test_size", test_size), ("train_size", train_size)):
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(
                f"train_test_split: {name} must be a fraction in (0, 1), a count or None, "
                f"received {v!r}"
            )
        if isinstance(v, (float, np.floating)) and not 0 < v < 1:
            raise ValueError(
                f"train_test_split: {name} must be in (0, 1) as a fraction, received {v}"
            )
        sizes[name] = (
            int(np.ceil(v * n) if name == "test_size" else np.floor(v * n))
            if isinstance(v, (float, np.floating))
            else int(v)
        )
    n_test = sizes.get("test_size", n - sizes.get("train_size", 0))
    n_train = sizes.get("train_size", n - n_test)
    if n_test <= 0 or n_train <= 0 or n_train + n_test > n:
        raise ValueError(
            f"train_test_split: test_size={test_size}, train_size={train_size} leave "
            f"{n_train} train and {n_test} test samples out of {n}; both must be positive and "
            "together at most the number of samples"
        )
    return n_train, n_test


def train_test_split(
    *arrays, test_size=None, train_size=None, shuffle: bool = True, random_state=None, stratify=None
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
    n_train, n_test = _split_sizes(n, test_size, train_size)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"train_test_split: shuffle must be True or False, received {shuffle!r}")
    if stratify is not None and len(_np(stratify)) != n:
        raise ValueError(
            f"train_test_split: stratify has {len(_np(stratify))} labels, the arrays have {n} "
            "samples"
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
        if train_size is not None:  # a train_size below the rest leaves samples out
            train_idx = train_idx[:n_train]
    elif shuffle:
        order = rng.permutation(n)
        test_idx, train_idx = order[:n_test], order[n_test : n_test + n_train]
    else:  # as scikit-learn: the first n_train samples, then the next n_test
        train_idx, test_idx = np.arange(n_train), np.arange(n_train, n_train + n_test)
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
        a = _fitted(self, "mean_", x, "transform")
        return ((a - self.mean_) / self.scale_).astype(
            a.dtype if a.dtype.kind == "f" else np.float64
        )

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, x) -> np.ndarray:
        return _fitted(self, "mean_", x, "inverse_transform") * self.scale_ + self.mean_


class MinMaxScaler:
    """Scale each column to ``feature_range`` (constant columns map to its lower end, as sklearn)."""

    def __init__(self, feature_range=(0.0, 1.0)):
        ok = isinstance(feature_range, (tuple, list)) and len(feature_range) == 2
        if not ok or not all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            for v in feature_range
        ):
            raise TypeError(
                f"MinMaxScaler: feature_range must be a pair of numbers (min, max), received "
                f"{feature_range!r}"
            )
        if not feature_range[0] < feature_range[1]:
            raise ValueError(
                f"MinMaxScaler: feature_range must have min < max, received {feature_range!r}"
            )
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
        a = _fitted(self, "scale_", x, "transform")
        return (a * self.scale_ + self.min_).astype(a.dtype if a.dtype.kind == "f" else np.float64)

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, x) -> np.ndarray:
        return (_fitted(self, "scale_", x, "inverse_transform") - self.min_) / self.scale_


def one_hot(labels, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    """Integer labels (N,) -> (N, num_classes) indicator rows."""
    y = _np(labels).reshape(-1)
    if y.dtype.kind == "f" and y.size and not np.array_equal(y, np.round(y)):
        raise ValueError(
            f"one_hot: labels must be whole numbers, received {float(y[y != np.round(y)][0])}"
        )
    if y.dtype.kind not in "biuf":
        raise TypeError(f"one_hot: labels must be integers, received dtype {y.dtype}")
    y = y.astype(np.int64)
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
            raise TypeError(f"one_hot: num_classes must be an integer, received {num_classes!r}")
        if num_classes < 1:
            raise ValueError(f"one_hot: num_classes must be positive, received {num_classes}")
    n = (int(y.max()) + 1 if y.size else 0) if num_classes is None else int(num_classes)
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
