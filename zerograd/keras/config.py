"""``keras.config`` (and ``keras.backend``'s helpers): global settings of the Keras facade."""

from __future__ import annotations

import numpy as np

from zerograd import backend as _backend
from zerograd.keras.dtype_policies import dtype_policy, floatx, set_dtype_policy

_epsilon = [1e-7]

__all__ = [
    "backend",
    "clear_session",
    "dtype_policy",
    "enable_unsafe_deserialization",
    "epsilon",
    "floatx",
    "image_data_format",
    "set_dtype_policy",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
]


def backend() -> str:
    """The name of the array engine under the facade: ``"zerograd"``."""
    return "zerograd"


def epsilon() -> float:
    """The fuzz factor Keras code adds to denominators (1e-7 unless set)."""
    return _epsilon[0]


def set_epsilon(value: float) -> None:
    """Set the value ``epsilon()`` returns."""
    if isinstance(value, (str, bytes, bool)) or not isinstance(value, (int, float, np.number)):
        raise ValueError(
            f"set_epsilon: expected a float, received {type(value).__name__} {value!r}"
        )
    _epsilon[0] = float(value)


def set_floatx(value: str) -> None:
    """Set the default float dtype ("float16", "float32" or "float64")."""
    if value not in ("float16", "float32", "float64"):
        raise ValueError(
            f"set_floatx: expected 'float16', 'float32' or 'float64', received {value!r}"
        )
    _backend.set_default_dtype(value)


def image_data_format() -> str:
    """The images' layout the layers default to: always ``"channels_last"`` here."""
    return "channels_last"


def set_image_data_format(value: str) -> None:
    """Only ``"channels_last"``: layers take ``data_format="channels_first"`` one by one."""
    if value != "channels_last":
        raise ValueError(
            "set_image_data_format: zerograd's Keras layers default to 'channels_last'; give "
            f"data_format='channels_first' to each layer instead (received {value!r})"
        )


def enable_unsafe_deserialization() -> None:
    """Refused: zerograd never runs code from a saved file, so there is nothing to enable."""
    raise ValueError(
        "enable_unsafe_deserialization: zerograd never loads code (lambdas, bytecode) from a "
        "file; register the function with keras.saving.register_keras_serializable instead"
    )


def clear_session() -> None:
    """Forget the layer names given so far, so new layers are named from ``dense`` again."""
    from zerograd.keras import base

    base._name_counts.clear()
