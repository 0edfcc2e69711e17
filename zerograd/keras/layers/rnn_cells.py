"""Keras RNN cells: one time step of SimpleRNN, LSTM and GRU, and StackedRNNCells.

Weights are in Keras layouts: kernel (input_dim, G*units), recurrent_kernel (units, G*units), bias
(G*units,) or, for a GRU with reset_after=True, (2, 3*units). Gate orders: LSTM i, f, c, o; GRU
z, r, h. A cell with the default activations also hands its weights to zerograd's fused recurrent
op (``fused_mode`` / ``fused_weights``), which the RNN layer runs over the whole sequence at once.
"""

from __future__ import annotations

import zerograd.nn.functional as F
from zerograd.keras import activations, constraints, initializers, regularizers
from zerograd.keras.base import Layer
from zerograd.keras.layers.random_state import RandomState, check_seed
from zerograd.ops.shape import concat
from zerograd.tensor import Tensor


def _check_rate(layer, name: str, value) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': {name} must be in [0, 1], received {value}"
        )
    return float(value)


class _Cell(Layer):
    """The arguments every built-in cell shares, its weights and its dropout masks."""

    GATES = 1

    def __init__(
        self,
        units: int,
        activation="tanh",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': units must be a positive integer, received {units!r}"
            )
        self.units, self.use_bias = units, use_bias
        self.seed = check_seed(f"{type(self).__name__} '{self.name}'", seed)
        self.__dict__["_random"] = RandomState(self.seed)  # a seed: the cell's own dropout draws
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _check_rate(self, "dropout", dropout)
        self.recurrent_dropout = _check_rate(self, "recurrent_dropout", recurrent_dropout)
        self.__dict__["_dp_mask"] = self.__dict__["_rec_dp_mask"] = None

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    def _bias_shape(self) -> tuple:
        return (self.GATES * self.units,)

    def build(self, input_shape):
        g, u = self.GATES, self.units
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_shape[-1], g * u),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel",
            shape=(u, g * u),
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=self._bias_shape(),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    # --- dropout: one mask per sequence, as Keras ---------------------------------------------------
    def begin_sequence(self, step_input: Tensor, state: Tensor, training: bool) -> None:
        """Draw this sequence's dropout masks (training only)."""

        def draw(like, rate):
            if self.seed is not None:  # reproducible masks from the cell's own generator
                keep = self._random.uniform(like.shape) >= rate
                scale = 0.0 if rate >= 1.0 else 1.0 / (1.0 - rate)
                return Tensor._make(like.xp.asarray((keep * scale).astype(like.dtype)))
            ones = Tensor._make(like.xp.ones(like.shape, like.dtype))
            return F.dropout(ones, rate, True)

        d = self.__dict__
        d["_dp_mask"] = draw(step_input, self.dropout) if training and self.dropout else None
        d["_rec_dp_mask"] = (
            draw(state, self.recurrent_dropout) if training and self.recurrent_dropout else None
        )

    def end_sequence(self) -> None:
        self.__dict__["_dp_mask"] = self.__dict__["_rec_dp_mask"] = None

    def _dropped(self, x: Tensor, h: Tensor) -> tuple:
        if self._dp_mask is not None:
            x = x * self._dp_mask
        if self._rec_dp_mask is not None:
            h = h * self._rec_dp_mask
        return x, h

    # --- the fused op ---------------------------------------------------------------------------------
    def fused_mode(self) -> str | None:
        """The fused op's mode for this cell's activations, or None (run step by step)."""
        return None

    def fused_weights(self) -> tuple:
        """(W_ih, W_hh, b_ih, b_hh) in the fused op's (PyTorch) layout."""
        b_ih = b_hh = None
        if self.use_bias:
            b_ih = self.bias
            b_hh = Tensor._make(self.bias.xp.zeros(self.bias.shape, self.bias.dtype))
        return self.kernel.T, self.recurrent_kernel.T, b_ih, b_hh

    def get_config(self):
        cfg = {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        if hasattr(self, "recurrent_activation"):
            cfg["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        return cfg


class SimpleRNNCell(_Cell):
    """One step of a SimpleRNN: h = activation(x kernel + h_prev recurrent_kernel + bias)."""

    def call(self, inputs, states, training=None):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        x, h_prev = self._dropped(inputs, h_prev)
        z = x @ self.kernel + h_prev @ self.recurrent_kernel
        if self.use_bias:
            z = z + self.bias
        h = self.activation(z)
        return h, [h]

    def fused_mode(self):
        for name in ("tanh", "relu"):
            if self.activation is activations.get(name):
                return f"rnn_{name}"
        return None


class LSTMCell(_Cell):
    """One step of an LSTM (gates i, f, c, o); states [h, c]; the forget bias starts at 1."""

    GATES = 4

    def __init__(
        self,
        units: int,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias: bool = True,
        **kwargs,
    ):
        kwargs.pop("implementation", None)  # Keras's two implementations compute the same values
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            **kwargs,
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias

    @property
    def state_size(self):
        return [self.units, self.units]

    def build(self, input_shape):
        super().build(input_shape)
        if self.use_bias and self.unit_forget_bias:
            self.bias.data[self.units : 2 * self.units] = 1.0

    def call(self, inputs, states, training=None):
        h_prev, c_prev = states[0], states[1]
        x, h_prev = self._dropped(inputs, h_prev)
        z = x @ self.kernel + h_prev @ self.recurrent_kernel
        if self.use_bias:
            z = z + self.bias
        u = self.units
        i = self.recurrent_activation(z[:, :u])
        f = self.recurrent_activation(z[:, u : 2 * u])
        c = f * c_prev + i * self.activation(z[:, 2 * u : 3 * u])
        o = self.recurrent_activation(z[:, 3 * u :])
        h = o * self.activation(c)
        return h, [h, c]

    def fused_mode(self):
        if self.activation is activations.tanh and self.recurrent_activation is activations.sigmoid:
            return "lstm"
        return None

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_Cell):
    """One step of a GRU (gates z, r, h); reset_after=True (Keras's default) has bias (2, 3*units)."""

    GATES = 3

    def __init__(
        self,
        units: int,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias: bool = True,
        reset_after: bool = True,
        **kwargs,
    ):
        kwargs.pop("implementation", None)
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = reset_after

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=None):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        x, h_drop = self._dropped(inputs, h_prev)
        u, rk = self.units, self.recurrent_kernel
        xw = x @ self.kernel
        if self.use_bias:
            xw = xw + (self.bias[0] if self.reset_after else self.bias)
        if self.reset_after:
            hw = h_drop @ rk
            if self.use_bias:
                hw = hw + self.bias[1]
            z = self.recurrent_activation(xw[:, :u] + hw[:, :u])
            r = self.recurrent_activation(xw[:, u : 2 * u] + hw[:, u : 2 * u])
            hh = self.activation(xw[:, 2 * u :] + r * hw[:, 2 * u :])
        else:
            z = self.recurrent_activation(xw[:, :u] + h_drop @ rk[:, :u])
            r = self.recurrent_activation(xw[:, u : 2 * u] + h_drop @ rk[:, u : 2 * u])
            hh = self.activation(xw[:, 2 * u :] + (r * h_drop) @ rk[:, 2 * u :])
        h = z * h_prev + (1 - z) * hh
        return h, [h]

    def fused_mode(self):
        standard = (
            self.activation is activations.tanh and self.recurrent_activation is activations.sigmoid
        )
        return "gru" if standard and self.reset_after else None

    def fused_weights(self):
        u = self.units

        def order(t):  # Keras z, r, h -> the op's r, z, n
            return concat([t[..., u : 2 * u], t[..., :u], t[..., 2 * u :]], axis=-1)

        b_ih = b_hh = None
        if self.use_bias:
            b_ih, b_hh = order(self.bias[0]), order(self.bias[1])
        return order(self.kernel).T, order(self.recurrent_kernel).T, b_ih, b_hh

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


class StackedRNNCells(Layer):
    """Several cells as one: each step runs them in order, the output of one the input of the next."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        for cell in cells:
            if not hasattr(cell, "call") or not hasattr(cell, "state_size"):
                raise ValueError(
                    f"StackedRNNCells '{self.name}': every cell needs call() and state_size, received {cell!r}"
                )
        self.cells = list(cells)
        for i, cell in enumerate(self.cells):
            if isinstance(cell, Layer):
                self.add_module(f"cell_{i}", cell)

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        size = getattr(last, "output_size", None)
        if size is None:
            size = last.state_size
        return size[0] if isinstance(size, (list, tuple)) else size

    def build(self, input_shape):
        batch = input_shape[0]
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(input_shape)
                cell.built = True
            size = getattr(cell, "output_size", None) or cell.state_size
            input_shape = (batch, size[0] if isinstance(size, (list, tuple)) else size)

    def call(self, inputs, states, training=None):
        new_states = []
        for cell, state in zip(self.cells, states):
            as_list = isinstance(state, (list, tuple))
            inputs, state = cell(inputs, list(state) if as_list else [state], training=training)
            state = list(state) if isinstance(state, (list, tuple)) else [state]
            new_states.append(state if as_list or len(state) > 1 else state[0])
        return inputs, new_states

    def get_config(self):
        return {
            **super().get_config(),
            "cells": [
                {"class_name": type(c).__name__, "config": c.get_config()} for c in self.cells
            ],
        }

    @classmethod
    def from_config(cls, config):
        from zerograd.keras.layers import deserialize

        config = dict(config)
        return cls([deserialize(c) for c in config.pop("cells")], **config)
