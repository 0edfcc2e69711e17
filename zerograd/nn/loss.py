"""Loss modules: each holds its options and calls the function in zerograd.ops.loss."""

from __future__ import annotations

from zerograd.nn.module import Module
from zerograd.ops import argcheck
from zerograd.ops import loss as L


class _Loss(Module):
    reductions = L.REDUCTIONS

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = argcheck.choice(
            type(self).__name__, "reduction", reduction, self.reductions
        )

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    def forward(self, input, target):  # noqa: A002
        return L.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, input, target):  # noqa: A002
        return L.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = argcheck.number("SmoothL1Loss", "beta", beta, 0.0)

    def forward(self, input, target):  # noqa: A002
        return L.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = argcheck.number("HuberLoss", "delta", delta, 0.0, low_open=True)

    def forward(self, input, target):  # noqa: A002
        return L.huber_loss(input, target, self.reduction, self.delta)


class BCELoss(_Loss):
    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input, target):  # noqa: A002
        return L.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):  # noqa: A002
        return L.binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )


class CrossEntropyLoss(_Loss):
    def __init__(
        self,
        weight=None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ):
        super().__init__(reduction)
        argcheck.integer("CrossEntropyLoss", "ignore_index", ignore_index)
        argcheck.number("CrossEntropyLoss", "label_smoothing", label_smoothing, 0.0, 1.0)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def forward(self, input, target):  # noqa: A002
        return L.cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )


class NLLLoss(_Loss):
    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        argcheck.integer("NLLLoss", "ignore_index", ignore_index)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input, target):  # noqa: A002
        return L.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class KLDivLoss(_Loss):
    reductions = (*L.REDUCTIONS, "batchmean")

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):  # noqa: A002
        return L.kl_div(input, target, self.reduction, self.log_target)


class CosineSimilarity(Module):
    def __init__(self, axis: int = 1, eps: float = 1e-8):
        super().__init__()
        argcheck.integer("CosineSimilarity", "axis", axis)
        argcheck.number("CosineSimilarity", "eps", eps, 0.0, low_open=True)
        self.axis, self.eps = axis, eps

    def forward(self, x1, x2):
        return L.cosine_similarity(x1, x2, self.axis, self.eps)
