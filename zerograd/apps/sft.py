"""``zerograd sft``: supervised fine-tuning of a Llama-family model (a Hugging Face directory) on
chat conversations (JSONL of ``{"messages": [...]}``) with LoRA adapters.

The model's chat template renders each conversation and the loss is taken on the assistant's
tokens only (``zerograd.data.sft``); samples are padded per batch or packed into rows of
``max_length``. LoRA adapters sit on the attention and MLP projections, optionally with every
decoder layer checkpointed (activations recomputed in backward) and gradients accumulated over
``accum`` micro-batches. AdamW with a linear warm-up and a cosine decay. At the end the adapters
are merged and the model is written as a Hugging Face directory (weights, config, the tokenizer
files, the template used) that transformers' ``AutoModelForCausalLM`` loads.

Example:
    >>> run(SFTConfig(model='TinyLlama/', data='chat.jsonl', out='runs/sft', max_steps=100))
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import numpy as np

import zerograd as zg
import zerograd.nn as nn
from zerograd import optim, peft
from zerograd.autograd import is_grad_enabled
from zerograd.data.sft import IGNORE, SFTDataset
from zerograd.io import save_json
from zerograd.models.chat import ChatTemplate, load_tokenizer_config
from zerograd.models.llama import Llama
from zerograd.ops import argcheck

log = logging.getLogger(__name__)

TARGETS = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
# what a merged directory carries over from the source beside the weights and config.json
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "generation_config.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
)
DTYPES = ("float32", "float64")


@dataclass
class SFTConfig:
    """Options of ``zerograd sft``. ``max_steps`` > 0 sets the number of optimizer steps (the data
    cycled as needed) instead of ``epochs``; one step takes ``accum`` micro-batches of
    ``batch_size`` conversations (or packed rows). ``warmup_ratio``: the share of the steps whose
    learning rate rises linearly from 0; ``max_grad_norm`` 0: no clipping."""

    model: str = ""
    data: str = ""
    out: str = "runs/sft"
    template: str | None = None
    epochs: int = 1
    max_steps: int = 0
    batch_size: int = 4
    accum: int = 1
    max_length: int = 512
    packing: bool = False
    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.05
    target_modules: str = TARGETS
    gradient_checkpointing: bool = False
    log_every: int = 10
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        from zerograd.apps.train import _flag, check_options

        cmd = "sft"
        check_options(
            cmd,
            self,
            positive=("epochs", "batch_size", "accum", "lora_r", "log_every"),
            non_negative=("max_steps", "seed"),
            positive_float=("lr", "lora_alpha"),
        )
        try:
            argcheck.integer(cmd, "--max-length", self.max_length, 2)
            argcheck.number(cmd, "--weight-decay", self.weight_decay, 0.0, finite=True)
            argcheck.number(cmd, "--warmup-ratio", self.warmup_ratio, 0.0, 1.0, high_open=True)
            argcheck.number(cmd, "--max-grad-norm", self.max_grad_norm, 0.0, finite=True)
            argcheck.number(cmd, "--lora-dropout", self.lora_dropout, 0.0, 1.0, high_open=True)
            argcheck.flag(cmd, "--packing", self.packing)
            argcheck.flag(cmd, "--gradient-checkpointing", self.gradient_checkpointing)
            argcheck.choice(cmd, "--dtype", self.dtype, DTYPES)
        except TypeError as e:
            raise ValueError(str(e)) from None
        for name in ("model", "data", "out"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(
                    f"sft: {_flag(name)} is required (a path), received {getattr(self, name)!r}"
                )
        if not isinstance(self.target_modules, str) or not self.targets():
            raise ValueError(
                "sft: --target-modules must be a comma-separated list of layer names (e.g. "
                f"{TARGETS}), received {self.target_modules!r}"
            )

    def targets(self) -> list[str]:
        return [t.strip() for t in self.target_modules.split(",") if t.strip()]


# --- the model ------------------------------------------------------------------------------------
def check_targets(model: nn.Module, targets: list[str]) -> None:
    """Every name of ``targets`` matches some Linear layer (a typo would silently train less)."""
    linears = [p for p, m in model.named_modules() if isinstance(m, nn.Linear)]
    names = sorted({p.rsplit(".", 1)[-1] for p in linears})
    for t in targets:
        if not any(p.rsplit(".", 1)[-1] == t or fnmatch(p, t) for p in linears):
            raise ValueError(
                f"sft: --target-modules: {t!r} matches no Linear layer of the model; its Linear "
                f"layers are named {', '.join(names)}"
            )


def add_lora(model: Llama, config: SFTConfig) -> Llama:
    """LoRA adapters on ``config``'s target modules (everything else frozen)."""
    targets = config.targets()
    check_targets(model, targets)
    return peft.apply_lora(
        model,
        r=config.lora_r,
        alpha=config.lora_alpha,
        dropout=config.lora_dropout,
        target_modules=targets,
    )


def enable_gradient_checkpointing(model: Llama) -> int:
    """Checkpoint every decoder layer of ``model``: in training its activations are recomputed in
    backward instead of kept (the layer's forward is replaced on the instance; the cache path
    and inference run the plain forward). Returns the number of layers."""
    from zerograd.nn.utils import checkpoint

    for block in model.layers:
        plain = type(block).forward.__get__(block)

        def forward(x, cos, sin, bias, past=None, _plain=plain, _block=block):
            if past is not None or not is_grad_enabled():
                return _plain(x, cos, sin, bias, past)
            params = [p for p in _block.parameters() if p.requires_grad]
            y = checkpoint(lambda t: _plain(t, cos, sin, bias)[0], x, params=params)
            return y, None  # no cache while training

        block.forward = forward
    return len(model.layers)


def disable_gradient_checkpointing(model: Llama) -> None:
    """Undo ``enable_gradient_checkpointing``."""
    for block in model.layers:
        block.__dict__.pop("forward", None)


def unwrap_lora(model: nn.Module) -> nn.Module:
    """Merge every LoRA adapter and put its base Linear back in its place: a plain model."""
    peft.merge(model)
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, peft.LoRALinear):
                setattr(module, name, child.base)
    return model


def load_template(model_dir, template_file: str | None, owner: str = "sft") -> ChatTemplate:
    """The chat template: ``template_file`` (a Jinja file) with the directory's special tokens, or
    the directory's own (tokenizer_config.json / chat_template.jinja)."""
    if template_file is None:
        return ChatTemplate.from_pretrained(model_dir)
    path = Path(template_file)
    if not path.is_file():
        raise FileNotFoundError(f"{owner}: --template: no file at {str(path)!r}")
    special = load_tokenizer_config(model_dir).special_tokens
    return ChatTemplate(path.read_text(encoding="utf-8"), special)


def load_tokenizer(model_dir, owner: str = "sft"):
    """The directory's tokenizer.json as a ``zerograd.data.Tokenizer``."""
    from zerograd.data import Tokenizer

    path = Path(model_dir) / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"{owner}: {str(model_dir)!r} has no tokenizer.json")
    return Tokenizer.from_file(path)


# --- training ---------------------------------------------------------------------------------
def supervised(labels) -> int:
    """How many tokens of a (B, T) label batch take a loss (the model shifts the labels)."""
    y = labels.numpy() if hasattr(labels, "numpy") else np.asarray(labels)
    return int((y[:, 1:] != IGNORE).sum())


def accumulate(model: Llama, micro_batches: list[dict]) -> float:
    """Forward and backward of one optimizer step's micro-batches; gradients add up in ``.grad``.

    Each micro-batch's mean loss is weighted by its share of the step's supervised tokens, so the
    summed gradient is that of the mean over all of them: ``accum`` micro-batches of ``b`` give
    the gradient of one batch of ``accum * b``. Returns that mean loss.
    """
    counts = [supervised(b["labels"]) for b in micro_batches]
    total = sum(counts)
    if total == 0:
        raise ValueError("sft: a step's batches hold no supervised (assistant) token")
    value = 0.0
    for b, n in zip(micro_batches, counts):
        if n == 0:
            continue
        loss, _ = model(b["input_ids"], attention_mask=b["attention_mask"], labels=b["labels"])
        (loss * (n / total)).backward()
        value += loss.item() * n / total
    return value


def usable(dataset: SFTDataset) -> np.ndarray:
    """The samples with at least one supervised token (a packed row may hold none)."""
    return np.array([i for i in range(len(dataset)) if (dataset[i][1][1:] != IGNORE).any()])


def plan(n_samples: int, config: SFTConfig) -> int:
    """The number of optimizer steps: ``max_steps``, else ``epochs`` passes over the data."""
    per_epoch = math.ceil(n_samples / (config.batch_size * config.accum))
    return config.max_steps or per_epoch * config.epochs


def train(model: Llama, dataset: SFTDataset, config: SFTConfig) -> list[float]:
    """AdamW on the trainable parameters with warm-up and cosine decay; returns each step's loss.

    The samples are shuffled each epoch (seeded); with ``max_steps`` the data is cycled."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("sft: the model has no trainable parameters (call add_lora first)")
    indices = usable(dataset)
    if not len(indices):
        raise ValueError("sft: no sample holds an assistant token to learn from")
    total = plan(len(indices), config)
    opt = optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    warmup = min(int(config.warmup_ratio * total), total - 1)
    sched = optim.lr_scheduler.WarmupCosineLR(opt, warmup_steps=warmup, total_steps=total)
    rng = np.random.default_rng(config.seed)
    losses: list[float] = []
    model.train()
    t0 = time.perf_counter()
    b, per_step = config.batch_size, config.batch_size * config.accum
    while len(losses) < total:
        order = rng.permutation(indices)
        for s in range(0, len(order), per_step):
            chunk = order[s : s + per_step]
            micro = [
                make_batch(dataset, chunk[i : i + b]) for i in range(0, len(chunk), b)
            ]  # the step's micro-batches
            lr = opt.param_groups[0]["lr"]
            opt.zero_grad()
            losses.append(accumulate(model, micro))
            if config.max_grad_norm > 0:
                nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            opt.step()
            sched.step()
            step = len(losses)
            if step % config.log_every == 0 or step == total or step == 1:
                log.info(
                    "step %5d/%d  loss %.4f  lr %.2e  (%.1f s)",
                    step,
                    total,
                    losses[-1],
                    lr,
                    time.perf_counter() - t0,
                )
            if step == total:
                break
    return losses


def make_batch(dataset: SFTDataset, idx) -> dict:
    """The samples ``idx`` of ``dataset`` padded into one batch of int64 arrays (B, T)."""
    batch = dataset.collate([dataset[int(i)] for i in idx])
    return {k: v.numpy() for k, v in batch.items()}


# --- the job ----------------------------------------------------------------------------------
def prepare(config: SFTConfig):
    """(model with LoRA, tokenizer, template, dataset) as ``config`` asks; nothing trained yet."""
    src = Path(config.model)
    if not src.is_dir():
        raise FileNotFoundError(f"sft: --model: no directory at {config.model!r}")
    if not Path(config.data).is_file():
        raise FileNotFoundError(f"sft: --data: no file at {config.data!r}")
    if Path(config.out).resolve() == src.resolve():
        raise ValueError("sft: --out must differ from --model (the source would be overwritten)")
    zg.manual_seed(config.seed)  # the adapters' initial values
    tokenizer = load_tokenizer(src)
    template = load_template(src, config.template)
    dataset = SFTDataset(
        config.data,
        tokenizer,
        template,
        max_length=config.max_length,
        truncation=True,
        packing=config.packing,
    )
    model = Llama.from_pretrained(src, dtype=config.dtype)
    vocab = model.config.vocab_size
    top = max(int(ids.max()) for ids, _ in dataset.examples)
    if top >= vocab:
        raise ValueError(
            f"sft: the tokenizer gives token id {top}, beyond the model's vocab_size {vocab} "
            "(a tokenizer of another model?)"
        )
    add_lora(model, config)
    if config.gradient_checkpointing:
        enable_gradient_checkpointing(model)
    return model, tokenizer, template, dataset


def save_merged(model: Llama, source, out, template: ChatTemplate | None = None) -> Path:
    """The model (adapters merged) as a Hugging Face directory with the source's tokenizer files;
    ``template`` (when given) written as chat_template.jinja, which takes priority on loading."""
    out = Path(out)
    model.save_pretrained(out)  # adapters folded into the weights written
    for name in TOKENIZER_FILES:
        f = Path(source) / name
        if f.is_file() and f.resolve() != (out / name).resolve():
            shutil.copyfile(f, out / name)
    if template is not None and isinstance(template.templates, str):
        (out / "chat_template.jinja").write_text(template.templates, encoding="utf-8")
    return out


def fine_tune(config: SFTConfig) -> tuple[Llama, dict]:
    """Train as ``config`` asks and save the merged model; returns (the merged plain model, the
    result written to ``<out>/result.json``)."""
    t0 = time.perf_counter()
    model, _, template, dataset = prepare(config)
    trainable, total_params = peft.count_parameters(model)
    log.info(
        "%d samples (%s), LoRA r=%d on %s: %s of %s parameters trainable",
        len(dataset),
        "packed" if config.packing else "padded",
        config.lora_r,
        config.target_modules,
        f"{trainable:,}",
        f"{total_params:,}",
    )
    losses = train(model, dataset, config)
    disable_gradient_checkpointing(model)
    unwrap_lora(model)
    model.eval()
    out = save_merged(model, config.model, config.out, template if config.template else None)
    result = {
        "steps": len(losses),
        "losses": [round(v, 5) for v in losses],
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "samples": len(dataset),
        "trainable_params": trainable,
        "total_params": total_params,
        "seconds": round(time.perf_counter() - t0, 1),
        "out": str(out),
    }
    save_json(result, out / "result.json", indent=1)
    log.info("merged model saved to %s (loss %.4f -> %.4f)", out, losses[0], losses[-1])
    return model, result


def run(config: SFTConfig) -> dict:
    """``zerograd sft``: ``fine_tune`` and return its result."""
    return fine_tune(config)[1]
