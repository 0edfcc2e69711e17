"""``nn.utils``: gradient clipping (implemented in zerograd.optim.clip)."""

from zerograd.optim.clip import clip_grad_norm_, clip_grad_value_  # noqa: F401
