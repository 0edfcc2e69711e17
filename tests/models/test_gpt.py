"""GPT: parity with transformers' GPT-2 both ways, a training step, generation with a KV cache."""

import json

import numpy as np
import pytest
import torch

from zerograd.models import GPT, GPTConfig, generate
from zerograd.models.generation import _filter

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg = transformers.GPT2Config(
        vocab_size=60,
        n_positions=32,
        n_embd=16,
        n_layer=2,
        n_head=4,
        bos_token_id=0,
        eos_token_id=0,
    )
    torch.manual_seed(0)
    ref = transformers.GPT2LMHeadModel(cfg).eval()
    path = tmp_path_factory.mktemp("gpt2")
    ref.save_pretrained(path)
    return ref, path


IDS = np.random.default_rng(0).integers(0, 60, (2, 10))


def test_loads_transformers_gpt2_with_equal_logits(tiny):
    ref, path = tiny
    model = GPT.from_pretrained(path).eval()
    with torch.no_grad():
        expected = ref(torch.tensor(IDS)).logits.numpy()
    np.testing.assert_allclose(model(IDS).numpy(), expected, atol=1e-4)


def test_save_pretrained_loads_back_into_transformers(tiny, tmp_path):
    ref, path = tiny
    model = GPT.from_pretrained(path).eval()
    model.save_pretrained(tmp_path)
    back = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        np.testing.assert_allclose(
            back(torch.tensor(IDS)).logits.numpy(), model(IDS).numpy(), atol=1e-4
        )


def test_training_step_matches_pytorch(tiny):
    ref, path = tiny
    ref = ref.double().train()
    model = GPT.from_pretrained(path).double().train()
    for m in (ref,):
        for mod in m.modules():
            if isinstance(mod, torch.nn.Dropout):
                mod.p = 0.0
    for mod in model.modules():
        if hasattr(mod, "p"):
            mod.p = 0.0
        if hasattr(mod, "attn_p"):
            mod.attn_p = 0.0
    loss, _ = model(IDS[:, :-1], targets=IDS[:, 1:])
    loss.backward()
    out = ref(torch.tensor(IDS[:, :-1]), labels=torch.tensor(IDS[:, :-1]))  # shifts internally
    out_loss = torch.nn.functional.cross_entropy(
        out.logits.reshape(-1, 60), torch.tensor(IDS[:, 1:]).reshape(-1)
    )
    out_loss.backward()
    assert loss.item() == pytest.approx(out_loss.item(), abs=1e-8)
    theirs = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        hf = "transformer." + name
        g = theirs[hf].grad.numpy()
        g = g.T if name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")) else g
        np.testing.assert_allclose(p.grad.numpy(), g, atol=1e-8, err_msg=name)


def test_kv_cache_gives_the_same_greedy_tokens(tiny):
    _, path = tiny
    model = GPT.from_pretrained(path)
    with_cache = generate(model, IDS[:, :3], 25, use_cache=True)
    without = generate(model, IDS[:, :3], 25, use_cache=False)
    np.testing.assert_array_equal(with_cache, without)
    assert with_cache.shape == (2, 28)


def test_seeded_sampling_is_reproducible_and_filters_restrict_support(tiny):
    _, path = tiny
    model = GPT.from_pretrained(path)
    a = generate(model, IDS[:1, :3], 15, do_sample=True, temperature=1.5, top_k=5, seed=7)
    b = generate(model, IDS[:1, :3], 15, do_sample=True, temperature=1.5, top_k=5, seed=7)
    np.testing.assert_array_equal(a, b)
    logits = np.log(np.array([[0.5, 0.2, 0.15, 0.1, 0.05]]))
    assert np.isfinite(_filter(logits, 2, None)).sum() == 2
    kept = np.isfinite(_filter(logits, None, 0.8))[0]
    assert kept.tolist() == [True, True, True, False, False]  # 0.5 + 0.2 < 0.8 <= 0.85


def test_bad_inputs(tmp_path):
    model = GPT(GPTConfig(vocab_size=20, n_positions=8, n_embd=8, n_layer=1, n_head=2))
    with pytest.raises(ValueError, match="exceed the model's n_positions=8"):
        model(np.zeros((1, 9), dtype=np.int64))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="model_type 'gpt2', received 'bert'"):
        GPT.from_pretrained(tmp_path)
