"""Bad inputs to weights and their makers (round 2): ``add_weight``, initializers, regularizers,
``keras.random``, ``count_params``, ``summary`` and ``keras.config``. Each raises a clear error
naming the function/class, the argument, what was expected and what was received; real Keras 3
(torch backend) is the oracle where it runs."""

import io
import warnings

import numpy as np
import pytest

from zerograd import keras


def dense_model(k):
    return k.Sequential([k.Input((4,)), k.layers.Dense(3), k.layers.Dense(1)])


# (id, call on a keras module k, error, match, whether real Keras 3.15 also raises: True, False
#  (a deliberate difference: Keras accepts it) or None (not run on Keras: it changes global state))
CASES = [
    (
        "add_weight_negative_shape",
        lambda k: k.layers.Layer().add_weight(shape=(-1,)),
        ValueError,
        r"Layer '.*'\.add_weight: shape must not have negative dimensions, received \(-1,\)",
        True,
    ),
    (
        "random_normal_negative_shape",
        lambda k: k.random.normal((-1,)),
        ValueError,
        r"normal: shape must not have negative dimensions, received \(-1,\)",
        True,
    ),
    (
        "random_uniform_float_shape",
        lambda k: k.random.uniform((2.5,)),
        TypeError,
        "uniform: shape must hold integers",
        True,
    ),
    (
        "random_categorical_negative_samples",
        lambda k: k.random.categorical(np.zeros((2, 3), "float32"), -1),
        ValueError,
        "categorical: num_samples must be >= 1, received -1",
        True,
    ),
    (
        "random_shuffle_axis_out_of_range",
        lambda k: k.random.shuffle(np.ones((2, 3), "float32"), axis=5),
        ValueError,
        r"shuffle: axis must be in \[-2, 1\] for a tensor of 2 dimensions, received 5",
        True,
    ),
    (
        "random_normal_initializer_negative_stddev",
        lambda k: k.initializers.RandomNormal(stddev=-1.0)((2, 2)),
        ValueError,
        r"RandomNormal: stddev must be in \[0, inf\), received -1\.0",
        True,
    ),
    (
        "truncated_normal_negative_stddev",
        lambda k: k.initializers.TruncatedNormal(stddev=-1.0)((2, 2)),
        ValueError,
        r"TruncatedNormal: stddev must be in \[0, inf\), received -1\.0",
        False,
    ),
    (
        "variance_scaling_scale_zero",
        lambda k: k.initializers.VarianceScaling(scale=0.0),
        ValueError,
        "VarianceScaling: scale must be a positive float, received 0.0",
        True,
    ),
    (
        "variance_scaling_mode",
        lambda k: k.initializers.VarianceScaling(mode="nope"),
        ValueError,
        "VarianceScaling: mode must be one of 'fan_in', 'fan_out', 'fan_avg', received 'nope'",
        True,
    ),
    (
        "variance_scaling_distribution",
        lambda k: k.initializers.VarianceScaling(distribution="nope"),
        ValueError,
        "VarianceScaling: distribution must be one of .* received 'nope'",
        True,
    ),
    (
        "constant_initializer_string",
        lambda k: k.initializers.Constant("a")((2,)),
        ValueError,
        "Constant: value must be a number .* received 'a'",
        True,
    ),
    (
        "orthogonal_one_dimension",
        lambda k: k.initializers.Orthogonal()((3,)),
        ValueError,
        r"Orthogonal: the tensor to initialize must be at least two-dimensional, received shape=\(3,\)",
        True,
    ),
    (
        "initializer_negative_shape",
        lambda k: k.initializers.GlorotUniform()((-1, 2)),
        ValueError,
        r"GlorotUniform: shape must not have negative dimensions, received \(-1, 2\)",
        True,
    ),
    (
        "l2_negative",
        lambda k: k.regularizers.L2(-1.0),
        ValueError,
        "L2: l2 must be a non-negative float, received -1.0",
        True,
    ),
    (
        "l2_string",
        lambda k: k.regularizers.L2("a"),
        ValueError,
        "L2: l2 must be a non-negative float, received 'a'",
        True,
    ),
    (
        "l1l2_nan",
        lambda k: k.regularizers.L1L2(l1=float("nan")),
        ValueError,
        "L1L2: l1 must be a non-negative float, received nan",
        True,
    ),
    (
        "regularizer_config_unknown_class",
        lambda k: k.regularizers.get({"class_name": "Nope", "config": {}}),
        ValueError,
        r"unknown regularizer: expected a config dict with class_name one of \['L1', 'L1L2', 'L2'\]",
        True,
    ),
    (
        "set_epsilon_string",
        lambda k: k.config.set_epsilon("a"),
        ValueError,
        "set_epsilon: expected a float, received str 'a'",
        None,
    ),
    (
        "summary_line_length_string",
        lambda k: dense_model(k).summary(line_length="a", print_fn=lambda *a, **kw: None),
        ValueError,
        "Model.summary: line_length must be an integer >= 40, received 'a'",
        True,
    ),
    (
        "count_params_unbuilt_model",
        lambda k: k.Sequential([k.layers.Dense(2)]).count_params(),
        ValueError,
        r"Sequential '.*'\.count_params: the layer isn't built yet",
        True,
    ),
    (
        "count_params_unbuilt_layer",
        lambda k: k.layers.Dense(2).count_params(),
        ValueError,
        r"Dense '.*'\.count_params: the layer isn't built yet",
        True,
    ),
]


@pytest.mark.parametrize(
    "call, error, match, keras_raises", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_weight_makers_bad_input(real_keras, call, error, match, keras_raises):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=match):
            call(keras)
        if keras_raises:  # the oracle refuses it too (its error types and messages vary)
            with pytest.raises(Exception):  # noqa: B017
                call(real_keras)
        elif keras_raises is False:  # a deliberate difference: Keras accepts it silently
            call(real_keras)


def test_epsilon_unchanged_after_a_refused_value():
    before = keras.config.epsilon()
    with pytest.raises(ValueError):
        keras.config.set_epsilon("a")
    assert keras.config.epsilon() == before


def test_random_uniform_initializer_with_inverted_bounds_as_keras(real_keras):
    ours = keras.initializers.RandomUniform(1.0, 0.0, seed=3)((1000,))
    ref = real_keras.ops.convert_to_numpy(
        real_keras.initializers.RandomUniform(1.0, 0.0, seed=3)((1000,))
    )
    for values in (ours, ref):  # minval + (maxval - minval) * U[0, 1): values in (0, 1]
        assert values.shape == (1000,) and 0.0 <= values.min() and values.max() <= 1.0
    assert abs(float(ours.mean()) - 0.5) < 0.05


def test_valid_weight_makers_still_work():
    assert keras.initializers.VarianceScaling(distribution="normal").distribution == (
        "truncated_normal"
    )
    assert keras.initializers.GlorotUniform(seed=1)((np.int64(3), 2)).shape == (3, 2)
    assert keras.initializers.Constant(np.array([1.0, 2.0]))((2,)).tolist() == [1.0, 2.0]
    assert keras.regularizers.L1L2(l1=0, l2=np.float32(0.5)).l2 == 0.5
    assert keras.layers.Layer().add_weight(shape=3, initializer="zeros").shape == (3,)
    out = io.StringIO()
    keras.Sequential([keras.layers.Dense(2)]).summary(print_fn=lambda s: out.write(s + "\n"))
    assert "0 (unbuilt)" in out.getvalue() and "Total params: 0" in out.getvalue()
    m = dense_model(keras)
    assert m.count_params() == 4 * 3 + 3 + 3 + 1
    assert tuple(keras.random.normal((np.int64(2), 0)).shape) == (2, 0)
