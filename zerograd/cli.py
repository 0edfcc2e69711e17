"""The ``zerograd`` command: argument parsing only; the jobs are in ``zerograd.apps``.

zerograd train fashion-mnist [--epochs 3 --limit 600 ...]   # the demo CNN end to end
zerograd finetune [--limit 36 --epochs 1 ...]                # MiniLM: probe, full, LoRA
zerograd sft --model DIR --data chat.jsonl --out runs/sft    # LoRA SFT of a Llama-family model
zerograd chat DIR [--prompt TEXT]                            # chat with it (stdin or one-shot)
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields

from zerograd.apps.chat import ChatConfig
from zerograd.apps.finetune import FinetuneConfig
from zerograd.apps.sft import SFTConfig
from zerograd.apps.train import TrainConfig


def _train_options(p: argparse.ArgumentParser) -> None:
    d = TrainConfig
    p.add_argument("task", choices=["fashion-mnist"])
    p.add_argument(
        "--epochs",
        type=int,
        default=d.epochs,
        help="passes over the data; the learning-rate schedule stretches to fit",
    )
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument(
        "--lr",
        type=float,
        default=d.lr,
        help="peak learning rate: warm-up over half an epoch, then cosine decay to 0",
    )
    p.add_argument(
        "--limit", type=int, default=d.limit, help="use only this many training images (0: all)"
    )
    p.add_argument("--out", default=d.out)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--backup-every",
        type=int,
        default=d.backup_every,
        help="batches between backups; a killed run started again with the same options resumes",
    )
    p.add_argument("--quiet", action="store_true")


def _finetune_options(p: argparse.ArgumentParser) -> None:
    d = FinetuneConfig
    p.add_argument("--per-class", type=int, default=d.per_class)
    p.add_argument(
        "--limit",
        type=int,
        default=d.limit,
        help="use this many fortunes in all (0: --per-class each)",
    )
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch", type=int, default=d.batch)
    p.add_argument("--accum", type=int, default=d.accum, help="micro-batches per optimizer step")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--lr-lora", type=float, default=d.lr_lora)
    p.add_argument("--max-length", type=int, default=d.max_length)
    p.add_argument("--out", default=d.out)
    p.add_argument("--seed", type=int, default=d.seed)


def _sft_options(p: argparse.ArgumentParser) -> None:
    d = SFTConfig
    p.add_argument("--model", required=True, help="a Hugging Face Llama/Qwen2/Mistral directory")
    p.add_argument("--data", required=True, help='JSONL, one {"messages": [...]} a line')
    p.add_argument("--out", default=d.out, help="where the merged model is written")
    p.add_argument(
        "--template", default=None, help="a Jinja chat template file (default: the model's)"
    )
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument(
        "--max-steps", type=int, default=d.max_steps, help="optimizer steps (0: --epochs decide)"
    )
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--accum", type=int, default=d.accum, help="micro-batches per optimizer step")
    p.add_argument("--max-length", type=int, default=d.max_length)
    p.add_argument(
        "--packing", action="store_true", help="pack conversations into rows of --max-length"
    )
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--warmup-ratio", type=float, default=d.warmup_ratio)
    p.add_argument(
        "--max-grad-norm", type=float, default=d.max_grad_norm, help="0: no gradient clipping"
    )
    p.add_argument("--lora-r", type=int, default=d.lora_r)
    p.add_argument("--lora-alpha", type=float, default=d.lora_alpha)
    p.add_argument("--lora-dropout", type=float, default=d.lora_dropout)
    p.add_argument("--target-modules", default=d.target_modules)
    p.add_argument(
        "--gradient-checkpointing",
        action="store_true",
        help="recompute each decoder layer's activations in backward (less memory)",
    )
    p.add_argument("--log-every", type=int, default=d.log_every, help="steps between log lines")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--dtype", default=d.dtype, choices=["float32", "float64"])


def _chat_options(p: argparse.ArgumentParser) -> None:
    d = ChatConfig
    p.add_argument("model", help="a Hugging Face Llama/Qwen2/Mistral directory")
    p.add_argument("--prompt", default=None, help="answer this one message and exit")
    p.add_argument("--system", default=None, help="a system message")
    p.add_argument(
        "--template", default=None, help="a Jinja chat template file (default: the model's)"
    )
    p.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens)
    p.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="0: greedy (the default unless generation_config.json says otherwise); > 0: sample",
    )
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--repetition-penalty", type=float, default=None)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--dtype", default=d.dtype, choices=["float32", "float64"])


COMMANDS = {
    "train": TrainConfig,
    "finetune": FinetuneConfig,
    "sft": SFTConfig,
    "chat": ChatConfig,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``zerograd`` parser with its subcommands ``train``, ``finetune``, ``sft`` and ``chat``."""
    parser = argparse.ArgumentParser(prog="zerograd", description="zerograd command line")
    sub = parser.add_subparsers(dest="command", required=True)
    _train_options(sub.add_parser("train", help="train a model end to end"))
    _finetune_options(
        sub.add_parser(
            "finetune",
            help="fine-tune all-MiniLM-L6-v2 on fortune categories (probe, full, LoRA)",
            description="fine-tune all-MiniLM-L6-v2 on fortune categories",
        )
    )
    _sft_options(
        sub.add_parser(
            "sft",
            help="fine-tune a Llama-family model on chat data with LoRA",
            description="supervised fine-tuning (LoRA) of a Llama/Qwen2/Mistral directory on "
            "JSONL conversations; writes the merged model as a Hugging Face directory",
        )
    )
    _chat_options(
        sub.add_parser(
            "chat",
            help="chat with a Llama-family model",
            description="chat with a Llama/Qwen2/Mistral directory: lines from stdin until "
            "/exit or end of input (/reset forgets the history), or one --prompt",
        )
    )
    return parser


def _config(cls, args: argparse.Namespace, parser: argparse.ArgumentParser | None = None):
    """The command's options as its config; a bad value exits with argparse's usage error (2)."""
    try:
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})
    except ValueError as e:
        (parser or build_parser()).error(str(e))


def finetune_config(argv: list[str] | None = None) -> FinetuneConfig:
    """``zerograd finetune``'s options (``argv``, default ``sys.argv[1:]``) as a FinetuneConfig.

    Example:
        >>> finetune_config(["--limit", "36"]).limit
        36
    """
    argv = sys.argv[1:] if argv is None else argv
    return _config(FinetuneConfig, build_parser().parse_args(["finetune", *argv]))


@contextmanager
def _console() -> Iterator[None]:
    """The apps' log messages as plain lines on stdout while the command runs."""
    logger = logging.getLogger("zerograd.apps")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Run the ``zerograd`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit
    status: 0, or 2 when data or a model is missing (or, for sft and chat, does not fit)."""
    from zerograd.io import FileFormatError

    parser = build_parser()
    args = parser.parse_args(argv)
    config = _config(COMMANDS[args.command], args, parser)
    with _console():
        try:
            if args.command == "train":
                from zerograd.apps.train import train_fashion_mnist

                train_fashion_mnist(config, verbose=not args.quiet)
            elif args.command == "finetune":
                from zerograd.apps.finetune import run

                run(config)
            elif args.command == "sft":
                from zerograd.apps.sft import run as run_sft

                run_sft(config)
            else:
                from zerograd.apps.chat import run as run_chat

                run_chat(config)
        except (FileNotFoundError, FileFormatError) as e:
            print(f"error: {e}", file=sys.stderr)  # the command's own terminal output
            return 2
        except ValueError as e:  # sft and chat: data or a template that does not fit
            if args.command not in ("sft", "chat"):
                raise
            print(f"error: {e}", file=sys.stderr)  # the command's own terminal output
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
