"""Gradient clipping lives in ``zerograd.nn.utils``; this path stays for old imports."""

from zerograd.nn.utils.clip import clip_grad_norm_, clip_grad_value_  # noqa: F401
