"""Layer configs cross between zerograd and real Keras 3: each side rebuilds the other's layer from
its ``get_config()`` and the two agree on every argument Keras writes."""

import numpy as np
import pytest

from zerograd import keras

CASES = {
    "Dense": dict(units=3, activation="relu", use_bias=False),
    "Conv1D": dict(filters=2, kernel_size=3, strides=2, padding="same"),
    "Conv2D": dict(filters=2, kernel_size=(3, 2), dilation_rate=2, activation="tanh"),
    "Conv2DTranspose": dict(filters=2, kernel_size=3, strides=2),
    "DepthwiseConv2D": dict(kernel_size=3, depth_multiplier=2),
    "SeparableConv2D": dict(filters=4, kernel_size=3),
    "MaxPooling2D": dict(pool_size=3, strides=1, padding="same"),
    "AveragePooling1D": dict(pool_size=2),
    "GlobalMaxPooling2D": dict(keepdims=True),
    "Dropout": dict(rate=0.3, noise_shape=(None, 1), seed=4),
    "SpatialDropout1D": dict(rate=0.2),
    "SpatialDropout2D": dict(rate=0.2, data_format="channels_first"),
    "Flatten_channels_first": dict(data_format="channels_first"),
    "GaussianNoise": dict(stddev=0.5),
    "BatchNormalization": dict(momentum=0.9, epsilon=1e-4, center=False),
    "LayerNormalization": dict(epsilon=1e-3, scale=False),
    "GroupNormalization": dict(groups=2),
    "Embedding": dict(input_dim=10, output_dim=4, mask_zero=True),
    "LSTM": dict(units=3, return_sequences=True, go_backwards=True),
    "GRU": dict(units=3, reset_after=False, return_state=True),
    "SimpleRNN": dict(units=2, activation="relu"),
    "Flatten": dict(),
    "Reshape": dict(target_shape=(2, 3)),
    "Permute": dict(dims=(2, 1)),
    "RepeatVector": dict(n=3),
    "UpSampling2D": dict(size=2, interpolation="bilinear"),
    "ZeroPadding2D": dict(padding=((1, 2), (0, 1))),
    "Cropping1D": dict(cropping=(1, 2)),
    "ReLU": dict(max_value=6.0, negative_slope=0.1),
    "LeakyReLU": dict(negative_slope=0.2),
    "ELU": dict(alpha=0.5),
    "Softmax": dict(axis=1),
    "Activation": dict(activation="sigmoid"),
    "Concatenate": dict(axis=1),
    "Dot": dict(axes=1, normalize=True),
    "Rescaling": dict(scale=1 / 255, offset=-1.0),
    "RandomFlip": dict(mode="vertical", seed=2),
    "RandomRotation": dict(factor=0.1, fill_mode="nearest"),
    "Masking": dict(mask_value=-1.0),
    "MultiHeadAttention": dict(num_heads=2, key_dim=4, dropout=0.1),
    "Attention": dict(use_scale=True),
    "UnitNormalization": dict(axis=-1),
    "CategoryEncoding": dict(num_tokens=5, output_mode="multi_hot"),
}


def _plain(value):
    """Config values compared across the two: tuples as lists, nested objects by class and
    config."""
    if isinstance(value, dict):  # nested keys left at None are options that are off
        skip = ("module", "registered_name")
        return {k: _plain(v) for k, v in value.items() if k not in skip and v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value


@pytest.mark.parametrize("name", sorted(CASES))
def test_configs_cross_both_ways(real_keras, name):
    kwargs, cls = CASES[name], name.split("_")[0]
    ref = getattr(real_keras.layers, cls)(**kwargs)
    ours = getattr(keras.layers, cls)(**kwargs)
    rebuilt = type(ours).from_config(ref.get_config())  # Keras -> zerograd
    back = type(ref).from_config(ours.get_config())  # zerograd -> Keras
    ref_cfg = _plain(ref.get_config())
    for cfg in (_plain(rebuilt.get_config()), _plain(back.get_config())):
        for key, value in ref_cfg.items():
            if key in ("name", "dtype"):
                continue
            assert key in cfg and cfg[key] == value, (name, key, cfg.get(key), value)


def test_flatten_channels_first_orders_features_as_keras(real_keras):
    x = np.arange(24, dtype="float32").reshape(2, 3, 4)
    for fmt in ("channels_first", "channels_last"):
        ours = keras.layers.Flatten(data_format=fmt)(x).numpy()
        ref = real_keras.layers.Flatten(data_format=fmt)(x)
        np.testing.assert_array_equal(ours, real_keras.ops.convert_to_numpy(ref))


def test_a_keras_only_option_in_a_config_is_named():
    cfg = {"units": 2, "lora_rank": 4}
    with pytest.raises(ValueError, match="lora_rank"):
        keras.layers.Dense.from_config(cfg)


def test_initializer_configs_written_by_keras_load(real_keras):
    for name in ("GlorotUniform", "HeNormal", "RandomNormal", "Constant"):
        cfg = getattr(real_keras.initializers, name)().get_config()
        init = getattr(keras.initializers, name).from_config(cfg)
        assert np.asarray(init((3, 2))).shape == (3, 2)
