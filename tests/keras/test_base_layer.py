"""The base Layer against real Keras 3: add_weight, weight lists (names, paths, order), Variables,
add_loss and layer.losses, freezing, calls with several tensor arguments, keras.Input."""

import re

import numpy as np
import pytest

from zerograd import keras


def _copy_weights(ours, theirs):
    """Real Keras's initial weights into ours (same order)."""
    ours.set_weights([w.numpy() for w in theirs.weights])


def _unnumbered(path):
    return re.sub(r"variable(_\d+)?", "variable", path)


def _names(layer):
    return [(w.name, w.path) for w in layer.weights]


# --- weights lists: names, paths, order --------------------------------------------------------
def test_dense_and_batchnorm_weights_match_keras(real_keras):
    ours, theirs = (
        keras.layers.Dense(3, name="d5_dense"),
        real_keras.layers.Dense(3, name="d5_dense"),
    )
    ours.build((None, 4))
    theirs.build((None, 4))
    assert _names(ours) == _names(theirs)
    assert [w.dtype for w in ours.weights] == [w.dtype for w in theirs.weights] == ["float32"] * 2
    ours = keras.layers.BatchNormalization(name="d5_bn")
    theirs = real_keras.layers.BatchNormalization(name="d5_bn")
    ours.build((None, 4))
    theirs.build((None, 4))
    assert _names(ours) == _names(theirs)
    for attr in ("trainable_weights", "non_trainable_weights", "variables"):
        assert [w.name for w in getattr(ours, attr)] == [w.name for w in getattr(theirs, attr)]
    assert [w.name for w in ours.trainable_variables] == ["gamma", "beta"]
    assert [w.name for w in ours.non_trainable_variables] == ["moving_mean", "moving_variance"]


def test_lstm_weights_match_keras(real_keras):
    x = np.zeros((2, 5, 4), "float32")
    ours, theirs = keras.layers.LSTM(3, name="d5_lstm"), real_keras.layers.LSTM(3, name="d5_lstm")
    ours(x)
    theirs(x)
    assert _names(ours) == _names(theirs)
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]


def _nested(k):
    class Inner(k.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.counter = self.add_weight(shape=(2,), initializer="zeros", trainable=False)
            self.scale = self.add_weight(shape=(2,), initializer="ones", name="scale")

        def call(self, x):
            return x * self.scale

    class Outer(k.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = Inner(name="d5_inner")
            self.dense = k.layers.Dense(2, name="d5_outer_dense")

        def build(self, input_shape):
            self.bias = self.add_weight(shape=(2,), initializer="zeros", name="bias")

        def call(self, x):
            return self.dense(self.inner(x)) + self.bias

    return Outer(name="d5_outer")


def test_nested_custom_layers_weights_match_keras(real_keras):
    x = np.ones((3, 2), "float32")
    ours, theirs = _nested(keras), _nested(real_keras)
    ours(x)
    theirs(x)
    # unnamed weights are numbered globally ("variable_7"): compare paths without the numbers
    assert [_unnumbered(w.path) for w in ours.weights] == [
        _unnumbered(w.path) for w in theirs.weights
    ]
    assert [w.trainable for w in ours.weights] == [w.trainable for w in theirs.weights]
    assert len(ours.trainable_weights) == len(theirs.trainable_weights) == 4
    assert len(ours.non_trainable_weights) == len(theirs.non_trainable_weights) == 1
    _copy_weights(ours, theirs)
    np.testing.assert_allclose(ours(x).numpy(), theirs(x).detach().numpy(), rtol=1e-5, atol=1e-5)


# --- add_weight and Variables ------------------------------------------------------------------
class _Linear(keras.layers.Layer):
    def __init__(self, units=4, input_dim=3):
        super().__init__()
        self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal")
        self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return inputs @ self.w + self.b


def test_add_weight_tracks_attributes_in_order():
    layer = _Linear()
    assert layer.weights == [layer.w, layer.b]
    assert [w.name.split("_")[0] for w in layer.weights] == ["variable", "variable"]
    assert layer(np.ones((2, 3), "float32")).shape == (2, 4)
    assert list(layer.state_dict()) == ["w", "b"]  # each weight once, under its attribute name


def test_add_weight_defaults_and_positional_form(real_keras):
    layer = keras.layers.Layer(name="d5_plain")
    kernel = layer.add_weight((30, 20))  # Keras's positional form: (shape, initializer, dtype)
    limit = np.sqrt(6 / 50)  # glorot_uniform, Keras's default for float weights
    assert np.abs(kernel.numpy()).max() <= limit and kernel.numpy().std() > limit / 4
    count = layer.add_weight((2,), None, "int32", trainable=False, name="count")
    assert count.dtype == "int32" and not count.numpy().any()  # zeros for other dtypes
    assert layer.count is count and count.path == "d5_plain/count"
    scalar = layer.add_weight(initializer="ones", name="scalar")
    assert scalar.shape == () and float(scalar.numpy()) == 1.0
    theirs = real_keras.layers.Layer(name="d5_plain").add_weight(
        (2,), None, "int32", trainable=False
    )
    assert str(count.dtype) == theirs.dtype == "int32"


def test_add_weight_rejects_what_it_cannot_honour():
    layer = keras.layers.Layer()
    with pytest.raises(ValueError, match="constraint"):
        layer.add_weight(shape=(2,), constraint="no_such_constraint")
    with pytest.raises(ValueError, match="fully defined"):
        layer.add_weight(shape=(None, 2))
    with pytest.raises(TypeError, match="both positionally and by keyword"):
        layer.add_weight((2,), shape=(2,))


def test_variable_methods_match_keras(real_keras):
    ours = keras.layers.Layer().add_weight(shape=(2, 3), initializer="ones", name="v")
    theirs = real_keras.layers.Layer().add_weight(shape=(2, 3), initializer="ones", name="v")
    for v in (ours, theirs):
        v.assign(np.full((2, 3), 2.0, "float32"))
        v.assign_add(np.ones((2, 3), "float32"))
        v.assign_sub(np.full((2, 3), 0.5, "float32"))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(np.asarray(ours.value), theirs.numpy())
    assert ours.shape == tuple(theirs.shape) and ours.dtype == theirs.dtype and ours.trainable
    with pytest.raises(ValueError, match="shape"):
        ours.assign(np.zeros(3))
    assert keras.Variable(np.zeros(2), name="z").dtype == "float32"


def test_compute_sum_layer_keeps_a_running_total():
    class ComputeSum(keras.layers.Layer):
        def __init__(self, input_dim):
            super().__init__()
            self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

        def call(self, inputs):
            self.total.assign_add(inputs.sum(axis=0))
            return self.total

    layer = ComputeSum(2)
    layer(np.ones((2, 2), "float32"))
    np.testing.assert_array_equal(layer(np.ones((2, 2), "float32")).numpy(), [4.0, 4.0])
    assert layer.non_trainable_weights == [layer.total] and layer.trainable_weights == []


# --- losses -------------------------------------------------------------------------------------
class _ActivityLoss(keras.layers.Layer):
    def __init__(self, rate=1e-2, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * inputs.mean())
        return inputs


def test_losses_hold_the_latest_pass_and_regularizers():
    class Outer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.activity = _ActivityLoss()
            self.dense = keras.layers.Dense(2, kernel_regularizer=keras.regularizers.l2(1e-3))

        def call(self, inputs):
            return self.dense(self.activity(inputs))

    layer = Outer()
    assert layer.losses == []
    layer(np.ones((1, 3), "float32"))
    assert len(layer.losses) == 2
    layer(np.full((1, 3), 2.0, "float32"))
    losses = [float(v.numpy()) for v in layer.losses]
    assert len(losses) == 2 and losses[0] == pytest.approx(0.02)
    assert losses[1] == pytest.approx(1e-3 * float((layer.dense.kernel.numpy() ** 2).sum()))
    layer.dense.trainable = False  # a frozen weight's penalty no longer counts, as in Keras
    assert len(layer.losses) == 1


def _fit_loss(k, model_fn, x, y, weights):
    model = model_fn(k)
    model.set_weights(weights)
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return history.history["loss"][0], model


def _activity_model(k):
    class Activity(k.layers.Layer):
        def call(self, inputs):
            self.add_loss(0.5 * k.ops.mean(inputs * inputs))
            return inputs

    inputs = k.Input(shape=(3,))
    x = k.layers.Dense(4, kernel_regularizer=k.regularizers.l2(0.1))(inputs)
    return k.Model(inputs, k.layers.Dense(2)(Activity()(x)))


def test_add_loss_and_regularizers_in_fit_match_keras(real_keras):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    weights = [w.numpy() for w in _activity_model(real_keras).weights]
    ours, model = _fit_loss(keras, _activity_model, x, y, weights)
    theirs, _ = _fit_loss(real_keras, _activity_model, x, y, weights)
    assert ours == pytest.approx(theirs, rel=1e-5)
    assert len(model.losses) == 2  # the activity loss of the last pass and the kernel penalty


# --- freezing -------------------------------------------------------------------------------------
def test_frozen_layer_is_not_trained_and_trainable_is_in_config():
    layer1, layer2 = keras.layers.Dense(3, activation="relu"), keras.layers.Dense(3)
    model = keras.Sequential([keras.Input(shape=(3,)), layer1, layer2])
    layer1.trainable = False
    before, before2 = layer1.get_weights(), layer2.get_weights()
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.random.random((4, 3)), np.random.random((4, 3)), epochs=2, verbose=0)
    for a, b in zip(before, layer1.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(before2[0], layer2.get_weights()[0])
    assert layer1.get_config()["trainable"] is False
    assert keras.layers.Dense.from_config(layer1.get_config()).trainable is False
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 4
    model.trainable = True
    assert len(model.trainable_weights) == 4


def test_unfreezing_keeps_batchnorm_statistics_non_trainable():
    bn = keras.layers.BatchNormalization()
    bn.build((None, 4))
    bn.trainable = False
    bn.trainable = True
    assert [w.name for w in bn.trainable_weights] == ["gamma", "beta"]
    assert not bn.moving_mean.requires_grad


def test_frozen_batchnorm_runs_in_inference_mode_as_keras(real_keras):
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 3.0, size=(6, 4)).astype("float32")
    ours, theirs = keras.layers.BatchNormalization(), real_keras.layers.BatchNormalization()
    ours.build((None, 4))
    theirs.build((None, 4))
    values = [rng.normal(size=4).astype("float32") for _ in range(3)]
    values.append(rng.uniform(0.5, 2.0, size=4).astype("float32"))
    ours.set_weights(values)
    theirs.set_weights(values)
    ours.trainable = theirs.trainable = False
    got = ours(x, training=True).numpy()
    want = theirs(x, training=True).detach().cpu().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ours.moving_mean.numpy(), values[2])  # statistics untouched


# --- calls with several tensor arguments ----------------------------------------------------------
def _endpoint(k):
    class Endpoint(k.layers.Layer):
        def call(self, logits, targets, sample_weight=None):
            loss = k.ops.mean(k.ops.square(logits - targets))
            self.add_loss(loss)
            out = k.ops.sigmoid(logits)
            return out if sample_weight is None else out * sample_weight

    return Endpoint(name="predictions")


def test_layer_with_several_tensor_arguments_eager_and_functional(real_keras):
    logits = np.linspace(-1, 1, 6, dtype="float32").reshape(2, 3)
    targets = np.ones((2, 3), "float32")
    weight = np.full((2, 3), 0.5, "float32")
    out = _endpoint(keras)(logits, targets, sample_weight=weight)
    want = _endpoint(real_keras)(logits, targets, sample_weight=weight).detach().numpy()
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
    results = []
    for k in (keras, real_keras):
        a, b, w = k.Input(shape=(3,)), k.Input(shape=(3,)), k.Input(shape=(3,))
        model = k.Model([a, b, w], _endpoint(k)(a, b, sample_weight=w))
        out = model([logits, targets, weight])
        results.append(out.detach().numpy() if hasattr(out, "detach") else out.numpy())
        assert len(model.losses) == 1
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


# --- keras.Input ------------------------------------------------------------------------------
def test_input_shape_dtype_and_errors(real_keras):
    for kwargs in (
        {"shape": (None,), "dtype": "int32"},
        {"shape": (3, 4)},
        {"batch_shape": (5, 3)},
    ):
        ours, theirs = keras.Input(**kwargs), real_keras.Input(**kwargs)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        assert isinstance(ours.dtype, str) and isinstance(ours.shape, tuple)
    with pytest.raises(ValueError, match="sparse"):
        keras.Input(shape=(3,), sparse=True)
    with pytest.raises(ValueError, match="shape"):
        keras.Input()


def test_layer_input_and_output_after_a_functional_call():
    inputs = keras.Input(shape=(4,))
    dense = keras.layers.Dense(2)
    with pytest.raises(AttributeError, match="never been called"):
        _ = dense.output
    out = dense(inputs)
    assert dense.input is inputs and dense.output is out and out.shape == (None, 2)


def test_activity_regularizer_matches_keras(real_keras):
    x = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    losses, weights = [], None
    for k in (real_keras, keras):  # real Keras first: its initial weights are copied into ours
        layer = k.layers.Dense(2, activity_regularizer=k.regularizers.L2(0.1))
        layer.build((None, 3))
        if weights is None:
            weights = [w.numpy() for w in layer.weights]
        else:
            layer.set_weights(weights)
            config = layer.get_config()
            assert keras.layers.Dense.from_config(config).get_config() == config
        layer(x)
        losses.append(
            [float(np.asarray(v.detach() if hasattr(v, "detach") else v)) for v in layer.losses]
        )
    assert len(losses[0]) == len(losses[1]) == 1
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)


def test_training_flag_resolution_matches_keras(real_keras):
    x = np.ones((4, 16), "float32")
    for k in (keras, real_keras):

        class Net(k.Model):
            def __init__(self, dropout):
                super().__init__()
                self.drop = dropout

            def call(self, inputs):  # no training argument: the inner layer inherits the call's
                return self.drop(inputs)

        net = Net(k.layers.Dropout(0.5))
        as_numpy = [
            out.detach().cpu().numpy() if hasattr(out, "detach") else out.numpy()
            for out in (net(x), net(x, training=True), k.layers.Dropout(0.5)(x))
        ]
        np.testing.assert_array_equal(as_numpy[0], x)  # a direct call runs in inference
        assert (as_numpy[1] == 0).any() and (as_numpy[1] == 2).any()
        np.testing.assert_array_equal(as_numpy[2], x)
