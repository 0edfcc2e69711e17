"""The functional API, ``import zerograd.nn.functional as F``: every layer's math as a function.

Each name is implemented in ``zerograd.ops``; this module only gathers them.
"""

from zerograd.ops.elementwise import relu, sigmoid, tanh  # noqa: F401
from zerograd.ops.linalg import linear  # noqa: F401

# --- activations, normalisation, dropout, embedding, losses (zerograd/ops/activation.py, norm.py,
# loss.py): imports added below by their authors ---

# --- convolution, pooling, attention (zerograd/ops/conv.py, pool.py, attention.py) ---
