"""Pooling layers (Max/AveragePooling1D/2D, Global*Pooling1D/2D) against real Keras 3: outputs,
gradients and shapes for both paddings and data formats, masks, aliases, configs and errors."""

import numpy as np
import pytest

import zerograd as zg
from tests.keras.layer_oracle import compare, config_keys_match, round_trip
from zerograd.keras import layers as L

RNG = np.random.default_rng(0)
X3 = RNG.standard_normal((2, 7, 3)).astype("float32")
X4 = RNG.standard_normal((2, 7, 6, 3)).astype("float32")

WINDOWED = [
    ({"pool_size": 2}, None),
    ({"pool_size": 3, "strides": 2}, None),
    ({"pool_size": 3, "strides": 2, "padding": "same"}, None),
    ({"pool_size": 2, "strides": 1, "padding": "same"}, None),
    ({"pool_size": 3, "padding": "same", "data_format": "channels_first"}, None),
]


@pytest.mark.parametrize("kind", ["MaxPooling", "AveragePooling"])
@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize(("kwargs", "_"), WINDOWED, ids=lambda v: str(v))
def test_windowed_pooling_matches_keras(real_keras, kind, rank, kwargs, _):
    name = f"{kind}{rank}D"
    if rank == 2 and isinstance(kwargs.get("pool_size"), int):
        kwargs = {**kwargs, "pool_size": (kwargs["pool_size"], 2)}
    ours, theirs = getattr(L, name)(**kwargs), getattr(real_keras.layers, name)(**kwargs)
    compare(real_keras, ours, theirs, X3 if rank == 1 else X4)
    config_keys_match(theirs, ours)


@pytest.mark.parametrize("kind", ["GlobalMaxPooling", "GlobalAveragePooling"])
@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize(
    "kwargs", [{}, {"keepdims": True}, {"data_format": "channels_first", "keepdims": True}]
)
def test_global_pooling_matches_keras(real_keras, kind, rank, kwargs):
    name = f"{kind}{rank}D"
    ours, theirs = getattr(L, name)(**kwargs), getattr(real_keras.layers, name)(**kwargs)
    compare(real_keras, ours, theirs, X3 if rank == 1 else X4)
    config_keys_match(theirs, ours)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_global_average_1d_masked_mean_matches_keras(real_keras, data_format):
    mask = np.array([[1, 1, 0, 1, 0, 0, 1], [1, 0, 0, 0, 0, 0, 0]], dtype=bool)
    if data_format == "channels_first":
        mask = mask[:, :3]
    ours = L.GlobalAveragePooling1D(data_format=data_format)
    theirs = real_keras.layers.GlobalAveragePooling1D(data_format=data_format)
    compare(real_keras, ours, theirs, X3, mask=mask)


def test_aliases():
    assert L.MaxPool1D is L.MaxPooling1D and L.AvgPool1D is L.AveragePooling1D
    assert L.MaxPool2D is L.MaxPooling2D and L.AvgPool2D is L.AveragePooling2D
    assert (
        L.GlobalMaxPool1D is L.GlobalMaxPooling1D and L.GlobalAvgPool1D is L.GlobalAveragePooling1D
    )
    assert (
        L.GlobalMaxPool2D is L.GlobalMaxPooling2D and L.GlobalAvgPool2D is L.GlobalAveragePooling2D
    )
    from zerograd.keras.layers.conv import MaxPooling2D  # the old home still works

    assert MaxPooling2D is L.MaxPooling2D


@pytest.mark.parametrize(
    ("layer", "x"),
    [
        (lambda: L.MaxPooling1D(3, 2, "same", "channels_first", name="mp"), X3),
        (lambda: L.AveragePooling2D((3, 2), (1, 2), "same"), X4),
        (lambda: L.GlobalAveragePooling1D("channels_first", keepdims=True), X3),
        (lambda: L.GlobalMaxPooling2D(keepdims=True), X4),
    ],
)
def test_config_round_trip(layer, x):
    round_trip(layer(), zg.Tensor(x))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: L.MaxPooling2D(pool_size=0), "pool_size"),
        (lambda: L.MaxPooling1D(strides=(1, 2)), "strides"),
        (lambda: L.AveragePooling2D(padding="full"), "padding"),
        (lambda: L.GlobalMaxPooling2D(data_format="NCHW"), "data_format"),
    ],
)
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    ("layer", "x", "match"),
    [
        (L.MaxPooling2D(), X3, "MaxPooling2D .* expected input of shape \\(batch, H, W, C\\)"),
        (L.MaxPooling1D(9), X3, "larger than"),
        (L.GlobalAveragePooling1D(), X4, "expected input of shape \\(batch, steps, C\\)"),
    ],
)
def test_bad_inputs_raise(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer(zg.Tensor(x))


def test_mask_of_wrong_shape_raises():
    with pytest.raises(ValueError, match="mask of shape"):
        L.GlobalAveragePooling1D()(zg.Tensor(X3), mask=np.ones((2, 3), dtype=bool))


@pytest.mark.parametrize("channels_last", [False, True])
def test_functional_1d_pooling_matches_torch(channels_last):
    import torch

    x = RNG.standard_normal((2, 3, 9)).astype("float32")  # (N, C, L)
    xt = torch.tensor(x)
    zx = zg.Tensor(x.transpose(0, 2, 1).copy() if channels_last else x)
    F = zg.nn.functional
    for ours, theirs in [
        (
            F.max_pool1d(zx, 3, 2, 1, channels_last=channels_last),
            torch.nn.functional.max_pool1d(xt, 3, 2, 1),
        ),
        (
            F.avg_pool1d(zx, 3, 2, 1, channels_last=channels_last),
            torch.nn.functional.avg_pool1d(xt, 3, 2, 1),
        ),
    ]:
        got = ours.numpy().transpose(0, 2, 1) if channels_last else ours.numpy()
        np.testing.assert_allclose(got, theirs.numpy(), rtol=1e-6, atol=1e-6)
