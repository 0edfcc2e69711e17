"""RNN, LSTM, GRU with PyTorch's parameter names, gate order (LSTM i,f,g,o; GRU r,z,n) and shapes."""

from __future__ import annotations

import math

import numpy as np

from zerograd import backend
from zerograd.nn import init
from zerograd.nn.module import Module
from zerograd.nn.parameter import Parameter
from zerograd.ops import argcheck
from zerograd.ops.activation import dropout
from zerograd.ops.rnn import recurrent_layer
from zerograd.ops.shape import concat, stack
from zerograd.tensor import Tensor

GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


class RNNBase(Module):
    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ):
        super().__init__()
        name = type(self).__name__
        input_size = argcheck.positive(name, "input_size", input_size)
        hidden_size = argcheck.positive(name, "hidden_size", hidden_size)
        num_layers = argcheck.positive(name, "num_layers", num_layers)
        dropout = argcheck.probability(name, "dropout", dropout)
        for flag, value in (
            ("bias", bias),
            ("batch_first", batch_first),
            ("bidirectional", bidirectional),
        ):
            argcheck.flag(name, flag, value)
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = dropout, bidirectional
        dirs = 2 if bidirectional else 1
        gh = GATES[mode] * hidden_size
        dt = backend.get_default_dtype()
        for layer in range(num_layers):
            n_in = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                setattr(self, "weight_ih" + sfx, Parameter(np.empty((gh, n_in), dt)))
                setattr(self, "weight_hh" + sfx, Parameter(np.empty((gh, hidden_size), dt)))
                if bias:
                    setattr(self, "bias_ih" + sfx, Parameter(np.empty(gh, dt)))
                    setattr(self, "bias_hh" + sfx, Parameter(np.empty(gh, dt)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _states(self, hx, batch: int, x: Tensor):
        dirs = 2 if self.bidirectional else 1
        shape = (self.num_layers * dirs, batch, self.hidden_size)
        zeros = Tensor._make(x.xp.zeros(shape, dtype=x.dtype))
        if hx is None:
            return zeros, zeros
        h, c = hx if self.mode == "lstm" else (hx, zeros)
        for t, name in ((h, "h0"), (c, "c0")):
            if tuple(t.shape) != shape:
                raise ValueError(
                    f"{type(self).__name__} expected {name} of shape {shape}, received shape {t.shape}"
                )
        return h, c

    def _check_hx(self, hx, x: Tensor) -> None:
        """hx: a Tensor (RNN, GRU) or a pair of Tensors (LSTM) of the input's dtype."""
        name = type(self).__name__
        lstm = self.mode == "lstm"
        if lstm and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(
                f"{name}: expected hx as a tuple (h0, c0) of two tensors, received "
                f"{type(hx).__name__}"
            )
        for t, what in zip(hx if lstm else (hx,), ("h0", "c0")):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name}: expected {what} as a Tensor, received {type(t).__name__}")
            argcheck.same_dtype(name, t, self.weight_ih_l0, what)

    def forward(self, x: Tensor, hx=None):
        name = type(self).__name__
        unbatched = x.ndim == 2
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
            raise ValueError(
                f"{name} expected input of shape {layout.replace('I', str(self.input_size))} or (T, {self.input_size}), received shape {x.shape}"
            )
        argcheck.same_dtype(name, x, self.weight_ih_l0)
        if hx is not None:
            self._check_hx(hx, x)
        if unbatched:
            x = x.expand_dims(1)
            if hx is not None:
                hx = (
                    tuple(h.expand_dims(1) for h in hx)
                    if self.mode == "lstm"
                    else hx.expand_dims(1)
                )
        elif self.batch_first:
            x = x.swapaxes(0, 1)
        h0, c0 = self._states(hx, x.shape[1], x)
        dirs = 2 if self.bidirectional else 1
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                seq = x[::-1] if d else x
                params = [getattr(self, n + sfx) for n in ("weight_ih", "weight_hh")]
                if self.bias:
                    params += [getattr(self, "bias_ih" + sfx), getattr(self, "bias_hh" + sfx)]
                y, h_last, c_last = recurrent_layer(
                    self.mode, seq, h0[k], c0[k] if self.mode == "lstm" else None, *params
                )
                if self.mode == "lstm":
                    c_n.append(c_last)
                h_n.append(h_last)
                outs.append(y[::-1] if d else y)
            x = outs[0] if dirs == 1 else concat(outs, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = dropout(x, self.dropout, True)
        out = x.squeeze(1) if unbatched else (x.swapaxes(0, 1) if self.batch_first else x)
        h_n = stack(h_n, axis=0)
        if unbatched:
            h_n = h_n.squeeze(1)
        if self.mode == "lstm":
            c_n = stack(c_n, axis=0)
            return out, (h_n, c_n.squeeze(1) if unbatched else c_n)
        return out, h_n

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.batch_first:
            s += ", batch_first=True"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN, h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        **kwargs,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNN: nonlinearity must be 'tanh' or 'relu', received {nonlinearity!r}"
            )
        super().__init__("rnn_" + nonlinearity, input_size, hidden_size, num_layers, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory; returns (output, (h_n, c_n)).

    Example:
        >>> out, (h, c) = nn.LSTM(8, 16, batch_first=True)(zg.randn(4, 10, 8))
        >>> out.shape, h.shape
        ((4, 10, 16), (1, 4, 16))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, **kwargs):
        super().__init__("lstm", input_size, hidden_size, num_layers, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit (PyTorch's formulation: the reset gate multiplies W_hn h + b_hn)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, **kwargs):
        super().__init__("gru", input_size, hidden_size, num_layers, **kwargs)
