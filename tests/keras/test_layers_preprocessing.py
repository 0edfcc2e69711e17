"""Preprocessing and image layers against real Keras 3: Rescaling, Normalization (adapt, invert),
Resizing, CenterCrop, and the Random* layers where their outputs are deterministic (inference,
fixed factors, RandomCrop's resize path); statistics, seeds and errors where they are random."""

import numpy as np
import pytest

import zerograd as zg
from zerograd.keras import layers as L

FILL_MODES = ["reflect", "wrap", "constant", "nearest"]


def _images(shape=(2, 5, 6, 3), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def _np(t) -> np.ndarray:
    """A real Keras (torch) output as NumPy."""
    return t.detach().cpu().numpy() if hasattr(t, "cpu") else np.asarray(t)


# --- Rescaling, Normalization ---------------------------------------------------------------------


@pytest.mark.parametrize("scale, offset", [(1 / 127.5, -1.0), ([0.5, 2.0, 1.0], [1.0, 0.0, -3.0])])
def test_rescaling_as_keras_and_differentiable(real_keras, scale, offset):
    x = _images()
    theirs = real_keras.layers.Rescaling(scale, offset)(x)
    xt = zg.Tensor(x, requires_grad=True)
    ours = L.Rescaling(scale, offset)(xt)
    np.testing.assert_allclose(ours.numpy(), _np(theirs), rtol=1e-6, atol=1e-6)
    ours.sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), np.broadcast_to(scale, x.shape), rtol=1e-6)


def test_rescaling_casts_integers():
    y = L.Rescaling(0.5)(np.array([[2, 4]], "uint8"))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), [[1.0, 2.0]])


@pytest.mark.parametrize("axis", [-1, (1, 2), None, 1])
def test_normalization_adapt_as_keras(real_keras, axis):
    data = np.random.default_rng(1).normal(3.0, 2.0, (20, 4, 3)).astype("float32")
    x = _images((2, 4, 3))
    ours, theirs = L.Normalization(axis=axis), real_keras.layers.Normalization(axis=axis)
    ours.adapt(data)
    theirs.adapt(data)
    np.testing.assert_allclose(ours(x).numpy(), _np(theirs(x)), rtol=1e-5, atol=1e-5)
    for mine, keras_w in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, keras_w, rtol=1e-5, atol=1e-5)


def test_normalization_adapt_on_batches_as_keras(real_keras):
    data = np.random.default_rng(2).normal(1.0, 3.0, (30, 5)).astype("float32")
    batches = [data[:7], data[7:20], (data[20:], np.zeros(10))]
    ours, theirs = L.Normalization(), real_keras.layers.Normalization()
    ours.adapt(batches)
    theirs.adapt(data)
    np.testing.assert_allclose(ours(data).numpy(), _np(theirs(data)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("invert", [False, True])
def test_normalization_given_stats_and_invert_as_keras(real_keras, invert):
    x = _images((3, 4, 3))
    kw = {"mean": [1.0, 100.0, 0.0], "variance": [4.0, 9.0, 0.0], "invert": invert}
    ours, theirs = L.Normalization(**kw), real_keras.layers.Normalization(**kw)
    np.testing.assert_allclose(ours(x).numpy(), _np(theirs(x)), rtol=1e-5, atol=1e-5)
    kw = {"axis": (1, 2), "mean": 2.0, "variance": 3.0, "invert": invert}
    ours, theirs = L.Normalization(**kw), real_keras.layers.Normalization(**kw)
    np.testing.assert_allclose(ours(x).numpy(), _np(theirs(x)), rtol=1e-5, atol=1e-5)


def test_normalization_round_trip_and_gradient():
    x = zg.Tensor(_images((2, 3)), requires_grad=True)
    norm = L.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25])
    back = L.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25], invert=True)
    y = back(norm(x))
    np.testing.assert_allclose(y.numpy(), x.numpy(), rtol=1e-5)
    norm(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to([0.5, 1.0, 2.0], (2, 3)))


def test_normalization_errors():
    with pytest.raises(ValueError, match="both mean and variance"):
        L.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        L.Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match="out of range"):
        L.Normalization(axis=3)(np.ones((2, 3)))
    norm = L.Normalization()
    norm.adapt(np.ones((4, 3)))
    with pytest.raises(ValueError, match="built for inputs of shape"):
        norm(np.ones((2, 5)))
    with pytest.raises(ValueError, match="no data"):
        L.Normalization().adapt([])
    with pytest.raises(TypeError, match="adapt expected"):
        L.Normalization().adapt(3.0)


def test_preprocessing_config_round_trips(real_keras):
    for layer, keras_layer in [
        (L.Rescaling([0.5, 2.0], offset=1.5, name="r"), real_keras.layers.Rescaling(0.5, 1.5)),
        (
            L.Normalization(axis=(1, 2), mean=[1.0, 2.0], variance=[3.0, 4.0], invert=True),
            real_keras.layers.Normalization(axis=(1, 2), mean=[1.0, 2.0], variance=[3.0, 4.0]),
        ),
    ]:
        cfg = layer.get_config()
        assert type(layer).from_config(cfg).get_config() == cfg
        assert set(keras_layer.get_config()) - {"dtype"} <= set(cfg)


# --- augmentation: deterministic cases against Keras ----------------------------------------------

AUGMENTERS = [
    ("RandomFlip", ("horizontal",), {}),
    ("RandomRotation", (0.1,), {}),
    ("RandomTranslation", (0.2, 0.1), {}),
    ("RandomZoom", (0.2,), {}),
    ("RandomCrop", (3, 4), {}),
    ("RandomContrast", (0.5,), {}),
]


@pytest.mark.parametrize("name, args, kwargs", AUGMENTERS)
@pytest.mark.parametrize("shape", [(2, 5, 6, 3), (5, 6, 3)])
def test_identity_at_inference_as_keras(real_keras, name, args, kwargs, shape):
    x = _images(shape)
    ours = getattr(L, name)(*args, **kwargs)(x, training=False)
    theirs = getattr(real_keras.layers, name)(*args, **kwargs)(x, training=False)
    np.testing.assert_array_equal(ours.numpy(), _np(theirs))
    np.testing.assert_array_equal(ours.numpy(), x)


@pytest.mark.parametrize("fill_mode", FILL_MODES)
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_fixed_rotation_translation_zoom_as_keras(real_keras, fill_mode, interpolation):
    x = _images()
    kw = {"fill_mode": fill_mode, "interpolation": interpolation, "fill_value": 7.0}
    for name, args in [
        ("RandomRotation", ((0.25, 0.25),)),  # exactly 90 degrees
        ("RandomRotation", ((-0.1, -0.1),)),
        ("RandomTranslation", ((0.3, 0.3), (-0.25, -0.25))),
        ("RandomZoom", ((0.3, 0.3), (-0.4, -0.4))),
    ]:
        ours = getattr(L, name)(*args, **kw)(x, training=True)
        theirs = getattr(real_keras.layers, name)(*args, **kw)(x, training=True)
        np.testing.assert_allclose(ours.numpy(), _np(theirs), rtol=1e-5, atol=1e-3, err_msg=name)


def test_rotation_by_90_degrees_is_rot90_of_a_square_image():
    x = _images((1, 5, 5, 2))
    y = L.RandomRotation((0.25, 0.25), interpolation="nearest")(x, training=True).numpy()
    np.testing.assert_array_equal(y[0], np.rot90(x[0], k=1))  # positive: counter-clockwise


def test_channels_first_matches_channels_last():
    x = _images()
    last = L.RandomRotation((0.1, 0.1), fill_mode="wrap")(x, training=True).numpy()
    first = L.RandomRotation((0.1, 0.1), fill_mode="wrap", data_format="channels_first")(
        x.transpose(0, 3, 1, 2), training=True
    )
    np.testing.assert_allclose(first.numpy().transpose(0, 2, 3, 1), last, rtol=1e-6)


@pytest.mark.parametrize("target", [(7, 9), (5, 8), (6, 4), (3, 6)])
def test_random_crop_resize_path_as_keras(real_keras, target):
    x = _images()  # not larger than the window in both sizes: a deterministic resize
    ours = L.RandomCrop(*target)(x, training=True)
    theirs = real_keras.layers.RandomCrop(*target)(x, training=True)
    assert ours.shape == (2, *target, 3)
    np.testing.assert_allclose(ours.numpy(), _np(theirs), rtol=1e-5, atol=1e-3)


def test_random_crop_takes_windows_of_the_image():
    x = _images((2, 8, 9, 1))
    y = L.RandomCrop(3, 4, seed=0)(x, training=True).numpy()
    assert y.shape == (2, 3, 4, 1)
    hits = [
        (i, j) for i in range(6) for j in range(6) if np.array_equal(x[:, i : i + 3, j : j + 4], y)
    ]
    assert len(hits) == 1  # one window, the same for the whole batch


def test_random_flip_flips_some_images_as_keras_flips_them(real_keras):
    x = _images((16, 4, 5, 2))
    for mode in ["horizontal", "vertical", "horizontal_and_vertical"]:
        forced = real_keras.layers.RandomFlip(mode).transform_images(
            x, {"flips": np.ones((16, 1, 1, 1), bool)}, training=True
        )
        forced = _np(forced)
        y = L.RandomFlip(mode, seed=1)(x, training=True).numpy()
        flipped = [np.array_equal(y[i], forced[i]) for i in range(16)]
        kept = [np.array_equal(y[i], x[i]) for i in range(16)]
        assert all(f or k for f, k in zip(flipped, kept)) and 0 < sum(flipped) < 16


def test_random_contrast_as_keras_for_a_fixed_factor(real_keras):
    x = _images()
    ours, theirs = L.RandomContrast(0.5), real_keras.layers.RandomContrast(0.5)
    ours.factor = theirs.factor = (0.5, -0.5)  # draws from [1 - 0.5, 1 + (-0.5)]: always 0.5
    np.testing.assert_allclose(
        ours(x, training=True).numpy(), _np(theirs(x, training=True)), rtol=1e-5, atol=1e-3
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"interpolation": "nearest"},
        {"crop_to_aspect_ratio": True},
        {"pad_to_aspect_ratio": True, "fill_value": 3.0},
    ],
)
@pytest.mark.parametrize("target", [(7, 9), (3, 4), (4, 11)])
def test_resizing_as_keras(real_keras, kwargs, target):
    x = _images()
    for training in (True, False):  # the same in both modes
        ours = L.Resizing(*target, **kwargs)(x, training=training)
        theirs = real_keras.layers.Resizing(*target, **kwargs)(x, training=training)
        np.testing.assert_allclose(ours.numpy(), _np(theirs), rtol=1e-5, atol=1e-3)


def test_resizing_keeps_integer_dtypes(real_keras):
    x = _images().astype("uint8")
    ours, theirs = L.Resizing(7, 9)(x), _np(real_keras.layers.Resizing(7, 9)(x))
    assert ours.dtype == theirs.dtype == np.uint8
    assert np.abs(ours.numpy().astype(int) - theirs).max() <= 1  # float rounding at .5


@pytest.mark.parametrize("target", [(3, 4), (5, 6), (7, 9), (2, 11)])
@pytest.mark.parametrize("shape", [(2, 5, 6, 3), (5, 6, 3)])
def test_center_crop_as_keras(real_keras, target, shape):
    x = _images(shape)
    ours = L.CenterCrop(*target)(x, training=False)
    theirs = real_keras.layers.CenterCrop(*target)(x, training=False)
    np.testing.assert_allclose(ours.numpy(), _np(theirs), rtol=1e-5, atol=1e-3)


# --- augmentation: randomness, seeds, configs, errors ---------------------------------------------


def test_rotation_angles_stay_in_range_and_differ_per_image():
    x = np.zeros((6, 9, 9, 1), "float32")
    x[:, 4, :] = 1.0  # a horizontal bar: rotating it moves mass off the middle row
    y = L.RandomRotation(0.05, seed=0)(x, training=True).numpy()
    assert len({round(float(v), 4) for v in y[:, 4].sum(axis=(1, 2))}) > 1
    assert (y[:, 0].sum(axis=(1, 2)) < 1e-3).all()  # at most 18 degrees: the top row stays dark


@pytest.mark.parametrize("name, args, kwargs", AUGMENTERS)
def test_seeded_augmentation_reproduces(name, args, kwargs):
    x = _images((4, 6, 7, 3))
    a = getattr(L, name)(*args, seed=11, **kwargs)
    b = getattr(L, name)(*args, seed=11, **kwargs)
    first = a(x, training=True).numpy()
    np.testing.assert_array_equal(first, b(x, training=True).numpy())
    assert first.dtype == np.float32


def test_integer_images_become_floats():
    x = _images().astype("uint8")
    for layer in [L.RandomFlip(), L.RandomRotation(0.2), L.RandomContrast(0.2)]:
        assert layer(x, training=True).dtype == np.float32
        assert layer(x, training=False).dtype == np.float32


AUG_CONFIGS = [
    ("RandomFlip", ("vertical",), {"seed": 3}),
    (
        "RandomRotation",
        ((-0.2, 0.3),),
        {"fill_mode": "constant", "interpolation": "nearest", "seed": 1, "fill_value": 2.0},
    ),
    ("RandomTranslation", (0.1, (-0.2, 0.3)), {"fill_mode": "wrap", "seed": 4}),
    ("RandomZoom", ((-0.3, 0.2), 0.5), {"fill_mode": "nearest", "interpolation": "nearest"}),
    ("RandomCrop", (3, 4), {"seed": 5, "data_format": "channels_first"}),
    ("RandomContrast", (0.4,), {"value_range": (0, 1), "seed": 6}),
    ("Resizing", (3, 4), {"interpolation": "nearest", "pad_to_aspect_ratio": True}),
    ("CenterCrop", (3, 4), {"data_format": "channels_first"}),
]


@pytest.mark.parametrize("name, args, kwargs", AUG_CONFIGS)
def test_augmentation_config_round_trip_and_keys_as_keras(real_keras, name, args, kwargs):
    layer = getattr(L, name)(*args, name=f"aug_{name.lower()}", **kwargs)
    cfg = layer.get_config()
    assert type(layer).from_config(cfg).get_config() == cfg
    theirs = getattr(real_keras.layers, name)(*args, **kwargs).get_config()
    for key in set(theirs) - {"dtype", "trainable", "name"}:
        mine, keras_value = cfg[key], theirs[key]
        assert np.array_equal(np.asarray(mine), np.asarray(keras_value)), (key, mine, keras_value)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: L.RandomRotation(0.1, fill_mode="mirror_ish"), ValueError, "fill_mode"),
        (lambda: L.RandomZoom(0.1, interpolation="bicubic"), ValueError, "interpolation"),
        (lambda: L.RandomRotation(1.5), ValueError, "factor"),
        (lambda: L.RandomZoom(-1.0), ValueError, "height_factor"),
        (lambda: L.RandomTranslation(0.1, (0.1, 0.2, 0.3)), ValueError, "width_factor"),
        (lambda: L.RandomFlip("diagonal"), ValueError, "mode"),
        (lambda: L.RandomCrop(0, 3), ValueError, "height"),
        (lambda: L.RandomContrast(1.5), ValueError, "factor"),
        (lambda: L.RandomContrast(0.5, value_range=(1, 0)), ValueError, "value_range"),
        (lambda: L.RandomFlip(data_format="nchw"), ValueError, "data_format"),
        (lambda: L.RandomFlip(seed="x"), TypeError, "seed"),
        (lambda: L.RandomRotation(0.1, fill_value="black"), TypeError, "fill_value"),
        (lambda: L.Rescaling("half"), TypeError, "scale"),
        (lambda: L.Resizing(3, 4, antialias=True), ValueError, "antialias"),
        (lambda: L.Resizing(3, 4, fill_mode="reflect"), ValueError, "fill_mode"),
        (
            lambda: L.Resizing(3, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True),
            ValueError,
            "both",
        ),
        (lambda: L.CenterCrop(3, -1), ValueError, "width"),
    ],
)
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("name, args, kwargs", AUGMENTERS)
def test_wrong_rank_raises(name, args, kwargs):
    with pytest.raises(ValueError, match="rank 4"):
        getattr(L, name)(*args, **kwargs)(np.zeros((4, 5)), training=True)
