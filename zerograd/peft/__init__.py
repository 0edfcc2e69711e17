"""Fine-tuning tools: freezing by name, new heads, LoRA adapters, gradient checkpointing."""

from zerograd.peft.checkpoint import checkpoint  # its home is nn.utils; kept for old imports
from zerograd.peft.lora import (
    LoRALinear,
    apply_lora,
    count_parameters,
    freeze,
    load_lora,
    lora_state_dict,
    merge,
    replace_head,
    save_lora,
    unfreeze,
    unmerge,
)
