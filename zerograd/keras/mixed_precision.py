"""``keras.mixed_precision``: Keras's older names for the global dtype policy. zerograd runs the
single-dtype policies; "mixed_float16" and "mixed_bfloat16" raise an error."""

from zerograd.keras.dtype_policies import DTypePolicy
from zerograd.keras.dtype_policies import dtype_policy as global_policy
from zerograd.keras.dtype_policies import set_dtype_policy as set_global_policy

Policy = DTypePolicy

__all__ = ["DTypePolicy", "Policy", "global_policy", "set_global_policy"]
