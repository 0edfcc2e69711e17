"""What the ``zerograd`` command runs: ``train`` (apps.train), ``finetune`` (apps.finetune),
``sft`` (apps.sft: LoRA fine-tuning of Llama-family models on chat data) and ``chat`` (apps.chat).

Each app takes a config dataclass, logs its progress on the ``zerograd.apps`` logger and returns
its results as a dict (also written to ``<out>/result.json``).
"""
