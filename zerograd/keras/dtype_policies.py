"""Keras 3's dtype policies (``keras.dtype_policies``): the dtype of a layer's weights and of its
computation. zerograd runs the single-dtype policies ("float16", "float32", "float64") and the
mixed one "mixed_float16" (float32 weights, float16 computation, see ``autocast_scope``);
bfloat16 policies raise an error: NumPy holds bfloat16 only through ml_dtypes, whose matmul
returns float32, so zerograd's ops cannot compute in it."""

from __future__ import annotations

from zerograd import backend
from zerograd.tensor import Tensor

SUPPORTED = ("float16", "float32", "float64", "mixed_float16")
_MIXED = {"mixed_float16": ("float16", "float32")}  # name -> (compute dtype, variable dtype)
_BFLOAT16 = ("mixed_bfloat16", "bfloat16")
_global: list = [None]  # the policy set by keras.config.set_dtype_policy (None: floatx)


class DTypePolicy:
    """A dtype policy: the dtype of a layer's computation and of its weights.

    ``DTypePolicy("float64")`` keeps both in float64; ``DTypePolicy("mixed_float16")`` keeps the
    weights in float32 and computes in float16 (Keras's mixed precision).

    Example:
        >>> keras.layers.Dense(2, dtype="mixed_float16").compute_dtype
        'float16'
    """

    def __init__(self, name: str | None = None):
        name = dtype_policy().name if name is None else name
        check_name(name, "DTypePolicy")
        self._name = name
        self._compute_dtype, self._variable_dtype = _MIXED.get(name, (name, name))

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        """The dtype of the layer's computations (its float inputs are cast to it)."""
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype of the layer's weights (read in ``compute_dtype`` inside ``call``)."""
        return self._variable_dtype

    @property
    def quantization_mode(self):
        return None

    def get_config(self) -> dict:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict) -> DTypePolicy:
        return cls(**config)

    def __eq__(self, other) -> bool:
        return isinstance(other, DTypePolicy) and other.name == self.name

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'


FloatDTypePolicy = DTypePolicy


def check_name(name, owner: str) -> None:
    """Raise a clear error for a policy zerograd does not run."""
    if isinstance(name, str) and name in SUPPORTED:
        return
    if not isinstance(name, str):
        raise TypeError(
            f"{owner}: expected a dtype policy name such as 'mixed_float16', received "
            f"{type(name).__name__} {name!r}"
        )
    if name in _BFLOAT16:
        raise ValueError(
            f"{owner}: the policy {name!r} computes in bfloat16, which zerograd's NumPy ops "
            "cannot compute in (NumPy holds bfloat16 only through ml_dtypes); use "
            "'mixed_float16' for mixed precision, or one of 'float16', 'float32', 'float64'"
        )
    raise ValueError(f"{owner}: expected a dtype policy among {list(SUPPORTED)}, received {name!r}")


def floatx() -> str:
    """The default float dtype, as Keras's ``keras.config.floatx()``."""
    return str(backend.get_default_dtype())


def get(identifier, owner: str = "dtype_policies.get") -> DTypePolicy:
    """A policy from None (the global one), a name, a NumPy dtype, a config dict or a policy."""
    if identifier is None:
        return _global[0] or DTypePolicy(floatx())
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        if identifier.get("class_name") not in ("DTypePolicy", "FloatDTypePolicy"):
            raise ValueError(f"{owner}: expected a DTypePolicy config, received {identifier!r}")
        identifier = identifier.get("config", {}).get("name")
    if not isinstance(identifier, str):
        import numpy as np

        try:
            identifier = np.dtype(identifier).name
        except TypeError:
            raise ValueError(
                f"{owner}: expected a dtype policy name such as 'float32', received {identifier!r}"
            ) from None
    check_name(identifier, owner)
    return DTypePolicy(identifier)


def serialize(policy: DTypePolicy) -> dict:
    """Keras 3's serialized form of a policy."""
    return {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": policy.get_config(),
        "registered_name": None,
    }


def deserialize(config: dict) -> DTypePolicy:
    """The policy of ``serialize``'s dict."""
    return get(config, "dtype_policies.deserialize")


def set_dtype_policy(policy) -> None:
    """Set the policy of the layers made afterwards without ``dtype=`` (None resets it)."""
    _global[0] = None if policy is None else get(policy, "set_dtype_policy")


def dtype_policy() -> DTypePolicy:
    """The global policy (``floatx()`` unless ``set_dtype_policy`` changed it)."""
    return get(None)


class LayerDTypeMixin:
    """A layer's dtype policy: ``dtype`` (its weights'), ``compute_dtype`` and input casting."""

    def _init_dtype(self, dtype, autocast: bool) -> None:
        owner = f"{type(self).__name__} '{self.name}': dtype"
        self.__dict__["_dtype_policy"] = get(dtype, owner)
        self.__dict__["autocast"] = bool(autocast)

    @property
    def dtype_policy(self) -> DTypePolicy:
        return self.__dict__["_dtype_policy"]

    @dtype_policy.setter
    def dtype_policy(self, value) -> None:
        self.__dict__["_dtype_policy"] = get(value, f"{type(self).__name__} '{self.name}'")

    @property
    def dtype(self) -> str:
        """The dtype of the layer's weights (Keras: the policy's variable dtype)."""
        return self.dtype_policy.variable_dtype

    @property
    def variable_dtype(self) -> str:
        return self.dtype_policy.variable_dtype

    @property
    def compute_dtype(self) -> str:
        """The dtype the layer computes in: its float inputs are cast to it."""
        return self.dtype_policy.compute_dtype

    @property
    def input_dtype(self) -> str:
        return self.dtype_policy.compute_dtype

    def _autocasts(self) -> bool:
        return self.autocast

    def _array_float_dtype(self):
        """The dtype float64 NumPy inputs become (None: the default float dtype)."""
        return self.compute_dtype if self._autocasts() else None

    def _cast_inputs(self, x):
        """Float tensors in ``x`` (lists, tuples, dicts too) cast to ``compute_dtype``, as Keras
        converts a layer's inputs; integer and boolean ones stay; Keras masks ride along."""
        if isinstance(x, (list, tuple)):
            return type(x)(self._cast_inputs(t) for t in x)
        if isinstance(x, dict):
            return {k: self._cast_inputs(v) for k, v in x.items()}
        if not isinstance(x, Tensor):
            return x
        if x.dtype.kind != "f" or str(x.dtype) == self.compute_dtype:
            return x
        mask = getattr(x, "_keras_mask", None)
        y = x.astype(self.compute_dtype)
        if mask is not None:
            y._keras_mask = mask
        return y
