"""keras.config / keras.backend helpers against real Keras."""

import pytest

from zerograd import keras


def test_settings_match_keras_defaults(real_keras):
    assert keras.backend.epsilon() == real_keras.backend.epsilon() == keras.config.epsilon()
    assert keras.backend.floatx() == real_keras.backend.floatx() == "float32"
    assert keras.backend.image_data_format() == real_keras.backend.image_data_format()
    assert keras.config.backend() == "zerograd"


def test_set_epsilon_and_floatx_round_trip():
    keras.config.set_epsilon(1e-5)
    try:
        assert keras.backend.epsilon() == 1e-5
    finally:
        keras.config.set_epsilon(1e-7)
    keras.config.set_floatx("float64")
    try:
        assert keras.layers.Dense(2)(keras.ops.ones((1, 3))).dtype == "float64"
    finally:
        keras.config.set_floatx("float32")
    with pytest.raises(ValueError, match="set_floatx: expected"):
        keras.config.set_floatx("int8")


def test_what_is_not_supported_is_refused_clearly():
    with pytest.raises(ValueError, match="channels_first"):
        keras.config.set_image_data_format("channels_first")
    with pytest.raises(ValueError, match="never loads code"):
        keras.config.enable_unsafe_deserialization()


def test_clear_session_restarts_layer_names():
    keras.layers.Dense(1)
    keras.backend.clear_session()
    assert keras.layers.Dense(1).name == "dense"
