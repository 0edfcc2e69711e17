"""Keras optimizers: Keras names and defaults over zerograd.optim (built when the model has weights)."""

from __future__ import annotations

from zerograd import optim
from zerograd.keras import schedules  # noqa: F401 - keras.optimizers.schedules


class Optimizer:
    """Holds Keras hyper-parameters; ``build(params)`` makes the zerograd.optim optimizer."""

    impl = optim.SGD

    def __init__(
        self,
        learning_rate: float = 0.001,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        **kwargs,
    ):
        self._lr = float(learning_rate) if not callable(learning_rate) else learning_rate
        self.weight_decay, self.clipnorm, self.clipvalue = (
            weight_decay,
            clipnorm or global_clipnorm,
            clipvalue,
        )
        self.global_clipnorm = global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.inner = None
        self.iterations = 0

    def options(self) -> dict:
        return {}

    def build(self, params) -> None:
        params = [p for p in params if p.requires_grad]
        self.inner = self.impl(params, lr=self.current_lr(), **self.options())

    def current_lr(self) -> float:
        return self._lr(self.iterations) if callable(self._lr) else self._lr

    @property
    def learning_rate(self) -> float:
        return self.current_lr()

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._lr = float(value)
        if self.inner is not None:
            for g in self.inner.param_groups:
                g["lr"] = self._lr

    lr = learning_rate

    def apply(self, grads, trainable_variables=None) -> None:
        """One step: ``apply(grads, trainable_variables)`` as Keras, or ``apply(params)`` on the
        gradients already in ``.grad``. Only the variables given are updated."""
        from zerograd.nn.utils import clip_grad_norm_, clip_grad_value_

        if trainable_variables is None:
            params = list(grads)
        else:
            params = _set_grads(self, grads, trainable_variables)
        if self.inner is None:
            self.build(params)
        known = {id(p) for g in self.inner.param_groups for p in g["params"]}
        new = [p for p in params if id(p) not in known and p.requires_grad]
        if new:
            self.inner.add_param_group({"params": new})
        chosen = {id(p) for p in params}
        others = [p for g in self.inner.param_groups for p in g["params"] if id(p) not in chosen]
        held = [(p, p.grad) for p in others if p.grad is not None]
        for p, _ in held:  # a variable not given keeps its gradient but is not stepped
            p.grad = None
        if self.clipnorm:
            clip_grad_norm_(params, self.clipnorm)
        if self.clipvalue:
            clip_grad_value_(params, self.clipvalue)
        if callable(self._lr):
            for g in self.inner.param_groups:
                g["lr"] = self.current_lr()
        self.inner.step()
        for p, g in held:
            p.grad = g
        self.iterations += 1

    def apply_gradients(self, grads_and_vars) -> None:
        """One step from ``zip(grads, variables)`` pairs (Keras's older spelling of ``apply``)."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def get_config(self) -> dict:
        """Every constructor argument under Keras's names (Keras-only features at their off value)."""
        from zerograd.keras.saving.keras_compat import init_params
        from zerograd.keras.saving.serialization import serialize_keras_object

        lr = self._lr
        config = {
            "name": self.name,
            "learning_rate": serialize_keras_object(lr) if callable(lr) else float(lr),
            "weight_decay": self.weight_decay,
            "clipnorm": None if self.__dict__.get("global_clipnorm") else self.clipnorm,
            "global_clipnorm": self.__dict__.get("global_clipnorm"),
            "clipvalue": self.clipvalue,
            "use_ema": False,
            "ema_momentum": 0.99,
            "ema_overwrite_frequency": None,
            "loss_scale_factor": None,
            "gradient_accumulation_steps": None,
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


class SGD(Optimizer):
    def __init__(
        self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs
    ):
        super().__init__(learning_rate, **kwargs)
        self.momentum, self.nesterov = momentum, nesterov

    def options(self):
        return dict(
            momentum=self.momentum, nesterov=self.nesterov, weight_decay=self.weight_decay or 0.0
        )


class Adam(Optimizer):
    impl = optim.Adam

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def options(self):
        return dict(
            betas=(self.beta_1, self.beta_2),
            eps=self.epsilon,
            amsgrad=self.amsgrad,
            weight_decay=self.weight_decay or 0.0,
        )


class AdamW(Adam):
    impl = optim.AdamW

    def __init__(self, learning_rate: float = 0.001, weight_decay: float = 0.004, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    impl = optim.RMSprop

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def options(self):
        return dict(
            alpha=self.rho,
            momentum=self.momentum,
            eps=self.epsilon,
            centered=self.centered,
            weight_decay=self.weight_decay or 0.0,
        )


class Adagrad(Optimizer):
    impl = optim.Adagrad

    def __init__(
        self,
        learning_rate: float = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def options(self):
        return dict(initial_accumulator_value=self.initial_accumulator_value, eps=self.epsilon)


NAMES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier) -> Optimizer:
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in NAMES:
        return NAMES[identifier.lower()]()
    raise ValueError(
        f"unknown optimizer: expected one of {sorted(NAMES)} or an Optimizer, received {identifier!r}"
    )


def _set_grads(optimizer, grads, variables) -> list:
    """Put ``grads`` into the ``.grad`` of the parameters behind ``variables``."""
    import numpy as np

    from zerograd.tensor import Tensor

    grads, params = list(grads), [getattr(v, "value", v) for v in variables]
    if len(grads) != len(params):
        raise ValueError(
            f"{type(optimizer).__name__}.apply: expected one gradient per variable, received "
            f"{len(grads)} gradients for {len(params)} variables"
        )
    for p, g in zip(params, grads):
        if g is not None and not isinstance(g, Tensor):
            g = Tensor(np.asarray(g, dtype=p.dtype))
        if g is not None and tuple(g.shape) != tuple(p.shape):
            raise ValueError(
                f"{type(optimizer).__name__}.apply: a gradient of shape {tuple(g.shape)} does not "
                f"match its variable of shape {tuple(p.shape)}"
            )
        p.grad = g
    return params
