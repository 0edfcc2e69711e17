"""Keras optimizers: Keras names and defaults over zerograd.optim (built when the model has weights)."""

from __future__ import annotations

from zerograd import optim


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

    def apply(self, params) -> None:
        """One step on gradients already in ``.grad``."""
        from zerograd.nn.utils import clip_grad_norm_, clip_grad_value_

        if self.inner is None:
            self.build(params)
        if self.clipnorm:
            clip_grad_norm_(params, self.clipnorm)
        if self.clipvalue:
            clip_grad_value_(params, self.clipvalue)
        if callable(self._lr):
            for g in self.inner.param_groups:
                g["lr"] = self.current_lr()
        self.inner.step()
        self.iterations += 1

    def get_config(self) -> dict:
        return {"learning_rate": self.learning_rate, **self.options()}


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
