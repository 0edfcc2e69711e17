"""Reshaping layers (RepeatVector, Permute, UpSampling, ZeroPadding, Cropping) against real Keras 3:
outputs, shapes and gradients in both data formats, configs and argument errors."""

import numpy as np
import pytest

import zerograd as zg
from tests.keras.layer_oracle import compare, config_keys_match, round_trip
from zerograd.keras import layers as L

RNG = np.random.default_rng(0)
X2 = RNG.standard_normal((2, 6)).astype("float32")
X3 = RNG.standard_normal((2, 7, 3)).astype("float32")
X4 = RNG.standard_normal((2, 5, 6, 3)).astype("float32")

CASES = [
    ("RepeatVector", (3,), {}, X2),
    ("Permute", ((2, 1),), {}, X3),
    ("Permute", ((3, 1, 2),), {}, X4),
    ("UpSampling1D", (), {}, X3),
    ("UpSampling1D", (3,), {}, X3),
    ("UpSampling2D", (), {}, X4),
    ("UpSampling2D", ((2, 3),), {"data_format": "channels_first"}, X4),
    ("UpSampling2D", ((2, 3),), {"interpolation": "bilinear"}, X4),
    ("UpSampling2D", (3,), {"interpolation": "bilinear", "data_format": "channels_first"}, X4),
    ("ZeroPadding1D", (), {}, X3),
    ("ZeroPadding1D", ((1, 3),), {}, X3),
    ("ZeroPadding1D", (2,), {"data_format": "channels_first"}, X3),
    ("ZeroPadding2D", (), {}, X4),
    ("ZeroPadding2D", ((2, 1),), {}, X4),
    ("ZeroPadding2D", (((1, 0), (2, 3)),), {"data_format": "channels_first"}, X4),
    ("Cropping1D", (), {}, X3),
    ("Cropping1D", ((2, 0),), {}, X3),
    ("Cropping2D", (), {}, X4),
    ("Cropping2D", (1,), {}, X4),
    ("Cropping2D", (((1, 0), (2, 1)),), {}, X4),
    ("Cropping2D", ((1, 1),), {"data_format": "channels_first"}, X4),
]


@pytest.mark.parametrize(("name", "args", "kwargs", "x"), CASES, ids=lambda v: str(v)[:30])
def test_matches_keras(real_keras, name, args, kwargs, x):
    ours, theirs = (
        getattr(L, name)(*args, **kwargs),
        getattr(real_keras.layers, name)(*args, **kwargs),
    )
    compare(real_keras, ours, theirs, x)
    config_keys_match(theirs, ours)


@pytest.mark.parametrize(
    ("layer", "x"),
    [
        (lambda: L.RepeatVector(4, name="rv"), X2),
        (lambda: L.Permute((2, 1)), X3),
        (lambda: L.UpSampling1D(size=3), X3),
        (lambda: L.UpSampling2D((1, 2), "channels_first", "bilinear"), X4),
        (lambda: L.ZeroPadding1D((2, 1), data_format="channels_first"), X3),
        (lambda: L.ZeroPadding2D(((1, 2), (0, 1)), data_format="channels_first"), X4),
        (lambda: L.Cropping1D((0, 2)), X3),
        (lambda: L.Cropping2D(((1, 0), (0, 2)), data_format="channels_first"), X4),
    ],
)
def test_config_round_trip(layer, x):
    round_trip(layer(), zg.Tensor(x))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: L.RepeatVector(0), "n must be a positive int"),
        (lambda: L.Permute((1, 3)), "permutation"),
        (lambda: L.UpSampling1D(0), "size"),
        (lambda: L.UpSampling2D(interpolation="bicubic"), "interpolation"),
        (lambda: L.UpSampling2D(data_format="NHWC"), "data_format"),
        (lambda: L.ZeroPadding1D(-1), "padding"),
        (lambda: L.ZeroPadding2D(((1, 2, 3), (0, 0))), "padding"),
        (lambda: L.Cropping2D("x"), "cropping"),
    ],
)
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    ("layer", "x", "match"),
    [
        (L.RepeatVector(2), X3, "RepeatVector .* expected input of shape \\(batch, features\\)"),
        (L.Permute((2, 1)), X4, "Permute .* expected input"),
        (L.UpSampling2D(), X3, "UpSampling2D .* \\(batch, H, W, C\\)"),
        (L.Cropping1D((4, 3)), X3, "removes all"),
        (L.Cropping2D(((0, 0), (3, 3))), X4, "removes all"),
    ],
)
def test_bad_inputs_raise(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer(zg.Tensor(x))
