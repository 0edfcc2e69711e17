"""The ``Loss`` base class: Keras's reductions, sample weights and masks over per-sample losses."""

from __future__ import annotations

import math
import numbers

import zerograd as zg
from zerograd.keras import dtype_policies
from zerograd.keras.keras_tensor import KerasTensor
from zerograd.keras.mask_flow import get_mask, set_mask
from zerograd.keras.ops.core import float_tensor, tensor
from zerograd.tensor import Tensor

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def standardize_reduction(reduction, owner: str = "Loss"):
    """``reduction`` if Keras knows it, else a ValueError listing the allowed values."""
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"{owner}: reduction must be one of {list(REDUCTIONS)}, received {reduction!r}"
        )
    return reduction


def squeeze_or_expand_to_same_rank(x1: Tensor, x2: Tensor, expand_rank_1: bool = True):
    """Drop (or add, for a rank-1 partner) a trailing size-1 axis when the ranks differ by one."""
    r1, r2 = len(x1.shape), len(x2.shape)
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = zg.expand_dims(x2, -1)
        else:
            x1 = zg.squeeze(x1, -1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = zg.expand_dims(x1, -1)
        else:
            x2 = zg.squeeze(x2, -1)
    return x1, x2


def pred_and_true(y_true, y_pred, same_rank: bool = False) -> tuple[Tensor, Tensor]:
    """``y_pred`` as a float Tensor and ``y_true`` cast to its dtype (the loss functions' inputs);
    ``same_rank`` squeezes or expands a trailing size-1 axis as Keras's regression losses do."""
    y_pred = float_tensor(y_pred)
    y_true = tensor(y_true, y_pred.dtype)
    if same_rank:
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return y_true, y_pred


def _map(fn, x):
    if isinstance(x, (list, tuple)):
        return type(x)(_map(fn, v) for v in x)
    if isinstance(x, dict):
        return {k: _map(fn, v) for k, v in x.items()}
    return fn(x)


def _divide_no_nan(total: Tensor, divisor) -> Tensor:
    divisor = float(divisor.item()) if isinstance(divisor, Tensor) else float(divisor)
    return total * 0.0 if divisor == 0 else total / divisor


def _weighted(values: Tensor, weights: Tensor, what: str) -> tuple[Tensor, Tensor]:
    values, weights = squeeze_or_expand_to_same_rank(values, weights)
    try:
        return values * weights, weights
    except ValueError:
        raise ValueError(
            f"Loss: {what} of shape {weights.shape} does not broadcast against the per-sample "
            f"losses of shape {values.shape}"
        ) from None


def apply_mask(sample_weight, mask, dtype, reduction):
    """Merge a boolean mask into the sample weights (masked entries weigh 0; with a mean
    reduction the others are scaled so the mean runs over the unmasked entries only)."""
    if mask is None:
        return sample_weight
    mask = tensor(mask)
    flags = mask.data.astype(bool)
    if reduction in ("mean", "sum_over_batch_size"):
        valid = float(flags.sum())
        scale = flags.size / valid if valid else 0.0
        float_mask = tensor(flags, dtype) * scale
    else:
        float_mask = tensor(flags, dtype)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return sample_weight * float_mask


def reduce_values(values: Tensor, sample_weight=None, reduction="sum_over_batch_size") -> Tensor:
    """Sum, or sum divided by the element count (or by the sum of the weights), as Keras."""
    if reduction in (None, "none") or tuple(values.shape) in ((), (0,)):
        return values
    total = zg.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return _divide_no_nan(total, zg.sum(sample_weight))
    return _divide_no_nan(total, values.size)


def reduce_weighted_values(
    values, sample_weight=None, mask=None, reduction="sum_over_batch_size", dtype=None
) -> Tensor:
    """Per-sample losses times sample weights (and mask), then reduced."""
    reduction = standardize_reduction(reduction)
    values = tensor(values, dtype)
    if sample_weight is not None:
        sample_weight = tensor(sample_weight, values.dtype)
    sample_weight = apply_mask(sample_weight, mask, values.dtype, reduction)
    if sample_weight is not None:
        values, sample_weight = _weighted(values, sample_weight.astype(values.dtype), "weights")
    return reduce_values(values, sample_weight, reduction)


class Loss:
    """Base of the losses: ``loss(y_true, y_pred, sample_weight=None)`` -> the reduced loss.

    Subclasses implement ``call(y_true, y_pred)`` (per-sample losses), as in Keras.

    Example:
        >>> class Half(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return ((y_pred - y_true) ** 2).mean(axis=-1) / 2
    """

    _config_keys: tuple = ()  # constructor arguments kept as attributes of the same name

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        from zerograd.keras.base import snake_case, unique_name

        self.name = name or unique_name(snake_case(type(self).__name__))
        self.reduction = standardize_reduction(reduction, type(self).__name__)
        self._dtype_arg = dtype
        policy = dtype_policies.get(dtype or dtype_policies.floatx(), type(self).__name__)
        self._dtype = policy.compute_dtype

    @property
    def dtype(self) -> str:
        """The dtype the inputs are cast to and the loss is computed in."""
        return self._dtype

    def call(self, y_true, y_pred):
        """Per-sample losses; subclasses override this."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def __call__(self, y_true, y_pred, sample_weight=None):
        return reduced_loss(self, y_true, y_pred, sample_weight)

    def get_config(self) -> dict:
        """Constructor arguments: ``type(self).from_config(config)`` rebuilds an equal loss."""
        config = {"name": self.name, "reduction": self.reduction}
        config.update({k: getattr(self, k) for k in self._config_keys})
        if self._dtype_arg is not None:
            config["dtype"] = self.dtype
        return config

    @classmethod
    def from_config(cls, config: dict):
        """The loss of ``get_config()``'s dict."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


def reduced_loss(loss: Loss, y_true, y_pred, sample_weight=None) -> Tensor:
    """``loss.call`` on the inputs cast to the loss's dtype, then weighted, masked and reduced
    (the body of ``Loss.__call__``)."""
    if any(isinstance(x, KerasTensor) for x in (y_true, y_pred, sample_weight)):
        raise TypeError(
            f"{type(loss).__name__}: a Loss object needs concrete tensors, received a symbolic "
            "KerasTensor (as in Keras); on symbolic tensors call a loss function such as "
            "keras.losses.mean_squared_error"
        )
    in_mask = get_mask(y_pred)
    y_pred = _map(lambda x: tensor(x, loss.dtype), y_pred)
    y_true = _map(lambda x: tensor(x, loss.dtype), y_true)
    losses = loss.call(y_true, y_pred)
    out_mask = get_mask(losses)
    if in_mask is not None and out_mask is not None:
        mask = tensor(tensor(in_mask).data.astype(bool) & tensor(out_mask).data.astype(bool))
    else:
        mask = in_mask if in_mask is not None else out_mask
    return reduce_weighted_values(losses, sample_weight, mask, loss.reduction, loss.dtype)


# hyper-parameters of the built-in losses: (lowest, highest, lowest excluded)
_RANGES = {
    "label_smoothing": (0.0, 1.0, False),
    "delta": (0.0, math.inf, True),
    "gamma": (0.0, math.inf, False),
}


def _check_hyper_parameters(owner: str, kwargs: dict) -> None:
    """label_smoothing in [0, 1], Huber's delta > 0, the focal gamma >= 0: checked once."""
    for key, (low, high, low_open) in _RANGES.items():
        if key not in kwargs:
            continue
        value = kwargs[key]
        want = (
            f"a number in [{low:g}, {high:g}]"
            if high < math.inf
            else (f"a number {'>' if low_open else '>='} {low:g}")
        )
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{owner}: {key} must be {want}, received {value!r}")
        if not (low < value if low_open else low <= value) or not value <= high:
            raise ValueError(f"{owner}: {key} must be {want}, received {value!r}")


class LossFunctionWrapper(Loss):
    """A Loss around a function ``fn(y_true, y_pred, **kwargs)`` giving per-sample losses."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(
                f"LossFunctionWrapper: fn must be callable f(y_true, y_pred), received {fn!r}"
            )
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        _check_hyper_parameters(type(self).__name__, kwargs)
        self.fn, self._fn_kwargs = fn, kwargs
        for key, value in kwargs.items():  # the subclasses' arguments, as attributes (Keras)
            setattr(self, key, value)

    def call(self, y_true, y_pred):
        if isinstance(y_true, Tensor) and isinstance(y_pred, Tensor):
            y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        try:
            return self.fn(y_true, y_pred, **self._fn_kwargs)
        except ValueError as e:
            if "broadcast" not in str(e):
                raise
            raise ValueError(
                f"{type(self).__name__}: y_true of shape {tuple(y_true.shape)} and y_pred of "
                f"shape {tuple(y_pred.shape)} do not match ({e})"
            ) from None

    def get_config(self) -> dict:
        from zerograd.keras.saving.serialization import serialize_keras_object

        config = Loss.get_config(self)
        if type(self) is LossFunctionWrapper:
            config["fn"] = serialize_keras_object(self.fn)
            config.update(serialize_keras_object(self._fn_kwargs))
        return config

    @classmethod
    def from_config(cls, config: dict):
        if "fn" in config:
            from zerograd.keras.saving.serialization import deserialize_keras_object

            config = {**config, "fn": deserialize_keras_object(config["fn"])}
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({self.fn!r}, kwargs={self._fn_kwargs})>"


def set_loss_mask(losses: Tensor, mask) -> Tensor:
    """Attach ``mask`` to ``losses`` (Loss.__call__ then leaves the masked entries out)."""
    set_mask(losses, mask)
    return losses
