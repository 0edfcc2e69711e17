"""A catalogue of bad arguments to zerograd.nn layers, losses and functional ops: each one fails
when the layer is made (or the op called) with a TypeError/ValueError naming the layer or op,
the argument, what was expected and what was received. Where PyTorch rejects the same case, the
table says so and the test checks that it does (an exception of any type: PyTorch often raises
RuntimeError or AssertionError where zerograd raises TypeError/ValueError)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zerograd as zg
import zerograd.nn as nn
import zerograd.nn.functional as F


def _ints(shape):
    return zg.tensor(np.ones(shape, dtype=np.int64))


# (id, zerograd call, error type, match, the same call in PyTorch if it rejects it too, else None)
# fmt: off
CONSTRUCTORS = [
    ("linear-negative-in", lambda: nn.Linear(-1, 3), ValueError,
     r"Linear: in_features must be a non-negative integer, received -1",
     lambda: torch.nn.Linear(-1, 3)),
    ("linear-negative-out", lambda: nn.Linear(3, -2), ValueError,
     r"Linear: out_features must be a non-negative integer, received -2",
     lambda: torch.nn.Linear(3, -2)),
    ("linear-float-size", lambda: nn.Linear(3.0, 4), TypeError,
     r"Linear: in_features must be an integer, received 3\.0 \(float\)",
     lambda: torch.nn.Linear(3.0, 4)),
    ("linear-str-size", lambda: nn.Linear("3", 4), TypeError,
     r"Linear: in_features must be an integer, received '3' \(str\)", None),
    ("linear-bool-size", lambda: nn.Linear(True, 4), TypeError,
     r"Linear: in_features must be an integer, received True", None),
    ("linear-bias-str", lambda: nn.Linear(3, 4, bias="no"), TypeError,
     r"Linear: bias must be True or False, received 'no'", None),
    ("conv-kernel-0", lambda: nn.Conv2d(3, 8, 0), ValueError,
     r"Conv2d: kernel_size must be positive integers, received 0", None),
    ("conv-kernel-pair-0", lambda: nn.Conv2d(3, 8, (3, 0)), ValueError,
     r"Conv2d: kernel_size must be positive integers, received \(3, 0\)", None),
    ("conv-kernel-triple", lambda: nn.Conv2d(3, 8, (3, 3, 3)), TypeError,
     r"Conv2d: kernel_size must be an integer or a sequence of 2 integers", None),
    ("conv-kernel-float", lambda: nn.Conv2d(3, 8, 2.5), TypeError,
     r"Conv2d: kernel_size must be an integer or a sequence of 2 integers, received 2\.5", None),
    ("conv-stride-0", lambda: nn.Conv2d(3, 8, 3, stride=0), ValueError,
     r"Conv2d: stride must be positive integers, received 0", None),
    ("conv-padding-negative", lambda: nn.Conv2d(3, 8, 3, padding=-1), ValueError,
     r"Conv2d: padding must be integers >= 0, received -1", None),
    ("conv-padding-string", lambda: nn.Conv2d(3, 8, 3, padding="full"), ValueError,
     r"Conv2d: padding must be one of 'valid', 'same', received 'full'",
     lambda: torch.nn.Conv2d(3, 8, 3, padding="full")),
    ("conv-same-strided", lambda: nn.Conv2d(3, 8, 3, stride=2, padding="same"), ValueError,
     r"Conv2d: padding='same' needs stride 1, received stride 2",
     lambda: torch.nn.Conv2d(3, 8, 3, stride=2, padding="same")),
    ("conv-dilation-0", lambda: nn.Conv2d(3, 8, 3, dilation=0), ValueError,
     r"Conv2d: dilation must be positive integers, received 0", None),
    ("conv-groups-not-dividing", lambda: nn.Conv2d(3, 8, 3, groups=2), ValueError,
     r"Conv2d: in_channels 3 and out_channels 8 must be divisible by groups 2",
     lambda: torch.nn.Conv2d(3, 8, 3, groups=2)),
    ("conv-groups-0", lambda: nn.Conv2d(3, 8, 3, groups=0), ValueError,
     r"Conv2d: groups must be a positive integer, received 0",
     lambda: torch.nn.Conv2d(3, 8, 3, groups=0)),
    ("conv-in-channels-0", lambda: nn.Conv1d(0, 8, 3), ValueError,
     r"Conv1d: in_channels must be a positive integer, received 0", None),
    ("conv1d-kernel-pair", lambda: nn.Conv1d(3, 8, (3, 3)), TypeError,
     r"Conv1d: kernel_size must be an integer or a sequence of 1 integers", None),
    ("convT-output-padding", lambda: nn.ConvTranspose2d(3, 8, 3, output_padding=1), ValueError,
     r"ConvTranspose2d: output_padding must be smaller than stride or dilation", None),
    ("convT-groups", lambda: nn.ConvTranspose2d(4, 8, 3, groups=2), ValueError,
     r"ConvTranspose2d: only groups=1 is supported, received groups=2", None),
    ("mha-heads-0", lambda: nn.MultiheadAttention(8, 0), ValueError,
     r"MultiheadAttention: num_heads must be a positive integer, received 0",
     lambda: torch.nn.MultiheadAttention(8, 0)),
    ("mha-not-divisible", lambda: nn.MultiheadAttention(8, 3), ValueError,
     r"MultiheadAttention: embed_dim 8 must be divisible by num_heads 3",
     lambda: torch.nn.MultiheadAttention(8, 3)),
    ("mha-dropout", lambda: nn.MultiheadAttention(8, 2, dropout=-0.1), ValueError,
     r"MultiheadAttention: dropout must be in \[0, 1\], received -0\.1", None),
    ("mha-kdim-0", lambda: nn.MultiheadAttention(8, 2, kdim=0), ValueError,
     r"MultiheadAttention: kdim must be a positive integer, received 0", None),
    ("encoder-nhead", lambda: nn.TransformerEncoderLayer(8, 3), ValueError,
     r"TransformerEncoderLayer: d_model 8 must be divisible by nhead 3",
     lambda: torch.nn.TransformerEncoderLayer(8, 3)),
    ("encoder-activation", lambda: nn.TransformerEncoderLayer(8, 2, activation="tanh"),
     ValueError, r"TransformerEncoderLayer: activation must be 'relu' or 'gelu'",
     lambda: torch.nn.TransformerEncoderLayer(8, 2, activation="tanh")),
    ("encoder-ffn-0", lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=0), ValueError,
     r"TransformerEncoderLayer: dim_feedforward must be a positive integer, received 0", None),
    ("embedding-0", lambda: nn.Embedding(0, 4), ValueError,
     r"Embedding: num_embeddings must be a positive integer, received 0", None),
    ("embedding-dim-negative", lambda: nn.Embedding(5, -4), ValueError,
     r"Embedding: embedding_dim must be a positive integer, received -4",
     lambda: torch.nn.Embedding(5, -4)),
    ("embedding-padding-idx", lambda: nn.Embedding(5, 4, padding_idx=7), ValueError,
     r"Embedding: padding_idx must be in \[-5, 5\) \(num_embeddings\), received 7",
     lambda: torch.nn.Embedding(5, 4, padding_idx=7)),
    ("dropout-1.5", lambda: nn.Dropout(1.5), ValueError,
     r"Dropout: p must be in \[0, 1\], received 1\.5", lambda: torch.nn.Dropout(1.5)),
    ("dropout-str", lambda: nn.Dropout("0.5"), TypeError,
     r"Dropout: p must be a number, received '0\.5' \(str\)", None),
    ("dropout-nan", lambda: nn.Dropout(float("nan")), ValueError,
     r"Dropout: p must be in \[0, 1\], received nan", None),
    ("layernorm-0", lambda: nn.LayerNorm(0), ValueError,
     r"LayerNorm: normalized_shape must be positive integers, received 0", None),
    ("layernorm-empty", lambda: nn.LayerNorm(()), ValueError,
     r"LayerNorm: normalized_shape must not be empty", None),
    ("layernorm-str", lambda: nn.LayerNorm("8"), TypeError,
     r"LayerNorm: normalized_shape must be an integer or a sequence of 1 integers", None),
    ("layernorm-eps", lambda: nn.LayerNorm(8, eps=0), ValueError,
     r"LayerNorm: eps must be in \(0, inf\), received 0\.0", None),
    ("rmsnorm-negative", lambda: nn.RMSNorm((4, -1)), ValueError,
     r"RMSNorm: normalized_shape must be positive integers, received \(4, -1\)", None),
    ("batchnorm-0", lambda: nn.BatchNorm1d(0), ValueError,
     r"BatchNorm1d: num_features must be a positive integer, received 0", None),
    ("batchnorm-negative", lambda: nn.BatchNorm2d(-1), ValueError,
     r"BatchNorm2d: num_features must be a positive integer, received -1",
     lambda: torch.nn.BatchNorm2d(-1)),
    ("batchnorm-momentum", lambda: nn.BatchNorm2d(4, momentum=2.0), ValueError,
     r"BatchNorm2d: momentum must be in \[0, 1\], received 2\.0", None),
    ("groupnorm-0", lambda: nn.GroupNorm(0, 4), ValueError,
     r"GroupNorm: num_groups must be a positive integer, received 0",
     lambda: torch.nn.GroupNorm(0, 4)),
    ("groupnorm-not-dividing", lambda: nn.GroupNorm(3, 4), ValueError,
     r"GroupNorm: num_channels 4 must be divisible by num_groups 3",
     lambda: torch.nn.GroupNorm(3, 4)),
    ("rnn-hidden-0", lambda: nn.RNN(3, 0), ValueError,
     r"RNN: hidden_size must be a positive integer, received 0", lambda: torch.nn.RNN(3, 0)),
    ("lstm-layers-0", lambda: nn.LSTM(3, 4, num_layers=0), ValueError,
     r"LSTM: num_layers must be a positive integer, received 0",
     lambda: torch.nn.LSTM(3, 4, num_layers=0)),
    ("gru-hidden-negative", lambda: nn.GRU(3, -1), ValueError,
     r"GRU: hidden_size must be a positive integer, received -1", lambda: torch.nn.GRU(3, -1)),
    ("lstm-input-float", lambda: nn.LSTM(3.5, 4), TypeError,
     r"LSTM: input_size must be an integer, received 3\.5 \(float\)", None),
    ("lstm-dropout", lambda: nn.LSTM(3, 4, dropout=2), ValueError,
     r"LSTM: dropout must be in \[0, 1\], received 2\.0", lambda: torch.nn.LSTM(3, 4, dropout=2)),
    ("rnn-nonlinearity", lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError,
     r"RNN: nonlinearity must be 'tanh' or 'relu', received 'sigmoid'",
     lambda: torch.nn.RNN(3, 4, nonlinearity="sigmoid")),
    ("gru-batch-first-str", lambda: nn.GRU(3, 4, batch_first="yes"), TypeError,
     r"GRU: batch_first must be True or False, received 'yes'", None),
    ("maxpool-kernel-0", lambda: nn.MaxPool2d(0), ValueError,
     r"MaxPool2d: kernel_size must be positive integers, received 0", None),
    ("maxpool-stride-0", lambda: nn.MaxPool2d(2, stride=0), ValueError,
     r"MaxPool2d: stride must be positive integers, received 0", None),
    ("maxpool-padding-big", lambda: nn.MaxPool2d(2, padding=2), ValueError,
     r"MaxPool2d: padding must be at most half the kernel size \(2, 2\), received padding 2",
     None),
    ("avgpool-kernel-0", lambda: nn.AvgPool2d(0), ValueError,
     r"AvgPool2d: kernel_size must be positive integers, received 0", None),
    ("avgpool-kernel-str", lambda: nn.AvgPool2d("2"), TypeError,
     r"AvgPool2d: kernel_size must be an integer or a sequence of 2 integers, received '2'",
     None),
    ("adaptive-pool-0", lambda: nn.AdaptiveAvgPool2d(0), ValueError,
     r"AdaptiveAvgPool2d: output_size must be positive integers, received 0", None),
    ("leaky-relu-str", lambda: nn.LeakyReLU("0.1"), TypeError,
     r"LeakyReLU: negative_slope must be a number, received '0\.1' \(str\)", None),
    ("elu-alpha-str", lambda: nn.ELU(alpha=None), TypeError,
     r"ELU: alpha must be a number, received None", None),
    ("gelu-approximate", lambda: nn.GELU("fast"), ValueError,
     r"GELU: approximate must be one of 'none', 'tanh', received 'fast'", None),
    ("softmax-axis-float", lambda: nn.Softmax(1.0), TypeError,
     r"Softmax: axis must be an integer, received 1\.0 \(float\)", None),
    ("flatten-axis-str", lambda: nn.Flatten("1"), TypeError,
     r"Flatten: start_axis must be an integer, received '1' \(str\)", None),
    ("loss-reduction", lambda: nn.CrossEntropyLoss(reduction="avg"), ValueError,
     r"CrossEntropyLoss: reduction must be one of 'mean', 'sum', 'none', received 'avg'", None),
    ("mse-reduction", lambda: nn.MSELoss(reduction="batchmean"), ValueError,
     r"MSELoss: reduction must be one of 'mean', 'sum', 'none', received 'batchmean'", None),
    ("ce-label-smoothing", lambda: nn.CrossEntropyLoss(label_smoothing=1.5), ValueError,
     r"CrossEntropyLoss: label_smoothing must be in \[0, 1\], received 1\.5", None),
    ("ce-ignore-index-float", lambda: nn.CrossEntropyLoss(ignore_index=-1.0), TypeError,
     r"CrossEntropyLoss: ignore_index must be an integer, received -1\.0", None),
    ("huber-delta-0", lambda: nn.HuberLoss(delta=0), ValueError,
     r"HuberLoss: delta must be in \(0, inf\), received 0\.0", None),
    ("smooth-l1-beta-negative", lambda: nn.SmoothL1Loss(beta=-1), ValueError,
     r"SmoothL1Loss: beta must be in \[0, inf\), received -1\.0", None),
    ("cosine-eps", lambda: nn.CosineSimilarity(eps=-1e-8), ValueError,
     r"CosineSimilarity: eps must be in \(0, inf\)", None),
]
# fmt: on


def _table(rows):
    return [pytest.param(*row[1:], id=row[0]) for row in rows]


@pytest.mark.parametrize("make, error, match, torch_make", _table(CONSTRUCTORS))
def test_bad_constructor_arguments(make, error, match, torch_make):
    with pytest.raises(error, match=match):
        make()
    if torch_make is not None:  # PyTorch rejects it too (its error types differ)
        with pytest.raises(Exception):  # noqa: B017, PT011
            torch_make()


# forward-time checks: wrong dtype, rank or shape of the input
# fmt: off
FORWARD = [
    ("linear-int-input", lambda: nn.Linear(3, 2)(_ints((2, 3))), TypeError,
     r"Linear: expected input of dtype float32 \(the weight's dtype\), received int64",
     lambda: torch.nn.Linear(3, 2)(torch.ones(2, 3, dtype=torch.int64))),
    ("linear-float64-input", lambda: nn.Linear(3, 2)(zg.ones(2, 3, dtype="float64")), TypeError,
     r"Linear: expected input of dtype float32 \(the weight's dtype\), received float64",
     lambda: torch.nn.Linear(3, 2)(torch.ones(2, 3, dtype=torch.float64))),
    ("linear-last-axis", lambda: nn.Linear(3, 2)(zg.ones(2, 4)), ValueError,
     r"Linear expected input with last axis 3, received shape \(2, 4\)",
     lambda: torch.nn.Linear(3, 2)(torch.ones(2, 4))),
    ("F.linear-int-input", lambda: F.linear(_ints((2, 3)), zg.ones(4, 3)), TypeError,
     r"linear: expected input of the weight's dtype float32, received int64",
     lambda: TF.linear(torch.ones(2, 3, dtype=torch.int64), torch.ones(4, 3))),
    ("conv-int-input", lambda: nn.Conv2d(3, 4, 3)(_ints((1, 3, 5, 5))), TypeError,
     r"Conv2d: expected input of dtype float32 \(the weight's dtype\), received int64",
     lambda: torch.nn.Conv2d(3, 4, 3)(torch.ones(1, 3, 5, 5, dtype=torch.int64))),
    ("conv-2d-input", lambda: nn.Conv2d(3, 4, 3)(zg.ones(5, 5)), ValueError,
     r"Conv2d expected input of shape \(N, 3, H, W\) or \(3, H, W\), received shape \(5, 5\)",
     lambda: torch.nn.Conv2d(3, 4, 3)(torch.ones(5, 5))),
    ("conv-channels", lambda: nn.Conv2d(3, 4, 3)(zg.ones(1, 2, 5, 5)), ValueError,
     r"Conv2d expected input of shape \(N, 3, H, W\), received shape \(1, 2, 5, 5\)", lambda: torch.nn.Conv2d(3, 4, 3)(torch.ones(1, 2, 5, 5))),
    ("F.conv2d-stride-0", lambda: F.conv2d(zg.ones(1, 3, 5, 5), zg.ones(4, 3, 3, 3), stride=0),
     ValueError, r"conv2d: stride must be positive integers, received 0",
     lambda: TF.conv2d(torch.ones(1, 3, 5, 5), torch.ones(4, 3, 3, 3), stride=0)),
    ("F.conv2d-padding-negative",
     lambda: F.conv2d(zg.ones(1, 3, 5, 5), zg.ones(4, 3, 3, 3), padding=-1), ValueError,
     r"conv2d: padding must be non-negative, received -1",
     lambda: TF.conv2d(torch.ones(1, 3, 5, 5), torch.ones(4, 3, 3, 3), padding=-1)),
    ("F.max_pool2d-kernel-0", lambda: F.max_pool2d(zg.ones(1, 1, 4, 4), 0), ValueError,
     r"max_pool2d: kernel_size must be positive integers, received 0",
     lambda: TF.max_pool2d(torch.ones(1, 1, 4, 4), 0)),
    ("F.avg_pool2d-stride-0", lambda: F.avg_pool2d(zg.ones(1, 1, 4, 4), 2, stride=0), ValueError,
     r"avg_pool2d: stride must be positive integers, received 0",
     lambda: TF.avg_pool2d(torch.ones(1, 1, 4, 4), 2, stride=0)),
    ("embedding-float-indices", lambda: nn.Embedding(5, 4)(zg.tensor([1.0, 2.0])), TypeError,
     r"embedding: expected integer indices, received float32",
     lambda: torch.nn.Embedding(5, 4)(torch.tensor([1.0, 2.0]))),
    ("embedding-index-range", lambda: nn.Embedding(5, 4)(zg.tensor([1, 5])), ValueError,
     r"embedding: indices must be in \[0, 5\), received min 1 max 5",
     lambda: torch.nn.Embedding(5, 4)(torch.tensor([1, 5]))),
    ("lstm-int-input", lambda: nn.LSTM(3, 4)(_ints((5, 2, 3))), TypeError,
     r"LSTM: expected input of dtype float32 \(the weight's dtype\), received int64",
     lambda: torch.nn.LSTM(3, 4)(torch.ones(5, 2, 3, dtype=torch.int64))),
    ("lstm-input-size", lambda: nn.LSTM(3, 4)(zg.ones(5, 2, 4)), ValueError,
     r"LSTM expected input of shape \(T, B, 3\) or \(T, 3\), received shape \(5, 2, 4\)",
     lambda: torch.nn.LSTM(3, 4)(torch.ones(5, 2, 4))),
    ("mha-int-query", lambda: nn.MultiheadAttention(4, 2)(*(_ints((3, 2, 4)),) * 3), TypeError,
     r"MultiheadAttention: expected query of dtype float32 \(the weight's dtype\), received "
     r"int64", None),
    ("batchnorm-channels", lambda: nn.BatchNorm2d(3)(zg.ones(2, 4, 5, 5)), ValueError,
     r"BatchNorm2d expected input of shape \(N, 3, H, W\), received shape \(2, 4, 5, 5\)",
     lambda: torch.nn.BatchNorm2d(3)(torch.ones(2, 4, 5, 5))),
    ("layernorm-trailing", lambda: nn.LayerNorm(4)(zg.ones(2, 5)), ValueError,
     r"LayerNorm expected input with trailing shape \(4,\), received shape \(2, 5\)",
     lambda: torch.nn.LayerNorm(4)(torch.ones(2, 5))),
]
# fmt: on


# fmt: off
FUNCTIONAL = [
    ("F.group_norm-groups-0", lambda: F.group_norm(zg.ones(2, 4, 3), 0), ValueError,
     r"group_norm: num_groups must be a positive integer, received 0",
     lambda: TF.group_norm(torch.ones(2, 4, 3), 0)),
    ("F.adaptive-pool-0", lambda: F.adaptive_avg_pool2d(zg.ones(1, 1, 4, 4), 0), ValueError,
     r"adaptive_avg_pool2d: output_size must be a positive integer, received 0", None),
    ("F.conv1d-stride-0", lambda: F.conv1d(zg.ones(1, 3, 5), zg.ones(4, 3, 3), stride=0),
     ValueError, r"conv1d: stride must be a positive integer, received 0",
     lambda: TF.conv1d(torch.ones(1, 3, 5), torch.ones(4, 3, 3), stride=0)),
    ("F.conv_transpose2d-stride-0",
     lambda: F.conv_transpose2d(zg.ones(1, 3, 4, 4), zg.ones(3, 2, 3, 3), stride=0), ValueError,
     r"conv_transpose2d: stride must be positive integers, received 0", None),
    ("F.max_pool1d-kernel-0", lambda: F.max_pool1d(zg.ones(1, 1, 4), 0), ValueError,
     r"max_pool1d: kernel_size must be a positive integer, received 0",
     lambda: TF.max_pool1d(torch.ones(1, 1, 4), 0)),
    ("F.embedding-1-d-weight", lambda: F.embedding(zg.tensor([0]), zg.ones(5)), ValueError,
     r"embedding: expected weight of shape \(num_embeddings, embedding_dim\), received shape "
     r"\(5,\)", lambda: TF.embedding(torch.tensor([0]), torch.ones(5))),
    ("F.leaky_relu-slope-str", lambda: F.leaky_relu(zg.ones(2), "0.1"), TypeError,
     r"leaky_relu: negative_slope must be a number, received '0\.1' \(str\)",
     lambda: TF.leaky_relu(torch.ones(2), "0.1")),
    ("F.elu-alpha-str", lambda: F.elu(zg.ones(2), "1"), TypeError,
     r"elu: alpha must be a number, received '1' \(str\)", lambda: TF.elu(torch.ones(2), "1")),
    ("F.huber-delta-0", lambda: F.huber_loss(zg.ones(2), zg.ones(2), delta=0), ValueError,
     r"huber_loss: delta must be in \(0, inf\), received 0\.0",
     lambda: TF.huber_loss(torch.ones(2), torch.ones(2), delta=0)),
    ("F.smooth-l1-beta-negative", lambda: F.smooth_l1_loss(zg.ones(2), zg.ones(2), beta=-1),
     ValueError, r"smooth_l1_loss: beta must be in \[0, inf\), received -1\.0",
     lambda: TF.smooth_l1_loss(torch.ones(2), torch.ones(2), beta=-1)),
    ("F.cross_entropy-ignore-index-float",
     lambda: F.cross_entropy(zg.ones(2, 3), zg.tensor([0, 1]), ignore_index=1.5), TypeError,
     r"cross_entropy: ignore_index must be an integer, received 1\.5 \(float\)",
     lambda: TF.cross_entropy(torch.ones(2, 3), torch.tensor([0, 1]), ignore_index=1.5)),
]
# fmt: on


@pytest.mark.parametrize("call, error, match, torch_call", _table(FORWARD + FUNCTIONAL))
def test_bad_forward_inputs(call, error, match, torch_call):
    with pytest.raises(error, match=match):
        call()
    if torch_call is not None:
        with pytest.raises(Exception):  # noqa: B017, PT011
            torch_call()


# fmt: off
LOSSES = [
    ("nll-label-too-large", lambda: F.nll_loss(zg.randn(2, 3), zg.tensor([0, 5])), ValueError,
     r"nll_loss: class indices must be in \[0, 3\) or ignore_index=-100, received min 0 max 5",
     lambda: TF.nll_loss(torch.randn(2, 3), torch.tensor([0, 5]))),
    ("nll-label-negative", lambda: F.nll_loss(zg.randn(2, 3), zg.tensor([0, -2])), ValueError,
     r"nll_loss: class indices must be in \[0, 3\) or ignore_index=-100, received min -2",
     lambda: TF.nll_loss(torch.randn(2, 3), torch.tensor([0, -2]))),
    ("nll-float-labels", lambda: F.nll_loss(zg.randn(2, 3), zg.tensor([0.0, 1.0])), TypeError,
     r"nll_loss: expected integer class indices as target, received dtype float32",
     lambda: TF.nll_loss(torch.randn(2, 3), torch.tensor([0.0, 1.0]))),
    ("nll-batch-mismatch", lambda: F.nll_loss(zg.randn(2, 3), zg.tensor([0, 1, 2])), ValueError,
     r"nll_loss: expected class-index target of shape \(2,\) for input of shape \(2, 3\), "
     r"received \(3,\)", lambda: TF.nll_loss(torch.randn(2, 3), torch.tensor([0, 1, 2]))),
    ("nll-reduction", lambda: F.nll_loss(zg.randn(2, 3), zg.tensor([0, 1]), reduction="avg"),
     ValueError, r"nll_loss: reduction must be one of \('mean', 'sum', 'none'\), received 'avg'",
     lambda: TF.nll_loss(torch.randn(2, 3), torch.tensor([0, 1]), reduction="avg")),
    ("nll-weight-shape",
     lambda: F.nll_loss(zg.randn(2, 3), zg.tensor([0, 1]), weight=zg.ones(4)), ValueError,
     r"nll_loss: expected weight of shape \(3,\), received \(4,\)",
     lambda: TF.nll_loss(torch.randn(2, 3), torch.tensor([0, 1]), weight=torch.ones(4))),
    ("ce-label-too-large", lambda: F.cross_entropy(zg.randn(2, 3), zg.tensor([0, 3])), ValueError,
     r"cross_entropy: class indices must be in \[0, 3\) or ignore_index=-100, received min 0 "
     r"max 3", lambda: TF.cross_entropy(torch.randn(2, 3), torch.tensor([0, 3]))),
    ("ce-negative-not-ignored",
     lambda: F.cross_entropy(zg.randn(2, 3), zg.tensor([0, -1])), ValueError,
     r"cross_entropy: class indices must be in \[0, 3\) or ignore_index=-100, received min -1",
     lambda: TF.cross_entropy(torch.randn(2, 3), torch.tensor([0, -1]))),
    ("ce-fractional-labels",
     lambda: F.cross_entropy(zg.randn(2, 3), zg.tensor([0.0, 1.5])), TypeError,
     r"cross_entropy: expected integer class indices of shape \(2,\), received dtype float32",
     lambda: TF.cross_entropy(torch.randn(2, 3), torch.tensor([0.0, 1.5]))),
    ("ce-bool-labels",
     lambda: F.cross_entropy(zg.randn(2, 3), zg.tensor(np.array([True, False]))), TypeError,
     r"cross_entropy: expected integer class indices as target, received dtype bool", None),
    ("ce-batch-mismatch",
     lambda: F.cross_entropy(zg.randn(2, 3), zg.tensor([0, 1, 1])), ValueError,
     r"cross_entropy: expected class-index target of shape \(2,\)",
     lambda: TF.cross_entropy(torch.randn(2, 3), torch.tensor([0, 1, 1]))),
    ("ce-reduction",
     lambda: F.cross_entropy(zg.randn(2, 3), zg.tensor([0, 1]), reduction=None), ValueError,
     r"cross_entropy: reduction must be one of \('mean', 'sum', 'none'\), received None",
     lambda: TF.cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), reduction=None)),
    ("ce-label-smoothing",
     lambda: F.cross_entropy(zg.randn(2, 3), zg.tensor([0, 1]), label_smoothing=2.0), ValueError,
     r"cross_entropy: label_smoothing must be in \[0, 1\], received 2\.0",
     lambda: TF.cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), label_smoothing=2.0)),
    ("mse-reduction",
     lambda: F.mse_loss(zg.ones(2), zg.ones(2), reduction="avg"), ValueError,
     r"mse_loss: reduction must be one of \('mean', 'sum', 'none'\), received 'avg'",
     lambda: TF.mse_loss(torch.ones(2), torch.ones(2), reduction="avg")),
]
# fmt: on


@pytest.mark.parametrize("call, error, match, torch_call", _table(LOSSES))
def test_bad_loss_arguments(call, error, match, torch_call):
    with pytest.raises(error, match=match):
        call()
    if torch_call is not None:
        with pytest.raises(Exception):  # noqa: B017, PT011
            torch_call()


def _with_grad():
    p = nn.Parameter(np.ones(3, np.float32))
    p.grad = zg.ones(3)
    return [p]


def _torch_with_grad():
    p = torch.nn.Parameter(torch.ones(3))
    p.grad = torch.ones(3)
    return [p]


# fmt: off
MODULE_API = [
    ("sequential-not-module", lambda: nn.Sequential(nn.ReLU(), 3), TypeError,
     r"Sequential\.add_module: expected a Module for '1', received int",
     lambda: torch.nn.Sequential(torch.nn.ReLU(), 3)),
    ("modulelist-not-module", lambda: nn.ModuleList([lambda x: x]), TypeError,
     r"ModuleList\.add_module: expected a Module for '0', received function",
     lambda: torch.nn.ModuleList([lambda x: x])),
    ("moduledict-dotted-name", lambda: nn.ModuleDict({"a.b": nn.ReLU()}), ValueError,
     r"ModuleDict\.add_module: name must be a non-empty str without '\.', received 'a\.b'",
     lambda: torch.nn.ModuleDict({"a.b": torch.nn.ReLU()})),
    ("train-mode-str", lambda: nn.Linear(2, 2).train("no"), TypeError,
     r"Linear\.train: mode must be True or False, received 'no'",
     lambda: torch.nn.Linear(2, 2).train("no")),
    ("to-int-dtype", lambda: nn.Linear(2, 2).to(dtype="int64"), TypeError,
     r"Linear\.to: dtype must be a floating-point dtype, received int64",
     lambda: torch.nn.Linear(2, 2).to(dtype=torch.int64)),
    ("clip-norm-type-str", lambda: nn.utils.clip_grad_norm_(_with_grad(), 1.0, norm_type="l2"),
     TypeError, r"clip_grad_norm_: norm_type must be a number, received 'l2' \(str\)",
     lambda: torch.nn.utils.clip_grad_norm_(_torch_with_grad(), 1.0, norm_type="l2")),
    ("clip-max-norm-negative", lambda: nn.utils.clip_grad_norm_(_with_grad(), -1.0), ValueError,
     r"clip_grad_norm_: max_norm must be in \[0, inf\), received -1\.0", None),
    ("clip-value-negative", lambda: nn.utils.clip_grad_value_(_with_grad(), -0.5), ValueError,
     r"clip_grad_value_: clip_value must be in \[0, inf\), received -0\.5", None),
]
# fmt: on


@pytest.mark.parametrize("call, error, match, torch_call", _table(MODULE_API))
def test_bad_module_api_arguments(call, error, match, torch_call):
    with pytest.raises(error, match=match):
        call()
    if torch_call is not None:
        with pytest.raises(Exception):  # noqa: B017, PT011
            torch_call()


# --- valid edges: the checks must not reject what PyTorch accepts --------------------------------


def test_valid_edges_match_torch():
    x = np.zeros((0, 3), np.float32)
    assert nn.Linear(3, 2)(zg.tensor(x)).shape == (0, 2)  # an empty batch
    assert nn.Linear(3, 0)(zg.ones(2, 3)).shape == (2, 0)  # zero output features, as PyTorch
    assert tuple(torch.nn.Linear(3, 0)(torch.ones(2, 3)).shape) == (2, 0)
    assert nn.Linear(np.int64(3), 2)(zg.ones(1, 3)).shape == (1, 2)  # NumPy integers are ints
    # unbatched convolution input, as PyTorch: (C, H, W) -> (O, Ho, Wo)
    assert nn.Conv2d(3, 4, 3)(zg.ones(3, 5, 5)).shape == (4, 3, 3)
    assert tuple(torch.nn.Conv2d(3, 4, 3)(torch.ones(3, 5, 5)).shape) == (4, 3, 3)
    assert nn.Conv1d(3, 4, 3, padding="same")(zg.ones(2, 3, 7)).shape == (2, 4, 7)
    assert nn.Dropout(0)(zg.ones(3)).shape == (3,) and nn.Dropout(1).p == 1.0
    assert nn.Embedding(5, 4, padding_idx=-1).padding_idx == 4
    norm = nn.utils.clip_grad_norm_(_with_grad(), 1.0, norm_type="inf")  # 'inf' as PyTorch
    assert norm.item() == 1.0
    assert nn.AdaptiveAvgPool2d((None, 2))(zg.ones(1, 1, 4, 4)).shape == (1, 1, 4, 2)
    assert nn.MaxPool2d((2, 1), stride=(1, 1), padding=(1, 0))(zg.ones(1, 1, 4, 4)).shape == (
        1, 1, 5, 4,
    )  # fmt: skip


def test_ignore_index_and_float64_layers_still_work():
    logits, labels = np.random.randn(4, 3), np.array([0, -100, 2, 1])
    ours = F.cross_entropy(zg.tensor(logits), zg.tensor(labels)).item()
    ref = TF.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item()
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    ours = F.nll_loss(zg.tensor(logits), zg.tensor(labels), ignore_index=-100).item()
    ref = TF.nll_loss(torch.tensor(logits), torch.tensor(labels)).item()
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    layer = nn.Linear(3, 2).to(dtype=np.float64)  # a float64 layer takes float64 input
    assert layer(zg.ones(2, 3, dtype="float64")).dtype == np.float64
