"""Differentiable ops, one topic a file; all re-exported here and as ``zerograd.<name>``."""

from zerograd.ops import index
from zerograd.ops.activation import erf, erfinv, log_softmax, softmax
from zerograd.ops.creation import (
    arange,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from zerograd.ops.elementwise import (
    abs,
    add,
    cast,
    clip,
    copy,
    cos,
    div,
    eq,
    exp,
    ge,
    gt,
    isfinite,
    isnan,
    le,
    log,
    logical_and,
    logical_not,
    logical_or,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    relu,
    sigmoid,
    sign,
    sin,
    sqrt,
    sub,
    tanh,
    to_device,
    where,
)
from zerograd.ops.fold import fold, unfold
from zerograd.ops.index import getitem, take_along_axis
from zerograd.ops.inverse_trig import arccos, arcsin, arctan, arctan2
from zerograd.ops.linalg import det, inv, matmul, solve
from zerograd.ops.reduce import (
    argmax,
    argmin,
    logsumexp,
    max,
    max_with_indices,
    mean,
    min,
    min_with_indices,
    std,
    sum,
    topk,
    var,
)
from zerograd.ops.shape import (
    broadcast_to,
    concat,
    expand_dims,
    flatten,
    pad,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    tile,
    transpose,
)

__all__ = [n for n in dir() if not n.startswith("_")]
