"""Gradient checkpointing lives in ``zerograd.nn.utils``; this path stays for old imports."""

from zerograd.nn.utils.checkpoint import Checkpoint, checkpoint  # noqa: F401
