"""Keras's generic ``RNN(cell)`` layer: the time loop around a cell, with masks, states and
statefulness.

A built-in cell with its default activations, without a mask or recurrent dropout, runs through
zerograd's fused recurrent op (one op over the whole sequence); anything else runs step by step,
calling the cell once per time step. Masked steps keep the previous states, and output the
previous output (or zeros with ``zero_output_for_mask=True``), as Keras does.
"""

from __future__ import annotations

import numpy as np

from zerograd.keras import devices, mask_flow
from zerograd.keras.base import KerasTensor, Layer, _as_tensors
from zerograd.keras.layers.rnn_cells import StackedRNNCells, _Cell
from zerograd.ops.elementwise import where
from zerograd.ops.rnn import recurrent_layer
from zerograd.ops.shape import stack
from zerograd.tensor import Tensor


def _nest_map(fn, *trees):
    """Apply ``fn`` leaf by leaf over lists/tuples of the same structure."""
    if isinstance(trees[0], (list, tuple)):
        return [_nest_map(fn, *items) for items in zip(*trees)]
    return fn(*trees)


def _leaves(tree) -> list:
    return mask_flow._flat(tree)


def _select(keep, new, old):
    """``new`` where ``keep`` (a (batch,) boolean array) holds, else ``old``; any rank."""
    return where(keep.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)


def _zeros_like(t: Tensor) -> Tensor:
    return Tensor._make(t.xp.zeros(t.shape, t.dtype))


class RNN(Layer):
    """Runs ``cell`` over the time axis (axis 1) of its input.

    Example:
        >>> layer = RNN(LSTMCell(4), return_sequences=True)
        >>> layer(np.zeros((2, 5, 3), 'float32')).shape
        (2, 5, 4)
    """

    def __init__(
        self,
        cell,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs,
    ):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        super().__init__(**kwargs)
        if not callable(getattr(cell, "call", None)):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': cell must have a call() method, received {cell!r}"
            )
        size = getattr(cell, "state_size", None)
        if not isinstance(size, (int, list, tuple)):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': the cell needs a state_size (an integer or a "
                f"list of integers, one per state), received {size!r}"
            )
        self.cell = cell
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards, self.stateful, self.unroll = go_backwards, stateful, unroll
        self.zero_output_for_mask = zero_output_for_mask
        self.__dict__["_states"] = None

    # --- states ----------------------------------------------------------------------------------
    @property
    def state_size(self) -> list:
        size = self.cell.state_size
        return [size] if isinstance(size, int) else list(size)

    @property
    def states(self):
        """The states a stateful layer carries to its next call (None before its first call)."""
        return self.__dict__["_states"]

    @states.setter
    def states(self, value) -> None:
        self.__dict__["_states"] = value

    def get_initial_state(self, batch_size: int) -> list:
        """Zero states (or the cell's own ``get_initial_state``), one per entry of state_size."""
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is not None:
            state = fn(batch_size=batch_size)
            return list(state) if isinstance(state, (list, tuple)) else [state]
        dtype = np.dtype(getattr(self, "_input_dtype", None) or np.float32)

        def zeros(size):
            if isinstance(size, (list, tuple)):
                return [zeros(s) for s in size]
            size = (size,) if isinstance(size, int) else tuple(size)
            return Tensor(np.zeros((batch_size, *size), dtype=dtype), device=devices.current())

        return [zeros(s) for s in self.state_size]

    def reset_state(self) -> None:
        """Set a stateful layer's states back to zeros."""
        if self.states is not None:
            self.states = _nest_map(_zeros_like, self.states)

    def reset_states(self) -> None:
        """Alias of ``reset_state`` (Keras keeps both)."""
        self.reset_state()

    # --- calling ---------------------------------------------------------------------------------
    def __call__(self, inputs, *args, **kwargs):
        count = kwargs.pop("initial_state_count", None)
        if count:  # a functional graph passes symbolic initial states after the sequence
            inputs, kwargs["initial_state"] = inputs[0], list(inputs[1:])
        state = kwargs.get("initial_state")
        if state is not None and not isinstance(inputs, (list, tuple)):
            states = list(state) if isinstance(state, (list, tuple)) else [state]
            if any(isinstance(s, KerasTensor) for s in states):
                kwargs.pop("initial_state")
                inputs, kwargs["initial_state_count"] = [inputs, *states], len(states)
        kept = self.states
        out = super().__call__(inputs, *args, **kwargs)
        if any(isinstance(t, KerasTensor) for t in _leaves(inputs)):
            self.states = kept  # a symbolic call runs on zeros: those states are not the layer's
        return out

    def build(self, input_shape):
        nested = isinstance(input_shape, list) and isinstance(input_shape[0], (list, tuple))
        shapes = input_shape if nested else [input_shape]
        for s in shapes:
            if len(s) < 3:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}' expected input of shape (batch, timesteps, "
                    f"features), received shape {tuple(s)}"
                )
        steps = [(s[0], *s[2:]) for s in shapes]
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(steps if nested else steps[0])
            self.cell.built = True

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * len(self.state_size)
        return out

    def call(self, sequences, initial_state=None, mask=None, training=None):
        seqs = _leaves(sequences)
        batch, steps = seqs[0].shape[0], seqs[0].shape[1]
        self.__dict__["_input_dtype"] = seqs[0].dtype
        kernel = getattr(self.cell, "kernel", None)
        if kernel is not None and len(seqs) == 1 and seqs[0].shape[-1] != kernel.shape[0]:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expected input of shape (batch, timesteps, "
                f"{kernel.shape[0]}), received shape {tuple(seqs[0].shape)}"
            )
        states = self._initial_states(initial_state, batch)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if mask is not None:
            mask = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
            mask = mask.astype(bool).reshape(mask.shape[0], mask.shape[1])
        cell = self.cell
        if isinstance(cell, _Cell):
            cell.begin_sequence(seqs[0][:, 0], _leaves(states)[0], bool(training))
        try:
            mode = cell.fused_mode() if isinstance(cell, _Cell) else None
            if mode and mask is None and cell._rec_dp_mask is None and len(seqs) == 1 and steps:
                last, outputs, states = self._fused(mode, seqs[0], states)
            else:
                last, outputs, states = self._loop(sequences, states, mask, steps, training)
        finally:
            if isinstance(cell, _Cell):
                cell.end_sequence()
        if self.stateful:
            self.states = _nest_map(lambda s: s.detach(), states)
        out = outputs if self.return_sequences else last
        return [out, *states] if self.return_state else out

    def _initial_states(self, initial_state, batch: int) -> list:
        if initial_state is None:
            if self.stateful and self.states is not None:
                expected = _leaves(self.states)[0].shape[0]
                if expected != batch:
                    raise ValueError(
                        f"{type(self).__name__} '{self.name}' is stateful: expected batch size "
                        f"{expected} (that of its states), received {batch}"
                    )
                return list(self.states)
            return self.get_initial_state(batch)
        states = (
            list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        )
        if len(states) != len(self.state_size):
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expected {len(self.state_size)} initial "
                f"state(s), received {len(states)}"
            )
        states = _nest_map(lambda s: _as_tensors(s), states)
        for i, (state, size) in enumerate(zip(states, self.state_size)):
            if isinstance(size, int) and tuple(getattr(state, "shape", ())) != (batch, size):
                raise ValueError(
                    f"{type(self).__name__} '{self.name}' expected initial_state[{i}] of shape "
                    f"(batch, {size}) = {(batch, size)}, received shape "
                    f"{tuple(getattr(state, 'shape', ()))}"
                )
        return states

    def _fused(self, mode: str, x: Tensor, states: list) -> tuple:
        cell = self.cell
        if cell._dp_mask is not None:  # one dropout mask for every step, as Keras
            x = x * cell._dp_mask.reshape((x.shape[0], 1, -1))
        xs = x.swapaxes(0, 1)  # (T, B, F)
        if self.go_backwards:
            xs = xs[::-1]
        c0 = states[1] if mode == "lstm" else None
        ys, h, c = recurrent_layer(mode, xs, states[0], c0, *cell.fused_weights())
        return h, ys.swapaxes(0, 1), ([h, c] if mode == "lstm" else [h])

    def _loop(self, sequences, states: list, mask, steps: int, training) -> tuple:
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs, prev = [], None
        for t in order:
            x_t = _nest_map(lambda s, t=t: s[:, t], sequences)
            out, new = self._step(x_t, states, training)
            if not isinstance(new, (list, tuple)):
                new = [new]
            if mask is not None:
                keep = mask[:, t]
                if prev is None:
                    prev = _nest_map(_zeros_like, out)
                fallback = _nest_map(_zeros_like, out) if self.zero_output_for_mask else prev
                out = _nest_map(lambda n, o, keep=keep: _select(keep, n, o), out, fallback)
                new = _nest_map(lambda n, o, keep=keep: _select(keep, n, o), list(new), states)
            states, prev = list(new), out
            outputs.append(out)
        if not outputs:
            raise ValueError(f"{type(self).__name__} '{self.name}' received a sequence of 0 steps")
        last = outputs[-1]
        seq = None
        if self.return_sequences:
            seq = _nest_map(lambda *steps_: stack(list(steps_), axis=1), *outputs)
        return last, seq, states

    def _step(self, x_t, states, training):
        if isinstance(self.cell, _Cell):  # built-in cells: built already, no masks to route
            return self.cell.call(x_t, states, training=training)
        if isinstance(self.cell, Layer):
            return self.cell(x_t, states, training=training)
        return self.cell.call(x_t, states)

    # --- config ----------------------------------------------------------------------------------
    def _rnn_config(self) -> dict:
        return {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }

    def get_config(self):
        cell = {"class_name": type(self.cell).__name__, "config": self.cell.get_config()}
        return {**self._rnn_config(), "cell": cell}

    @classmethod
    def from_config(cls, config):
        from zerograd.keras.layers import deserialize

        config = dict(config)
        return cls(deserialize(config.pop("cell")), **config)
