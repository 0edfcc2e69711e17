"""Helpers shared by the mixed-precision tests (zerograd and real Keras side by side)."""

import numpy as np
import pytest

from zerograd import keras

RNG = np.random.default_rng(7)
X = RNG.standard_normal((64, 8)).astype("float32")
Y = RNG.integers(0, 3, 64)
F16 = dict(rtol=2e-3, atol=2e-3)  # float16 computation: ~3 decimal digits


def np_(t):
    if hasattr(t, "detach") and hasattr(t, "cpu"):
        return t.detach().cpu().numpy()
    return np.asarray(t.numpy() if hasattr(t, "numpy") else t)


def scalar(v) -> float:
    return float(np.asarray(np_(v)).reshape(-1)[0])


@pytest.fixture(autouse=True)
def restore_policies(real_keras):
    """Every test starts and ends with the float32 policy, in zerograd and in real Keras."""
    keras.config.set_dtype_policy(None)
    real_keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy(None)
    real_keras.config.set_dtype_policy("float32")


def both(real_keras, policy="mixed_float16"):
    """zerograd.keras and real Keras, both with the global ``policy``."""
    keras.mixed_precision.set_global_policy(policy)
    real_keras.mixed_precision.set_global_policy(policy)
    return keras, real_keras
