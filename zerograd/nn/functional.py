"""The functional API, ``import zerograd.nn.functional as F``: every layer's math as a function.

Each name is implemented in ``zerograd.ops``; this module only gathers them.
"""

from zerograd.ops.activation import (  # noqa: F401
    dropout,
    elu,
    erf,
    gelu,
    leaky_relu,
    log_softmax,
    one_hot,
    silu,
    softmax,
)
from zerograd.ops.attention import (  # noqa: F401, E402
    attention_bias,
    scaled_dot_product_attention,
)

# --- convolution, pooling, attention (zerograd/ops/conv.py, pool.py, attention.py) ---
from zerograd.ops.conv import conv1d, conv2d  # noqa: F401
from zerograd.ops.conv_transpose import conv_transpose2d  # noqa: F401
from zerograd.ops.elementwise import relu, sigmoid, tanh  # noqa: F401
from zerograd.ops.index import embedding  # noqa: F401
from zerograd.ops.linalg import linear  # noqa: F401
from zerograd.ops.loss import (  # noqa: F401
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_similarity,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from zerograd.ops.norm import batch_norm, group_norm, layer_norm, rms_norm  # noqa: F401
from zerograd.ops.pool import (  # noqa: F401
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
