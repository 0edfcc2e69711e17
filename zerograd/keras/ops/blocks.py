"""Image blocks: depth_to_space / space_to_depth, unfold / fold (im2col), adaptive pooling."""

from __future__ import annotations

import zerograd as zg
from zerograd.keras.ops.conv import _prepare
from zerograd.keras.ops.core import float_tensor, tensor
from zerograd.keras.ops.symbolic import symbolic
from zerograd.nn import functional as F
from zerograd.tensor import Tensor

__all__ = [
    "depth_to_space",
    "space_to_depth",
    "unfold",
    "fold",
    "adaptive_average_pool",
    "adaptive_max_pool",
]


def _image(x, data_format, block_size: int, op: str) -> tuple[Tensor, bool]:
    x = tensor(x)
    if x.ndim != 4:
        raise ValueError(
            f"{op}: expected a 4-D input (N, H, W, C) or (N, C, H, W), received {x.shape}"
        )
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{op}: data_format must be 'channels_last' or 'channels_first', received "
            f"{data_format!r}"
        )
    if not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"{op}: block_size must be a positive int, received {block_size!r}")
    return x, data_format == "channels_last"


@symbolic
def depth_to_space(x, block_size, data_format="channels_last") -> Tensor:
    """Move channel blocks into space: (N, H, W, C) -> (N, H*b, W*b, C/b^2) (TensorFlow's order)."""
    x, last = _image(x, data_format, block_size, "depth_to_space")
    b = block_size
    if last:
        n, h, w, c = x.shape
        if c % (b * b):
            raise ValueError(f"depth_to_space: channels {c} must be divisible by {b * b}")
        y = zg.transpose(zg.reshape(x, (n, h, w, b, b, c // (b * b))), (0, 1, 3, 2, 4, 5))
        return zg.reshape(y, (n, h * b, w * b, c // (b * b)))
    n, c, h, w = x.shape
    if c % (b * b):
        raise ValueError(f"depth_to_space: channels {c} must be divisible by {b * b}")
    y = zg.transpose(zg.reshape(x, (n, c // (b * b), b, b, h, w)), (0, 1, 4, 2, 5, 3))
    return zg.reshape(y, (n, c // (b * b), h * b, w * b))


@symbolic
def space_to_depth(x, block_size, data_format="channels_last") -> Tensor:
    """Move spatial b x b blocks into channels: (N, H, W, C) -> (N, H/b, W/b, C*b^2)."""
    x, last = _image(x, data_format, block_size, "space_to_depth")
    b = block_size
    h, w = x.shape[1:3] if last else x.shape[2:4]
    if h % b or w % b:
        raise ValueError(f"space_to_depth: height and width must be divisible by {b}, got {h}, {w}")
    if last:
        n, _, _, c = x.shape
        y = zg.transpose(zg.reshape(x, (n, h // b, b, w // b, b, c)), (0, 1, 3, 2, 4, 5))
        return zg.reshape(y, (n, h // b, w // b, c * b * b))
    n, c = x.shape[:2]
    y = zg.transpose(zg.reshape(x, (n, c, h // b, b, w // b, b)), (0, 1, 3, 5, 2, 4))
    return zg.reshape(y, (n, c * b * b, h // b, w // b))


@symbolic
def unfold(x, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding blocks of an (N, C, H, W) input as columns (N, C*kh*kw, L), as torch's unfold."""
    return zg.unfold(float_tensor(x), kernel_size, dilation, padding, stride)


@symbolic
def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum columns (N, C*kh*kw, L) of sliding blocks back into an (N, C, H, W) image."""
    return zg.fold(float_tensor(x), output_size, kernel_size, dilation, padding, stride)


def _output_size(output_size, one_d: bool, x: Tensor, op: str) -> tuple[int, int]:
    if isinstance(output_size, int):
        size = (output_size,) if one_d else (output_size, output_size)
    else:
        size = tuple(output_size)
    if len(size) != (1 if one_d else 2) or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(
            f"{op}: output_size must be a positive int or {1 if one_d else 2} of them for input "
            f"shape {x.shape}, received {output_size!r}"
        )
    return (1, *size) if one_d else size


def _adaptive_max_axis(x: Tensor, n_out: int, axis: int) -> Tensor:
    """Max over PyTorch's adaptive bins [floor(i n/o), ceil((i+1) n/o)) along one axis."""
    n = x.shape[axis]
    parts = []
    for i in range(n_out):
        a, b = (i * n) // n_out, -((-(i + 1) * n) // n_out)
        index = [slice(None)] * x.ndim
        index[axis] = slice(a, b)
        parts.append(zg.max(x[tuple(index)], axis, keepdims=True))
    return zg.concat(parts, axis)


@symbolic
def adaptive_average_pool(inputs, output_size, data_format=None) -> Tensor:
    """Average into a fixed output grid (1-D or 2-D data), PyTorch's bins."""
    x, one_d, undo = _prepare(inputs, data_format, "adaptive_average_pool")
    oh, ow = _output_size(output_size, one_d, x, "adaptive_average_pool")
    y = F.adaptive_avg_pool2d(zg.transpose(x, (0, 3, 1, 2)), (oh, ow))  # NCHW
    return undo(zg.transpose(y, (0, 2, 3, 1)))


@symbolic
def adaptive_max_pool(inputs, output_size, data_format=None) -> Tensor:
    """Max into a fixed output grid (1-D or 2-D data): a box max is a max of row maxima."""
    x, one_d, undo = _prepare(inputs, data_format, "adaptive_max_pool")
    oh, ow = _output_size(output_size, one_d, x, "adaptive_max_pool")
    return undo(_adaptive_max_axis(_adaptive_max_axis(x, oh, 1), ow, 2))  # NHWC
