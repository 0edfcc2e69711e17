"""Geometric image transforms of the augmentation layers, on (N, H, W, C) arrays (NumPy or CuPy):
an affine resampling with nearest or bilinear interpolation and the Keras fill modes, and a resize
with half-pixel centres (PyTorch's ``interpolate`` without anti-aliasing, as Keras' torch backend).

Not differentiable: augmentation runs on data, and Keras does not backpropagate into it either.
"""

from __future__ import annotations

import numpy as np

from zerograd import backend

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


def _mirror(index, size: int):
    """Triangular wave of half-period size - 1: ... 2 1 0 1 2 ... (size - 1) (size - 2) ..."""
    s = size - 1
    return abs((index + s) % (2 * s) - s)


def fix_index(index, size: int, fill_mode: str):
    """Map integer indices outside [0, size) back inside, as the fill mode extends the image.

    reflect: (d c b a | a b c d | d c b a); wrap: (a b c d | a b c d | a b c d); nearest and
    constant: clipped (constant then replaces the out-of-range samples by the fill value).
    """
    if fill_mode == "wrap":
        return index % size
    if fill_mode == "reflect":
        return (_mirror(2 * index + 1, 2 * size + 1) - 1) // 2
    return index.clip(0, size - 1)


def affine_matrix(angle, tx, ty, zx, zy, height: int, width: int) -> np.ndarray:
    """(N, 8) Keras transforms for a rotation by ``angle`` degrees about the image centre, a zoom
    (zx, zy) about the centre, then a shift (tx, ty) in pixels; each row maps an output pixel
    (x, y) to the input point (a0 x + a1 y + a2, b0 x + b1 y + b2).

    In float32 as Keras computes it, so that nearest sampling rounds the same half-way points.
    """
    f32 = np.float32
    angle = np.asarray(angle, dtype=f32) * f32(np.pi / 180.0)
    n = angle.shape[0]
    cx, cy = f32(0.5) * f32(width - 1), f32(0.5) * f32(height - 1)
    cos, sin = np.cos(angle), np.sin(angle)
    zx, zy = np.broadcast_to(np.asarray(zx, f32), (n,)), np.broadcast_to(np.asarray(zy, f32), (n,))
    a0, a1, b0, b1 = zx * cos, zx * -sin, zy * sin, zy * cos
    a2 = np.asarray(tx, f32) + cx - cx * a0 - cy * a1
    b2 = np.asarray(ty, f32) + cy - cx * b0 - cy * b1
    zeros = np.zeros(n, f32)
    return np.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def affine_transform(
    images, transforms, interpolation: str = "bilinear", fill_mode: str = "reflect", fill_value=0.0
):
    """Resample (N, H, W, C) float images through (N, 8) transforms (see ``affine_matrix``)."""
    xp = backend.namespace(images)
    n, h, w, _ = images.shape
    t = xp.asarray(transforms, dtype=np.float32).reshape(n, 8, 1, 1)
    ys, xs = xp.meshgrid(
        xp.arange(h, dtype=np.float32), xp.arange(w, dtype=np.float32), indexing="ij"
    )
    x_in = t[:, 0] * xs + t[:, 1] * ys + t[:, 2]  # (N, H, W)
    y_in = t[:, 3] * xs + t[:, 4] * ys + t[:, 5]
    batch = xp.arange(n).reshape(n, 1, 1)
    if interpolation == "nearest":
        corners = [(xp.round(y_in), xp.round(x_in), None)]
    else:
        y0, x0 = xp.floor(y_in), xp.floor(x_in)
        wy, wx = y_in - y0, x_in - x0
        corners = [
            (y0, x0, (1 - wy) * (1 - wx)),
            (y0, x0 + 1, (1 - wy) * wx),
            (y0 + 1, x0, wy * (1 - wx)),
            (y0 + 1, x0 + 1, wy * wx),
        ]
    out = xp.zeros(images.shape, dtype=images.dtype)
    for yi, xi, weight in corners:
        yi, xi = yi.astype(np.int64), xi.astype(np.int64)
        sample = images[batch, fix_index(yi, h, fill_mode), fix_index(xi, w, fill_mode)]
        if fill_mode == "constant":
            inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
            sample = xp.where(inside[..., None], sample, images.dtype.type(fill_value))
        out += sample if weight is None else weight[..., None].astype(images.dtype) * sample
    return out


def _source_indices(xp, size_in: int, size_out: int, interpolation: str):
    """Per output index: the two source indices and the weight of the second (half-pixel)."""
    scale = size_in / size_out
    d = xp.arange(size_out, dtype=np.float64)
    if interpolation == "nearest":  # PyTorch's "nearest-exact"
        i0 = xp.minimum(xp.floor((d + 0.5) * scale).astype(np.int64), size_in - 1)
        return i0, i0, xp.zeros(size_out)
    src = xp.maximum((d + 0.5) * scale - 0.5, 0.0)
    i0 = xp.minimum(xp.floor(src).astype(np.int64), size_in - 1)
    i1 = xp.minimum(i0 + 1, size_in - 1)
    return i0, i1, src - i0


def resize(images, height: int, width: int, interpolation: str = "bilinear"):
    """(N, H, W, C) -> (N, height, width, C) with half-pixel centres, no anti-aliasing."""
    xp = backend.namespace(images)
    _, h, w, _ = images.shape
    if (h, w) == (height, width):
        return images
    y0, y1, wy = _source_indices(xp, h, height, interpolation)
    x0, x1, wx = _source_indices(xp, w, width, interpolation)
    wy = wy.astype(images.dtype).reshape(1, height, 1, 1)
    wx = wx.astype(images.dtype).reshape(1, 1, width, 1)
    rows = images[:, y0] * (1 - wy) + images[:, y1] * wy  # (N, height, W, C)
    return rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx


def center_crop_box(h: int, w: int, height: int, width: int) -> tuple[int, int, int, int]:
    """The largest centred (top, left, crop_h, crop_w) box of an h x w image with the aspect ratio
    of height x width (Keras' smart_resize and crop_to_aspect_ratio)."""
    crop_h = max(min(h, int(float(w * height) / width)), 1)
    crop_w = max(min(w, int(float(h * width) / height)), 1)
    return int(float(h - crop_h) / 2), int(float(w - crop_w) / 2), crop_h, crop_w
