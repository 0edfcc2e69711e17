"""The Keras optimizer base: Keras's update order (clip, decoupled weight decay, step) and its
state layout (``iterations``, the learning rate, then per-variable slot arrays in Keras's order).

Each optimizer writes ``update_variable(g, p, lr, slots)`` as real Keras 3 computes it on its torch
backend, on the backend's arrays (NumPy or CuPy), in the variable's dtype.
"""

from __future__ import annotations

import numbers
import re
import warnings

from zerograd import backend, versions
from zerograd.autograd import no_grad
from zerograd.keras.optimizers.state import SlotState, param_of
from zerograd.keras.optimizers.transforms import clip_gradients, decay_weights
from zerograd.keras.schedules import LearningRateSchedule
from zerograd.nn.parameter import Parameter
from zerograd.ops import argcheck
from zerograd.tensor import Tensor


class Optimizer(SlotState):
    """Base of the Keras optimizers: learning rate (float, schedule or callable), clipping,
    decoupled weight decay, iteration count and slot variables created by ``build``.

    Example:
        >>> opt = keras.optimizers.Adam(learning_rate=1e-3)
        >>> opt.apply(grads, model.trainable_weights)
    """

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        cls = type(self).__name__
        if kwargs.pop("decay", None) is not None:
            warnings.warn(
                f"{cls}: argument `decay` is no longer supported and is ignored", stacklevel=2
            )
        if kwargs:
            raise ValueError(f"{cls}: argument(s) not recognized: {kwargs}")
        if gradient_accumulation_steps is not None and not gradient_accumulation_steps >= 2:
            raise ValueError(
                f"{cls}: gradient_accumulation_steps must be an integer >= 2, received "
                f"{gradient_accumulation_steps!r}"
            )
        if use_ema and not 0 <= ema_momentum <= 1:
            raise ValueError(f"{cls}: ema_momentum must be in [0, 1], received {ema_momentum!r}")
        if (
            use_ema
            and ema_overwrite_frequency is not None
            and (not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1)
        ):
            raise ValueError(
                f"{cls}: ema_overwrite_frequency must be an integer >= 1 or None, received "
                f"{ema_overwrite_frequency!r}"
            )
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                f"{cls}: only one of clipnorm, clipvalue and global_clipnorm can be set, received "
                f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )
        for key, value in (
            ("clipnorm", clipnorm),
            ("clipvalue", clipvalue),
            ("global_clipnorm", global_clipnorm),
            ("loss_scale_factor", loss_scale_factor),
        ):
            argcheck.number(cls, key, value, 0.0, low_open=True, finite=True, allow_none=True)
        argcheck.number(cls, "weight_decay", weight_decay, 0.0, finite=True, allow_none=True)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{cls}: name must be a string, received {name!r}")
        self.name = name or cls.lower()
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.use_ema, self.ema_momentum = bool(use_ema), ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self._iterations = 0  # every apply, as Keras's "iteration" variable
        self._learning_rate = self._checked_lr(learning_rate)
        self._variables: list = []  # the built variables, in build order
        self._state: dict = {}  # parameter -> {slot name: array}
        self._slot_groups: list = []  # Keras's variable order: interleaved names per group
        self._extra: dict = {}  # optimizer-wide variables after the slots (Nadam's u_product)
        self._decay_excluded: set = set()
        self._decay_pattern = None
        self.built = False

    # --- learning rate ---------------------------------------------------------------------------
    def _checked_lr(self, value):
        if isinstance(value, LearningRateSchedule) or callable(value):
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(
                f"{type(self).__name__}: learning_rate should be a float, a LearningRateSchedule "
                f"or a callable, received {value!r}"
            )
        return argcheck.number(type(self).__name__, "learning_rate", value, 0.0, finite=True)

    def _lr_value(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return float(lr(self._iterations))
        return float(lr()) if callable(lr) else lr

    @property
    def learning_rate(self) -> float:
        """The current learning rate (a schedule's value at ``iterations``)."""
        return self._lr_value()

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(self._learning_rate, LearningRateSchedule) and not callable(value):
            raise TypeError(
                f"{type(self).__name__}: this optimizer was created with a LearningRateSchedule, "
                f"so its learning rate is not settable; received {value!r}"
            )
        self._learning_rate = self._checked_lr(value)

    lr = learning_rate

    @property
    def iterations(self) -> int:
        """Update steps taken (``apply`` calls, divided by ``gradient_accumulation_steps``)."""
        steps = self.gradient_accumulation_steps
        return self._iterations // steps if steps else self._iterations

    def scale_loss(self, loss):
        """``loss * loss_scale_factor`` (``apply`` divides the gradients back)."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    # --- one step ------------------------------------------------------------------------------
    def apply(self, grads, trainable_variables=None) -> None:
        """One update of ``trainable_variables`` from ``grads`` (Keras); ``apply(params)`` steps
        zerograd parameters on the gradients in their ``.grad``."""
        grads = list(grads)
        if trainable_variables is not None:
            params = [param_of(v) for v in trainable_variables]
        elif grads and all(isinstance(g, Parameter) and g.requires_grad for g in grads):
            params, grads = grads, [p.grad for p in grads]
        elif self.built:
            params = list(self._variables)
        else:
            raise ValueError(
                f"{type(self).__name__}.apply: without trainable_variables the optimizer must "
                "be built first (call build(variables) or pass the variables)"
            )
        if len(grads) != len(params):
            raise ValueError(
                f"{type(self).__name__}.apply: expected one gradient per variable, received "
                f"{len(grads)} gradients for {len(params)} variables"
            )
        if not grads:
            return
        self.build(params)
        pairs = [(p, self._grad_array(g, p)) for g, p in zip(grads, params) if g is not None]
        if len(pairs) < len(params):
            missing = [getattr(p, "path", "?") for g, p in zip(grads, params) if g is None]
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the loss.",
                stacklevel=2,
            )
        if pairs:
            params, grads = [p for p, _ in pairs], [g for _, g in pairs]
            with no_grad():
                if self.loss_scale_factor is not None:
                    grads = [g / self.loss_scale_factor for g in grads]
                if self.gradient_accumulation_steps:
                    self._accumulate_or_step(params, grads)
                else:
                    self._step(params, grads)
                if self.use_ema:
                    self._update_moving_averages()
                for p in params:  # Keras: each variable's constraint after the step
                    constraint = getattr(p, "constraint", None)
                    if constraint is not None:
                        p.assign(constraint(p))
        self._iterations += 1

    def apply_gradients(self, grads_and_vars) -> int:
        """One step from ``zip(grads, variables)`` pairs (Keras's older spelling of ``apply``)."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])
        return self._iterations

    def _step(self, params: list, grads: list) -> None:
        """Clip, decay the weights (decoupled), then each optimizer's update."""
        grads = clip_gradients(grads, self.clipnorm, self.global_clipnorm, self.clipvalue)
        lr = self._lr_value()
        self._apply_weight_decay(params, lr)
        self.update_all(params, grads, lr)
        for p in params:  # each update is an in-place write (a graph that saved p sees it)
            versions.bump(p.data)

    def _accumulate_or_step(self, params: list, grads: list) -> None:
        """Add to the accumulators; every ``gradient_accumulation_steps``-th call, step on the
        mean gradient and reset them."""
        steps = self.gradient_accumulation_steps
        accumulators = [self._state[p]["gradient_accumulator"] for p in params]
        if (self._iterations + 1) % steps:
            for a, g in zip(accumulators, grads):
                a += g
            return
        self._step(params, [(g + a) / steps for g, a in zip(grads, accumulators)])
        for p in self._variables:
            self._state[p]["gradient_accumulator"] *= 0.0

    def _update_moving_averages(self) -> None:
        """EMA of every built variable (the first step copies it); every
        ``ema_overwrite_frequency`` steps the variables take their averages."""
        for p in self._variables:
            xp, dt = backend.namespace(p.data), p.data.dtype
            average = self._state[p]["average"]
            momentum = xp.asarray(self.ema_momentum if self.iterations else 0.0, dtype=dt)
            average[...] = momentum * average + (1 - momentum) * p.data
        freq = self.ema_overwrite_frequency
        if freq and (self.iterations + 1) % freq == 0:
            self.finalize_variable_values(self._variables)

    def finalize_variable_values(self, var_list) -> None:
        """With ``use_ema``, give the variables their moving averages (``fit`` does it last)."""
        if not self.use_ema:
            return
        for v in var_list:
            p = param_of(v)
            if p in self._state:
                p.data[...] = self._state[p]["average"]

    def update_all(self, params: list, grads: list, lr: float) -> None:
        """``update_variable`` for every variable (Nadam adds a once-per-step factor first)."""
        for p, g in zip(params, grads):
            xp = backend.namespace(p.data)
            self.update_variable(g, p, xp.asarray(lr, dtype=p.data.dtype), self._state[p])

    def update_variable(self, g, p, lr, slots: dict) -> None:
        """Change ``p.data`` (and ``slots``) in place from the gradient array ``g``."""
        name = type(self).__name__
        if "update_step" in dir(self):
            raise NotImplementedError(
                f"{name}: Keras-style custom optimizers (update_step, add_variable_from_reference) "
                "are not supported; subclass a zerograd optimizer and define "
                "update_variable(g, p, lr, slots) on arrays"
            )
        raise NotImplementedError(f"{name} must define update_variable(g, p, lr, slots)")

    def _grad_array(self, g, p):
        if isinstance(g, Tensor):
            g = g.data
        else:
            g = backend.to_device(backend.to_numpy(g), backend.device_of(p.data))
        if tuple(g.shape) != tuple(p.shape):
            raise ValueError(
                f"{type(self).__name__}.apply: a gradient of shape {tuple(g.shape)} does not "
                f"match its variable of shape {tuple(p.shape)}"
            )
        return g.astype(p.data.dtype, copy=False)

    # --- weight decay --------------------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Leave ``var_list`` and variables whose name contains one of ``var_names`` undecayed."""
        if self.built:
            raise ValueError(
                f"{type(self).__name__}: exclude_from_weight_decay() can only be configured "
                "before the optimizer is built"
            )
        self._decay_excluded = {param_of(v) for v in var_list or ()}
        self._decay_pattern = re.compile("|".join(set(var_names))) if var_names else None

    def _use_weight_decay(self, p) -> bool:
        if p in self._decay_excluded:
            return False
        pattern = self._decay_pattern
        return pattern is None or re.search(pattern, getattr(p, "name", "") or "") is None

    def _apply_weight_decay(self, params: list, lr: float) -> None:
        if self.weight_decay is not None:
            decay_weights([p for p in params if self._use_weight_decay(p)], lr, self.weight_decay)

    # --- config --------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Every constructor argument under Keras's names."""
        from zerograd.keras.saving.keras_compat import init_params
        from zerograd.keras.saving.serialization import serialize_keras_object

        lr = self._learning_rate
        config = {
            "name": self.name,
            "learning_rate": serialize_keras_object(lr) if callable(lr) else float(lr),
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }
        for key in sorted(init_params(type(self)) - init_params(Optimizer)):
            config[key] = getattr(self, key)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """The optimizer ``get_config()`` (zerograd's or Keras's) describes; a learning-rate
        schedule is rebuilt from its config."""
        from zerograd.keras.saving.keras_compat import builtin_kwargs
        from zerograd.keras.saving.serialization import deserialize_keras_object

        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = deserialize_keras_object(
                config["learning_rate"], custom_objects
            )
        return cls(**builtin_kwargs(cls, config, custom_objects))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} iterations={self.iterations}>"
