"""Bad files, one case each: every loader raises FileFormatError naming the file and the problem.

Loaders: load_safetensors, read_metadata, load_json, BERT / GPT / BertForSequenceClassification
.from_pretrained, zerograd.models.from_pretrained, peft.load_lora, Tokenizer.from_file and
CharTokenizer.load.
"""

import json
import struct
import tracemalloc

import numpy as np
import pytest

from zerograd import peft
from zerograd.data.tokenizers import CharTokenizer, Tokenizer, train_bpe
from zerograd.io import (
    FileFormatError,
    load_json,
    load_safetensors,
    read_metadata,
    save_safetensors,
)
from zerograd.models import (
    BERT,
    GPT,
    BertConfig,
    BertForSequenceClassification,
    GPTConfig,
    from_pretrained,
)


def expect_error(fn, file, *fragments):
    """``fn()`` raises FileFormatError whose message names ``file`` and every fragment."""
    with pytest.raises(FileFormatError) as e:
        fn()
    msg = str(e.value)
    assert str(file) in msg, msg
    assert e.value.path == str(file)
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    return e.value


def raw_safetensors(path, header, data: bytes = b"", length: int | None = None):
    """A file of an 8-byte header length, a JSON header and ``data``, written as given."""
    h = json.dumps(header).encode() if not isinstance(header, bytes) else header
    n = len(h) if length is None else length
    path.write_bytes(struct.pack("<Q", n) + h + data)
    return path


def tensor(dtype="F32", shape=(2, 3), offsets=(0, 24)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


# --- safetensors -------------------------------------------------------------------------------
def test_empty_safetensors_file(tmp_path):
    f = tmp_path / "w.safetensors"
    f.write_bytes(b"")
    expect_error(lambda: load_safetensors(f), f, "load_safetensors", "truncated: 0 bytes")


def test_safetensors_truncated_inside_the_header(tmp_path):
    f = raw_safetensors(tmp_path / "w.safetensors", {"a": tensor()}, b"\0" * 24)
    f.write_bytes(f.read_bytes()[:30])
    expect_error(lambda: load_safetensors(f), f, "larger than the rest of the file")


def test_safetensors_truncated_inside_the_data(tmp_path):
    f = tmp_path / "w.safetensors"
    save_safetensors({"a": np.ones((4, 4), np.float32)}, f)
    f.write_bytes(f.read_bytes()[:-5])
    expect_error(lambda: load_safetensors(f), f, "tensor 'a'", "go past the end of the data")


def test_safetensors_header_length_beyond_any_limit(tmp_path):
    f = raw_safetensors(tmp_path / "w.safetensors", {"a": tensor()}, b"\0" * 24, length=2**62)
    expect_error(lambda: load_safetensors(f), f, "header length 4611686018427387904 bytes")


def test_safetensors_header_not_json(tmp_path):
    f = raw_safetensors(tmp_path / "w.safetensors", b"{not json", b"")
    expect_error(lambda: load_safetensors(f), f, "the header is not valid JSON")


def test_safetensors_header_not_an_object(tmp_path):
    f = raw_safetensors(tmp_path / "w.safetensors", [1, 2])
    expect_error(lambda: load_safetensors(f), f, "header must be a JSON object, received list")


def test_safetensors_entry_not_an_object(tmp_path):
    f = raw_safetensors(tmp_path / "w.safetensors", {"a": [0, 24]}, b"\0" * 24)
    expect_error(lambda: load_safetensors(f), f, "tensor 'a'", "expected an object")


def test_safetensors_entry_without_offsets(tmp_path):
    f = raw_safetensors(tmp_path / "w.safetensors", {"a": {"dtype": "F32", "shape": [1]}})
    expect_error(lambda: load_safetensors(f), f, "tensor 'a'", "no data_offsets")


def test_safetensors_unknown_dtype(tmp_path):
    f = raw_safetensors(tmp_path / "w.safetensors", {"a": tensor("F7")}, b"\0" * 24)
    expect_error(lambda: load_safetensors(f), f, "unsupported dtype 'F7'", "known: BOOL")


def test_safetensors_negative_shape(tmp_path):
    f = raw_safetensors(tmp_path / "w.safetensors", {"a": tensor(shape=(-2, 3))}, b"\0" * 24)
    expect_error(lambda: load_safetensors(f), f, "shape must be a list of non-negative integers")


def test_safetensors_shape_and_dtype_disagree_with_the_byte_count(tmp_path):
    f = raw_safetensors(tmp_path / "w.safetensors", {"a": tensor(offsets=(0, 20))}, b"\0" * 20)
    expect_error(
        lambda: load_safetensors(f), f, "dtype F32 and shape [2, 3] need 24 bytes", "span 20"
    )


def test_safetensors_offsets_beyond_the_file(tmp_path):
    f = raw_safetensors(tmp_path / "w.safetensors", {"a": tensor(offsets=(0, 24))}, b"\0" * 8)
    expect_error(lambda: load_safetensors(f), f, "data_offsets [0, 24] go past the end")


def test_safetensors_reversed_offsets(tmp_path):
    f = raw_safetensors(tmp_path / "w.safetensors", {"a": tensor(offsets=(24, 0))}, b"\0" * 24)
    expect_error(lambda: load_safetensors(f), f, "0 <= begin <= end, received [24, 0]")


def test_safetensors_overlapping_tensors(tmp_path):
    header = {"a": tensor(offsets=(0, 24)), "b": tensor(offsets=(8, 32))}
    f = raw_safetensors(tmp_path / "w.safetensors", header, b"\0" * 32)
    expect_error(lambda: load_safetensors(f), f, "tensor 'b'", "overlap or leave a gap")


def test_safetensors_trailing_bytes(tmp_path):
    f = raw_safetensors(tmp_path / "w.safetensors", {"a": tensor()}, b"\0" * 30)
    expect_error(lambda: load_safetensors(f), f, "30 bytes of data", "account for 24")


def test_safetensors_metadata_of_numbers(tmp_path):
    header = {"__metadata__": {"format": 1}, "a": tensor()}
    f = raw_safetensors(tmp_path / "w.safetensors", header, b"\0" * 24)
    expect_error(lambda: read_metadata(f), f, "read_metadata", "__metadata__ must map strings")


def test_safetensors_huge_shape_claim_allocates_nothing(tmp_path):
    header = {"a": tensor(shape=(10**6, 10**6), offsets=(0, 4 * 10**12))}
    f = raw_safetensors(tmp_path / "w.safetensors", header, b"\0" * 24)
    tracemalloc.start()
    try:
        expect_error(lambda: load_safetensors(f), f, "go past the end of the data")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, peak


# --- JSON ----------------------------------------------------------------------------------------
def test_json_corrupt(tmp_path):
    f = tmp_path / "config.json"
    f.write_text('{"model_type": "bert",')
    expect_error(lambda: load_json(f), f, "load_json", "is not valid JSON")


def test_json_not_utf8(tmp_path):
    f = tmp_path / "config.json"
    f.write_bytes(b'{"a": "\xff\xfe"}')
    expect_error(lambda: load_json(f), f, "is not valid JSON")


def test_json_list_instead_of_object(tmp_path):
    f = tmp_path / "config.json"
    f.write_text("[1, 2]")
    expect_error(lambda: load_json(f), f, "expected a JSON dict (object)", "received list (array)")


def test_json_nested_too_deeply(tmp_path):
    f = tmp_path / "config.json"
    f.write_text("[" * 100_000)
    expect_error(lambda: load_json(f), f, "is not valid JSON")


# --- from_pretrained directories --------------------------------------------------------------
@pytest.fixture
def gpt_dir(tmp_path):
    tmp_path = tmp_path / "gpt"
    GPT(GPTConfig(vocab_size=50, n_positions=16, n_embd=16, n_layer=2, n_head=4)).save_pretrained(
        tmp_path
    )
    return tmp_path


@pytest.fixture
def bert_dir(tmp_path):
    tmp_path = tmp_path / "bert"
    cfg = BertConfig(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=32,
        max_position_embeddings=20,
        num_labels=3,
    )
    BertForSequenceClassification(cfg).save_pretrained(tmp_path)
    return tmp_path


def edit_config(path, **changes):
    cfg = json.loads((path / "config.json").read_text())
    for k, v in changes.items():
        if v is KeyError:
            del cfg[k]
        else:
            cfg[k] = v
    (path / "config.json").write_text(json.dumps(cfg))
    return path / "config.json"


def edit_weights(path, **changes):
    w = load_safetensors(path / "model.safetensors", arrays=True)
    for k, v in changes.items():
        k = k.replace("__", ".")
        if v is KeyError:
            del w[k]
        else:
            w[k] = v
    save_safetensors(w, path / "model.safetensors")
    return path / "model.safetensors"


def test_pretrained_config_corrupt_json(gpt_dir):
    f = gpt_dir / "config.json"
    f.write_text(f.read_text()[:-10])
    expect_error(lambda: GPT.from_pretrained(gpt_dir), f, "GPT.from_pretrained", "not valid JSON")


def test_pretrained_config_is_a_list(bert_dir):
    f = bert_dir / "config.json"
    f.write_text("[1, 2]")
    expect_error(lambda: BERT.from_pretrained(bert_dir), f, "BERT.from_pretrained", "received list")


def test_pretrained_config_without_model_type(gpt_dir):
    f = edit_config(gpt_dir, model_type=KeyError)
    expect_error(lambda: GPT.from_pretrained(gpt_dir), f, "no 'model_type' key", "bert, gpt2")


def test_pretrained_config_of_another_model_type(gpt_dir):
    f = gpt_dir / "config.json"
    expect_error(
        lambda: BERT.from_pretrained(gpt_dir),
        f,
        "expected a config with model_type 'bert', received 'gpt2'",
    )


def test_pretrained_unknown_model_type_lists_the_known_ones(gpt_dir):
    f = edit_config(gpt_dir, model_type="gemma")
    expect_error(
        lambda: from_pretrained(gpt_dir),
        f,
        "unknown model_type 'gemma'",
        "(known model types: bert, gpt2, llama, qwen2, mistral)",
    )


def test_pretrained_unknown_architecture_lists_the_known_ones(bert_dir):
    f = edit_config(bert_dir, architectures=["BertForTokenClassification"])
    expect_error(
        lambda: from_pretrained(bert_dir),
        f,
        "unknown architecture 'BertForTokenClassification' for model_type 'bert'",
        "known: BertModel, BertForSequenceClassification",
    )


def test_pretrained_architectures_not_a_list(gpt_dir):
    f = edit_config(gpt_dir, architectures="GPT2LMHeadModel")
    expect_error(
        lambda: GPT.from_pretrained(gpt_dir), f, "'architectures' must be a list of strings"
    )


def test_pretrained_config_value_of_the_wrong_type(bert_dir):
    f = edit_config(bert_dir, hidden_size="16")
    expect_error(
        lambda: BERT.from_pretrained(bert_dir), f, "'hidden_size' must be int, received str '16'"
    )


def test_pretrained_config_bool_for_an_int(gpt_dir):
    f = edit_config(gpt_dir, n_layer=True)
    expect_error(
        lambda: GPT.from_pretrained(gpt_dir), f, "'n_layer' must be int, received bool True"
    )


def test_pretrained_config_float_for_an_int(gpt_dir):
    f = edit_config(gpt_dir, vocab_size=50.5)
    expect_error(
        lambda: GPT.from_pretrained(gpt_dir), f, "'vocab_size' must be int, received float"
    )


def test_pretrained_config_string_for_a_float(gpt_dir):
    f = edit_config(gpt_dir, layer_norm_epsilon="1e-5")
    expect_error(lambda: GPT.from_pretrained(gpt_dir), f, "'layer_norm_epsilon' must be float")


def test_pretrained_id2label_not_an_object(bert_dir):
    f = edit_config(bert_dir, id2label=["a", "b", "c"])
    expect_error(
        lambda: BertForSequenceClassification.from_pretrained(bert_dir),
        f,
        "'id2label' must be an object, received list",
    )


def test_pretrained_unknown_activation(bert_dir):
    f = edit_config(bert_dir, hidden_act="swishy")
    expect_error(lambda: BERT.from_pretrained(bert_dir), f, "invalid config", "'swishy'")


def test_pretrained_config_missing_a_size_key_disagrees_with_the_weights(gpt_dir):
    edit_config(gpt_dir, n_embd=KeyError)  # falls back to GPT-2's 768
    expect_error(
        lambda: GPT.from_pretrained(gpt_dir),
        gpt_dir / "model.safetensors",
        "tensor 'transformer.wte.weight': expected shape (50, 768)",
        "vocab_size=50, n_embd=768",
        "received (50, 16)",
    )


def test_pretrained_config_claiming_a_huge_vocabulary_allocates_nothing(bert_dir):
    edit_config(bert_dir, vocab_size=10**12)
    tracemalloc.start()
    try:
        expect_error(
            lambda: BERT.from_pretrained(bert_dir),
            bert_dir / "model.safetensors",
            "expected shape (1000000000000, 16)",
            "received (40, 16)",
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak


def test_pretrained_config_with_more_layers_than_the_weights(gpt_dir):
    f = edit_config(gpt_dir, n_layer=5)
    expect_error(
        lambda: GPT.from_pretrained(gpt_dir),
        f,
        "config.json gives n_layer=5",
        "holds 2 layers (0, 1)",
    )


def test_pretrained_missing_tensor(gpt_dir):
    f = edit_weights(gpt_dir, transformer__h__1__mlp__c_fc__bias=KeyError)
    expect_error(lambda: GPT.from_pretrained(gpt_dir), f, "missing keys: h.1.mlp.c_fc.bias")


def test_pretrained_missing_embedding_tensor(gpt_dir):
    f = edit_weights(gpt_dir, transformer__wte__weight=KeyError)
    expect_error(lambda: GPT.from_pretrained(gpt_dir), f, "missing tensor 'wte.weight'")


def test_pretrained_tensor_of_the_wrong_shape(bert_dir):
    f = edit_weights(bert_dir, bert__encoder__layer__1__output__dense__bias=np.zeros(3, np.float32))
    expect_error(
        lambda: BERT.from_pretrained(bert_dir),
        f,
        "bert.encoder.layer.1.output.dense.bias: expected shape (16,), received (3,)",
    )


def test_pretrained_tensor_of_an_integer_dtype(gpt_dir):
    f = edit_weights(gpt_dir, transformer__ln_f__bias=np.zeros(16, np.int32))
    expect_error(
        lambda: GPT.from_pretrained(gpt_dir),
        f,
        "transformer.ln_f.bias: expected floating point, received int32",
    )


def test_pretrained_unexpected_tensor(gpt_dir):
    f = edit_weights(gpt_dir, transformer__h__9__extra=np.zeros(2, np.float32))
    expect_error(lambda: GPT.from_pretrained(gpt_dir), f, "unexpected keys: transformer.h.9.extra")


def test_pretrained_truncated_weights(bert_dir):
    f = bert_dir / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-100])
    expect_error(
        lambda: BertForSequenceClassification.from_pretrained(bert_dir),
        f,
        "BertForSequenceClassification.from_pretrained",
        "not a readable safetensors file",
    )


def test_pretrained_classifier_weight_without_bias(bert_dir):
    f = edit_weights(bert_dir, classifier__bias=KeyError)
    expect_error(
        lambda: BertForSequenceClassification.from_pretrained(bert_dir),
        f,
        "has classifier.weight but no classifier.bias",
    )


def test_pretrained_classifier_disagrees_with_num_labels(bert_dir):
    f = edit_weights(bert_dir, classifier__weight=np.zeros((5, 16), np.float32))
    expect_error(
        lambda: BertForSequenceClassification.from_pretrained(bert_dir),
        f,
        "expected shapes (num_labels, 16) and (num_labels,), received (5, 16) and (3,)",
    )


def test_bert_loader_takes_the_encoder_of_any_bert_architecture(bert_dir):
    edit_config(bert_dir, architectures=["BertForTokenClassification"])
    assert type(BERT.from_pretrained(bert_dir)) is BERT


def test_generic_from_pretrained_picks_the_architecture(bert_dir, gpt_dir):
    assert type(from_pretrained(gpt_dir)) is GPT
    assert type(from_pretrained(bert_dir)) is BertForSequenceClassification
    edit_config(bert_dir, architectures=["BertModel"])
    assert type(from_pretrained(bert_dir)) is BERT


# --- LoRA adapters -----------------------------------------------------------------------------
def lora_gpt():
    model = GPT(GPTConfig(vocab_size=50, n_positions=16, n_embd=16, n_layer=2, n_head=4))
    return peft.apply_lora(model, r=2, target_modules=["c_attn"])


def test_lora_adapter_truncated(tmp_path):
    f = tmp_path / "adapters.safetensors"
    peft.save_lora(lora_gpt(), f)
    f.write_bytes(f.read_bytes()[:-7])
    expect_error(lambda: peft.load_lora(lora_gpt(), f), f, "load_lora", "go past the end")


def test_lora_adapter_of_other_layers(tmp_path):
    f = tmp_path / "adapters.safetensors"
    save_safetensors({"h.0.mlp.c_fc.lora_A": np.zeros((2, 16), np.float32)}, f)
    expect_error(
        lambda: peft.load_lora(lora_gpt(), f),
        f,
        "adapters do not fit the model",
        "'h.0.attn.c_attn.lora_A'",
        "unexpected ['h.0.mlp.c_fc.lora_A']",
    )


def test_lora_adapter_of_the_wrong_shape(tmp_path):
    f = tmp_path / "adapters.safetensors"
    state = {k: v.numpy() for k, v in peft.lora_state_dict(lora_gpt()).items()}
    state["h.1.attn.c_attn.lora_B"] = np.zeros((48, 3), np.float32)
    save_safetensors(state, f)
    expect_error(
        lambda: peft.load_lora(lora_gpt(), f),
        f,
        "'h.1.attn.c_attn.lora_B': expected shape (48, 2), received (48, 3)",
    )


def test_lora_adapter_of_an_integer_dtype(tmp_path):
    f = tmp_path / "adapters.safetensors"
    state = {k: v.numpy() for k, v in peft.lora_state_dict(lora_gpt()).items()}
    state["h.0.attn.c_attn.lora_A"] = np.zeros((2, 16), np.int64)
    save_safetensors(state, f)
    expect_error(
        lambda: peft.load_lora(lora_gpt(), f), f, "expected floating point, received int64"
    )


# --- tokenizers --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tokenizer_text():
    tok = train_bpe(["hello world, hello tokenizer"] * 20, vocab_size=270)
    return tok.inner.to_str()


def test_tokenizer_truncated(tmp_path, tokenizer_text):
    f = tmp_path / "tokenizer.json"
    f.write_text(tokenizer_text[: len(tokenizer_text) // 2])
    expect_error(
        lambda: Tokenizer.from_file(f), f, "Tokenizer.from_file", "not a valid tokenizer.json"
    )


def test_tokenizer_of_the_wrong_structure(tmp_path):
    f = tmp_path / "tokenizer.json"
    f.write_text('{"model": [1, 2]}')
    expect_error(lambda: Tokenizer.from_file(f), f, "not a valid tokenizer.json")


def test_tokenizer_not_utf8(tmp_path):
    f = tmp_path / "tokenizer.json"
    f.write_bytes(b"\xff\xfe\x00garbage")
    expect_error(lambda: Tokenizer.from_file(f), f, "not a valid tokenizer.json")


def test_char_tokenizer_of_the_wrong_kind(tmp_path):
    f = tmp_path / "chars.json"
    f.write_text('{"type": "bpe", "chars": ["a"]}')
    expect_error(
        lambda: CharTokenizer.load(f), f, "CharTokenizer.load", "expected a saved CharTokenizer"
    )


def test_char_tokenizer_corrupt_json(tmp_path):
    f = tmp_path / "chars.json"
    f.write_text('{"type": "char", "chars": ["a"')
    expect_error(lambda: CharTokenizer.load(f), f, "CharTokenizer.load", "not valid JSON")


def test_pretrained_conv1d_weight_of_the_wrong_shape_shows_the_stored_shape(gpt_dir):
    f = edit_weights(gpt_dir, transformer__h__0__mlp__c_fc__weight=np.zeros((3, 5), np.float32))
    expect_error(
        lambda: GPT.from_pretrained(gpt_dir),
        f,
        "transformer.h.0.mlp.c_fc.weight: expected shape (64, 16), received (5, 3)",
        "stored as (3, 5)",
    )


def test_safetensors_metadata_not_an_object(tmp_path):
    header = {"__metadata__": ["format", "pt"], "a": tensor()}
    f = raw_safetensors(tmp_path / "w.safetensors", header, b"\0" * 24)
    expect_error(lambda: load_safetensors(f), f, "__metadata__ must map strings")


def test_safetensors_loader_given_a_json_file(tmp_path):
    f = tmp_path / "model.safetensors"
    f.write_text('{"model_type": "bert", "hidden_size": 16}')
    expect_error(lambda: load_safetensors(f), f, "not a readable safetensors file")


def test_safetensors_more_dimensions_than_numpy_allows(tmp_path):
    header = {"a": tensor(shape=[1] * 40, offsets=(0, 4))}
    f = raw_safetensors(tmp_path / "w.safetensors", header, b"\0" * 4)
    expect_error(lambda: load_safetensors(f), f, "40 dimensions")


def test_tokenizer_given_a_safetensors_file(tmp_path):
    f = tmp_path / "tokenizer.json"
    save_safetensors({"a": np.zeros(3, np.float32)}, f)
    expect_error(lambda: Tokenizer.from_file(f), f, "not a valid tokenizer.json")


def test_pretrained_weights_file_is_a_tokenizer(gpt_dir, tmp_path):
    f = gpt_dir / "model.safetensors"
    f.write_text('{"version": "1.0", "model": {"type": "BPE"}}')
    expect_error(
        lambda: GPT.from_pretrained(gpt_dir), f, "GPT.from_pretrained", "not a readable safetensors"
    )


def test_pretrained_huge_config_value_is_cut_short_in_the_message(gpt_dir):
    f = edit_config(gpt_dir, n_head=list(range(100_000)))
    e = expect_error(lambda: GPT.from_pretrained(gpt_dir), f, "'n_head' must be int, received list")
    assert len(str(e)) < 400, len(str(e))


def test_safetensors_huge_tensor_name_is_cut_short_in_the_message(tmp_path):
    header = {"x" * 100_000: tensor(dtype="F99")}
    f = raw_safetensors(tmp_path / "w.safetensors", header, b"\0" * 24)
    e = expect_error(lambda: load_safetensors(f), f, "unsupported dtype 'F99'", "tensor 'xxxx")
    assert len(str(e)) < 600, len(str(e))
