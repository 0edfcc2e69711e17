"""Fine-tune all-MiniLM-L6-v2 (a 6-layer BERT) to tell fortunes' categories apart (Debian fortunes).

Three ways, same data and split: (a) a linear probe on frozen mean-pooled embeddings, (b) full
fine-tuning, (c) LoRA adapters on the attention projections. Prints accuracy, trainable
parameters and time for each. The job is ``zerograd.apps.finetune``; this script is the command.

    python examples/finetune_minilm.py                  # a few minutes on 2 cores
    python examples/finetune_minilm.py --limit 36 --epochs 1          # a smoke test
    zerograd finetune --limit 36 --epochs 1                          # the same, as a command
"""

from __future__ import annotations

import sys

from zerograd import cli
from zerograd.apps.finetune import load_fortunes, run

__all__ = ["load_fortunes", "main"]


def main(argv: list[str] | None = None) -> dict:
    """Run with ``zerograd finetune``'s options; returns the results (as in result.json)."""
    return run(cli.finetune_config(argv))


if __name__ == "__main__":
    sys.exit(cli.main(["finetune", *sys.argv[1:]]))
