"""3-D layers (Conv3D, Max/AveragePooling3D, Global*Pooling3D, UpSampling3D, ZeroPadding3D,
Cropping3D) against real Keras 3: outputs, input and weight gradients with copied weights; configs;
a functional model; argument errors."""

import numpy as np
import pytest

import zerograd as zg
from tests.keras.layer_oracle import compare, config_keys_match, round_trip
from zerograd import keras
from zerograd.keras import layers as L

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 5, 6, 4, 3)).astype("float32")
# 'same' pooling pads evenly on these sizes: Keras's torch backend pads an odd total by
# replicating edge cells into average windows, where Keras's other backends (and zerograd)
# average the real cells only
XP = RNG.standard_normal((2, 5, 7, 3, 3)).astype("float32")

CONV = [
    {},
    {"padding": "same", "strides": 2},
    {"padding": "same", "dilation_rate": (1, 2, 1), "activation": "relu"},
    {"padding": "same", "data_format": "channels_first"},
    {"groups": 3, "use_bias": False},
]


@pytest.mark.parametrize("kwargs", CONV, ids=str)
def test_conv3d_matches_keras(real_keras, kwargs):
    ours, theirs = (
        L.Conv3D(6, (3, 2, 3), **kwargs),
        real_keras.layers.Conv3D(6, (3, 2, 3), **kwargs),
    )
    compare(real_keras, ours, theirs, X)
    config_keys_match(theirs, ours)


POOL = [
    {"pool_size": 2},
    {"pool_size": 2, "padding": "same"},
    {"pool_size": 3, "strides": 2, "padding": "same"},
    {"pool_size": (2, 3, 1), "strides": 1},
    {"pool_size": 2, "padding": "same", "data_format": "channels_first"},
]


@pytest.mark.parametrize("name", ["MaxPooling3D", "AveragePooling3D"])
@pytest.mark.parametrize("kwargs", POOL, ids=str)
def test_pooling3d_matches_keras(real_keras, name, kwargs):
    ours, theirs = getattr(L, name)(**kwargs), getattr(real_keras.layers, name)(**kwargs)
    compare(real_keras, ours, theirs, XP)
    config_keys_match(theirs, ours)


@pytest.mark.parametrize("name", ["GlobalAveragePooling3D", "GlobalMaxPooling3D"])
@pytest.mark.parametrize("kwargs", [{}, {"keepdims": True, "data_format": "channels_first"}])
def test_global_pooling3d_matches_keras(real_keras, name, kwargs):
    ours, theirs = getattr(L, name)(**kwargs), getattr(real_keras.layers, name)(**kwargs)
    compare(real_keras, ours, theirs, X)
    config_keys_match(theirs, ours)


RESHAPE = [
    ("UpSampling3D", {}),
    ("UpSampling3D", {"size": (1, 2, 3), "data_format": "channels_first"}),
    ("ZeroPadding3D", {}),
    ("ZeroPadding3D", {"padding": (1, 0, 2)}),
    ("ZeroPadding3D", {"padding": ((0, 1), (2, 0), (1, 1)), "data_format": "channels_first"}),
    ("Cropping3D", {}),
    ("Cropping3D", {"cropping": ((0, 1), (2, 0), (1, 1))}),
    ("Cropping3D", {"cropping": 1, "data_format": "channels_first"}),
]


@pytest.mark.parametrize(("name", "kwargs"), RESHAPE, ids=str)
def test_reshaping3d_matches_keras(real_keras, name, kwargs):
    ours, theirs = getattr(L, name)(**kwargs), getattr(real_keras.layers, name)(**kwargs)
    compare(real_keras, ours, theirs, X)
    config_keys_match(theirs, ours)
    round_trip(ours, zg.Tensor(X))


def test_3d_configs_round_trip_and_aliases():
    x = zg.Tensor(X)
    round_trip(L.Conv3D(4, (2, 3, 1), strides=(1, 2, 1), padding="same", activation="tanh"), x)
    round_trip(L.MaxPooling3D((1, 2, 2), strides=(1, 1, 2), padding="same", name="mp"), x)
    round_trip(L.AveragePooling3D(2, data_format="channels_first"), x)
    round_trip(L.GlobalMaxPooling3D(keepdims=True), x)
    assert L.MaxPool3D is L.MaxPooling3D and L.AvgPool3D is L.AveragePooling3D
    assert L.GlobalAvgPool3D is L.GlobalAveragePooling3D and L.Convolution3D is L.Conv3D


def test_3d_functional_model_matches_keras(real_keras):
    def build(k):
        x = k.Input((6, 8, 8, 2))
        y = k.layers.Conv3D(4, 3, padding="same", activation="relu")(x)
        y = k.layers.UpSampling3D()(k.layers.MaxPooling3D()(y))
        y = k.layers.Cropping3D()(k.layers.ZeroPadding3D()(y))
        y = k.layers.AveragePooling3D(2)(y)
        return k.Model(x, k.layers.GlobalAveragePooling3D()(y))

    ours, theirs = build(keras), build(real_keras)
    ours.set_weights(theirs.get_weights())
    x = RNG.standard_normal((2, 6, 8, 8, 2)).astype("float32")
    np.testing.assert_allclose(
        ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5
    )


def test_3d_bad_arguments():
    with pytest.raises(ValueError, match="kernel_size"):
        L.Conv3D(4, (3, 3))
    with pytest.raises(ValueError, match=r"expected input of shape"):
        L.Conv3D(4, 3)(X[0])
    with pytest.raises(ValueError, match="larger than"):
        L.Conv3D(4, (6, 1, 1))(X)
    with pytest.raises(ValueError, match="padding"):
        L.MaxPooling3D(padding="full")
    with pytest.raises(ValueError, match="pool_size"):
        L.AveragePooling3D(7)(X)
    with pytest.raises(ValueError, match="removes all"):
        L.Cropping3D(3)(X)
    with pytest.raises(ValueError, match="size"):
        L.UpSampling3D(size=(2, 2))
    with pytest.raises(ValueError, match="padding"):
        L.ZeroPadding3D(padding=-1)
