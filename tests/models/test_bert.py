"""BERT: parity with Hugging Face transformers on all-MiniLM-L6-v2, a fine-tuning step, saving."""

import json
import os

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd.data import Tokenizer
from zerograd.models import BERT, BertConfig, BertForSequenceClassification

transformers = pytest.importorskip("transformers")

SENTENCES = [
    "The cat sat on the mat.",
    "A fortune cookie says: you will write a deep-learning framework.",
    "short",
]


@pytest.fixture(scope="module")
def batch(minilm_dir):
    return Tokenizer.from_file(os.path.join(minilm_dir, "tokenizer.json")).encode_batch(SENTENCES)


@pytest.fixture(scope="module")
def reference(minilm_dir, batch):
    ref = transformers.BertModel.from_pretrained(minilm_dir).eval()
    with torch.no_grad():
        return ref(
            input_ids=torch.tensor(batch["input_ids"]),
            attention_mask=torch.tensor(batch["attention_mask"]),
        )


def mean_pool(hidden, mask):
    m = mask[..., None].astype(hidden.dtype)
    v = (hidden * m).sum(1) / m.sum(1)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_minilm_hidden_states_match_transformers(minilm_dir, batch, reference):
    model = BERT.from_pretrained(minilm_dir).eval()
    hidden, pooled = model(batch["input_ids"], batch["attention_mask"])
    assert batch["attention_mask"].min() == 0  # the batch has padding
    np.testing.assert_allclose(hidden.numpy(), reference.last_hidden_state.numpy(), atol=1e-4)
    np.testing.assert_allclose(pooled.numpy(), reference.pooler_output.numpy(), atol=1e-4)
    ours = mean_pool(hidden.numpy(), batch["attention_mask"])
    theirs = mean_pool(reference.last_hidden_state.numpy(), batch["attention_mask"])
    assert (ours * theirs).sum(1).min() >= 0.99999


def test_tokenizer_matches_transformers(minilm_dir, batch):
    ref = transformers.PreTrainedTokenizerFast(
        tokenizer_file=os.path.join(minilm_dir, "tokenizer.json")
    )
    ids = ref(SENTENCES, padding=True)["input_ids"]
    np.testing.assert_array_equal(batch["input_ids"], np.array(ids))
    tok = Tokenizer.from_file(os.path.join(minilm_dir, "tokenizer.json"))
    assert tok.decode(batch["input_ids"][0]) == "the cat sat on the mat."
    short = tok.encode_batch(SENTENCES, max_length=6)
    assert short["input_ids"].shape == (3, 6) and short["input_ids"][1, -1] == tok.token_to_id(
        "[SEP]"
    )


def _tiny_config():
    return BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=32,
        max_position_embeddings=20,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        num_labels=3,
    )


def test_fine_tuning_step_matches_pytorch(tmp_path):
    cfg = _tiny_config()
    hf_cfg = transformers.BertConfig(
        **{k: v for k, v in cfg.__dict__.items() if k != "num_labels"}, num_labels=3
    )
    torch.manual_seed(0)
    ref = transformers.BertForSequenceClassification(hf_cfg).double()
    ref.save_pretrained(tmp_path, safe_serialization=True)
    ours = BertForSequenceClassification.from_pretrained(tmp_path, num_labels=3).double()
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 50, (4, 7))
    mask = np.ones_like(ids)
    mask[1, 5:] = 0
    labels = np.array([0, 2, 1, 2])
    loss, _ = ours(ids, mask, labels=labels)
    loss.backward()
    out = ref(
        input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), labels=torch.tensor(labels)
    )
    out.loss.backward()
    assert loss.item() == pytest.approx(out.loss.item(), abs=1e-8)
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), theirs[name].grad.numpy(), atol=1e-8, err_msg=name
        )


def test_save_pretrained_loads_into_transformers(minilm_dir, batch, tmp_path):
    model = BERT.from_pretrained(minilm_dir).eval()
    model.save_pretrained(tmp_path)
    ref = transformers.BertModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        r = ref(
            input_ids=torch.tensor(batch["input_ids"]),
            attention_mask=torch.tensor(batch["attention_mask"]),
        )
    hidden, _ = model(batch["input_ids"], batch["attention_mask"])
    np.testing.assert_allclose(hidden.numpy(), r.last_hidden_state.numpy(), atol=1e-4)


def test_bad_inputs(tmp_path, minilm_dir):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        BERT.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(
        ValueError, match="expected a config with model_type 'bert', received 'gpt2'"
    ):
        BERT.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        BERT.from_pretrained(tmp_path)
    model = BERT(_tiny_config())
    with pytest.raises(ValueError, match="longer than max_position_embeddings=20"):
        model(np.ones((1, 21), dtype=np.int64))
    bad = tmp_path / "tok.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a valid tokenizer.json"):
        Tokenizer.from_file(bad)


def test_gradient_checkpointing_same_gradients_less_memory():
    import tracemalloc

    zg.manual_seed(0)
    cfg = BertConfig(
        vocab_size=100,
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=256,
        max_position_embeddings=128,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.0,
    )
    ids = np.random.default_rng(0).integers(1, 100, (8, 128))
    grads, peaks = [], []
    for ckpt in (False, True):
        zg.manual_seed(1)
        model = BERT(cfg)
        if ckpt:
            model.gradient_checkpointing_enable()
        zg.manual_seed(2)
        tracemalloc.start()
        hidden, _ = model(ids)
        (hidden * hidden).mean().backward()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        grads.append(
            {n: p.grad.numpy() for n, p in model.named_parameters() if not n.startswith("pooler")}
        )
    for name in grads[0]:
        np.testing.assert_allclose(
            grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6, err_msg=name
        )
    assert peaks[1] < 0.8 * peaks[0], (
        f"peak memory {peaks[1]} with checkpointing vs {peaks[0]} without"
    )


def test_classifier_save_pretrained_loads_into_transformers(tmp_path):
    zg.manual_seed(0)
    ours = BertForSequenceClassification(_tiny_config()).eval()
    ours.save_pretrained(tmp_path)
    ref = transformers.BertForSequenceClassification.from_pretrained(tmp_path).eval()
    ids = np.random.default_rng(1).integers(1, 50, (2, 9))
    mask = np.ones_like(ids)
    mask[0, 6:] = 0
    with torch.no_grad():
        theirs = ref(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).logits
    np.testing.assert_allclose(ours(ids, mask).numpy(), theirs.numpy(), atol=1e-5)
    back = BertForSequenceClassification.from_pretrained(tmp_path).eval()  # head loaded too
    np.testing.assert_allclose(back(ids, mask).numpy(), theirs.numpy(), atol=1e-5)


def test_weight_errors_list_missing_unexpected_and_mismatched_keys(tmp_path):
    from zerograd.io import load_safetensors, save_safetensors

    BERT(_tiny_config()).save_pretrained(tmp_path)
    w = load_safetensors(tmp_path / "model.safetensors", arrays=True)
    del w["encoder.layer.1.output.dense.bias"]
    w["encoder.layer.7.extra.weight"] = np.zeros(3, dtype=np.float32)
    w["pooler.dense.weight"] = np.zeros((4, 4), dtype=np.float32)
    save_safetensors(w, tmp_path / "model.safetensors")
    with pytest.raises(ValueError) as e:
        BERT.from_pretrained(tmp_path)
    msg = str(e.value)
    assert "missing keys: encoder.layer.1.output.dense.bias" in msg
    assert "unexpected keys: encoder.layer.7.extra.weight" in msg
    assert "pooler.dense.weight: expected shape (16, 16), received (4, 4)" in msg
    with pytest.raises(ValueError, match="expected model_type 'bert', received 'gpt2'"):
        BertConfig.from_dict({"model_type": "gpt2", "hidden_size": 8})
    assert BertConfig.from_dict({"model_type": "bert", "unknown_key": 1}).hidden_size == 768


def test_bad_input_shapes():
    model = BERT(_tiny_config())
    ids = np.ones((2, 5), dtype=np.int64)
    with pytest.raises(ValueError, match=r"expected input_ids of shape \(B, T\), received \(5,\)"):
        model(ids[0])
    with pytest.raises(ValueError, match=r"attention_mask of the input_ids' shape \(2, 5\)"):
        model(ids, np.ones((2, 6)))
    with pytest.raises(ValueError, match=r"token_type_ids of the input_ids' shape"):
        model(ids, token_type_ids=zg.tensor(np.zeros((1, 5), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"indices must be in \[0, 50\)"):
        model(ids * 60)
