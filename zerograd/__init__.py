"""zerograd: a deep-learning framework written from scratch over NumPy (CuPy on GPUs)."""

from zerograd import backend
from zerograd.tensor import Tensor
from zerograd import autograd
from zerograd.autograd import enable_grad, is_grad_enabled, no_grad
from zerograd.backend import (
    bool_, float16, float32, float64, get_default_dtype, int32, int64, set_default_dtype,
)
from zerograd.ops import *  # noqa: F403 - the functional API: zg.exp, zg.matmul, zg.zeros ...
from zerograd import nn, utils

__version__ = "0.1.0"
