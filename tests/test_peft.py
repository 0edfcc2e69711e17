"""LoRA, freezing and head replacement."""

import numpy as np
import pytest

import zerograd as zg
import zerograd.nn as nn
from zerograd import peft
from zerograd.models import BertConfig, BertForSequenceClassification


def tiny_bert():
    zg.manual_seed(0)
    cfg = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=32,
        max_position_embeddings=16,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        num_labels=3,
    )
    return BertForSequenceClassification(cfg)


IDS = np.random.default_rng(0).integers(1, 50, (3, 6))


def test_only_adapters_get_gradients_and_start_at_the_base_model():
    model = tiny_bert()
    before = model(IDS).numpy()
    peft.apply_lora(model, r=4, alpha=8, target_modules=["query", "value"])
    peft.unfreeze(model, "classifier.*")
    np.testing.assert_allclose(model(IDS).numpy(), before, atol=1e-6)  # B starts at zero
    loss, _ = model(IDS, labels=[0, 1, 2])
    loss.backward()
    for name, p in model.named_parameters():
        trainable = "lora_" in name or name.startswith("classifier")
        assert (p.grad is not None) == trainable, name
    trainable, total = peft.count_parameters(model)
    assert trainable == 2 * 2 * (4 * 16 + 16 * 4) + 16 * 3 + 3 and total > trainable


def test_merge_keeps_outputs_and_adapters_round_trip(tmp_path):
    model = tiny_bert()
    peft.apply_lora(model, r=4, target_modules=["query", "value", "*.output.dense"])
    for layer in peft.lora.lora_layers(model):
        layer.lora_B.data[...] = np.random.default_rng(1).standard_normal(layer.lora_B.shape)
    y = model(IDS).numpy()
    peft.merge(model)
    np.testing.assert_allclose(model(IDS).numpy(), y, atol=1e-5)
    peft.unmerge(model)
    np.testing.assert_allclose(model(IDS).numpy(), y, atol=1e-5)
    peft.save_lora(model, tmp_path / "adapters.safetensors")
    other = tiny_bert()
    peft.apply_lora(other, r=4, target_modules=["query", "value", "*.output.dense"])
    peft.load_lora(other, tmp_path / "adapters.safetensors")
    np.testing.assert_allclose(other(IDS).numpy(), y, atol=1e-5)
    assert all(".lora_" in k for k in peft.lora_state_dict(model))


def test_freeze_replace_head_and_errors():
    model = tiny_bert()
    n = peft.freeze(model, ["bert.embeddings.*", "bert.encoder.layer.0.*"])
    assert n > 0 and not model.bert.embeddings.word_embeddings.weight.requires_grad
    peft.replace_head(model, "classifier", nn.Linear(16, 5))
    assert model(IDS).shape == (3, 5)
    with pytest.raises(ValueError, match="no Linear layer matches"):
        peft.apply_lora(model, target_modules=["nothing_here"])
    with pytest.raises(ValueError, match="no sub-module 'head'"):
        peft.replace_head(model, "head", nn.Linear(2, 2))


def test_lora_with_gradient_checkpointing_gives_the_same_adapter_gradients():
    grads = []
    for ckpt in (False, True):
        model = tiny_bert()
        peft.apply_lora(model, r=4, target_modules=["query", "value"])
        for layer in peft.lora.lora_layers(model):
            layer.lora_B.data[...] = 0.1
        if ckpt:  # the embeddings are frozen: the layers' inputs need no gradient
            model.bert.gradient_checkpointing_enable()
        model.train()
        loss, _ = model(IDS, labels=[0, 1, 2])
        loss.backward()
        grads.append({n: p.grad.numpy() for n, p in model.named_parameters() if p.requires_grad})
    assert len(grads[0]) == 2 * 2 * 2
    for name, g in grads[0].items():
        np.testing.assert_allclose(grads[1][name], g, rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("merged", [False, True])
def test_save_pretrained_with_lora_writes_the_merged_model(tmp_path, merged):
    """A LoRA-wrapped model saves as a plain one (adapters folded in), loadable by transformers
    and by zerograd, with the same outputs; the wrapped model is left unchanged."""
    transformers = pytest.importorskip("transformers")
    import torch

    model = tiny_bert().eval()
    peft.apply_lora(model, r=4, target_modules=["query", "value"])
    for layer in peft.lora.lora_layers(model):
        layer.lora_B.data[...] = np.random.default_rng(2).standard_normal(layer.lora_B.shape)
    if merged:
        peft.merge(model)
    logits = model(IDS).numpy()
    model.save_pretrained(tmp_path)
    assert len(peft.lora.lora_layers(model)) == 4 and all(
        m.merged == merged for m in peft.lora.lora_layers(model)
    )
    again = BertForSequenceClassification.from_pretrained(tmp_path).eval()
    np.testing.assert_allclose(again(IDS).numpy(), logits, atol=1e-5)
    ref = transformers.BertForSequenceClassification.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        out = ref(input_ids=torch.tensor(IDS)).logits.numpy()
    np.testing.assert_allclose(out, logits, atol=1e-5)
