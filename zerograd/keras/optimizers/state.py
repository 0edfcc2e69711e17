"""The state of a Keras optimizer in Keras's own layout: per-variable slot arrays, created in the
order Keras creates its optimizer variables, so that .keras files are read and written by copy."""

from __future__ import annotations

import numpy as np

from zerograd import backend
from zerograd.tensor import Tensor


def param_of(variable):
    """The parameter behind a Keras variable (zerograd's Variable is its own value)."""
    return variable if isinstance(variable, Tensor) else getattr(variable, "value", variable)


class SlotState:
    """Slot arrays keyed by parameter (``self._state[p][name]``), the built variables in order
    (``self._variables``) and optimizer-wide extras (``self._extra``)."""

    def slot_groups(self) -> list:
        """[(slot name, ...)]: the per-variable slots, each tuple interleaved as Keras creates
        them (``add_optimizer_variables(variables, [names])``)."""
        return []

    def slot_initial_value(self, name: str) -> float:
        """The value a slot starts at (zeros unless an optimizer says otherwise)."""
        return 0.0

    def build(self, variables) -> None:
        """Create the slot arrays of ``variables`` (Keras: once; zerograd adds later ones)."""
        base = [("average",)] if self.use_ema else []  # Keras creates these first
        base += [("gradient_accumulator",)] if self.gradient_accumulation_steps else []
        self._slot_groups = base + [tuple(g) for g in self.slot_groups()]
        params = [param_of(v) for v in variables]
        for p in params:
            if p in self._state:
                continue
            xp = backend.namespace(p.data)
            self._state[p] = {
                name: xp.full(p.shape, self.slot_initial_value(name), dtype=p.data.dtype)
                for group in self._slot_groups
                for name in group
            }
            self._variables.append(p)
        self.built = True

    def slot_arrays(self) -> list:
        """[(slot name, array)] in the order Keras keeps its optimizer variables (after
        ``iteration`` and ``learning_rate``)."""
        out = []
        for group in self._slot_groups:
            out += [(name, self._state[p][name]) for p in self._variables for name in group]
        return out + list(self._extra.items())

    def state_arrays(self) -> list:
        """[(name, array)]: Keras's ``optimizer.variables`` as written to .keras files:
        ``iteration``, ``learning_rate`` (absent with a schedule or callable), then the slots."""
        out = [("iteration", np.asarray(self._iterations, dtype=np.int64))]
        if not callable(self._learning_rate):
            out.append(("learning_rate", np.asarray(self._learning_rate, dtype=np.float32)))
        return out + [(name, backend.to_numpy(a)) for name, a in self.slot_arrays()]

    def set_state_arrays(self, arrays: list, variables=None) -> None:
        """Restore ``state_arrays()``'s list (read from a Keras file); the slots need the
        optimizer built, on ``variables`` when it is not yet."""
        if not arrays:
            return
        self._iterations = int(np.asarray(arrays[0]).reshape(-1)[0])
        slots = arrays[1:] if callable(self._learning_rate) else arrays[2:]
        if slots:
            if not self.built and variables is not None:
                self.build(variables)
            self.set_slot_arrays(slots)

    def set_slot_arrays(self, arrays: list) -> None:
        """Set the slots from arrays in ``slot_arrays()``'s order (as read from a Keras file)."""
        names = [name for name, _ in self.slot_arrays()]
        if len(arrays) != len(names):
            raise ValueError(
                f"{type(self).__name__}: expected {len(names)} slot variables ({names[:4]}...), "
                f"received {len(arrays)}"
            )
        it = iter(arrays)
        for group in self._slot_groups:
            for p in self._variables:
                for name in group:
                    self._state[p][name] = self._as_state(next(it), p.data, f"slot {name!r}")
        for name, old in list(self._extra.items()):
            self._extra[name] = self._as_state(next(it), old, name)

    @staticmethod
    def _as_state(value, like, what: str):
        value = backend.to_numpy(value.data if isinstance(value, Tensor) else value)
        if tuple(value.shape) != tuple(like.shape):
            raise ValueError(
                f"optimizer {what}: expected shape {tuple(like.shape)}, received {value.shape}"
            )
        return backend.to_device(value.astype(like.dtype), backend.device_of(like)).copy()
