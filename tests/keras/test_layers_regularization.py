"""Regularisation layers (Dropout, SpatialDropout, GaussianNoise/Dropout, AlphaDropout,
ActivityRegularization) against real Keras 3 where outputs are deterministic, by statistics where
they are random."""

import numpy as np
import pytest

import zerograd as zg
from zerograd import keras
from zerograd.keras import layers as L

RANDOM_LAYERS = [
    (L.Dropout, "Dropout", (0.3,), {}),
    (L.SpatialDropout1D, "SpatialDropout1D", (0.3,), {}),
    (L.SpatialDropout2D, "SpatialDropout2D", (0.3,), {}),
    (L.GaussianNoise, "GaussianNoise", (0.3,), {}),
    (L.GaussianDropout, "GaussianDropout", (0.3,), {}),
    (L.AlphaDropout, "AlphaDropout", (0.3,), {}),
]
RANK = {"SpatialDropout1D": 3, "SpatialDropout2D": 4}


def _x(rank: int, seed: int = 0) -> np.ndarray:
    shape = {2: (4, 6), 3: (3, 4, 5), 4: (2, 3, 4, 5)}[rank]
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


@pytest.mark.parametrize("cls, name, args, kwargs", RANDOM_LAYERS)
def test_identity_at_inference_as_keras(real_keras, cls, name, args, kwargs):
    x = _x(RANK.get(name, 2))
    ours = cls(*args, **kwargs)(x, training=False)
    theirs = getattr(real_keras.layers, name)(*args, **kwargs)(x, training=False)
    np.testing.assert_array_equal(ours.numpy(), np.asarray(theirs))


@pytest.mark.parametrize("cls, name, args, kwargs", RANDOM_LAYERS)
def test_seed_reproduces_and_differs_between_calls(cls, name, args, kwargs):
    x = _x(RANK.get(name, 2))
    a, b = cls(*args, seed=3), cls(*args, seed=3)
    first = a(x, training=True).numpy()
    np.testing.assert_array_equal(first, b(x, training=True).numpy())
    assert not np.array_equal(first, a(x, training=True).numpy())  # the generator moves on
    assert not np.array_equal(first, x)


def test_unseeded_layers_follow_manual_seed():
    x = _x(2)
    zg.manual_seed(7)
    first = L.Dropout(0.5)(x, training=True).numpy()
    zg.manual_seed(7)
    np.testing.assert_array_equal(first, L.Dropout(0.5)(x, training=True).numpy())


def test_dropout_keep_rate_and_scale():
    x = np.ones((200, 100), "float32")
    y = L.Dropout(0.3, seed=0)(x, training=True).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.03


def test_dropout_rate_one_zeroes_and_rate_zero_is_identity():
    x = _x(2)
    np.testing.assert_array_equal(L.Dropout(1.0)(x, training=True).numpy(), 0)
    np.testing.assert_array_equal(L.Dropout(0.0)(x, training=True).numpy(), x)


def test_dropout_noise_shape_broadcasts_the_mask():
    x = np.ones((4, 50, 6), "float32")
    y = L.Dropout(0.5, noise_shape=(None, 1, 6), seed=1)(x, training=True).numpy()
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1], y.shape))  # same over time steps
    assert 0 < (y[:, 0] == 0).mean() < 1
    y = L.Dropout(0.5, noise_shape=(1, None, None), seed=1)(x, training=True).numpy()
    np.testing.assert_array_equal(y, np.broadcast_to(y[:1], y.shape))  # same for every sample


def test_dropout_noise_shape_errors():
    with pytest.raises(ValueError, match="does not broadcast"):
        L.Dropout(0.5, noise_shape=(None, 2, 6))(np.ones((4, 5, 6)), training=True)
    with pytest.raises(ValueError, match="rank 2"):
        L.Dropout(0.5, noise_shape=(None, 1))(np.ones((4, 5, 6)), training=True)
    with pytest.raises(TypeError, match="noise_shape"):
        L.Dropout(0.5, noise_shape="(1, 2)")
    with pytest.raises(ValueError, match="positive"):
        L.Dropout(0.5, noise_shape=(0, 2))


def test_dropout_gradient_is_the_mask():
    x = zg.Tensor(np.ones((3, 8), "float32"), requires_grad=True)
    y = L.Dropout(0.5, seed=0)(x, training=True)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())


@pytest.mark.parametrize(
    "cls, shape, kwargs, shared",
    [
        (L.SpatialDropout1D, (4, 30, 8), {}, (1,)),
        (L.SpatialDropout2D, (4, 5, 6, 8), {}, (1, 2)),
        (L.SpatialDropout2D, (4, 8, 5, 6), {"data_format": "channels_first"}, (2, 3)),
        (L.SpatialDropout3D, (2, 3, 4, 5, 8), {}, (1, 2, 3)),
    ],
)
def test_spatial_dropout_drops_whole_channels(cls, shape, kwargs, shared):
    y = cls(0.5, seed=0, **kwargs)(np.ones(shape, "float32"), training=True).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0}
    np.testing.assert_array_equal(y.min(axis=shared), y.max(axis=shared))


def test_spatial_dropout_rank_and_format_errors():
    with pytest.raises(ValueError, match="rank 3"):
        L.SpatialDropout1D(0.5)(np.ones((2, 3)), training=True)
    with pytest.raises(ValueError, match="rank 4"):
        L.SpatialDropout2D(0.5)(np.ones((2, 3, 4)), training=True)
    with pytest.raises(ValueError, match="data_format"):
        L.SpatialDropout2D(0.5, data_format="nhwc")


def test_gaussian_noise_std_and_gaussian_dropout_moments():
    x = np.full((200, 200), 3.0, "float32")
    noise = L.GaussianNoise(0.2, seed=0)(x, training=True).numpy() - x
    assert abs(noise.mean()) < 0.005 and abs(noise.std() - 0.2) < 0.005
    y = L.GaussianDropout(0.2, seed=0)(x, training=True).numpy() / 3.0
    assert abs(y.mean() - 1.0) < 0.005 and abs(y.std() - 0.5) < 0.01  # sqrt(0.2 / 0.8)


def test_alpha_dropout_keeps_mean_and_variance_of_standard_inputs():
    x = np.random.default_rng(0).standard_normal((300, 300)).astype("float32")
    y = L.AlphaDropout(0.2, seed=0)(x, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02
    assert len(np.unique(y[np.isclose(y, y.min())])) >= 1  # dropped units share one value


def test_activity_regularization_penalty_as_keras(real_keras):
    x = _x(3)
    ours = L.ActivityRegularization(l1=0.1, l2=0.01)
    theirs = real_keras.layers.ActivityRegularization(l1=0.1, l2=0.01)
    np.testing.assert_array_equal(ours(x).numpy(), x)
    theirs(x)
    assert len(ours.losses) == len(theirs.losses) == 1
    np.testing.assert_allclose(
        float(ours.losses[0]), float(theirs.losses[0].detach()), rtol=1e-5, atol=1e-6
    )
    ours(x[:1])  # the penalty of the last call replaces the previous one
    assert len(ours.losses) == 1


def test_activity_regularization_penalty_is_differentiable():
    x = zg.Tensor(np.array([[1.0, -2.0]], "float32"), requires_grad=True)
    layer = L.ActivityRegularization(l1=0.5, l2=0.25)
    layer(x)
    layer.losses[-1].backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.5 + 0.5, -0.5 - 1.0]], rtol=1e-6)


def _regularized_model(k):
    """Dense(3) with ones as kernel, then ActivityRegularization, in the Keras module ``k``."""
    inputs = k.Input(shape=(6,))
    dense = k.layers.Dense(3, kernel_initializer="ones")
    return k.Model(inputs, k.layers.ActivityRegularization(l1=0.01, l2=0.1)(dense(inputs)))


def test_activity_regularization_penalty_reaches_the_model_losses(real_keras):
    x = _x(2)
    ours, theirs = _regularized_model(keras), _regularized_model(real_keras)
    ours(x)
    theirs(x)
    assert len(ours.losses) == len(theirs.losses) == 1
    np.testing.assert_allclose(float(ours.losses[0]), float(theirs.losses[0].detach()), rtol=1e-5)


CONFIGS = [
    ("Dropout", (0.25,), {"noise_shape": (None, 1, 3), "seed": 5}),
    ("SpatialDropout1D", (0.4,), {"seed": 2}),
    ("SpatialDropout2D", (0.4,), {"seed": 2, "data_format": "channels_first"}),
    ("SpatialDropout3D", (0.1,), {"seed": 1}),
    ("GaussianNoise", (0.5,), {"seed": 9}),
    ("GaussianDropout", (0.6,), {"seed": 9}),
    ("AlphaDropout", (0.2,), {"noise_shape": (None, 4), "seed": 1}),
    ("ActivityRegularization", (), {"l1": 0.2, "l2": 0.3}),
]


@pytest.mark.parametrize("name, args, kwargs", CONFIGS)
def test_config_round_trip_and_keys_as_keras(real_keras, name, args, kwargs):
    layer = getattr(L, name)(*args, name=f"my_{name.lower()}", **kwargs)
    cfg = layer.get_config()
    again = type(layer).from_config(cfg)
    assert again.get_config() == cfg
    theirs = getattr(real_keras.layers, name)(*args, **kwargs).get_config()
    for key in set(theirs) - {"dtype", "trainable"}:
        assert key in cfg, key
        if key != "name":
            mine, keras_value = cfg[key], theirs[key]
            if isinstance(keras_value, tuple):
                keras_value = list(keras_value)
            assert mine == keras_value, (key, mine, keras_value)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: L.Dropout(1.5), "rate"),
        (lambda: L.Dropout(-0.1), "rate"),
        (lambda: L.SpatialDropout2D(2), "rate"),
        (lambda: L.GaussianDropout(1.2), "rate"),
        (lambda: L.GaussianNoise(-1.0), "stddev"),
        (lambda: L.AlphaDropout(7), "rate"),
        (lambda: L.AlphaDropout(1.0), r"\[0, 1\)"),
        (lambda: L.GaussianDropout(1.0), r"\[0, 1\)"),
        (lambda: L.ActivityRegularization(l1=-1.0), "l1"),
    ],
)
def test_bad_arguments_raise_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_types_raise_type_errors():
    with pytest.raises(TypeError, match="rate"):
        L.Dropout("0.5")
    with pytest.raises(TypeError, match="seed"):
        L.Dropout(0.5, seed=1.5)
