"""Keras 3's ``LossScaleOptimizer``: dynamic loss scaling for float16 training, wrapping another
optimizer. ``compile`` wraps the optimizer in one when the model's policy is "mixed_float16"."""

from __future__ import annotations

import numbers

import numpy as np

from zerograd import backend
from zerograd.keras.optimizers.base import Optimizer
from zerograd.nn.parameter import Parameter
from zerograd.tensor import Tensor

# the base-optimizer arguments Keras accepts at their default only (older configs carry them)
_INNER_ONLY = {
    "weight_decay": None,
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


class LossScaleOptimizer(Optimizer):
    """Scale the loss by ``dynamic_scale`` so float16 gradients do not underflow, then divide the
    gradients back before the inner optimizer's step. On a step whose gradients hold an inf or a
    NaN the update is skipped and the scale halved; after ``dynamic_growth_steps`` finite steps
    in a row the scale doubles (Keras 3's rules).

    Args:
        inner_optimizer: the ``keras.optimizers.Optimizer`` that makes the updates.
        initial_scale: the first loss scale (default ``2**15``).
        dynamic_growth_steps: finite steps between two doublings of the scale (default 2000).
        name: default ``"loss_scale_optimizer"``.

    Example:
        >>> opt = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.SGD(0.1))
        >>> opt.scale_loss(zg.tensor(1.0)).item()
        32768.0
    """

    def __init__(
        self,
        inner_optimizer,
        initial_scale=2.0**15,
        dynamic_growth_steps=2000,
        name=None,
        **kwargs,
    ):
        cls = type(self).__name__
        if not kwargs.pop("dynamic", True):
            raise ValueError(
                f"{cls} no longer supports `dynamic=False`; set `loss_scale_factor` on the "
                "inner_optimizer instead"
            )
        for key, default in _INNER_ONLY.items():
            if key in kwargs and kwargs.pop(key) != default:
                raise ValueError(
                    f"{cls} does not support `{key}`; set `{key}` on the inner_optimizer instead"
                )
        if kwargs:
            raise ValueError(f"{cls} does not support arguments: {sorted(kwargs)}")
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError(
                f"{cls}: inner_optimizer must be a keras.optimizers.Optimizer instance, received "
                f"{type(inner_optimizer).__name__} {inner_optimizer!r}"
            )
        if isinstance(initial_scale, bool) or not isinstance(initial_scale, numbers.Real):
            raise TypeError(f"{cls}: initial_scale must be a number, received {initial_scale!r}")
        if not (np.isfinite(initial_scale) and initial_scale > 0):
            raise ValueError(
                f"{cls}: initial_scale must be a positive finite number, received {initial_scale!r}"
            )
        if (
            isinstance(dynamic_growth_steps, bool)
            or not isinstance(dynamic_growth_steps, numbers.Integral)
            or dynamic_growth_steps < 1
        ):
            raise ValueError(
                f"{cls}: dynamic_growth_steps must be an integer >= 1, received "
                f"{dynamic_growth_steps!r}"
            )
        super().__init__(learning_rate=0.0, name=name or "loss_scale_optimizer")
        self.inner_optimizer = inner_optimizer
        self.initial_scale = initial_scale
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self.inner_optimizer.loss_scale_factor = None  # else the loss would be scaled twice
        self._step_counter = 0
        self._scale = np.float32(initial_scale)  # Keras keeps it in a float32 variable

    # --- the scale -----------------------------------------------------------------------------
    @property
    def dynamic_scale(self) -> float:
        """The current loss scale."""
        return float(self._scale)

    @property
    def step_counter(self) -> int:
        """Finite steps since the scale last changed."""
        return self._step_counter

    def scale_loss(self, loss):
        """``loss * dynamic_scale`` (``initial_scale`` before the first step builds it)."""
        scale = self._scale if self.built else self.initial_scale
        return loss * float(scale)

    # --- one step ------------------------------------------------------------------------------
    def build(self, variables) -> None:
        self.inner_optimizer.build(variables)
        self.built = True

    def apply(self, grads, trainable_variables=None) -> None:
        """Unscale the gradients and step the inner optimizer when they are all finite; else
        skip the step and halve the scale."""
        grads = list(grads)
        if (
            trainable_variables is None
            and grads
            and all(isinstance(g, Parameter) and g.requires_grad for g in grads)
        ):
            trainable_variables, grads = grads, [p.grad for p in grads]
        if not self.built and trainable_variables is not None:
            self.build(trainable_variables)
        arrays = [None if g is None else _array(g) for g in grads]
        finite = all(bool(backend.namespace(a).isfinite(a).all()) for a in arrays if a is not None)
        if not finite:
            self._step_counter = 0
            self._scale = self._scale * np.float32(0.5)
            return
        scale = self._scale
        unscaled = [None if a is None else a / scale for a in arrays]
        self.inner_optimizer.apply(unscaled, trainable_variables)
        if self._step_counter == self.dynamic_growth_steps - 1:
            self._step_counter = 0
            self._scale = self._scale * np.float32(2.0)
        else:
            self._step_counter += 1

    # --- the inner optimizer's values ----------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self.inner_optimizer.learning_rate = value

    lr = learning_rate

    @property
    def iterations(self) -> int:
        """The inner optimizer's steps (a skipped step does not count)."""
        return self.inner_optimizer.iterations

    def finalize_variable_values(self, var_list) -> None:
        self.inner_optimizer.finalize_variable_values(var_list)

    # the inner optimizer's counters, as a backup (BackupAndRestore) reads and writes them
    @property
    def _iterations(self) -> int:
        return self.inner_optimizer._iterations

    @_iterations.setter
    def _iterations(self, value: int) -> None:
        if "inner_optimizer" in self.__dict__:  # the base __init__ sets it before the inner one
            self.inner_optimizer._iterations = value

    @property
    def _learning_rate(self):
        return self.inner_optimizer._learning_rate

    @_learning_rate.setter
    def _learning_rate(self, value) -> None:
        if "inner_optimizer" in self.__dict__:
            self.inner_optimizer._learning_rate = value

    def slot_arrays(self) -> list:
        """The scale's state (step_counter, dynamic_scale), then the inner optimizer's slots."""
        own = [
            ("step_counter", np.asarray(self._step_counter, dtype=np.int64)),
            ("dynamic_scale", np.asarray(self._scale, dtype=np.float32)),
        ]
        return own + self.inner_optimizer.slot_arrays()

    def set_slot_arrays(self, arrays: list) -> None:
        """Restore ``slot_arrays()``'s list."""
        if len(arrays) < 2:
            raise ValueError(
                f"{type(self).__name__}: expected step_counter and dynamic_scale first, received "
                f"{len(arrays)} arrays"
            )
        self._set_scale_state(arrays[0], arrays[1])
        self.inner_optimizer.set_slot_arrays(list(arrays[2:]))

    def _set_scale_state(self, step_counter, dynamic_scale) -> None:
        self._step_counter = int(np.asarray(backend.to_numpy(step_counter)).reshape(-1)[0])
        self._scale = np.float32(np.asarray(backend.to_numpy(dynamic_scale)).reshape(-1)[0])

    # --- state and config ----------------------------------------------------------------------
    def state_arrays(self) -> list:
        """Keras's ``variables``: this optimizer's iteration, learning_rate, step_counter and
        dynamic_scale, then the inner optimizer's."""
        own = [
            ("iteration", np.asarray(0, dtype=np.int64)),
            ("learning_rate", np.asarray(0.0, dtype=np.float32)),
            ("step_counter", np.asarray(self._step_counter, dtype=np.int64)),
            ("dynamic_scale", np.asarray(self._scale, dtype=np.float32)),
        ]
        return own + self.inner_optimizer.state_arrays()

    def set_state_arrays(self, arrays: list, variables=None) -> None:
        """Restore ``state_arrays()``'s list (as read from a Keras file)."""
        if not arrays:
            return
        if len(arrays) < 4:
            raise ValueError(
                f"{type(self).__name__}: expected at least 4 variables (iteration, learning_rate, "
                f"step_counter, dynamic_scale), received {len(arrays)}"
            )
        self._set_scale_state(arrays[2], arrays[3])
        self.inner_optimizer.set_state_arrays(arrays[4:], variables)
        self.built = self.inner_optimizer.built

    def get_config(self) -> dict:
        from zerograd.keras.saving.serialization import serialize_keras_object

        return {
            "name": self.name,
            "inner_optimizer": serialize_keras_object(self.inner_optimizer),
            "initial_scale": self.initial_scale,
            "dynamic_growth_steps": self.dynamic_growth_steps,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        from zerograd.keras.saving.serialization import deserialize_keras_object

        config = dict(config)
        inner = config.pop("inner_optimizer", None)
        if isinstance(inner, dict):
            inner = deserialize_keras_object(inner, custom_objects)
        return cls(inner, **config)

    def __repr__(self) -> str:
        return (
            f"<LossScaleOptimizer name={self.name!r} inner={type(self.inner_optimizer).__name__} "
            f"dynamic_scale={self.dynamic_scale:g}>"
        )


def _array(g):
    """The gradient as an array of the backend (a Tensor's data, else as is)."""
    if isinstance(g, Tensor):
        return g.data
    return g if backend.is_device_array(g) else np.asarray(g)
