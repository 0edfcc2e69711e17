"""Parameter: a leaf Tensor that a Module registers and an optimizer updates."""

from __future__ import annotations

from zerograd.tensor import Tensor


class Parameter(Tensor):
    """A trainable tensor (``requires_grad=True`` by default).

    ``Parameter.uninitialized()`` makes a placeholder whose shape is learnt on a layer's first call
    (lazy layers, as Keras builds them); ``materialize`` fills it.

    Example:
        >>> w = nn.Parameter(zg.zeros(3, 4))
        >>> w.requires_grad
        True
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:  # uninitialized placeholder
            self.data, self.grad, self.creator, self.name = None, None, None, None
            self.requires_grad = requires_grad
            return
        super().__init__(data.data if isinstance(data, Tensor) else data)
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def uninitialized(cls, requires_grad: bool = True) -> Parameter:
        return cls(None, requires_grad)

    @property
    def is_uninitialized(self) -> bool:
        return self.data is None

    def materialize(self, value) -> Parameter:
        """Give a placeholder its data (a Tensor or array)."""
        self.data = value.data if isinstance(value, Tensor) else value
        return self

    def __repr__(self) -> str:
        if self.data is None:
            return "Parameter(<uninitialized>)"
        return "Parameter containing:\n" + super().__repr__()
