"""Reading Keras configs into zerograd's built-in classes.

Real Keras writes keys for features zerograd does not have (LoRA, quantization, EMA).
Such a key is dropped only when it holds its neutral value (None, False, 0, Keras's default);
any other value is an error naming the class and key: nothing is accepted and silently ignored.
"""

from __future__ import annotations

import inspect

# Keras-only keys and the values that mean "feature off" (beyond None / False / 0 / empty)
NEUTRAL = {
    "moving_mean_initializer": "zeros",
    "moving_variance_initializer": "ones",
    "beta_initializer": "zeros",
    "gamma_initializer": "ones",
    "renorm_momentum": 0.99,
    "ema_momentum": 0.99,
    "data_format": "channels_last",
    "recurrent_activation": "sigmoid",
    "reset_after": True,
    "activation": "linear",
    "rms_scaling": False,
    "sparse": False,
    "ragged": False,
    "optional": False,
    "implementation": 2,
    "dtype": "float32",
    "lora_alpha": None,
    "axis": -1,  # a loss's class axis (layers that take axis accept it)
    "attention_axes": [1],  # what Keras records after building on (batch, seq, dim) inputs
}
NESTED = ("keras.initializers", "keras.regularizers", "keras.constraints")


def init_params(cls) -> set:
    """Keyword names ``cls(...)`` accepts, following ``**kwargs`` up the base classes."""
    names: set = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {
            p.name
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
        }
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    for value in vars(cls).values():  # arguments forwarded to a component class (an RNN's CELL)
        if inspect.isclass(value) and value is not cls and hasattr(value, "get_config"):
            names |= init_params(value)
    return names


def _dtype_name(v):
    if isinstance(v, dict) and v.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
        return v.get("config", {}).get("name", "float32")
    return v


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def is_neutral(key: str, value) -> bool:
    """True when a Keras-only ``key`` holds the value that leaves the feature off."""
    if value is None or value is False or value == 0 or value in ([], {}, ""):
        return True
    if key in NEUTRAL:
        want = NEUTRAL[key]
        value = list(value) if isinstance(value, tuple) else value
        if isinstance(value, dict) and isinstance(want, str):
            return _snake(value.get("class_name", "")) == want and not value.get("config")
        return value == want
    return False


def builtin_kwargs(cls, config: dict, custom_objects=None) -> dict:
    """``config`` (written by Keras or zerograd) as keyword arguments of zerograd's ``cls``."""
    from zerograd.keras.saving.serialization import deserialize_keras_object

    accepted = init_params(cls)
    out, refused = {}, []
    for key, value in config.items():
        value = _dtype_name(value) if key == "dtype" else value
        if key not in accepted:
            if not is_neutral(key, value):
                refused.append(f"{key}={value!r}")
            continue
        if isinstance(value, dict) and value.get("module") in NESTED:
            value = deserialize_keras_object(value, custom_objects)
        out[key] = value
    if refused:
        raise ValueError(
            f"{cls.__name__} '{config.get('name')}': zerograd does not support "
            f"{', '.join(refused)} (a Keras option without a zerograd equivalent)"
        )
    return out
