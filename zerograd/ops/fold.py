"""Sliding blocks: unfold (im2col) and fold (col2im) on NCHW arrays, as torch.nn.functional.

Each is the other's adjoint, so each backward is the other op: under ``create_graph=True`` the
backward calls the other Function on Tensors, so second-order gradients are recorded too.
"""

from __future__ import annotations

from zerograd.autograd import Function
from zerograd.ops.conv import col2im, pair, windows
from zerograd.tensor import Tensor


def _geometry(kernel_size, dilation, padding, stride) -> dict:
    return dict(
        kernel=pair(kernel_size, "kernel_size"),
        dilation=pair(dilation, "dilation"),
        padding=pair(padding, "padding"),
        stride=pair(stride, "stride"),
    )


def _blocks(size: tuple, geo: dict) -> tuple[int, int]:
    """The number of block positions along H and W of an (H, W) image."""
    out = []
    for n, k, d, p, s in zip(size, geo["kernel"], geo["dilation"], geo["padding"], geo["stride"]):
        out.append((n + 2 * p - d * (k - 1) - 1) // s + 1)
    return tuple(out)


def _unfold_array(xp, x, geo: dict):
    n, c, h, w = x.shape
    (kh, kw), (ph, pw) = geo["kernel"], geo["padding"]
    xp_ = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    cols = windows(xp, xp_, kh, kw, geo["stride"], geo["dilation"])  # (N, C, Ho, Wo, kh, kw)
    ho, wo = cols.shape[2:4]
    return cols.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo)


def _fold_array(xp, cols, output_size: tuple, geo: dict):
    (kh, kw), (ph, pw) = geo["kernel"], geo["padding"]
    n = cols.shape[0]
    c = cols.shape[1] // (kh * kw)
    ho, wo = _blocks(output_size, geo)
    blocks = cols.reshape(n, c, kh, kw, ho, wo).transpose(0, 1, 4, 5, 2, 3)
    h, w = output_size
    out = col2im(
        xp, blocks, (n, c, h + 2 * ph, w + 2 * pw), geo["stride"], geo["dilation"], cols.dtype
    )
    return out[:, :, ph : ph + h, pw : pw + w]


class Unfold(Function):
    """(N, C, H, W) -> (N, C*kh*kw, L): every block position's values as one column."""

    geo: dict

    def forward(self, x):
        return _unfold_array(self.xp, x, self.geo)

    def backward(self, gy):
        size = self.inputs[0].shape[2:]
        if isinstance(gy, Tensor):  # recording the backward: the adjoint op, differentiable
            return Fold.apply(gy, output_size=size, geo=self.geo)
        return _fold_array(self.xp, gy, size, self.geo)


class Fold(Function):
    """(N, C*kh*kw, L) -> (N, C, H, W): blocks summed back into the image (overlaps add)."""

    geo: dict
    output_size: tuple

    def forward(self, cols):
        return _fold_array(self.xp, cols, self.output_size, self.geo)

    def backward(self, gy):
        if isinstance(gy, Tensor):
            return Unfold.apply(gy, geo=self.geo)
        return _unfold_array(self.xp, gy, self.geo)


def unfold(x: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding blocks of an (N, C, H, W) tensor as columns (N, C*kh*kw, L).

    >>> zg.unfold(zg.ones((1, 2, 4, 4)), 2, stride=2).shape  # (1, 8, 4)
    """
    if x.ndim != 4:
        raise ValueError(f"unfold: expected input of shape (N, C, H, W), received shape {x.shape}")
    return Unfold.apply(x, geo=_geometry(kernel_size, dilation, padding, stride))


def fold(x: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum columns (N, C*kh*kw, L) of sliding blocks back into an (N, C, H, W) image."""
    geo = _geometry(kernel_size, dilation, padding, stride)
    size = pair(output_size, "output_size")
    kh, kw = geo["kernel"]
    ho, wo = _blocks(size, geo)
    if x.ndim != 3 or x.shape[1] % (kh * kw) or x.shape[2] != ho * wo:
        raise ValueError(
            f"fold: expected input of shape (N, C*{kh * kw}, {ho * wo}) for output_size {size}, "
            f"received shape {x.shape}"
        )
    return Fold.apply(x, output_size=size, geo=geo)
