"""``nn.utils``: gradient clipping and gradient checkpointing."""

from zerograd.nn.utils.checkpoint import checkpoint
from zerograd.nn.utils.clip import clip_grad_norm_, clip_grad_value_
