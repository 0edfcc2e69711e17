"""A tiny Llama trained from scratch on the 300 Tang poems (Debian fortunes-zh, tang300.u8), then
instruction-tuned with LoRA on requests built from the same poems, then asked for poems.

1. A character-level tokenizer (the ``tokenizers`` package) with ChatML special tokens, saved as
   tokenizer.json plus a tokenizer_config.json carrying the chat template written below.
2. A small Llama (RoPE, RMSNorm, SwiGLU, grouped-query attention, tied embeddings) trained as a
   language model on the poems (each ended by the end-of-turn token); the validation loss is printed as it goes; the model is saved as
   a Hugging Face directory (``<out>/base``).
3. An instruction set: "写一首题为《T》的诗" -> the poem, "续写：<first line>" -> the rest, and
   "写一首关于X的诗" -> a poem with X in it; ``zerograd.apps.sft`` fine-tunes LoRA adapters on the
   replies only and saves the merged model (``<out>/sft``).
4. The same requests (about poems held out of both trainings) answered before and after the
   instruction tuning, through ``zerograd.apps.chat`` (what ``zerograd chat <out>/sft`` runs).

    python examples/llama_poems.py            # about 1-2 minutes of CPU time on 2 cores
    python examples/llama_poems.py --quick    # a smoke test, seconds
"""

from __future__ import annotations

import argparse
import json
import logging
import string
import sys
import time
from pathlib import Path

import numpy as np

import zerograd as zg
from zerograd import optim
from zerograd.apps import sft
from zerograd.apps.chat import ChatConfig, ChatSession
from zerograd.models import Llama, LlamaConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpt_poems import load_poems  # noqa: E402 - the sibling example reads the same file

EOT = "<|im_end|>"  # the end of a turn, and of a poem in the pretraining text
SPECIAL = ["<unk>", "<pad>", "<|im_start|>", EOT]
# ChatML, as Qwen2 writes it; no default system message
TEMPLATE = (
    "{% for m in messages %}"
    "{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
THEMES = "月春秋山水风雨花酒夜雪江云柳雁"


def char_tokenizer(texts: list[str]):
    """One token per character (every character of ``texts`` and printable ASCII), plus the
    special tokens; decoding joins the characters back."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    chars = sorted(set("".join(texts)) | set(string.printable))
    vocab = {t: i for i, t in enumerate(SPECIAL + chars)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), "isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(SPECIAL)
    return tok


def save_tokenizer(tok, folder: Path) -> None:
    """tokenizer.json, tokenizer_config.json (with the chat template) and generation_config.json
    (the end-of-turn token stops a reply)."""
    tok.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": TEMPLATE,
        "eos_token": "<|im_end|>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "model_max_length": 256,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=1))
    ids = {"eos_token_id": tok.token_to_id("<|im_end|>"), "pad_token_id": tok.token_to_id("<pad>")}
    (folder / "generation_config.json").write_text(json.dumps(ids))


def split_poem(poem: str) -> tuple[str, list[str]]:
    """('title', [lines]) of a '《title》\\nline\\nline' poem."""
    head, *lines = poem.split("\n")
    return head.strip("《》"), lines


def instructions(poems: list[str], max_chars: int) -> list[dict]:
    """Requests and replies built from poems whose body has at most ``max_chars`` characters."""
    out = []
    for poem in poems:
        title, lines = split_poem(poem)
        body = "\n".join(lines)
        if len(body) > max_chars:
            continue
        out.append([f"写一首题为《{title}》的诗", body])
        if len(lines) >= 2:
            out.append([f"续写：{lines[0]}", "\n".join(lines[1:])])
        for theme in THEMES:
            if theme in body:
                out.append([f"写一首关于{theme}的诗", f"《{title}》\n{body}"])
                break
    return [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in out
    ]


def windows(data: np.ndarray, block: int, batch: int, rng) -> np.ndarray:
    starts = rng.integers(0, len(data) - block, batch)
    return np.stack([data[s : s + block] for s in starts])  # (B, block)


def val_loss(model: Llama, data: np.ndarray, block: int, n: int = 16) -> float:
    x = windows(data, block, n, np.random.default_rng(123))  # the same windows every time
    model.eval()
    with zg.no_grad():
        loss, _ = model(x, labels=x)
    model.train()
    return loss.item()


def pretrain(args, tok, train_text: str, val_text: str, folder: Path) -> list[dict]:
    """The language model from scratch; saved to ``folder``; returns the validation curve."""
    train = np.array(tok.encode(train_text, add_special_tokens=False).ids)
    val = np.array(tok.encode(val_text, add_special_tokens=False).ids)
    cfg = LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=args.hidden,
        intermediate_size=args.hidden * 8 // 3 // 8 * 8,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tok.token_to_id("<|im_end|>"),
        pad_token_id=tok.token_to_id("<pad>"),
        initializer_range=0.02,
    )
    model = Llama(cfg)
    params = list(model.parameters())
    n_params = sum(p.size for p in params)
    print(
        f"pretraining: {len(train):,} training / {len(val):,} validation characters, "
        f"vocabulary {cfg.vocab_size}, {n_params:,} parameters"
    )
    opt = optim.AdamW(params, lr=args.lr, weight_decay=0.1, betas=(0.9, 0.95))
    sched = optim.lr_scheduler.WarmupCosineLR(
        opt, warmup_steps=max(args.steps // 20, 1), total_steps=args.steps, min_lr=args.lr / 10
    )
    rng = np.random.default_rng(args.seed)
    curve, t0 = [], time.perf_counter()
    for step in range(1, args.steps + 1):
        x = windows(train, args.block, args.batch, rng)
        loss, _ = model(x, labels=x)
        opt.zero_grad()
        loss.backward()
        zg.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % args.eval_every == 0 or step == args.steps:
            v = val_loss(model, val, args.block)
            curve.append(
                {"step": step, "train_loss": round(loss.item(), 4), "val_loss": round(v, 4)}
            )
            print(
                f"  step {step:4d}  train loss {loss.item():.3f}  val loss {v:.3f}  "
                f"({time.perf_counter() - t0:.0f} s)"
            )
    model.save_pretrained(folder)
    save_tokenizer(tok, folder)
    return curve


def ask(folder: Path, prompts: list[str], seed: int) -> list[str]:
    """One reply to each prompt (a fresh conversation each) from the model in ``folder``."""
    # no repetition penalty: the prompt holds the end-of-turn token, which it would discourage
    cfg = ChatConfig(model=str(folder), max_new_tokens=80, temperature=0.7, top_k=20, seed=seed)
    session = ChatSession.from_pretrained(folder, cfg)
    replies = []
    for p in prompts:
        session.reset()
        replies.append(session.reply(p))
    return replies


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=400, help="pretraining steps")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--block", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--sft-steps", type=int, default=200)
    p.add_argument("--sft-lr", type=float, default=3e-3)
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--out", default="runs/llama-poems")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny sizes and few steps (a smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.eval_every, args.sft_steps = 20, 10, 10
        args.hidden, args.layers, args.block, args.batch = 32, 1, 32, 8

    t0 = time.perf_counter()
    zg.manual_seed(args.seed)
    out = Path(args.out)
    (out / "base").mkdir(parents=True, exist_ok=True)
    poems = load_poems()
    order = np.random.default_rng(args.seed).permutation(len(poems))
    n_val = max(len(poems) // 10, 1)
    held_out = [poems[i] for i in order[:n_val]]
    seen = [poems[i] for i in order[n_val:]]
    data = instructions(seen, max_chars=80)
    tok = char_tokenizer(poems + [json.dumps(d, ensure_ascii=False) for d in data] + [THEMES])

    # 1-2. the language model from scratch
    # each poem ends with the end-of-turn token, as documents end with an end-of-text token: the
    # instruction tuning only has to teach where a reply ends, not what the token means (LoRA
    # does not train the embeddings)
    train_text, val_text = ("".join(p + EOT + "\n" for p in part) for part in (seen, held_out))
    curve = pretrain(args, tok, train_text, val_text, out / "base")

    # 3. the instruction set and LoRA fine-tuning through the sft app
    jsonl = out / "instructions.jsonl"
    jsonl.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in data))
    print(f"\ninstruction tuning: {len(data)} requests built from {len(seen)} poems")
    log = logging.getLogger("zerograd.apps")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    config = sft.SFTConfig(
        model=str(out / "base"),
        data=str(jsonl),
        out=str(out / "sft"),
        max_steps=args.sft_steps,
        batch_size=8,
        max_length=128,
        lr=args.sft_lr,
        lora_r=args.lora_r,
        lora_alpha=2.0 * args.lora_r,
        lora_dropout=0.0,
        log_every=max(args.sft_steps // 5, 1),
        seed=args.seed,
    )
    try:
        _, tuned = sft.fine_tune(config)
    finally:
        log.removeHandler(handler)

    # 4. requests about held-out poems, before and after the instruction tuning
    title, lines = split_poem(next(p for p in held_out if len(split_poem(p)[1]) >= 2))
    prompts = [f"续写：{lines[0]}", "写一首关于月的诗", f"写一首题为《{title}》的诗"]
    before = ask(out / "base", prompts, args.seed)
    after = ask(out / "sft", prompts, args.seed)
    for q, a, b in zip(prompts, before, after):
        print(f"\n>>> {q}\n--- before instruction tuning:\n{a}\n--- after:\n{b}")
    print(f"\nchat with it: zerograd chat {out / 'sft'}")
    result = {
        "val_curve": curve,
        "sft_losses": tuned["losses"],
        "sft_requests": len(data),
        "prompts": prompts,
        "before": before,
        "after": after,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    return result


if __name__ == "__main__":
    main()
