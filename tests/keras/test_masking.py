"""Keras masks in the facade against real Keras 3: mask-making layers, propagation, consumers."""

import numpy as np
import pytest

from zerograd import keras
from zerograd.keras import layers as L

RNG = np.random.default_rng(1)
PADDED = np.array([[5, 3, 7, 0, 0], [2, 0, 0, 0, 0], [0, 0, 4, 1, 9]])


def np_(t):
    if hasattr(t, "detach") and hasattr(t, "cpu"):
        return t.detach().cpu().numpy()
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)


def test_embedding_mask_zero_matches_keras(real_keras):
    ours = L.Embedding(10, 3, mask_zero=True)
    theirs = real_keras.layers.Embedding(10, 3, mask_zero=True)
    out, ref = ours(PADDED), theirs(PADDED)
    np.testing.assert_array_equal(np_(out._keras_mask), np_(ref._keras_mask))
    np.testing.assert_array_equal(np_(ours.compute_mask(PADDED)), PADDED != 0)
    assert L.Embedding(10, 3).compute_mask(PADDED) is None
    assert getattr(L.Embedding(10, 3)(PADDED), "_keras_mask", None) is None


def test_masking_layer_matches_keras(real_keras):
    x = RNG.standard_normal((3, 5, 4)).astype("float32")
    x[0, 3:] = 0.0
    x[2, :2] = -1.0
    for value in (0.0, -1.0):
        ours, theirs = L.Masking(mask_value=value), real_keras.layers.Masking(mask_value=value)
        out, ref = ours(x), theirs(x)
        np.testing.assert_allclose(out.numpy(), np_(ref))
        np.testing.assert_array_equal(np_(out._keras_mask), np_(ref._keras_mask))
    assert L.Masking.from_config(ours.get_config()).mask_value == -1.0
    assert ours.get_config()["mask_value"] == theirs.get_config()["mask_value"]


def _copy_weights(ours, theirs):
    for layer in theirs.layers:
        if layer.weights:
            ours.get_layer(layer.name).set_weights([np.asarray(w) for w in layer.get_weights()])


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_mask_reaches_the_lstm_in_models(real_keras, kind):
    def build(k):
        if kind == "sequential":
            return k.Sequential(
                [
                    k.layers.Embedding(10, 4, mask_zero=True, name="emb"),
                    k.layers.Dense(4, name="proj"),  # Dense passes the mask on
                    k.layers.LSTM(3, return_sequences=True, name="lstm"),
                ]
            )
        inputs = k.Input(shape=(None,), dtype="int32")
        x = k.layers.Embedding(10, 4, mask_zero=True, name="emb")(inputs)
        x = k.layers.Dense(4, name="proj")(x)
        return k.Model(inputs, k.layers.LSTM(3, return_sequences=True, name="lstm")(x))

    ours, theirs = build(keras), build(real_keras)
    theirs(PADDED)
    ours(PADDED)
    _copy_weights(ours, theirs)
    out, ref = ours(PADDED), theirs(PADDED)
    np.testing.assert_allclose(out.numpy(), np_(ref), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np_(out._keras_mask), PADDED != 0)


def test_symbolic_tensors_carry_masks():
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = L.Embedding(10, 4, mask_zero=True)(inputs)
    assert x._keras_mask.shape == x.shape[:2] and x._keras_mask.dtype == bool
    assert getattr(L.Flatten()(x), "_keras_mask", None) is None  # Flatten does not support masks
    assert getattr(L.LSTM(2)(x), "_keras_mask", None) is None
    seq = L.LSTM(2, return_sequences=True)(x)
    assert seq._keras_mask.shape == seq.shape[:2]


def test_custom_layers_opt_in_and_consume(real_keras):
    def classes(k):
        class PassOn(k.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.supports_masking = True

            def call(self, inputs):
                return inputs * 2.0

        class Drops(k.layers.Layer):
            def call(self, inputs):
                return inputs * 2.0

        class Consumer(k.layers.Layer):
            def call(self, inputs, mask=None):
                assert mask is not None
                return inputs * k.ops.expand_dims(k.ops.cast(mask, "float32"), -1)

        return PassOn, Drops, Consumer

    emb_ours = L.Embedding(10, 3, mask_zero=True)
    emb = real_keras.layers.Embedding(10, 3, mask_zero=True)
    emb(PADDED)
    emb_ours(PADDED)
    emb_ours.set_weights(emb.get_weights())
    PassOn, Drops, _ = classes(keras)
    x = emb_ours(PADDED)
    np.testing.assert_array_equal(np_(PassOn()(x)._keras_mask), PADDED != 0)
    assert getattr(Drops()(x), "_keras_mask", None) is None
    _, _, KConsumer = classes(real_keras)

    class Consumer(L.Layer):
        def call(self, inputs, mask=None):
            assert mask is not None
            return inputs * mask.astype("float32").reshape((*mask.shape, 1))

    np.testing.assert_allclose(Consumer()(x).numpy(), np_(KConsumer()(emb(PADDED))), atol=1e-6)


def test_compute_mask_of_a_split_layer_gives_one_mask_per_output():
    class TemporalSplit(L.Layer):
        def call(self, inputs):
            return [inputs[:, :2], inputs[:, 2:]]

        def compute_mask(self, inputs, mask=None):
            return None if mask is None else [mask[:, :2], mask[:, 2:]]

    x = L.Embedding(10, 3, mask_zero=True)(PADDED)
    first, second = TemporalSplit()(x)
    np.testing.assert_array_equal(np_(first._keras_mask), PADDED[:, :2] != 0)
    np.testing.assert_array_equal(np_(second._keras_mask), PADDED[:, 2:] != 0)


def test_mask_passed_explicitly_to_a_layer_inside_a_layer(real_keras):
    emb = L.Embedding(10, 4, mask_zero=True)
    lstm = L.LSTM(3)
    x = emb(PADDED)
    explicit = lstm(x.detach(), mask=emb.compute_mask(PADDED)).numpy()
    np.testing.assert_allclose(lstm(x).numpy(), explicit)
    assert not np.allclose(lstm(x.detach()).numpy(), explicit)  # no mask: padding counted


def test_time_distributed_passes_the_mask_on(real_keras):
    import torch

    x = RNG.standard_normal((3, 5, 4)).astype("float32")
    mask = PADDED != 0
    ours = L.TimeDistributed(L.Dense(2))
    theirs = real_keras.layers.TimeDistributed(real_keras.layers.Dense(2))
    theirs(x)
    ours(x)
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    xm = keras.layers.Masking()(x * mask[..., None])
    out = ours(xm)
    ref = theirs(real_keras.layers.Masking()(torch.from_numpy(x * mask[..., None])))
    np.testing.assert_allclose(out.numpy(), np_(ref), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np_(out._keras_mask), np_(ref._keras_mask))
