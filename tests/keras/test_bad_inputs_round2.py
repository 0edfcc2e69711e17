"""Bad inputs to the Keras facade, round 2: model construction, layer calls after build, compile
and callback arguments. Each raises a clear error naming the layer/function, the argument, what
was expected and what was received. Real Keras 3 (torch backend) is the oracle: where it refuses
the input, zerograd must refuse it too; where it accepts, zerograd accepts and behaves the same
(the tests at the end)."""

import os
import warnings

import numpy as np
import pytest

from zerograd import keras

X = np.random.default_rng(0).random((8, 4)).astype("float32")
Y = (X.sum(axis=1, keepdims=True) > 2).astype("float32")


def f32(*shape):
    return np.zeros(shape, "float32")


def dense_model(k):
    return k.Sequential([k.Input((4,)), k.layers.Dense(3, name="d1"), k.layers.Dense(1, name="d2")])


def two_inputs(k):
    a, b = k.Input((4,), name="a"), k.Input((3,), name="b")
    out = k.layers.Concatenate()([k.layers.Dense(2)(a), k.layers.Dense(2)(b)])
    return k.Model([a, b], out)


def built(layer, *shape):
    layer(f32(*shape))
    return layer


def fit_with(k, callback, epochs=2):
    m = dense_model(k)
    m.compile("sgd", "mse")
    return m.fit(X, Y, epochs=epochs, verbose=0, callbacks=[callback]).history


def mha_twice(k, first, second):
    layer = k.layers.MultiHeadAttention(2, 4)
    layer(*[f32(*s) for s in first])
    return layer(*[f32(*s) for s in second])


# (id, call on a keras module k, error, match, whether real Keras 3.15 also raises)
MODEL_CASES = [
    (
        "input_negative_dim",
        lambda k: k.Input((-1,)),
        ValueError,
        r"Input: shape must not have negative dimensions, received \(-1,\)",
        True,
    ),
    (
        "input_float_dim",
        lambda k: k.Input((2.5,)),
        ValueError,
        r"Input: shape must hold ints or None.*2.5 of type float",
        True,
    ),
    (
        "input_string_dim",
        lambda k: k.Input(("a",)),
        ValueError,
        r"Input: shape must hold ints or None.*'a' of type str",
        True,
    ),
    (
        "input_bare_int",
        lambda k: k.Input(5),
        ValueError,
        r"Input: shape must be a tuple of dimensions.*e\.g\. \(5,\), received int 5",
        True,
    ),
    (
        "input_bad_dtype",
        lambda k: k.Input((3,), dtype="floaty"),
        ValueError,
        "Input: invalid dtype 'floaty'",
        True,
    ),
    (
        "input_negative_batch",
        lambda k: k.Input((3,), batch_size=-1),
        ValueError,
        "Input: batch_size must be a non-negative int or None, received -1",
        True,
    ),
    (
        "layer_input_shape_negative",
        lambda k: k.Sequential([k.layers.Dense(3, input_shape=(-2,))]),
        ValueError,
        r"Dense '.*': shape must not have negative dimensions, received \(-2,\)",
        True,
    ),
    (
        "functional_duplicate_names",
        lambda k: (
            lambda i: k.Model(i, k.layers.Dense(2, name="x")(k.layers.Dense(2, name="x")(i)))
        )(k.Input((3,))),
        ValueError,
        r"layer names must be unique; \['x'\]",
        True,
    ),
    (
        "sequential_rank_one_input",
        lambda k: dense_model(k)(f32(4)),
        ValueError,
        r"Sequential '.*' expected input of shape \(None, 4\), received shape \(4,\)",
        True,
    ),
    (
        "sequential_rank_three_input",
        lambda k: dense_model(k)(f32(2, 4, 3)),
        ValueError,
        r"expected input of shape \(None, 4\), received shape \(2, 4, 3\)",
        True,
    ),
    (
        "get_layer_index_out_of_range",
        lambda k: dense_model(k).get_layer(index=10),
        ValueError,
        "get_layer: index 10 is out of range; the model has 2 layers",
        True,
    ),
    (
        "get_layer_neither",
        lambda k: dense_model(k).get_layer(),
        ValueError,
        "get_layer: give a layer name or an index, received neither",
        True,
    ),
    (
        "get_layer_both",
        lambda k: dense_model(k).get_layer("d1", index=0),
        ValueError,
        "give a layer name or an index, not both",
        True,
    ),
    (
        "get_layer_index_string",
        lambda k: dense_model(k).get_layer(index="a"),
        TypeError,
        "get_layer: index must be an int, received str 'a'",
        True,
    ),
    (
        "get_layer_unknown_lists_names",
        lambda k: dense_model(k).get_layer("nope"),
        ValueError,
        r"no layer named 'nope'; the layers are \['d1', 'd2'\]",
        True,
    ),
    (
        "sequential_name_int",
        lambda k: k.Sequential(name=3),
        ValueError,
        "Sequential: name must be a string without '/', received int 3",
        True,
    ),
    (
        "layer_name_int",
        lambda k: k.layers.Dense(3, name=3),
        ValueError,
        "Dense: name must be a string without '/', received int 3",
        True,
    ),
    (
        "layer_name_slash",
        lambda k: k.layers.Dense(3, name="a/b"),
        ValueError,
        "Dense: name must be a string without '/', received str 'a/b'",
        True,
    ),
    (
        "layer_trainable_string",
        lambda k: k.layers.Dense(3, trainable="no"),
        TypeError,
        "Dense: trainable must be a bool, received str 'no'",
        True,
    ),
    (
        "steps_per_execution_zero",
        lambda k: dense_model(k).compile("sgd", "mse", steps_per_execution=0),
        ValueError,
        "steps_per_execution must be a positive integer, received 0",
        False,
    ),
]

LAYER_CALL_CASES = [
    (
        "dense_scalar_input",
        lambda k: k.layers.Dense(3)(np.float32(1.0)),
        ValueError,
        r"Dense '.*' expected input of rank >= 2 .* received shape \(\)",
        True,
    ),
    (
        "dense_string_input",
        lambda k: k.layers.Dense(3)(np.array([["a"]])),
        TypeError,
        "Dense '.*' expected numeric input, received dtype <U1",
        True,
    ),
    (
        "dense_two_inputs",
        lambda k: k.layers.Dense(3)([f32(2, 3), f32(2, 3)]),
        ValueError,
        r"Dense '.*' expects 1 input, received 2",
        True,
    ),
    (
        "dense_none_input",
        lambda k: k.layers.Dense(3)(None),
        ValueError,
        "Dense '.*': inputs to a layer should be tensors, received None",
        True,
    ),
    (
        "dense_dict_input",
        lambda k: k.layers.Dense(3)({"a": f32(2, 3)}),
        ValueError,
        r"Dense '.*' expects 1 input, received a dict with keys \['a'\]",
        True,
    ),
    (
        "lstm_rank_four",
        lambda k: k.layers.LSTM(3)(f32(2, 5, 4, 1)),
        ValueError,
        r"LSTM '.*' expected input of shape \(batch, timesteps, features\), received shape \(2, 5, 4, 1\)",
        True,
    ),
    (
        "gru_initial_state_shape",
        lambda k: k.layers.GRU(3)(f32(2, 5, 4), initial_state=[f32(2, 4)]),
        ValueError,
        r"GRU '.*' expected initial_state\[0\] of shape \(batch, 3\).*received shape \(2, 4\)",
        True,
    ),
    (
        "mha_query_features_changed",
        lambda k: mha_twice(k, [(2, 3, 8), (2, 5, 8)], [(2, 3, 6), (2, 5, 8)]),
        ValueError,
        r"MultiHeadAttention '.*' expected query of rank 3 with last axis 8, received shapes query=\(2, 3, 6\)",
        True,
    ),
    (
        "mha_value_features_changed",
        lambda k: mha_twice(k, [(2, 3, 8), (2, 5, 8)], [(2, 3, 8), (2, 5, 6)]),
        ValueError,
        "expected value of rank 3 with last axis 8",
        True,
    ),
    (
        "mha_batch_mismatch",
        lambda k: k.layers.MultiHeadAttention(2, 4)(f32(2, 3, 8), f32(3, 5, 8)),
        ValueError,
        r"MultiHeadAttention '.*': key and value must agree .* query=\(2, 3, 8\), value=\(3, 5, 8\)",
        True,
    ),
    (
        "mha_key_value_lengths",
        lambda k: k.layers.MultiHeadAttention(2, 4)(f32(2, 3, 8), f32(2, 5, 8), key=f32(2, 4, 8)),
        ValueError,
        r"key and value must agree on every axis but the last.*key=\(2, 4, 8\)",
        True,
    ),
    (
        "batchnorm_channels_changed",
        lambda k: built(k.layers.BatchNormalization(), 2, 4)(f32(2, 5)),
        ValueError,
        r"BatchNormalization '.*' expected input with axis -1 of size 4, received shape \(2, 5\)",
        True,
    ),
    (
        "layernorm_features_changed",
        lambda k: built(k.layers.LayerNormalization(), 2, 4)(f32(2, 5)),
        ValueError,
        r"LayerNormalization '.*' expected input with axes \[-1\] of sizes \(4,\), received shape \(2, 5\)",
        True,
    ),
    (
        "embedding_string_ids",
        lambda k: k.layers.Embedding(10, 3)(np.array([["a"]])),
        TypeError,
        "Embedding '.*' expected numeric input, received dtype <U1",
        True,
    ),
]

CALLBACK_CASES = [
    (
        "early_stopping_patience_negative",
        lambda k: k.callbacks.EarlyStopping(patience=-1),
        ValueError,
        "EarlyStopping: patience must be an integer >= 0, received -1",
        False,
    ),
    (
        "early_stopping_patience_string",
        lambda k: k.callbacks.EarlyStopping(patience="a"),
        TypeError,
        r"EarlyStopping: patience must be an integer, received 'a' \(str\)",
        False,
    ),
    (
        "early_stopping_min_delta_string",
        lambda k: k.callbacks.EarlyStopping(min_delta="a"),
        TypeError,
        r"EarlyStopping: min_delta must be a finite number, received 'a' \(str\)",
        True,
    ),
    (
        "early_stopping_unknown_monitor",
        lambda k: fit_with(k, k.callbacks.EarlyStopping(monitor="val_nope")),
        ValueError,
        "EarlyStopping received monitor='val_nope' and cannot tell whether it should be maximized or minimized",
        True,
    ),
    (
        "early_stopping_monitor_int",
        lambda k: k.callbacks.EarlyStopping(monitor=3),
        TypeError,
        "EarlyStopping: monitor must be the name of a logged quantity",
        False,
    ),
    (
        "early_stopping_start_negative",
        lambda k: k.callbacks.EarlyStopping(start_from_epoch=-1),
        ValueError,
        "start_from_epoch must be an integer >= 0, received -1",
        False,
    ),
    (
        "reduce_lr_factor_negative",
        lambda k: k.callbacks.ReduceLROnPlateau(factor=-0.5),
        ValueError,
        r"ReduceLROnPlateau: factor must be a finite number in \[0, inf\), received -0\.5",
        False,
    ),
    (
        "reduce_lr_patience_negative",
        lambda k: k.callbacks.ReduceLROnPlateau(patience=-1),
        ValueError,
        "ReduceLROnPlateau: patience must be an integer >= 0, received -1",
        False,
    ),
    (
        "reduce_lr_cooldown_negative",
        lambda k: k.callbacks.ReduceLROnPlateau(cooldown=-1),
        ValueError,
        "ReduceLROnPlateau: cooldown must be an integer >= 0, received -1",
        False,
    ),
    (
        "reduce_lr_min_lr_negative",
        lambda k: k.callbacks.ReduceLROnPlateau(min_lr=-1.0),
        ValueError,
        r"ReduceLROnPlateau: min_lr must be a finite number in \[0, inf\), received -1\.0",
        False,
    ),
    (
        "reduce_lr_unknown_monitor",
        lambda k: fit_with(k, k.callbacks.ReduceLROnPlateau(monitor="nope")),
        ValueError,
        "ReduceLROnPlateau received monitor='nope' and cannot tell",
        True,
    ),
    (
        "scheduler_not_callable",
        lambda k: fit_with(k, k.callbacks.LearningRateScheduler(3)),
        TypeError,
        "LearningRateScheduler: schedule must be a function .* received int 3",
        True,
    ),
    (
        "scheduler_returns_string",
        lambda k: fit_with(k, k.callbacks.LearningRateScheduler(lambda e, lr: "a")),
        ValueError,
        "LearningRateScheduler: the output of the schedule function should be a float, received str 'a' for epoch 0",
        True,
    ),
    (
        "scheduler_returns_none",
        lambda k: fit_with(k, k.callbacks.LearningRateScheduler(lambda e, lr: None)),
        ValueError,
        "should be a float, received NoneType None",
        True,
    ),
    (
        "csv_logger_missing_directory",
        lambda k: fit_with(k, k.callbacks.CSVLogger("/nonexistent_zg_dir/x/log.csv")),
        FileNotFoundError,
        "CSVLogger: cannot write '/nonexistent_zg_dir/x/log.csv': the directory '/nonexistent_zg_dir/x' does not exist",
        True,
    ),
    (
        "csv_logger_filename_int",
        lambda k: k.callbacks.CSVLogger(3),
        TypeError,
        "CSVLogger: filename must be a path .* received int 3",
        False,
    ),
    (
        "csv_logger_separator_int",
        lambda k: k.callbacks.CSVLogger("log.csv", separator=3),
        TypeError,
        "CSVLogger: separator must be a one-character string, received 3",
        False,
    ),
    (
        "lambda_callback_not_callable",
        lambda k: fit_with(k, k.callbacks.LambdaCallback(on_epoch_end=3)),
        TypeError,
        "LambdaCallback: on_epoch_end must be a function or None, received int 3",
        True,
    ),
]


def _run(real_keras, call, error, match, keras_raises):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=match):
            call(keras)
        if keras_raises:  # the oracle refuses it too (its error types and messages vary)
            with pytest.raises(Exception):  # noqa: B017
                call(real_keras)
        else:  # a deliberate difference: Keras accepts this silently; record that it still does
            call(real_keras)


def _params(cases):
    return pytest.mark.parametrize(
        "call, error, match, keras_raises", [c[1:] for c in cases], ids=[c[0] for c in cases]
    )


@_params(MODEL_CASES)
def test_model_construction_bad_input(real_keras, call, error, match, keras_raises):
    _run(real_keras, call, error, match, keras_raises)


@_params(LAYER_CALL_CASES)
def test_layer_call_bad_input(real_keras, call, error, match, keras_raises):
    _run(real_keras, call, error, match, keras_raises)


@_params(CALLBACK_CASES)
def test_callback_bad_argument(real_keras, call, error, match, keras_raises, tmp_path):
    os.chdir(tmp_path)  # CSVLogger("log.csv") writes nothing, but keep the cwd clean anyway
    _run(real_keras, call, error, match, keras_raises)


# --- what real Keras accepts, zerograd accepts and does the same --------------------------------


def test_sequential_drops_a_trailing_axis_of_one_as_keras(real_keras):
    x = np.random.default_rng(1).random((2, 4, 1)).astype("float32")
    ours, ref = dense_model(keras), dense_model(real_keras)
    ref.set_weights(ours.get_weights())
    got = ours(x).numpy()
    want = real_keras.ops.convert_to_numpy(ref(x))
    assert got.shape == want.shape == (2, 1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, ours(x[..., 0]).numpy(), rtol=1e-6)


def test_one_callback_not_in_a_list_is_accepted_as_keras(real_keras):
    for k in (keras, real_keras):
        m = dense_model(k)
        m.compile("sgd", "mse")
        history = k.callbacks.History()
        m.fit(X, Y, epochs=2, verbose=0, callbacks=history)
        assert history.epoch == [0, 1]


def test_terminate_on_nan_raise_error_as_keras(real_keras):
    x_nan = X.copy()
    x_nan[0, 0] = np.nan
    for k in (keras, real_keras):
        m = dense_model(k)
        m.compile("sgd", "mse")
        with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 0"):
            m.fit(x_nan, Y, batch_size=8, verbose=0, callbacks=[k.callbacks.TerminateOnNaN(True)])
    m = dense_model(keras)
    m.compile("sgd", "mse")
    history = m.fit(
        x_nan, Y, epochs=3, batch_size=8, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()]
    )
    assert len(history.epoch) == 1  # the default still stops quietly


def test_early_stopping_on_a_missing_but_directed_monitor_warns(real_keras):
    for k in (keras, real_keras):
        with pytest.warns(UserWarning, match="val_nope.*not available"):
            fit_with(k, k.callbacks.EarlyStopping(monitor="val_nope", mode="min"))


def test_valid_model_inputs_still_work():
    assert keras.Input([3]).shape == (None, 3)
    assert keras.Input(np.array([3, 4])).shape == (None, 3, 4)  # any iterable, as Keras
    assert keras.Input((None, 0)).shape == (None, None, 0)
    assert keras.Input(batch_shape=(4, 2)).shape == (4, 2)
    assert keras.Input((np.int64(3),), dtype="int32").dtype == "int32"
    m = dense_model(keras)
    assert m.get_layer(index=-1).name == "d2" and m.get_layer("d1").name == "d1"
    assert not keras.layers.Dense(2, trainable=np.bool_(False)).trainable
    two_inputs(keras)([f32(2, 4), f32(2, 3)])
    layer = keras.layers.LSTM(3)
    out = layer(f32(2, 5, 4), initial_state=[f32(2, 3), f32(2, 3)])
    assert tuple(out.shape) == (2, 3)


# --- mistakes when subclassing -----------------------------------------------------------------


def _weight_before_super(k):
    class Scale(k.layers.Layer):
        def __init__(self):
            self.w = self.add_weight(shape=(3,))

    return Scale()


def _model_call_returns_none(k):
    class Net(k.Model):
        def __init__(self):
            super().__init__()
            self.d = k.layers.Dense(2)

        def call(self, x):
            self.d(x)  # forgot the return

    m = Net()
    m.compile("sgd", "mse")
    return m.fit(X, np.zeros((8, 2), "float32"), verbose=0)


def _functional_layer_returns_none(k):
    class Broken(k.layers.Layer):
        def call(self, x):
            return None

    return k.Sequential([k.Input((3,)), Broken(), k.layers.Dense(1)])


SUBCLASS_CASES = [
    (
        "add_weight_before_super_init",
        _weight_before_super,
        AttributeError,
        r"Scale\.add_weight: call super\(\)\.__init__\(\) first",
    ),
    (
        "model_call_returns_none",
        _model_call_returns_none,
        ValueError,
        r"Net '.*'\.call returned None; a model's call must return its outputs",
    ),
    (
        "functional_layer_returns_none",
        _functional_layer_returns_none,
        ValueError,
        r"Broken '.*'\.call returned NoneType; a layer called on symbolic inputs",
    ),
]


@pytest.mark.parametrize(
    "make, error, match", [c[1:] for c in SUBCLASS_CASES], ids=[c[0] for c in SUBCLASS_CASES]
)
def test_subclassing_mistakes(real_keras, make, error, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=match):
            make(keras)
        with pytest.raises(Exception):  # noqa: B017 - the oracle refuses it too
            make(real_keras)
