"""IntegerLookup and StringLookup. Real Keras 3 runs these layers only with TensorFlow installed
(not here), so the expected values are those Keras documents for its layers: index layout,
adapt order, OOV buckets, encodings and inversion; plus configs, functional use and errors."""

import numpy as np
import pytest

from tests.keras.layer_oracle import round_trip
from zerograd import keras
from zerograd.keras import layers as L

VOCAB = [12, 36, 1138, 42]
DATA = np.array([[12, 1138, 42], [42, 1000, 36]])
WORDS = ["a", "b", "c", "d"]
TEXT = np.array([["a", "c", "d"], ["d", "z", "b"]])


def test_real_keras_lookup_needs_tensorflow(real_keras):
    """Why these tests hold documented values: the oracle cannot run the layer here."""
    try:
        real_keras.layers.IntegerLookup(vocabulary=VOCAB)
    except ImportError as error:
        assert "TensorFlow" in str(error)
    else:
        pytest.skip("TensorFlow is installed: compare with real Keras instead")


def test_integer_lookup_with_vocabulary():
    layer = L.IntegerLookup(vocabulary=VOCAB)
    np.testing.assert_array_equal(layer(DATA).numpy(), [[1, 3, 4], [4, 0, 2]])
    assert layer.get_vocabulary() == [-1, *VOCAB]
    assert layer.vocabulary_size() == 5
    assert layer(DATA).numpy().dtype == np.int64


def test_integer_lookup_adapt_orders_by_count_then_token():
    layer = L.IntegerLookup()
    layer.adapt(DATA)
    assert layer.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]
    np.testing.assert_array_equal(layer(DATA).numpy(), [[5, 2, 1], [1, 3, 4]])
    capped = L.IntegerLookup(max_tokens=3)
    capped.adapt([DATA[:1], DATA[1:]])  # an iterable of batches
    assert capped.get_vocabulary() == [-1, 42, 1138]


def test_integer_lookup_oov_buckets_and_mask():
    layer = L.IntegerLookup(vocabulary=VOCAB, num_oov_indices=2)
    data = np.array([[12, 1138, 42], [37, 1000, 36]])
    np.testing.assert_array_equal(layer(data).numpy(), [[2, 4, 5], [1, 0, 3]])
    masked = L.IntegerLookup(vocabulary=VOCAB, mask_token=0)
    assert masked.get_vocabulary() == [0, -1, *VOCAB]
    np.testing.assert_array_equal(masked(np.array([[12, 0, 7]])).numpy(), [[2, 0, 1]])


@pytest.mark.parametrize(
    ("mode", "data", "want"),
    [
        ("one_hot", np.array([12, 36, 1138, 42, 7]), np.eye(5)[[1, 2, 3, 4, 0]]),
        (
            "multi_hot",
            np.array([[12, 1138, 42, 42], [42, 7, 36, 7]]),
            [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]],
        ),
        (
            "count",
            np.array([[12, 1138, 42, 42], [42, 7, 36, 7]]),
            [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]],
        ),
    ],
)
def test_integer_lookup_encodings(mode, data, want):
    out = L.IntegerLookup(vocabulary=VOCAB, output_mode=mode)(data).numpy()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, want)


def test_integer_lookup_pad_to_max_tokens_and_invert():
    layer = L.IntegerLookup(vocabulary=VOCAB, output_mode="multi_hot", max_tokens=8,
                            pad_to_max_tokens=True)  # fmt: skip
    assert layer(DATA).numpy().shape == (2, 8)
    inv = L.IntegerLookup(vocabulary=VOCAB, invert=True)
    got = inv(np.array([[1, 3, 4], [4, 0, 2]])).numpy()
    np.testing.assert_array_equal(got, [[12, 1138, 42], [42, -1, 36]])


def test_string_lookup_with_vocabulary_adapt_and_invert():
    layer = L.StringLookup(vocabulary=WORDS)
    np.testing.assert_array_equal(layer(TEXT).numpy(), [[1, 3, 4], [4, 0, 2]])
    np.testing.assert_array_equal(layer(TEXT.astype(bytes)).numpy(), [[1, 3, 4], [4, 0, 2]])
    learnt = L.StringLookup()
    learnt.adapt(TEXT)
    assert learnt.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    inv = L.StringLookup(vocabulary=WORDS, invert=True)
    np.testing.assert_array_equal(
        inv(np.array([[1, 3, 4], [4, 0, 2]])), [["a", "c", "d"], ["d", "[UNK]", "b"]]
    )


def test_string_lookup_mask_token_and_encodings():
    layer = L.StringLookup(vocabulary=WORDS, mask_token="")
    assert layer.get_vocabulary() == ["", "[UNK]", *WORDS]
    np.testing.assert_array_equal(layer(np.array([["a", "", "q"]])).numpy(), [[2, 0, 1]])
    hot = L.StringLookup(vocabulary=WORDS, mask_token="", output_mode="multi_hot")
    np.testing.assert_array_equal(hot(np.array([["a", "", "d"]])).numpy(), [[0, 1, 0, 0, 1]])
    count = L.StringLookup(vocabulary=WORDS, output_mode="count")
    np.testing.assert_array_equal(count(TEXT).numpy(), [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])


def test_lookup_configs_round_trip():
    round_trip(L.IntegerLookup(vocabulary=VOCAB, num_oov_indices=2, mask_token=0, name="ids"))
    round_trip(L.StringLookup(vocabulary=WORDS, output_mode="count", oov_token="?"))
    learnt = L.StringLookup(max_tokens=4)
    learnt.adapt(TEXT)
    clone = L.StringLookup.from_config(learnt.get_config())  # the learnt vocabulary survives
    np.testing.assert_array_equal(clone(TEXT).numpy(), learnt(TEXT).numpy())


def test_integer_lookup_in_functional_model():
    inp = keras.Input((3,), dtype="int64")
    ids = L.IntegerLookup(vocabulary=VOCAB)(inp)
    out = L.Embedding(5, 2)(ids)
    model = keras.Model(inp, out)
    assert model.predict(DATA, verbose=0).shape == (2, 3, 2)


def test_lookup_bad_arguments():
    with pytest.raises(ValueError, match="output_mode"):
        L.IntegerLookup(output_mode="tf_idf")
    with pytest.raises(ValueError, match="invert"):
        L.StringLookup(invert=True, output_mode="count")
    with pytest.raises(ValueError, match="repeats"):
        L.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="max_tokens"):
        L.IntegerLookup(vocabulary=VOCAB, max_tokens=3)
    with pytest.raises(ValueError, match="num_oov_indices > 1"):
        L.StringLookup(num_oov_indices=2)
    with pytest.raises(TypeError, match="mask_token"):
        L.IntegerLookup(mask_token="pad")
    with pytest.raises(ValueError, match="adapt"):
        L.StringLookup()(TEXT)
    with pytest.raises(ValueError, match="num_oov_indices=0"):
        L.IntegerLookup(vocabulary=VOCAB, num_oov_indices=0)(DATA)
