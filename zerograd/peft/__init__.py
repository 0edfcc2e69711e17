"""Fine-tuning tools: freezing by name, LoRA adapters, gradient checkpointing."""

from zerograd.peft.checkpoint import checkpoint
