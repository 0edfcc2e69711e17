"""GPT with LoRA: save_pretrained writes plain GPT-2 weights (adapters merged) that transformers
loads with equal logits, and the adapters alone round-trip through save_lora / load_lora."""

import numpy as np
import pytest

from zerograd import peft
from zerograd.io import FileFormatError, load_safetensors
from zerograd.models import GPT, GPTConfig

IDS = np.random.default_rng(0).integers(0, 50, (2, 9))


def tiny_gpt(seed=0):
    from zerograd import manual_seed

    manual_seed(seed)
    cfg = GPTConfig(vocab_size=50, n_positions=16, n_embd=16, n_layer=2, n_head=4)
    return GPT(cfg).eval()


def with_lora(model, targets=("c_attn", "c_fc"), seed=3):
    peft.apply_lora(model, r=4, alpha=8, target_modules=list(targets))
    rng = np.random.default_rng(seed)
    for layer in peft.lora.lora_layers(model):  # B starts at zero: make the update visible
        layer.lora_B.data[...] = 0.1 * rng.standard_normal(layer.lora_B.shape)
    return model.eval()


@pytest.mark.parametrize("merged", [False, True])
def test_save_pretrained_with_lora_writes_plain_gpt2_weights(tmp_path, merged):
    transformers = pytest.importorskip("transformers")
    import torch

    plain = tiny_gpt()(IDS).numpy()
    model = with_lora(tiny_gpt())
    if merged:
        peft.merge(model)
    logits = model(IDS).numpy()
    assert np.abs(logits - plain).max() > 1e-3  # the adapters change the output
    model.save_pretrained(tmp_path)
    # the model itself is unchanged: still wrapped, still (un)merged, same outputs
    layers = peft.lora.lora_layers(model)
    assert len(layers) == 4 and all(m.merged == merged for m in layers)
    np.testing.assert_allclose(model(IDS).numpy(), logits, atol=1e-6)
    names = set(load_safetensors(tmp_path / "model.safetensors", arrays=True))
    assert not [n for n in names if "lora" in n or ".base." in n], sorted(names)
    assert "transformer.h.0.attn.c_attn.weight" in names
    ref = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        out = ref(torch.tensor(IDS)).logits.numpy()
    np.testing.assert_allclose(out, logits, atol=1e-5)
    again = GPT.from_pretrained(tmp_path).eval()
    np.testing.assert_allclose(again(IDS).numpy(), logits, atol=1e-5)


def test_save_pretrained_after_unmerge_keeps_the_update(tmp_path):
    model = with_lora(tiny_gpt(), targets=("c_proj",))
    logits = model(IDS).numpy()
    peft.merge(model)
    peft.unmerge(model)
    model.save_pretrained(tmp_path)
    np.testing.assert_allclose(GPT.from_pretrained(tmp_path).eval()(IDS).numpy(), logits, atol=1e-5)


@pytest.mark.parametrize("merged_target", [False, True])
def test_lora_adapters_round_trip_for_gpt(tmp_path, merged_target):
    source = with_lora(tiny_gpt())
    logits = source(IDS).numpy()
    peft.save_lora(source, tmp_path / "adapters.safetensors")
    names = set(load_safetensors(tmp_path / "adapters.safetensors", arrays=True))
    assert names == set(peft.lora_state_dict(source)) and len(names) == 8
    target = with_lora(tiny_gpt(), seed=9)  # same base, other adapters
    if merged_target:
        peft.merge(target)
    assert np.abs(target(IDS).numpy() - logits).max() > 1e-3
    peft.load_lora(target, tmp_path / "adapters.safetensors")
    np.testing.assert_allclose(target(IDS).numpy(), logits, atol=1e-5)
    assert all(m.merged == merged_target for m in peft.lora.lora_layers(target))


def test_lora_adapters_for_other_layers_are_refused_naming_the_file(tmp_path):
    peft.save_lora(with_lora(tiny_gpt()), tmp_path / "adapters.safetensors")
    other = with_lora(tiny_gpt(), targets=("c_proj",))
    with pytest.raises(FileFormatError, match=r"adapters.safetensors': adapters do not fit") as e:
        peft.load_lora(other, tmp_path / "adapters.safetensors")
    assert "h.0.attn.c_proj.lora_A" in str(e.value) and "h.0.attn.c_attn.lora_A" in str(e.value)
    wider = tiny_gpt()
    peft.apply_lora(wider, r=8, target_modules=["c_attn", "c_fc"])
    with pytest.raises(
        FileFormatError,
        match=r"'h.0.attn.c_attn.lora_A': expected shape \(8, 16\), received \(4, 16\)",
    ):
        peft.load_lora(wider, tmp_path / "adapters.safetensors")
