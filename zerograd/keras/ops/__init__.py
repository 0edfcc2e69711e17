"""``keras.ops``: Keras 3's backend-agnostic ops over zerograd Tensors (differentiable where Keras's
are); an op given a symbolic ``KerasTensor`` adds a layer to the functional model instead."""

from zerograd.keras.ops import core, linalg, math, nn, numpy  # noqa: F401
from zerograd.keras.ops.activations import *  # noqa: F403
from zerograd.keras.ops.array import *  # noqa: F403
from zerograd.keras.ops.blocks import *  # noqa: F403
from zerograd.keras.ops.conv import *  # noqa: F403
from zerograd.keras.ops.core import (  # noqa: F401
    associative_scan,
    cast,
    cond,
    convert_to_numpy,
    convert_to_tensor,
    custom_gradient,
    dtype,
    fori_loop,
    is_tensor,
    map,
    ndim,
    saturate_cast,
    scan,
    scatter,
    scatter_update,
    shape,
    slice,
    slice_update,
    stop_gradient,
    switch,
    vectorize,
    vectorized_map,
    while_loop,
)
from zerograd.keras.ops.creation import *  # noqa: F403
from zerograd.keras.ops.elementwise import *  # noqa: F403
from zerograd.keras.ops.linalg import *  # noqa: F403
from zerograd.keras.ops.logic import *  # noqa: F403
from zerograd.keras.ops.math import *  # noqa: F403
from zerograd.keras.ops.nn import *  # noqa: F403
from zerograd.keras.ops.products import *  # noqa: F403
from zerograd.keras.ops.reduction import *  # noqa: F403
from zerograd.keras.ops.search import *  # noqa: F403
from zerograd.keras.ops.statistics import *  # noqa: F403
from zerograd.keras.ops.trigonometry import *  # noqa: F403
