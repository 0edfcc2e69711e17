"""Keras SimpleRNN, LSTM and GRU: ``RNN`` layers around their built-in cell.

With the default activations and no mask they run through zerograd's fused recurrent op (see
``RNN``); their weights live in the cell, in Keras layouts, so ``RNN(LSTMCell(n))`` and ``LSTM(n)``
with the same weights give the same outputs.

``use_cudnn`` (Keras: whether to use the cuDNN kernel) and the cells' ``implementation`` (Keras:
how the gates are batched) only pick an implementation of the same computation: both are accepted
and change nothing here.
"""

from __future__ import annotations

from zerograd.keras.layers.rnn import RNN
from zerograd.keras.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell

# the arguments of the RNN layer itself; every other argument configures the cell
_LAYER_ARGS = (
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "zero_output_for_mask",
    "name",
    "input_shape",
    "input_dim",
    "batch_input_shape",
)
_CELL_NAMES = {"SimpleRNN": "simple_rnn_cell", "LSTM": "lstm_cell", "GRU": "gru_cell"}


class _BuiltinRNN(RNN):
    CELL: type

    def __init__(self, units: int, **kwargs):
        if kwargs.pop("activity_regularizer", None) is not None:
            raise ValueError(f"{type(self).__name__}: activity_regularizer is not supported")
        use_cudnn = kwargs.pop("use_cudnn", "auto")
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                f"{type(self).__name__}: use_cudnn must be 'auto', True or False, received {use_cudnn!r}"
            )
        layer_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _LAYER_ARGS}
        for shared in ("trainable", "dtype"):
            if shared in kwargs:
                layer_kwargs[shared] = kwargs[shared]
        cell = self.CELL(units, name=_CELL_NAMES[type(self).__name__], **kwargs)
        super().__init__(cell, **layer_kwargs)
        self.use_cudnn = use_cudnn  # zerograd has no cuDNN: kept for the attribute, never used

    def build(self, input_shape):
        if not isinstance(input_shape, list) and len(input_shape) != 3:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expected input of shape (batch, timesteps, "
                f"features), received shape {tuple(input_shape)}"
            )
        super().build(input_shape)

    def get_config(self):
        cell = {
            k: v
            for k, v in self.cell.get_config().items()
            if k not in ("name", "trainable", "dtype", "input_shape")
        }
        return {**self._rnn_config(), **cell, "activity_regularizer": None}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _delegate(name: str):
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's ``{name}``.")


for _attr in (
    "units",
    "activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "kernel",
    "recurrent_kernel",
    "bias",
):
    setattr(_BuiltinRNN, _attr, _delegate(_attr))


class SimpleRNN(_BuiltinRNN):
    """h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + bias), over a whole sequence."""

    CELL = SimpleRNNCell


class LSTM(_BuiltinRNN):
    """Long short-term memory, Keras gate order i, f, c, o; states [h, c]; forget bias starts at 1."""

    CELL = LSTMCell
    recurrent_activation = _delegate("recurrent_activation")
    unit_forget_bias = _delegate("unit_forget_bias")


class GRU(_BuiltinRNN):
    """Gated recurrent unit; reset_after=True (Keras's default) keeps a bias of (2, 3*units)."""

    CELL = GRUCell
    recurrent_activation = _delegate("recurrent_activation")
    reset_after = _delegate("reset_after")
