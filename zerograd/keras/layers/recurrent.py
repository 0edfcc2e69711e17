"""Keras SimpleRNN, LSTM, GRU and Bidirectional over zerograd's fused recurrent op.

Weights are kept in Keras layouts (kernel (in, G*units), recurrent_kernel (units, G*units)) and
mapped onto the op's PyTorch layout on each call (GRU gates z, r, h reordered to r, z, n).
"""

from __future__ import annotations

from zerograd.keras import initializers
from zerograd.keras.base import Layer
from zerograd.ops.rnn import recurrent_layer
from zerograd.ops.shape import concat
from zerograd.tensor import Tensor

GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}


class _RNN(Layer):
    def __init__(
        self,
        units: int,
        activation="tanh",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        unit_forget_bias: bool = True,
        reset_after: bool = True,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        recurrent_activation="sigmoid",
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        if activation not in ("tanh", "relu") or (activation == "relu" and name != "SimpleRNN"):
            raise ValueError(
                f"{name} '{self.name}': supported activation is 'tanh' (or 'relu' for SimpleRNN), received {activation!r}"
            )
        if recurrent_activation != "sigmoid" or not reset_after or dropout or recurrent_dropout:
            raise ValueError(
                f"{name} '{self.name}': only recurrent_activation='sigmoid', reset_after=True and no (recurrent) dropout are supported"
            )
        self.units, self.activation, self.use_bias = units, activation, use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.return_sequences, self.return_state, self.go_backwards = (
            return_sequences,
            return_state,
            go_backwards,
        )
        self.unit_forget_bias = unit_forget_bias

    def build(self, input_shape):
        g, u = GATES[type(self).__name__], self.units
        self.add_weight("kernel", (input_shape[-1], g * u), self.kernel_initializer)
        self.add_weight("recurrent_kernel", (u, g * u), self.recurrent_initializer)
        if self.use_bias:
            shape = (2, 3 * u) if isinstance(self, GRU) else (g * u,)
            self.add_weight("bias", shape, self.bias_initializer)
            if isinstance(self, LSTM) and self.unit_forget_bias:
                self.bias.data[u : 2 * u] = 1.0

    def _weights(self):
        """(W_ih, W_hh, b_ih, b_hh) in the op's layout."""
        u = self.units
        k, rk = self.kernel, self.recurrent_kernel
        b_ih = b_hh = None
        if isinstance(self, GRU):

            def order(t):  # Keras z, r, h -> r, z, n
                return concat([t[..., u : 2 * u], t[..., :u], t[..., 2 * u :]], axis=-1)

            k, rk = order(k), order(rk)
            if self.use_bias:
                b_ih, b_hh = order(self.bias[0]), order(self.bias[1])
        elif self.use_bias:
            b_ih = self.bias
            b_hh = Tensor._make(self.bias.xp.zeros(self.bias.shape, self.bias.dtype))
        return k.T, rk.T, b_ih, b_hh

    def call(self, inputs, initial_state=None, training=None):
        name = type(self).__name__
        if inputs.ndim != 3 or inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"{name} '{self.name}' expected input of shape (batch, timesteps, {self.kernel.shape[0]}), received shape {inputs.shape}"
            )
        x = inputs.swapaxes(0, 1)  # (T, B, F)
        if self.go_backwards:
            x = x[::-1]
        B = inputs.shape[0]
        zeros = Tensor._make(x.xp.zeros((B, self.units), x.dtype))
        states = (
            list(initial_state)
            if isinstance(initial_state, (list, tuple))
            else ([initial_state] if initial_state is not None else [])
        )
        h0 = states[0] if states else zeros
        c0 = states[1] if len(states) > 1 else zeros
        mode = {"SimpleRNN": f"rnn_{self.activation}", "LSTM": "lstm", "GRU": "gru"}[name]
        y, h_last, c_last = recurrent_layer(mode, x, h0, c0, *self._weights())
        out = y.swapaxes(0, 1) if self.return_sequences else h_last
        if not self.return_state:
            return out
        return [out, h_last, c_last] if mode == "lstm" else [out, h_last]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
        }


class SimpleRNN(_RNN):
    """h_t = tanh(x_t kernel + h_{t-1} recurrent_kernel + bias)."""


class LSTM(_RNN):
    """Long short-term memory, Keras gate order i, f, c, o; forget bias starts at 1."""


class GRU(_RNN):
    """Gated recurrent unit with reset_after=True (Keras's default), bias (2, 3*units)."""


class Bidirectional(Layer):
    """Runs ``layer`` forward and a copy backward in time; merges with concat|sum|ave|mul."""

    def __init__(self, layer: _RNN, merge_mode: str = "concat", backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if merge_mode not in ("concat", "sum", "ave", "mul"):
            raise ValueError(
                f"Bidirectional '{self.name}': merge_mode must be concat|sum|ave|mul, received {merge_mode!r}"
            )
        self.forward_layer = layer
        cfg = {
            **layer.get_config(),
            "name": "backward_" + layer.name,
            "go_backwards": not layer.go_backwards,
        }
        cfg.pop("input_shape", None)
        self.backward_layer = backward_layer or type(layer).from_config(cfg)
        self.merge_mode = merge_mode

    def call(self, inputs, training=None):
        f = self.forward_layer(inputs)
        b = self.backward_layer(inputs)
        fo, bo = (f[0], b[0]) if isinstance(f, list) else (f, b)
        if self.forward_layer.return_sequences:
            bo = bo[:, ::-1]
        merged = {
            "concat": lambda: concat([fo, bo], axis=-1),
            "sum": lambda: fo + bo,
            "ave": lambda: (fo + bo) * 0.5,
            "mul": lambda: fo * bo,
        }[self.merge_mode]()
        if isinstance(f, list):
            return [merged, *f[1:], *b[1:]]
        return merged

    def get_config(self):
        return {
            **super().get_config(),
            "layer": {
                "class_name": type(self.forward_layer).__name__,
                "config": self.forward_layer.get_config(),
            },
            "merge_mode": self.merge_mode,
        }

    @classmethod
    def from_config(cls, config):
        from zerograd.keras.layers import deserialize

        config = dict(config)
        return cls(deserialize(config.pop("layer")), **config)
