"""Neural-network building blocks in a PyTorch-style API: Module, Parameter, layers, init, F."""

from zerograd.nn import functional, init
from zerograd.nn.containers import ModuleDict, ModuleList, Sequential
from zerograd.nn.layers.linear import Flatten, Identity, Linear
from zerograd.nn.module import Module
from zerograd.nn.parameter import Parameter

# --- activations, norms, dropout, embedding, losses (nn/layers/activation.py, norm.py,
# dropout.py, embedding.py, nn/loss.py) ---

# --- convolution, pooling, recurrent, attention, transformer (nn/layers/conv.py, pool.py,
# rnn.py, attention.py, transformer.py) ---
