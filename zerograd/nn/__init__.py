"""Neural-network building blocks in a PyTorch-style API: Module, Parameter, layers, init, F."""

from zerograd.nn import functional, init, utils
from zerograd.nn.containers import ModuleDict, ModuleList, Sequential
from zerograd.nn.layers.activation import (
    ELU,
    GELU,
    Dropout,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from zerograd.nn.layers.attention import MultiheadAttention, TransformerEncoderLayer
from zerograd.nn.layers.conv import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    Conv1d,
    Conv2d,
    ConvTranspose2d,
    MaxPool2d,
)
from zerograd.nn.layers.linear import Flatten, Identity, Linear, Unflatten
from zerograd.nn.layers.norm import (
    BatchNorm1d,
    BatchNorm2d,
    Embedding,
    GroupNorm,
    LayerNorm,
    RMSNorm,
)
from zerograd.nn.layers.rnn import GRU, LSTM, RNN
from zerograd.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineSimilarity,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from zerograd.nn.module import Module
from zerograd.nn.parameter import Parameter
