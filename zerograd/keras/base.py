"""The Keras layer protocol over zerograd.nn.Module: names, lazy build, symbolic calls, config."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict

import numpy as np

from zerograd import backend
from zerograd.autograd import no_grad
from zerograd.nn.module import Module
from zerograd.nn.parameter import Parameter
from zerograd.tensor import Tensor

_name_counts: dict = defaultdict(int)
_creation = itertools.count()


def unique_name(base: str) -> str:
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().replace("2_d", "2d").replace("1_d", "1d")


class KerasTensor:
    """A symbolic tensor of a functional model: a shape (batch axis None) and the layer call that
    produced it."""

    def __init__(self, shape, layer=None, inbound=None, kwargs=None, name=None):
        self.shape = tuple(shape)
        self.layer, self.inbound, self.kwargs = layer, inbound, kwargs or {}
        self.name = name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, name={self.name}>"


def _flatten(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _is_symbolic(x) -> bool:
    return any(isinstance(t, KerasTensor) for t in _flatten(x))


def _dummy(kt: KerasTensor, batch: int = 2):
    shape = tuple(batch if d is None else d for d in kt.shape)
    dtype = getattr(kt, "dtype", None) or backend.get_default_dtype()
    return Tensor(np.zeros(shape, dtype=dtype))


class Layer(Module):
    """Base of Keras layers: built on first call from the input shape; callable on KerasTensors."""

    def __init__(
        self,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
        input_shape=None,
        input_dim=None,
        **kwargs,
    ):
        super().__init__()
        kwargs.pop("batch_input_shape", None)
        kwargs.pop("autocast", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._input_shape_arg = tuple(input_shape) if input_shape is not None else None
        self.built = False
        self._trainable = trainable
        self.creation_index = next(_creation)
        self.output_shape_seen = None

    # --- weights ---------------------------------------------------------------------------------
    def add_weight(
        self, name: str, shape, initializer="zeros", regularizer=None, trainable: bool = True
    ) -> Parameter:
        from zerograd.keras import initializers, regularizers

        p = Parameter(
            initializers.get(initializer)(tuple(shape)), requires_grad=trainable and self._trainable
        )
        setattr(self, name, p)
        if regularizer is not None:
            self.__dict__.setdefault("_regularizers", []).append((regularizers.get(regularizer), p))
        return p

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = value
        for m in self.modules():
            if isinstance(m, Layer):
                m.__dict__["_trainable"] = value
        self.requires_grad_(value)

    @property
    def weights(self) -> list:
        return list(self.parameters())

    @property
    def trainable_weights(self) -> list:
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def losses(self) -> list:
        """Regularisation penalties of this layer and the layers inside it."""
        out = []
        for m in self.modules():
            for reg, p in m.__dict__.get("_regularizers", ()):
                out.append(reg(p))
        return out

    def get_weights(self) -> list:
        """Weights as NumPy arrays in Keras layouts."""
        return [p.numpy().copy() for p in self.parameters()]

    def set_weights(self, weights) -> None:
        params = list(self.parameters())
        if len(weights) != len(params):
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expected {len(params)} weight arrays, received {len(weights)}"
            )
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if w.shape != p.shape:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}' expected a weight of shape {p.shape}, received {w.shape}"
                )
            p.copy_(w.astype(p.dtype))

    def count_params(self) -> int:
        return sum(p.size for p in self.parameters())

    # --- calling ---------------------------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights once the input shape (batch axis included) is known."""

    def call(self, inputs, training=None, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define call()")

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def _ensure_built(self, inputs) -> None:
        if not self.built:
            shapes = [tuple(t.shape) for t in _flatten(inputs)]
            self.build(shapes if isinstance(inputs, (list, tuple)) else shapes[0])
            self.built = True

    def __call__(self, inputs, *args, **kwargs):
        if _is_symbolic(inputs):
            return self._symbolic_call(inputs, kwargs)
        inputs = _as_tensors(inputs)
        self._ensure_built(inputs)
        training = kwargs.pop("training", None)
        if self._accepts_training():  # explicit training= wins; else the mode set by train()/eval()
            kwargs["training"] = self.training if training is None else training
        out = self.call(inputs, *args, **kwargs)
        first = _flatten(out)[0]
        self.output_shape_seen = (None, *first.shape[1:]) if hasattr(first, "shape") else None
        return out

    def _accepts_training(self) -> bool:
        cls = type(self)
        if "_takes_training" not in cls.__dict__:
            import inspect

            cls._takes_training = "training" in inspect.signature(cls.call).parameters
        return cls._takes_training

    def _symbolic_call(self, inputs, kwargs):
        """Run the layer once on zeros of the symbolic shape to learn the output shape."""
        dummies = [_dummy(t) for t in _flatten(inputs)]
        with no_grad():
            was = self.training
            self.eval()
            out = self(dummies if isinstance(inputs, (list, tuple)) else dummies[0], **kwargs)
            self.train(was)
        outs = _flatten(out)
        made = [
            KerasTensor((None, *o.shape[1:]), self, inputs, kwargs, name=f"{self.name}_out{i}")
            for i, o in enumerate(outs)
        ]
        for kt, o in zip(made, outs):
            kt.dtype = o.dtype
        return made if isinstance(out, (list, tuple)) else made[0]

    # --- config ----------------------------------------------------------------------------------
    def get_config(self) -> dict:
        cfg = {"name": self.name, "trainable": self.trainable}
        if self._input_shape_arg is not None:
            cfg["input_shape"] = list(self._input_shape_arg)
        return cfg

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _as_tensors(x):
    if isinstance(x, (list, tuple)):
        return [_as_tensors(t) for t in x]
    if isinstance(x, Tensor):
        return x
    a = np.asarray(x)
    if a.dtype == np.float64:
        a = a.astype(backend.get_default_dtype())
    return Tensor(a)


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        if shape is None and "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        super().__init__(name=name or unique_name("input_layer"))
        self.shape = tuple(shape)
        self.input_dtype = dtype

    def call(self, inputs, training=None):
        return inputs

    def get_config(self):
        return {"name": self.name, "shape": list(self.shape), "dtype": self.input_dtype}


def Input(shape=None, batch_size=None, dtype=None, name=None, **kwargs) -> KerasTensor:  # noqa: N802
    """A symbolic input of a functional model: ``inputs = keras.Input(shape=(784,))``."""
    if shape is None:
        shape = kwargs.pop("batch_shape", [None])[1:]
    layer = InputLayer(shape, batch_size, dtype, name)
    kt = KerasTensor((None, *tuple(shape)), layer, None, name=layer.name)
    kt.creation_index = layer.creation_index
    kt.dtype = np.dtype(dtype) if dtype else backend.get_default_dtype()
    return kt
