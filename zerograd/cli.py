"""The ``zerograd`` command: argument parsing only; the jobs are in ``zerograd.apps``.

zerograd train fashion-mnist [--epochs 3 --limit 600 ...]   # the demo CNN end to end
zerograd finetune [--limit 36 --epochs 1 ...]                # MiniLM: probe, full, LoRA
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields

from zerograd.apps.finetune import FinetuneConfig
from zerograd.apps.train import TrainConfig


def _train_options(p: argparse.ArgumentParser) -> None:
    d = TrainConfig
    p.add_argument("task", choices=["fashion-mnist"])
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
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


def build_parser() -> argparse.ArgumentParser:
    """The ``zerograd`` parser with its subcommands ``train`` and ``finetune``."""
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
    status: 0, or 2 when data or a model is missing."""
    from zerograd.io import FileFormatError

    parser = build_parser()
    args = parser.parse_args(argv)
    config = _config(TrainConfig if args.command == "train" else FinetuneConfig, args, parser)
    with _console():
        try:
            if args.command == "train":
                from zerograd.apps.train import train_fashion_mnist

                train_fashion_mnist(config, verbose=not args.quiet)
            elif args.command == "finetune":
                from zerograd.apps.finetune import run

                run(config)
        except (FileNotFoundError, FileFormatError) as e:
            print(f"error: {e}", file=sys.stderr)  # the command's own terminal output
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
