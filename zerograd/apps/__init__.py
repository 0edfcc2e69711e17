"""What the ``zerograd`` command runs: ``train`` (apps.train) and ``finetune`` (apps.finetune).

Each app takes a config dataclass, logs its progress on the ``zerograd.apps`` logger and returns
its results as a dict (also written to ``<out>/result.json``).
"""
