"""Keras layer wrappers: TimeDistributed (a layer on every time step) and Bidirectional (an RNN
forward and a copy of it backward in time)."""

from __future__ import annotations

import copy

from zerograd.keras import mask_flow
from zerograd.keras.base import Layer
from zerograd.ops.shape import concat


class TimeDistributed(Layer):
    """Applies ``layer`` to every step of axis 1: (batch, time, ...) -> (batch, time, ...).

    Example:
        >>> TimeDistributed(Dense(8))(np.zeros((2, 5, 3), 'float32')).shape
        (2, 5, 8)
    """

    supports_masking = True

    def __init__(self, layer: Layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(
                f"TimeDistributed '{self.name}': layer must be a keras Layer, received {layer!r}"
            )
        self.layer = layer

    def call(self, inputs, training=None, mask=None):
        if inputs.ndim < 3:
            raise ValueError(
                f"TimeDistributed '{self.name}' expected input of at least 3 axes (batch, time, "
                f"...), received shape {tuple(inputs.shape)}"
            )
        batch, steps = inputs.shape[0], inputs.shape[1]
        if mask is not None and tuple(mask.shape[:2]) != (batch, steps):
            raise ValueError(
                f"TimeDistributed '{self.name}' expected a mask of shape ({batch}, {steps}, ...), "
                f"received shape {tuple(mask.shape)}"
            )
        # the batch and time axes merge into one: the wrapped layer sees (batch * time, ...)
        flat = inputs.reshape((batch * steps, *inputs.shape[2:]))
        kwargs = {"training": training}
        if mask is not None and mask_flow.call_takes_mask(self.layer):
            kwargs["mask"] = mask.reshape((batch * steps, *mask.shape[2:]))
        out = self.layer(flat, **kwargs)
        return out.reshape((batch, steps, *out.shape[1:]))

    def get_config(self):
        layer = {"class_name": type(self.layer).__name__, "config": self.layer.get_config()}
        return {**super().get_config(), "layer": layer}

    @classmethod
    def from_config(cls, config):
        from zerograd.keras.layers import deserialize

        config = dict(config)
        return cls(deserialize(config.pop("layer")), **config)


def _copy_rnn(layer, name: str, go_backwards: bool):
    """A fresh copy of an RNN layer (Keras rebuilds it from its config) under a new name."""
    cfg = {k: v for k, v in layer.get_config().items() if k != "input_shape"}
    cfg.update(name=name, go_backwards=go_backwards)
    try:
        return type(layer).from_config(cfg)
    except ValueError:  # a cell that the config cannot name: copy the (unbuilt) object instead
        new = copy.deepcopy(layer)
        new.name, new.go_backwards = name, go_backwards
        return new


def _strip(name: str, prefix: str) -> str:
    return name[len(prefix) :] if name.startswith(prefix) else name


class Bidirectional(Layer):
    """Runs an RNN layer forward and a copy backward in time; merges with concat|sum|ave|mul|None."""

    supports_masking = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if not hasattr(layer, "go_backwards") or not isinstance(layer, Layer):
            raise ValueError(
                f"Bidirectional '{self.name}': layer must be an RNN layer, received {layer!r}"
            )
        if merge_mode not in ("concat", "sum", "ave", "mul", None):
            raise ValueError(
                f"Bidirectional '{self.name}': merge_mode must be concat|sum|ave|mul|None, "
                f"received {merge_mode!r}"
            )
        if weights is not None:
            raise ValueError(f"Bidirectional '{self.name}': weights= is not supported")
        self.forward_layer = _copy_rnn(
            layer, "forward_" + _strip(layer.name, "forward_"), layer.go_backwards
        )
        if backward_layer is None:
            backward_layer = _copy_rnn(
                layer, "backward_" + _strip(layer.name, "backward_"), not layer.go_backwards
            )
        self.backward_layer = backward_layer
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(self.forward_layer, attr) != getattr(backward_layer, attr):
                raise ValueError(
                    f"Bidirectional '{self.name}': the forward and backward layers must have the "
                    f"same {attr}"
                )
        if self.forward_layer.go_backwards == backward_layer.go_backwards:
            raise ValueError(
                f"Bidirectional '{self.name}': the forward and backward layers must have "
                "different go_backwards"
            )
        for rnn in (self.forward_layer, self.backward_layer):  # masked steps output zeros
            if hasattr(rnn, "zero_output_for_mask"):
                rnn.zero_output_for_mask = rnn.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful

    @property
    def states(self):
        f, b = self.forward_layer.states, self.backward_layer.states
        return tuple(list(f) + list(b)) if f and b else None

    def call(self, inputs, initial_state=None, mask=None, training=None):
        kwargs = {"training": training}
        if mask is not None:
            kwargs["mask"] = mask
        fwd_state = bwd_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fwd_state, bwd_state = list(initial_state[:half]), list(initial_state[half:])
        y = self.forward_layer(inputs, initial_state=fwd_state, **kwargs)
        y_rev = self.backward_layer(inputs, initial_state=bwd_state, **kwargs)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        if self.merge_mode is None:
            return [y, y_rev, *states]
        merged = {
            "concat": lambda: concat([y, y_rev], axis=-1),
            "sum": lambda: y + y_rev,
            "ave": lambda: (y + y_rev) * 0.5,
            "mul": lambda: y * y_rev,
        }[self.merge_mode]()
        return [merged, *states] if self.return_state else merged

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if self.return_sequences:
            out = [mask, mask] if self.merge_mode is None else [mask]
        else:
            out = [None, None] if self.merge_mode is None else [None]
        if self.return_state:
            n = len(self.forward_layer.state_size) + len(self.backward_layer.state_size)
            return out + [None] * n
        return out if self.merge_mode is None else out[0]

    def reset_state(self) -> None:
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self) -> None:
        self.reset_state()

    def get_config(self):
        def spec(layer):
            return {"class_name": type(layer).__name__, "config": layer.get_config()}

        return {
            **super().get_config(),
            "merge_mode": self.merge_mode,
            "layer": spec(self.forward_layer),
            "backward_layer": spec(self.backward_layer),
        }

    @classmethod
    def from_config(cls, config):
        from zerograd.keras.layers import deserialize

        config = dict(config)
        layer = deserialize(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        return cls(layer, backward_layer=deserialize(backward) if backward else None, **config)
