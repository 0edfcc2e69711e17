"""Normalisation layers and Embedding."""

from __future__ import annotations

import numpy as np

from zerograd import backend
from zerograd.nn import init
from zerograd.nn.module import Module
from zerograd.nn.parameter import Parameter
from zerograd.ops import argcheck, index, norm
from zerograd.tensor import Tensor


def _vec(n: int, value: float) -> np.ndarray:
    return np.full(n, value, dtype=backend.get_default_dtype())


def _shape(owner: str, normalized_shape) -> tuple[int, ...]:
    """A normalized_shape: an int or a non-empty sequence of positive ints."""
    if isinstance(normalized_shape, (list, tuple)) and not normalized_shape:
        raise ValueError(
            f"{owner}: normalized_shape must not be empty, received {normalized_shape!r}"
        )
    n = 1 if not isinstance(normalized_shape, (list, tuple)) else len(normalized_shape)
    return argcheck.ints(owner, "normalized_shape", normalized_shape, n, 1)


def _float_input(owner: str, x) -> None:
    """Norm layers compute statistics: an integer input is a TypeError, as in PyTorch."""
    if x.dtype.kind != "f":
        raise TypeError(
            f"{owner}: expected a floating-point input, received dtype {x.dtype}; convert it with "
            ".astype('float32')"
        )


class _BatchNorm(Module):
    ndims: tuple = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ):
        super().__init__()
        name = type(self).__name__
        num_features = argcheck.positive(name, "num_features", num_features)
        argcheck.number(name, "eps", eps, 0.0, low_open=True)
        if momentum is None:  # PyTorch's cumulative moving average
            raise ValueError(
                f"{name}: momentum=None (a cumulative moving average of the batch statistics) "
                "is not supported; give a number in [0, 1], e.g. 0.1"
            )
        argcheck.number(name, "momentum", momentum, 0.0, 1.0)
        argcheck.flag(name, "affine", affine)
        argcheck.flag(name, "track_running_stats", track_running_stats)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(_vec(num_features, 1.0))
            self.bias = Parameter(_vec(num_features, 0.0))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(_vec(num_features, 0.0)))
            self.register_buffer("running_var", Tensor(_vec(num_features, 1.0)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        if x.ndim not in self.ndims or x.shape[1] != self.num_features:
            layout = {2: "(N, C)", 3: "(N, C, L)", 4: "(N, C, H, W)"}
            want = " or ".join(layout[d].replace("C", str(self.num_features)) for d in self.ndims)
            raise ValueError(f"{name} expected input of shape {want}, received shape {x.shape}")
        _float_input(name, x)
        use_batch = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
        return norm.batch_norm(
            x,
            self.running_mean
            if (self.track_running_stats and (self.training or not use_batch))
            else None,
            self.running_var
            if (self.track_running_stats and (self.training or not use_batch))
            else None,
            self.weight,
            self.bias,
            use_batch,
            self.momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, track_running_stats={self.track_running_stats}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs."""

    ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel."""

    ndims = (4,)


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` axes (weight 1, bias 0 to start)."""

    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
    ):
        super().__init__()
        self.normalized_shape = _shape("LayerNorm", normalized_shape)
        argcheck.number("LayerNorm", "eps", eps, 0.0, low_open=True)
        argcheck.flag("LayerNorm", "elementwise_affine", elementwise_affine)
        argcheck.flag("LayerNorm", "bias", bias)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        shape = self.normalized_shape
        dt = backend.get_default_dtype()
        self.weight = Parameter(np.ones(shape, dt)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dt)) if elementwise_affine and bias else None
        if self.weight is None:
            self.register_parameter("weight", None)
        if self.bias is None:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[x.ndim - len(self.normalized_shape) :]) != self.normalized_shape:
            raise ValueError(
                f"LayerNorm expected input with trailing shape {self.normalized_shape}, received shape {x.shape}"
            )
        _float_input("LayerNorm", x)
        return norm.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


class RMSNorm(Module):
    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True):
        super().__init__()
        self.normalized_shape = _shape("RMSNorm", normalized_shape)
        if eps is not None:
            argcheck.number("RMSNorm", "eps", eps, 0.0, low_open=True)
        argcheck.flag("RMSNorm", "elementwise_affine", elementwise_affine)
        self.eps = eps
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, backend.get_default_dtype()))
        else:
            self.register_parameter("weight", None)

    def forward(self, x: Tensor) -> Tensor:
        _float_input("RMSNorm", x)
        return norm.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class GroupNorm(Module):
    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True):
        super().__init__()
        num_groups = argcheck.positive("GroupNorm", "num_groups", num_groups)
        num_channels = argcheck.positive("GroupNorm", "num_channels", num_channels)
        argcheck.number("GroupNorm", "eps", eps, 0.0, low_open=True)
        argcheck.flag("GroupNorm", "affine", affine)
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels {num_channels} must be divisible by num_groups {num_groups}"
            )
        self.num_groups, self.num_channels, self.eps, self.affine = (
            num_groups,
            num_channels,
            eps,
            affine,
        )
        if affine:
            self.weight = Parameter(_vec(num_channels, 1.0))
            self.bias = Parameter(_vec(num_channels, 0.0))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm expected input of shape (N, {self.num_channels}, ...), received shape {x.shape}"
            )
        _float_input("GroupNorm", x)
        return norm.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors; weights start N(0, 1), the padding row at 0."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None):
        super().__init__()
        num_embeddings = argcheck.positive("Embedding", "num_embeddings", num_embeddings)
        embedding_dim = argcheck.positive("Embedding", "embedding_dim", embedding_dim)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None:
            padding_idx = argcheck.integer("Embedding", "padding_idx", padding_idx)
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx must be in [-{num_embeddings}, {num_embeddings}) "
                    f"(num_embeddings), received {padding_idx}"
                )
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(
            np.empty((num_embeddings, embedding_dim), backend.get_default_dtype())
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices) -> Tensor:
        return index.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
