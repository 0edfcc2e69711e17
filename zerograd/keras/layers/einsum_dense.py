"""Keras EinsumDense: a dense layer whose contraction is an einsum equation, over ``keras.ops``'s
einsum; kernel and bias shapes as Keras derives them from the equation and ``output_shape``."""

from __future__ import annotations

import re

from zerograd.keras import activations, constraints, initializers, regularizers
from zerograd.keras.base import Layer
from zerograd.keras.ops.products import einsum

_EQUATION = re.compile(r"(\.\.\.)?([a-zA-Z]+)(\.\.\.)?,([a-zA-Z]+)->(\.\.\.)?([a-zA-Z]+)(\.\.\.)?")


class EinsumDense(Layer):
    """``einsum(equation, inputs, kernel) + bias``; e.g. ``EinsumDense('abc,cd->abd', (None, 64))``
    projects the last axis of (batch, T, C) inputs to 64.

    ``equation`` is ``X,W->Z``, ``...X,W->...Z`` or ``X...,W->Z...``; ``output_shape`` gives the
    output's sizes past the batch axis (None where an axis keeps the input's size); ``bias_axes``
    names the output letters the bias spans.

    Example:
        >>> EinsumDense('ab,bc->ac', 8, bias_axes='c')(zg.ones(2, 4)).shape
        (2, 8)
    """

    def __init__(self, equation: str, output_shape, activation=None, bias_axes=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        me = f"EinsumDense '{self.name}'"
        for arg, v in (("lora_rank", lora_rank), ("lora_alpha", lora_alpha),
                       ("quantization_config", quantization_config)):  # fmt: skip
            if v is not None:
                raise ValueError(f"{me}: {arg} is not supported, received {arg}={v!r}")
        match = _EQUATION.fullmatch(equation) if isinstance(equation, str) else None
        if (
            match is None
            or bool(match[1]) != bool(match[5])
            or bool(match[3]) != bool(match[7])
            or (match[1] and match[3])
        ):
            raise ValueError(
                f"{me}: equation must be 'X,W->Z', '...X,W->...Z' or 'X...,W->Z...', received "
                f"equation={equation!r}"
            )
        self._left, self._right = bool(match[1]), bool(match[3])
        self._x, self._w, self._z = match[2], match[4], match[6]
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        try:
            output_shape = tuple(output_shape)
        except TypeError:
            output_shape = None
        if output_shape is None or not all(
            d is None or (isinstance(d, int) and d > 0) for d in output_shape
        ):
            raise ValueError(
                f"{me}: output_shape must be an int or a tuple of positive ints or None, "
                f"received output_shape={output_shape!r}"
            )
        for c in self._w:
            if c not in self._x and c not in self._z:
                raise ValueError(
                    f"{me}: the kernel's letter {c!r} of equation {equation!r} appears in neither "
                    "the input nor the output"
                )
        for c in self._z:
            if c not in self._x and c not in self._w:
                raise ValueError(
                    f"{me}: the output's letter {c!r} of equation {equation!r} appears in neither "
                    "the input nor the kernel"
                )
        if bias_axes is not None and (
            not isinstance(bias_axes, str) or any(c not in self._z for c in bias_axes)
        ):
            raise ValueError(
                f"{me}: bias_axes must be letters of the output {self._z!r}, received "
                f"bias_axes={bias_axes!r}"
            )
        self.equation, self.partial_output_shape, self.bias_axes = equation, output_shape, bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def _sizes(self, input_shape) -> dict:
        """Each letter's size: the input's, then the output's from ``output_shape``."""
        me, x, z = f"EinsumDense '{self.name}'", self._x, self._z
        n = len(input_shape)
        if n < len(x) or (n != len(x) and not (self._left or self._right)):
            raise ValueError(
                f"EinsumDense '{self.name}': equation {self.equation!r} needs inputs of rank "
                f"{len(x)}{' or more' if self._left or self._right else ''}, received shape "
                f"{tuple(input_shape)}"
            )
        dims = input_shape[n - len(x) :] if self._left else input_shape[: len(x)]
        sizes = dict(zip(x, dims))
        # the output's sizes: the user's, after the batch axis (the ellipsis holds it when left)
        letters = z if self._left else z[1:]
        if len(self.partial_output_shape) != len(letters):
            raise ValueError(
                f"{me}: output_shape needs {len(letters)} sizes (for the output letters "
                f"{letters!r}), received output_shape={self.partial_output_shape}"
            )
        for c, d in zip(letters, self.partial_output_shape):
            if d is not None and c in sizes and sizes[c] != d:
                raise ValueError(
                    f"{me}: the input's size {sizes[c]} on axis {c!r} does not match "
                    f"output_shape's {d} (input shape {tuple(input_shape)})"
                )
            if c not in sizes:
                if d is None:
                    raise ValueError(
                        f"{me}: output_shape must give the size of the new output axis {c!r}, "
                        f"received output_shape={self.partial_output_shape}"
                    )
                sizes[c] = d
        return sizes

    def build(self, input_shape):
        sizes = self._sizes(input_shape)
        self.full_output_shape = (input_shape[0], *(sizes[c] for c in self._z[1:]))
        kernel = tuple(sizes[c] for c in self._w)
        self.add_weight(
            "kernel", kernel, self.kernel_initializer, self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )  # fmt: skip
        if self.bias_axes is not None:
            first = min(self._z.index(c) for c in self.bias_axes)
            shape = [sizes[c] if c in self.bias_axes else 1 for c in self._z[first:]]
            if self._right:  # the ellipsis trails the output: its axes broadcast
                shape += [1] * (len(input_shape) - len(self._x))
            self.add_weight(
                "bias", tuple(shape), self.bias_initializer, self.bias_regularizer,
                constraint=self.bias_constraint,
            )  # fmt: skip

    def _expanded(self, ndim: int) -> str:
        """The equation with its ellipsis spelled out in free letters."""
        used = set(self._x + self._w + self._z)
        free = [c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
        e = "".join(free[: ndim - len(self._x)])
        x = e + self._x if self._left else self._x + e
        z = e + self._z if self._left else self._z + e
        return f"{x},{self._w}->{z}"

    def call(self, inputs):
        if inputs.ndim < len(self._x) or (
            inputs.ndim != len(self._x) and not (self._left or self._right)
        ):
            raise ValueError(
                f"EinsumDense '{self.name}': equation {self.equation!r} needs inputs of rank "
                f"{len(self._x)}, received shape {inputs.shape}"
            )
        try:
            y = einsum(self._expanded(inputs.ndim), inputs, self.kernel)
        except ValueError as e:
            raise ValueError(
                f"EinsumDense '{self.name}': inputs of shape {tuple(inputs.shape)} do not fit "
                f"the kernel of shape {tuple(self.kernel.shape)} ({e})"
            ) from None
        if self.bias_axes is not None:
            y = y + self.bias
        return self.activation(y)

    def get_config(self):
        return {
            **super().get_config(),
            "output_shape": self.partial_output_shape,
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": None
            if self.activity_regularizer is None
            else regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "quantization_config": None,
        }
