"""Llama's speed paths against transformers: a causal-only batch (no padding, no window cutting
in) of 300 tokens takes the blocked (flash) attention, which reads each key/value head in place
for its query heads (no repeated copies), and the MLP the fused swiglu; the loss and every gradient equal transformers' in float64, the logits in
float32, with the fused kernels and without them (``path``)."""

import numpy as np
import pytest
import torch

from zerograd.models import Llama

transformers = pytest.importorskip("transformers")

T = 300  # >= tuning.FLASH_ATTENTION_MIN_KEYS: the blocked attention with gradients
IDS = np.random.default_rng(3).integers(0, 120, (2, T))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    cfg = transformers.LlamaConfig(
        vocab_size=120,
        hidden_size=32,
        intermediate_size=80,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=None,
        eos_token_id=None,
        initializer_range=0.1,
    )
    torch.manual_seed(0)
    ref = transformers.LlamaForCausalLM(cfg).eval()
    path = tmp_path_factory.mktemp("llama_long")
    ref.save_pretrained(path)
    return ref, path


def test_long_causal_gradients_match_transformers_in_float64(saved, path):
    ref, where = saved
    ref = ref.double().train()
    model = Llama.from_pretrained(where, dtype="float64").train()
    loss, _ = model(IDS, labels=IDS)
    loss.backward()
    logits = ref(torch.tensor(IDS)).logits
    expected = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, 120), torch.tensor(IDS[:, 1:]).reshape(-1)
    )
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), abs=1e-8)
    theirs = dict(ref.named_parameters())
    ours = dict(model.named_parameters())
    for name, (hf, _) in model.key_map().items():
        np.testing.assert_allclose(
            ours[name].grad.numpy(), theirs[hf].grad.numpy(), atol=1e-6, rtol=1e-6, err_msg=name
        )
    ref.zero_grad()
    ref.float().eval()


def test_long_causal_logits_match_transformers_in_float32(saved, path):
    ref, where = saved
    model = Llama.from_pretrained(where).eval()
    with torch.no_grad():
        expected = ref(torch.tensor(IDS)).logits.numpy()
    np.testing.assert_allclose(model(IDS).numpy(), expected, atol=1e-4, rtol=0)


def test_cached_chunk_after_a_prompt_matches_one_pass(saved):
    """Several new tokens after a cache (the causal mask aligned lower right, P > 0) give the
    logits of the whole sequence in one pass."""
    _, where = saved
    model = Llama.from_pretrained(where, dtype="float64").eval()
    whole = model(IDS).numpy()
    first, past = model(IDS[:, :200], use_cache=True)
    rest = model(IDS[:, 200:], past_key_values=past).numpy()
    np.testing.assert_allclose(rest, whole[:, 200:], atol=1e-10, rtol=0)
    np.testing.assert_allclose(first.numpy(), whole[:, :200], atol=1e-10, rtol=0)


def test_blocked_attention_reads_the_key_value_heads_unrepeated(saved, monkeypatch):
    """Training on the causal-only batch: each layer's blocked attention gets the 2 key/value
    heads as they are (grouped-query), not 4 repeated copies."""
    from zerograd.ops.flash_attention import FlashAttention

    _, where = saved
    seen = []
    forward = FlashAttention.forward

    def record(self, q, k, v):
        seen.append((q.shape, k.shape, v.shape))
        return forward(self, q, k, v)

    monkeypatch.setattr(FlashAttention, "forward", record)
    model = Llama.from_pretrained(where).train()
    loss, _ = model(IDS, labels=IDS)
    loss.backward()
    assert seen == [((2, 4, T, 8), (2, 2, T, 8), (2, 2, T, 8))] * 2
    assert all(p.grad is not None for p in model.parameters())
