"""``keras.mixed_precision``: Keras's names for the global dtype policy and the loss scaling of
float16 training. ``set_global_policy("mixed_float16")`` makes later layers keep float32 weights
and compute in float16; ``compile`` then wraps the optimizer in a ``LossScaleOptimizer``.

Example:
    >>> keras.mixed_precision.set_global_policy("mixed_float16")
    >>> keras.layers.Dense(2).compute_dtype
    'float16'
    >>> keras.mixed_precision.set_global_policy("float32")
"""

from zerograd.keras.dtype_policies import DTypePolicy
from zerograd.keras.dtype_policies import dtype_policy as global_policy
from zerograd.keras.dtype_policies import set_dtype_policy as set_global_policy
from zerograd.keras.optimizers.loss_scale_optimizer import LossScaleOptimizer

Policy = DTypePolicy
set_dtype_policy = set_global_policy
dtype_policy = global_policy

__all__ = [
    "DTypePolicy",
    "LossScaleOptimizer",
    "Policy",
    "dtype_policy",
    "global_policy",
    "set_dtype_policy",
    "set_global_policy",
]
