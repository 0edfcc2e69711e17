"""Keras BatchNormalization and LayerNormalization over zerograd.nn.functional, with Keras's
initializer, regularizer and constraint options for gamma and beta."""

from __future__ import annotations

import math
import warnings

import numpy as np

import zerograd.nn.functional as F
from zerograd.keras import initializers, regularizers
from zerograd.keras.base import Layer
from zerograd.keras.layers._weight_options import constraint_get, constraint_serialize
from zerograd.tensor import Tensor


class _GammaBeta:
    """gamma/beta options (initializer, regularizer, constraint) read and written as Keras."""

    def _gamma_beta_options(self, opts: dict) -> None:
        for w in ("gamma", "beta"):
            setattr(self, f"{w}_initializer", initializers.get(opts[f"{w}_initializer"]))
            setattr(self, f"{w}_regularizer", regularizers.get(opts[f"{w}_regularizer"]))
            arg = f"{w}_constraint"
            setattr(self, arg, constraint_get(self, arg, opts[arg]))

    def _add_gamma_beta(self, w: str, shape) -> None:
        constraint = getattr(self, f"{w}_constraint")
        self.add_weight(
            name=w,
            shape=shape,
            initializer=getattr(self, f"{w}_initializer"),
            regularizer=getattr(self, f"{w}_regularizer"),
            autocast=False,  # Keras: normalization computes in float32 under mixed precision
            **({} if constraint is None else {"constraint": constraint}),
        )

    def _gamma_beta_config(self) -> dict:
        cfg = {}
        for kind in ("initializer", "regularizer", "constraint"):
            for w in ("beta", "gamma"):
                v = getattr(self, f"{w}_{kind}")
                cfg[f"{w}_{kind}"] = (
                    initializers.serialize(v)
                    if kind == "initializer"
                    else regularizers.serialize(v)
                    if kind == "regularizer"
                    else constraint_serialize(v)
                )
        return cfg


def _mixed_float16(layer, inputs) -> bool:
    """True for float16 inputs of a layer with float32 weights (a "mixed_float16" policy)."""
    return inputs.dtype == np.float16 and layer.variable_dtype == "float32"


def _check_bn_args(layer, axis, momentum, epsilon, renorm_momentum) -> None:
    """axis an int, the momenta in [0, 1], epsilon a number >= 0."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(
            f"BatchNormalization '{layer.name}': axis must be an int, received {axis!r} of type "
            f"{type(axis).__name__}"
        )
    for name, value, low in (
        ("momentum", momentum, 0.0),
        ("renorm_momentum", renorm_momentum, 0.0),
        ("epsilon", epsilon, 0.0),
    ):
        high = None if name == "epsilon" else 1.0
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise TypeError(
                f"BatchNormalization '{layer.name}': {name} must be a number, received {value!r}"
            )
        if not (low <= value <= (high if high is not None else math.inf)):
            want = f"in [{low:g}, {high:g}]" if high is not None else f">= {low:g}"
            raise ValueError(
                f"BatchNormalization '{layer.name}': {name} must be {want}, received {value!r}"
            )


class BatchNormalization(_GammaBeta, Layer):
    """Keras batch norm: moving = moving * momentum + batch * (1 - momentum); epsilon 1e-3.
    With a Keras mask, training statistics skip the masked positions; the mask passes on."""

    supports_masking = True

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm: bool = False,
        renorm_clipping=None,
        renorm_momentum: float = 0.99,
        synchronized: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if renorm:
            renorm_clipping = _check_clipping(self, renorm_clipping)
        _check_bn_args(self, axis, momentum, epsilon, renorm_momentum)
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = center, scale
        self._gamma_beta_options(locals())
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        # one process: synchronized statistics are the batch's own, as Keras on one replica
        self.synchronized = bool(synchronized)
        self.renorm, self.renorm_clipping = bool(renorm), renorm_clipping
        self.renorm_momentum = float(renorm_momentum)

    def build(self, input_shape):
        if not -len(input_shape) <= self.axis < len(input_shape):
            raise ValueError(
                f"BatchNormalization '{self.name}': axis {self.axis} is out of range for an input "
                f"of shape {tuple(input_shape)}"
            )
        n = input_shape[self.axis]
        if self.scale:
            self._add_gamma_beta("gamma", (n,))
        if self.center:
            self._add_gamma_beta("beta", (n,))
        for name in ("moving_mean", "moving_variance"):
            init = getattr(self, f"{name}_initializer")
            self.add_weight(
                name=name, shape=(n,), initializer=init, trainable=False, autocast=False
            )
        if self.renorm:  # batch renormalization tracks standard deviations, as Keras
            stddev = np.sqrt(self.moving_variance.numpy())
            for name, start in (
                ("moving_stddev", stddev),
                ("renorm_mean", self.moving_mean.numpy()),
                ("renorm_stddev", stddev),
            ):
                self.add_weight(
                    name=name, shape=(n,), initializer="zeros", trainable=False, autocast=False
                )
                getattr(self, name).assign(start)

    def call(self, inputs, training=None, mask=None):
        if _mixed_float16(self, inputs):  # Keras: float16 overflows here, compute in float32
            return self.call(inputs.astype("float32"), training, mask).astype(self.compute_dtype)
        # a frozen BatchNormalization runs in inference mode even in training, as Keras 3's
        training = bool(training) and self.trainable
        n = self.moving_mean.shape[0]
        if not -inputs.ndim <= self.axis < inputs.ndim or inputs.shape[self.axis] != n:
            raise ValueError(
                f"BatchNormalization '{self.name}' expected input with axis {self.axis} of size "
                f"{n}, received shape {tuple(inputs.shape)}"
            )
        if training and self.renorm:
            return self._renorm_call(inputs, mask)
        if training and mask is not None:
            return self._masked_batch_call(inputs, mask)
        return F.batch_norm(  # over the channel axis where it is: no transpose
            inputs,
            self.moving_mean,
            self.moving_variance,
            getattr(self, "gamma", None),
            getattr(self, "beta", None),
            bool(training),
            1 - self.momentum,
            self.epsilon,
            unbiased_running_var=False,
            axis=self.axis % inputs.ndim,
        )

    def _masked_batch_call(self, inputs, mask):
        """Training with a Keras mask (batch, ...): Keras's weighted moments over the unmasked
        positions only (weights sum + 1e-7 below), then the usual moving-average update."""
        mean, variance = self._masked_moments(inputs, mask)
        m = self.momentum
        self.moving_mean.assign(self.moving_mean.data * m + mean.data.reshape(-1) * (1 - m))
        self.moving_variance.assign(
            self.moving_variance.data * m + variance.data.reshape(-1) * (1 - m)
        )
        y = (inputs - mean) / (variance + self.epsilon).sqrt()
        if self.scale:
            y = y * self.gamma
        return y + self.beta if self.center else y

    def _masked_moments(self, inputs, mask):
        """Keras's weighted moments over the unmasked positions (axis=-1, mask of the leading
        axes): the weights sum + 1e-7 below."""
        mask = mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask))
        if self.axis % inputs.ndim != inputs.ndim - 1 or mask.ndim != inputs.ndim - 1:
            raise ValueError(
                f"BatchNormalization '{self.name}': a mask is supported with axis=-1 and a mask of "
                f"the input's leading axes; received axis={self.axis}, input shape "
                f"{tuple(inputs.shape)}, mask shape {tuple(mask.shape)}"
            )
        w = Tensor._make(mask.data.astype(inputs.dtype)).expand_dims(-1)  # (..., 1)
        axes = tuple(range(inputs.ndim - 1))
        total = w.sum(axis=axes, keepdims=True) + 1e-7
        mean = (w * inputs).sum(axis=axes, keepdims=True) / total
        return mean, (w * (w * inputs - mean) ** 2).sum(axis=axes, keepdims=True) / total

    def _renorm_call(self, inputs, mask):
        """Batch renormalization in training: the batch's moments corrected by r = std / renorm
        std and d = (mean - renorm mean) / renorm std (clipped, no gradient), then the renorm and
        moving statistics move by their momenta; moving_variance follows moving_stddev."""
        axis = self.axis % inputs.ndim
        if mask is not None:
            mean, variance = self._masked_moments(inputs, mask)
        else:
            axes = tuple(i for i in range(inputs.ndim) if i != axis)
            mean = inputs.mean(axis=axes, keepdims=True)
            variance = inputs.var(axis=axes, keepdims=True)
        bshape = [1] * inputs.ndim
        bshape[axis] = -1
        xp, dt = inputs.xp, inputs.dtype
        mu, std = mean.data.reshape(-1), xp.sqrt(variance.data.reshape(-1) + self.epsilon)
        floor = xp.maximum(self.renorm_stddev.data, np.sqrt(self.epsilon)).astype(dt)
        r, d = std / floor, (mu - self.renorm_mean.data) / floor
        clip = self.renorm_clipping
        if clip.get("rmin") is not None:
            r = xp.maximum(r, clip["rmin"])
        if clip.get("rmax") is not None:
            r = xp.minimum(r, clip["rmax"])
        if clip.get("dmax") is not None:
            d = xp.clip(d, -clip["dmax"], clip["dmax"])
        r, d = Tensor._make(r.astype(dt)), Tensor._make(d.astype(dt))
        gamma, beta = getattr(self, "gamma", None), getattr(self, "beta", None)
        scale, offset = (r, d) if gamma is None else (r * gamma, d * gamma)
        if beta is not None:
            offset = offset + beta
        y = (inputs - mean) / (variance + self.epsilon).sqrt()
        y = y * scale.reshape(bshape) + offset.reshape(bshape)
        rm, m = self.renorm_momentum, self.momentum
        self.renorm_mean.assign(self.renorm_mean.data * rm + mu * (1 - rm))
        self.renorm_stddev.assign(self.renorm_stddev.data * rm + std * (1 - rm))
        self.moving_mean.assign(self.moving_mean.data * m + mu * (1 - m))
        moving_std = self.moving_stddev.data * m + std * (1 - m)
        self.moving_stddev.assign(moving_std)
        self.moving_variance.assign(xp.maximum(moving_std * moving_std - self.epsilon, 0))
        return y

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **self._gamma_beta_config(),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }


class LayerNormalization(_GammaBeta, Layer):
    """Normalizes over ``axis`` (the last by default; or a list of axes, gamma and beta then span
    their sizes): (x - mean) / sqrt(var + epsilon) * gamma + beta.

    ``rms_scaling=True`` is Keras's (deprecated) variant: x / sqrt(var + epsilon) * gamma, no beta.
    """

    supports_masking = True  # the input's mask passes on (Keras)

    def __init__(
        self,
        axis=-1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        rms_scaling: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and axis and all(isinstance(a, int) for a in axis):
            axis = list(axis)
        elif not isinstance(axis, int) or isinstance(axis, bool):
            raise TypeError(
                f"LayerNormalization '{self.name}': axis must be an int or a list of ints, "
                f"received {axis!r}"
            )
        if rms_scaling:
            warnings.warn(
                f"LayerNormalization '{self.name}': rms_scaling=True is deprecated in Keras 3 (it "
                "divides by the standard deviation, not the root mean square); "
                "RMSNormalization is the true RMS norm",
                UserWarning,
                stacklevel=2,
            )
        self.axis, self.epsilon, self.center, self.scale = axis, epsilon, center, scale
        self.rms_scaling = bool(rms_scaling)
        self._gamma_beta_options(locals())

    def build(self, input_shape):
        # as Keras: the axes become a sorted list; gamma and beta span the normalized axes
        ndim = len(input_shape)
        axes = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        if any(not -ndim <= a < ndim for a in axes):
            raise ValueError(
                f"LayerNormalization '{self.name}': axis {self.axis} is out of range for an input "
                f"of shape {tuple(input_shape)}"
            )
        self.axis = axes
        shape = tuple(input_shape[a] for a in axes)
        self._normalized_shape = shape
        if self.scale or self.rms_scaling:
            self._add_gamma_beta("gamma", shape)
        if self.center and not self.rms_scaling:
            self._add_gamma_beta("beta", shape)

    def call(self, inputs, training=None):
        if _mixed_float16(self, inputs):  # Keras normalizes float16 inputs in float32
            return self.call(inputs.astype("float32"), training).astype(self.compute_dtype)
        gamma, beta = getattr(self, "gamma", None), getattr(self, "beta", None)
        ndim = inputs.ndim
        want = getattr(self, "_normalized_shape", None)
        if any(not -ndim <= a < ndim for a in self.axis) or (
            want is not None and tuple(inputs.shape[a] for a in self.axis) != want
        ):
            raise ValueError(
                f"LayerNormalization '{self.name}' expected input with axes {self.axis} of sizes "
                f"{want}, received shape {tuple(inputs.shape)}"
            )
        axes = sorted(a % ndim for a in self.axis)
        trailing = axes == list(range(ndim - len(axes), ndim))
        if trailing and not self.rms_scaling:
            return F.layer_norm(
                inputs, tuple(inputs.shape[ndim - len(axes) :]), gamma, beta, self.epsilon
            )
        gamma, beta = (None if w is None else _along(w, axes, inputs.shape) for w in (gamma, beta))
        var = inputs.var(axis=tuple(axes), keepdims=True)
        if self.rms_scaling:  # Keras's formula: no centering of the output, variance as usual
            y = inputs / (var + self.epsilon).sqrt()
            return y if gamma is None else y * gamma
        y = (inputs - inputs.mean(axis=tuple(axes), keepdims=True)) / (var + self.epsilon).sqrt()
        y = y if gamma is None else y * gamma
        return y if beta is None else y + beta

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            **self._gamma_beta_config(),
        }


def _along(weight, axes, shape):
    """``weight`` (the sizes of ``axes``) reshaped to broadcast against an input of ``shape``."""
    target = [1] * len(shape)
    for a in axes:
        target[a] = shape[a]
    return weight.reshape(tuple(target))


def _check_clipping(layer, clipping) -> dict:
    """renorm_clipping: a dict of optional rmin <= rmax and dmax >= 0 (empty: no clipping)."""
    clipping = dict(clipping or {})
    unknown = set(clipping) - {"rmax", "rmin", "dmax"}
    rmin, rmax, dmax = (clipping.get(k) for k in ("rmin", "rmax", "dmax"))
    if (
        unknown
        or (rmin is not None and rmax is not None and rmax < rmin)
        or (dmax is not None and dmax < 0)
    ):
        raise ValueError(
            f"BatchNormalization '{layer.name}': renorm_clipping takes the keys rmin <= rmax and "
            f"dmax >= 0, received {clipping!r}"
        )
    return clipping
