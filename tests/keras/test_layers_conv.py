"""Convolution layers (Conv1D/2D, Conv1DTranspose/2DTranspose) against real Keras 3: outputs, input
and weight gradients for paddings, strides, dilations, groups and data formats; configs; errors."""

import numpy as np
import pytest

import zerograd as zg
from tests.keras.layer_oracle import compare, config_keys_match, round_trip
from zerograd import keras
from zerograd.keras import layers as L

RNG = np.random.default_rng(0)
X3 = RNG.standard_normal((2, 9, 4)).astype("float32")
X4 = RNG.standard_normal((2, 7, 8, 4)).astype("float32")

CONV = [
    ({}, None),
    ({"padding": "same", "strides": 2}, None),
    ({"padding": "same", "dilation_rate": 2, "activation": "relu"}, None),
    ({"groups": 2, "use_bias": False, "activation": "tanh"}, None),
    ({"padding": "same", "data_format": "channels_first", "strides": 2}, None),
]


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize(("kwargs", "_"), CONV, ids=lambda v: str(v))
def test_conv_matches_keras(real_keras, rank, kwargs, _):
    name = f"Conv{rank}D"
    ours, theirs = (
        getattr(L, name)(6, 3, **kwargs),
        getattr(real_keras.layers, name)(6, 3, **kwargs),
    )
    compare(real_keras, ours, theirs, X3 if rank == 1 else X4)
    config_keys_match(theirs, ours)


def test_conv1d_causal_matches_keras(real_keras):
    kw = {"padding": "causal", "dilation_rate": 2}
    compare(real_keras, L.Conv1D(5, 3, **kw), real_keras.layers.Conv1D(5, 3, **kw), X3)


def test_conv2d_rectangular_kernel_and_strides(real_keras):
    kw = {"padding": "same", "strides": (2, 3)}
    compare(real_keras, L.Conv2D(3, (3, 2), **kw), real_keras.layers.Conv2D(3, (3, 2), **kw), X4)


TRANSPOSE = [
    (3, {}),
    (3, {"strides": 2}),
    (2, {"strides": 2}),
    (3, {"strides": 2, "padding": "same"}),
    (4, {"strides": 2, "padding": "same"}),
    (3, {"strides": 3, "output_padding": 1}),
    (3, {"strides": 2, "padding": "same", "output_padding": 1}),
    (3, {"dilation_rate": 2, "padding": "same", "activation": "relu"}),
    (3, {"strides": 2, "data_format": "channels_first", "use_bias": False}),
]


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize(("k", "kwargs"), TRANSPOSE, ids=lambda v: str(v))
def test_conv_transpose_matches_keras(real_keras, rank, k, kwargs):
    name = f"Conv{rank}DTranspose"
    ours, theirs = (
        getattr(L, name)(5, k, **kwargs),
        getattr(real_keras.layers, name)(5, k, **kwargs),
    )
    compare(real_keras, ours, theirs, X3 if rank == 1 else X4)
    config_keys_match(theirs, ours)


def test_conv_transpose_is_differentiable_twice():
    layer = L.Conv2DTranspose(2, 3, strides=2, padding="same")
    x = zg.Tensor(X4[:1, :3, :3], requires_grad=True)
    (gx,) = zg.autograd.grad((layer(x) ** 2).sum(), [x], create_graph=True)
    gx.sum().backward()
    assert layer.kernel.grad is not None and layer.kernel.grad.shape == layer.kernel.shape


@pytest.mark.parametrize(
    ("layer", "x"),
    [
        (lambda: L.Conv1D(4, 3, 2, "causal", dilation_rate=1, groups=2, name="c"), X3),
        (
            lambda: L.Conv2D(
                4,
                (3, 2),
                padding="same",
                data_format="channels_first",
                dilation_rate=(2, 1),
                activation="relu",
                use_bias=False,
                kernel_initializer="he_normal",
                bias_initializer="ones",
                kernel_regularizer="l2",
                bias_regularizer="l1",
            ),
            X4,
        ),  # fmt: skip
        (lambda: L.Conv1DTranspose(3, 3, 2, "same", output_padding=1, bias_regularizer="l2"), X3),
        (lambda: L.Conv2DTranspose(3, (2, 3), (2, 1), data_format="channels_first"), X4),
    ],
)
def test_config_round_trip(layer, x):
    round_trip(layer(), zg.Tensor(x))


def test_conv_regularizers_add_losses():
    layer = L.Conv2D(2, 3, kernel_regularizer="l2", bias_regularizer="l1")
    layer(zg.Tensor(X4))
    assert len(layer.losses) == 2


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: L.Conv2D(0, 3), "filters"),
        (lambda: L.Conv2D(-4, 3), "filters"),
        (lambda: L.Conv2D(4, 0), "kernel_size"),
        (lambda: L.Conv2D(4, 3, strides=2, dilation_rate=2), "cannot be combined"),
        (lambda: L.Conv2D(4, 3, groups=3), "groups"),
        (lambda: L.Conv2D(4, 3, padding="causal"), "padding"),
        (lambda: L.Conv1D(4, 3, padding="full"), "padding"),
        (lambda: L.Conv2D(4, 3, data_format="NHWC"), "data_format"),
        (lambda: L.Conv2D(4, 3, kernel_constraint="no_such"), "constraint"),
        (lambda: L.Conv2DTranspose(4, 3, strides=2, output_padding=2), "output_padding"),
    ],
)
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_raise():
    layer = L.Conv2D(4, 3)
    layer(zg.Tensor(X4))
    with pytest.raises(ValueError, match="Conv2D .* expected input of shape \\(batch, H, W, 4\\)"):
        layer(zg.Tensor(X4[..., :2]))
    with pytest.raises(ValueError, match="larger than"):
        L.Conv2D(4, 9)(zg.Tensor(X4))
    with pytest.raises(ValueError, match="not divisible by groups"):
        L.Conv1D(4, 3, groups=4)(zg.Tensor(X3[..., :3]))


def test_functional_cnn_with_new_layers_trains():
    inputs = keras.Input(shape=(8, 8, 1))
    x = L.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = L.MaxPooling2D()(x)
    x = L.Conv2DTranspose(4, 3, strides=2, padding="same")(x)
    x = L.GlobalMaxPooling2D()(x)
    model = keras.Model(inputs, L.Dense(2, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    data = RNG.random((8, 8, 8, 1)).astype("float32")
    loss = model.fit(data, np.arange(8) % 2, epochs=2, verbose=0).history["loss"]
    assert np.isfinite(loss).all()


@pytest.mark.parametrize(
    ("stride", "padding", "output_padding", "dilation"),
    [(1, 0, 0, 1), (2, 1, 1, 1), (3, 2, 0, 1), (1, 1, 0, 2)],
)
def test_functional_conv_transpose_channels_last_matches_torch(
    stride, padding, output_padding, dilation
):
    import torch

    x = RNG.standard_normal((2, 4, 5, 3)).astype("float32")  # (N, H, W, Cin)
    w = RNG.standard_normal((3, 3, 2, 3)).astype("float32")  # (kh, kw, Cout, Cin)
    b = RNG.standard_normal(2).astype("float32")
    args = (stride, padding, output_padding)
    got = zg.nn.functional.conv_transpose2d(
        zg.Tensor(x), zg.Tensor(w), zg.Tensor(b), *args, dilation=dilation, channels_last=True
    )
    want = torch.nn.functional.conv_transpose2d(
        torch.tensor(x).permute(0, 3, 1, 2),
        torch.tensor(w).permute(3, 2, 0, 1),
        torch.tensor(b),
        *args,
        dilation=dilation,
    ).permute(0, 2, 3, 1)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def test_functional_conv_channels_last_errors_name_the_layout():
    x, w = zg.Tensor(X4), zg.Tensor(np.zeros((3, 3, 5, 2), "float32"))
    with pytest.raises(
        ValueError, match=r"conv2d: expected input with 5 channels .*\(N, H, W, C\)"
    ):
        zg.nn.functional.conv2d(x, w, channels_last=True)
    with pytest.raises(ValueError, match="crops"):
        zg.nn.functional.conv_transpose2d(
            x, zg.Tensor(np.zeros((3, 3, 2, 4), "float32")), padding=((0, -3), (0, 0)),
            stride=2, channels_last=True,
        )  # fmt: skip


def test_conv_activity_regularizer_adds_keras_penalty(real_keras):
    x = np.random.default_rng(1).random((2, 5, 5, 1)).astype("float32")
    ref = real_keras.layers.Conv2D(2, 3, activity_regularizer="l2")
    ours = keras.layers.Conv2D(2, 3, activity_regularizer="l2")
    ref(x), ours(x)
    ours.set_weights(ref.get_weights())
    ref(x), ours(x)
    np.testing.assert_allclose(
        float(ours.losses[0].numpy()), float(ref.losses[0].detach()), rtol=1e-5
    )
    rebuilt = keras.layers.Conv2D.from_config(ref.get_config())
    assert rebuilt.get_config()["activity_regularizer"]["class_name"] == "L2"


@pytest.mark.parametrize(
    "name, shape",
    [("Conv1D", (1, 5, 1)), ("Conv2D", (1, 5, 5, 1)), ("DepthwiseConv2D", (1, 5, 5, 1)),
     ("SeparableConv2D", (1, 5, 5, 1)), ("Conv2DTranspose", (1, 5, 5, 1))],
)  # fmt: skip
def test_integer_input_to_a_convolution_is_refused_as_keras(real_keras, name, shape):
    """No silent up-cast to float64: an int input is a TypeError naming the op and both dtypes
    (real Keras refuses it too)."""
    x = np.ones(shape, "int64")
    args = (3,) if name == "DepthwiseConv2D" else (2, 3)
    with pytest.raises(
        TypeError, match="expected input of the weight's dtype float32, received int64"
    ):
        getattr(keras.layers, name)(*args)(x)
    with pytest.raises(Exception, match="expected scalar type|Long|dtype"):
        getattr(real_keras.layers, name)(*args)(x)
