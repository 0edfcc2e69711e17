"""CategoryEncoding and Discretization against real Keras 3: outputs for every output_mode and input
rank, configs, functional use, adapt and argument errors."""

import numpy as np
import pytest

from tests.keras.layer_oracle import config_keys_match, round_trip
from zerograd import keras
from zerograd.keras import layers as L

RNG = np.random.default_rng(0)
TOKENS = [
    RNG.integers(0, 5, (3, 4)),
    RNG.integers(0, 5, (6,)),
    RNG.integers(0, 5, (3, 1)),
    RNG.integers(0, 5, (2, 3, 4)),
]
FLOATS = RNG.standard_normal((3, 4)).astype("float32")


def _same(real_keras, ours, theirs, x, **kwargs):
    got, want = ours(x, **kwargs).numpy(), real_keras.ops.convert_to_numpy(theirs(x, **kwargs))
    assert got.shape == want.shape, f"output shape {got.shape}, Keras {want.shape}"
    np.testing.assert_allclose(got, want, rtol=1e-6)
    return got


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
@pytest.mark.parametrize("x", TOKENS, ids=lambda x: str(x.shape))
def test_category_encoding_matches_keras(real_keras, mode, x):
    ours = L.CategoryEncoding(5, output_mode=mode)
    theirs = real_keras.layers.CategoryEncoding(5, output_mode=mode)
    assert _same(real_keras, ours, theirs, x).dtype == np.float32
    config_keys_match(theirs, ours)


def test_category_encoding_count_weights_match_keras(real_keras):
    x, w = TOKENS[0], RNG.random((3, 4)).astype("float32")
    ours = L.CategoryEncoding(5, output_mode="count")
    theirs = real_keras.layers.CategoryEncoding(5, output_mode="count")
    _same(real_keras, ours, theirs, x, count_weights=w)


def test_category_encoding_in_functional_model_and_config():
    inp = keras.Input((3,), dtype="int32")
    out = L.CategoryEncoding(6, output_mode="count")(inp)
    assert tuple(out.shape) == (None, 6)
    y = keras.Model(inp, out).predict(np.array([[1, 1, 5]]), verbose=0)
    np.testing.assert_array_equal(y, [[0, 2, 0, 0, 0, 1]])
    round_trip(L.CategoryEncoding(7, output_mode="one_hot", name="enc"))
    assert L.CategoryEncoding(3, output_mode="binary").output_mode == "multi_hot"


def test_category_encoding_bad_arguments():
    with pytest.raises(ValueError, match="num_tokens"):
        L.CategoryEncoding()
    with pytest.raises(ValueError, match="output_mode"):
        L.CategoryEncoding(3, output_mode="tf_idf")
    with pytest.raises(ValueError, match="sparse"):
        L.CategoryEncoding(3, sparse=True)
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        L.CategoryEncoding(3)(np.array([[0, 3]]))
    with pytest.raises(ValueError, match="count_weights"):
        L.CategoryEncoding(3)(np.array([[0, 1]]), count_weights=np.ones((1, 2)))


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization_matches_keras(real_keras, mode):
    bins = [-0.5, 0.0, 0.7]
    ours = L.Discretization(bins, output_mode=mode)
    theirs = real_keras.layers.Discretization(bins, output_mode=mode)
    got = _same(real_keras, ours, theirs, FLOATS)
    assert got.dtype == (np.int32 if mode == "int" else np.float32)
    config_keys_match(theirs, ours)


def test_discretization_edges_match_keras(real_keras):
    x = np.array([[0.0, 1.0, -1.0, 2.0, 0.5]], "float32")
    _same(real_keras, L.Discretization([0.0, 1.0]), real_keras.layers.Discretization([0, 1]), x)


def test_discretization_adapt_learns_quantiles():
    layer = L.Discretization(num_bins=4)
    data = np.arange(1000, dtype="float32")
    layer.adapt(data)
    np.testing.assert_allclose(layer.bin_boundaries, [249.75, 499.5, 749.25], rtol=1e-6)
    counts = np.bincount(layer(data[None]).numpy()[0], minlength=4)
    np.testing.assert_array_equal(counts, [250, 250, 250, 250])
    clone = L.Discretization.from_config(layer.get_config())  # an adapted layer's buckets survive
    assert clone.bin_boundaries == layer.bin_boundaries
    layer.adapt([data[:500], data[500:]])  # an iterable of batches
    np.testing.assert_allclose(layer.bin_boundaries, [249.75, 499.5, 749.25], rtol=1e-6)


def test_discretization_functional_and_config():
    inp = keras.Input((3,))
    out = L.Discretization([0.0, 1.0], output_mode="one_hot")(inp)
    assert tuple(out.shape) == (None, 3, 3)
    y = keras.Model(inp, out).predict(np.array([[-1.0, 0.5, 3.0]], "float32"), verbose=0)
    np.testing.assert_array_equal(y[0], np.eye(3))
    round_trip(L.Discretization([0.5, 2.0], output_mode="count", epsilon=0.1))


def test_discretization_bad_arguments():
    with pytest.raises(ValueError, match="exactly one"):
        L.Discretization()
    with pytest.raises(ValueError, match="exactly one"):
        L.Discretization([0.0], num_bins=3)
    with pytest.raises(ValueError, match="sorted"):
        L.Discretization([1.0, 0.0])
    with pytest.raises(ValueError, match="output_mode"):
        L.Discretization([0.0], output_mode="tf_idf")
    with pytest.raises(ValueError, match="adapt"):
        L.Discretization([0.0]).adapt(np.ones(3))
    with pytest.raises(ValueError, match="adapt"):
        L.Discretization(num_bins=2)(np.ones((1, 2), "float32"))
