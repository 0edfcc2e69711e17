"""Llama cases (issue 17): llama_train (one AdamW step) and llama_generate (256 tokens with the KV
cache), against transformers' LlamaForCausalLM holding the same weights."""

import numpy as np
import torch

import zerograd as zg
from benchmarks import case
from benchmarks.models import hf_pair

VOCAB = 512


def _tiny_llama_pair(n_layer=4, d=256, heads=8, kv_heads=2, ffn=768, ctx=256, train=True):
    """The same Llama weights in zerograd and in transformers (from a config, no download):
    GQA 4:1, untied head, the SwiGLU width of Llama's rule for d 256 (8/3 d rounded up to 256)."""
    import transformers

    from zerograd.models import Llama

    cfg = transformers.LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=d,
        intermediate_size=ffn,
        num_hidden_layers=n_layer,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max(ctx, 512),
        tie_word_embeddings=False,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=None,
    )
    torch.manual_seed(0)
    return hf_pair(transformers.LlamaForCausalLM(cfg), Llama.from_pretrained, train)


@case("llama_train")
def llama_train():
    """One AdamW step: 4 layers, d_model 256, 8 heads / 2 key-value heads, context 256, batch 8
    (vocabulary 512, SwiGLU width 768; the step takes about 0.6 s of CPU time on one thread)."""
    ours, ref = _tiny_llama_pair()
    batch, ctx = 8, 256
    ids = np.random.default_rng(0).integers(0, VOCAB, (batch, ctx))
    zopt = zg.optim.AdamW(ours.parameters(), lr=1e-4)
    topt = torch.optim.AdamW(ref.parameters(), lr=1e-4)
    tids = torch.tensor(ids)

    def zg_step():
        loss, _ = ours(ids, labels=ids)  # labels shifted inside, as transformers
        zopt.zero_grad()
        loss.backward()
        zopt.step()

    def torch_step():
        loss = ref(input_ids=tids, labels=tids).loss
        topt.zero_grad()
        loss.backward()
        topt.step()

    return zg_step, torch_step


@case("llama_generate")
def llama_generate():
    """256 new tokens, greedy, batch 1, prompt 8, with the KV cache (the llama_train model)."""
    ours, ref = _tiny_llama_pair(train=False)
    prompt = np.random.default_rng(0).integers(0, VOCAB, (1, 8))
    tprompt = torch.tensor(prompt)

    def zg_gen():
        ours.generate(prompt, 256, use_cache=True)  # no stop token: 256 tokens

    def torch_gen():
        with torch.no_grad():
            ref.generate(
                tprompt,
                max_new_tokens=256,
                min_new_tokens=256,
                do_sample=False,
                use_cache=True,
                pad_token_id=0,
            )

    return zg_gen, torch_gen
