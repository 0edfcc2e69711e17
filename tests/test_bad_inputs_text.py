"""Bad arguments to the tokenizers (encode, encode_batch, decode, train_bpe, CharTokenizer): each
is a TypeError/ValueError naming the method, the argument, what was expected and what was
received, where the ``tokenizers`` package underneath raises OverflowError or decodes silently."""

import numpy as np
import pytest

import zerograd as zg
from zerograd.data import CharTokenizer, train_bpe

CORPUS = ["the quick brown fox jumps over the lazy dog"] * 10


@pytest.fixture(scope="module")
def bpe():
    return train_bpe(CORPUS, vocab_size=300)


@pytest.fixture(scope="module")
def chars():
    return CharTokenizer.fit("hello world")


def test_the_package_underneath_gives_no_clear_error(bpe):
    """Why the checks exist: the raw package overflows on a negative id and decodes an id past
    the vocabulary to nothing, silently."""
    with pytest.raises(OverflowError):
        bpe.inner.decode([-1])
    assert bpe.inner.decode([10**6]) == ""


# fmt: off
BPE_CASES = [
    ("encode-max-length-negative", lambda t: t.encode("the fox", max_length=-1), ValueError,
     r"Tokenizer\.encode: max_length must be a positive integer, received -1"),
    ("encode-max-length-0", lambda t: t.encode("the fox", max_length=0), ValueError,
     r"Tokenizer\.encode: max_length must be a positive integer, received 0"),
    ("encode-max-length-float", lambda t: t.encode("the fox", max_length=4.0), TypeError,
     r"Tokenizer\.encode: max_length must be an integer, received 4\.0 \(float\)"),
    ("encode-truncation-str", lambda t: t.encode("the fox", truncation="yes"), TypeError,
     r"Tokenizer\.encode: truncation must be True or False, received 'yes'"),
    ("encode-not-str", lambda t: t.encode(["the fox"]), TypeError,
     r"Tokenizer\.encode: expected a str, received list"),
    ("encode-batch-max-length-negative",
     lambda t: t.encode_batch(["the", "fox"], max_length=-3), ValueError,
     r"Tokenizer\.encode_batch: max_length must be a positive integer, received -3"),
    ("encode-batch-pad-max-length-negative",
     lambda t: t.encode_batch(["the"], padding="max_length", max_length=-3), ValueError,
     r"Tokenizer\.encode_batch: max_length must be a positive integer, received -3"),
    ("encode-batch-empty", lambda t: t.encode_batch([]), TypeError,
     r"Tokenizer\.encode_batch: expected a non-empty list of str"),
    ("decode-negative-id", lambda t: t.decode([5, -1]), ValueError,
     r"Tokenizer\.decode: ids must be in \[0, \d+\) \(vocab_size\), received min -1 max 5"),
    ("decode-id-past-vocab", lambda t: t.decode(np.array([5, 10**6])), ValueError,
     r"Tokenizer\.decode: ids must be in \[0, \d+\) \(vocab_size\), received min 5 max 1000000"),
    ("decode-float-ids", lambda t: t.decode([1.0, 2.5]), TypeError,
     r"Tokenizer\.decode: expected integer ids, received dtype float64"),
    ("decode-2-d-ids", lambda t: t.decode(np.ones((2, 2), np.int64)), ValueError,
     r"Tokenizer\.decode: expected a 1-D sequence of ids, received shape \(2, 2\)"),
    ("decode-tensor-negative", lambda t: t.decode(zg.tensor([-3])), ValueError,
     r"Tokenizer\.decode: ids must be in .*received min -3"),
    ("decode-batch-negative-row", lambda t: t.decode_batch([[1, 2], [-1]]), ValueError,
     r"Tokenizer\.decode: ids must be in .*received min -1"),
    ("train-vocab-float", lambda t: train_bpe(CORPUS, vocab_size=300.0), TypeError,
     r"train_bpe: vocab_size must be an integer, received 300\.0 \(float\)"),
    ("train-min-frequency-0", lambda t: train_bpe(CORPUS, min_frequency=0), ValueError,
     r"train_bpe: min_frequency must be a positive integer, received 0"),
    ("train-one-string", lambda t: train_bpe("the quick brown fox"), TypeError,
     r"train_bpe: expected an iterable of str, received one str"),
]
# fmt: on


@pytest.mark.parametrize("call, error, match", [pytest.param(*r[1:], id=r[0]) for r in BPE_CASES])
def test_bad_tokenizer_arguments(bpe, call, error, match):
    with pytest.raises(error, match=match):
        call(bpe)


# fmt: off
CHAR_CASES = [
    ("decode-negative", lambda t: t.decode([1, -1]), ValueError,
     r"CharTokenizer\.decode: ids must be in \[0, 9\) \(vocab_size\), received min -1 max 1"),
    ("decode-past-vocab", lambda t: t.decode([1, 9]), ValueError,
     r"CharTokenizer\.decode: ids must be in \[0, 9\) \(vocab_size\), received min 1 max 9"),
    ("decode-float", lambda t: t.decode([1.9]), TypeError,
     r"CharTokenizer\.decode: expected integer ids, received dtype float64"),
    ("encode-not-str", lambda t: t.encode(None), TypeError,
     r"CharTokenizer\.encode: expected a str, received NoneType"),
]
# fmt: on


@pytest.mark.parametrize("call, error, match", [pytest.param(*r[1:], id=r[0]) for r in CHAR_CASES])
def test_bad_char_tokenizer_arguments(chars, call, error, match):
    with pytest.raises(error, match=match):
        call(chars)


def test_valid_edges(bpe, chars):
    assert bpe.decode([]) == "" and chars.decode([]) == ""  # nothing to decode
    ids = bpe.encode("the lazy dog")
    assert bpe.decode(ids) == "the lazy dog"
    assert bpe.decode(zg.tensor(ids)) == "the lazy dog"  # a Tensor of ids
    assert bpe.decode([bpe.vocab_size - 1]) is not None  # the last id is in range
    assert len(bpe.encode("the quick brown fox jumps", max_length=2)) == 2
    assert chars.decode([0, *chars.encode("hello")]) == "hello"  # '<unk>' (0) is dropped
    assert bpe.decode_batch(np.array([ids, ids])) == ["the lazy dog"] * 2
