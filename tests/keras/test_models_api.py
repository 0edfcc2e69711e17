"""Model and Sequential against real Keras 3: inputs/outputs and feature extractors, layer lists,
add/pop/get_layer, Model keyword arguments, tracking of sub-layers in subclassed models."""

import logging

import numpy as np
import pytest

from zerograd import keras


def _numpy(t):
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _stack(k):
    return k.Sequential(
        [
            k.Input(shape=(6, 6, 2)),
            k.layers.Conv2D(3, 3, activation="relu"),
            k.layers.Conv2D(4, 3, activation="relu", name="my_intermediate_layer"),
            k.layers.Flatten(),
            k.layers.Dense(2),
        ]
    )


def test_sequential_feature_extractor_matches_keras(real_keras):
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 2)).astype("float32")
    outputs, weights = [], None
    for k in (real_keras, keras):  # real Keras first: its initial weights are copied into ours
        model = _stack(k)
        if weights is None:
            weights = [w.numpy() for w in model.weights]
        else:
            model.set_weights(weights)
        assert len(model.inputs) == 1 and model.inputs[0].shape == (None, 6, 6, 2)
        assert model.outputs[0].shape == (None, 2)
        assert model.input_shape == (None, 6, 6, 2) and model.output_shape == (None, 2)
        extractor = k.Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers])
        middle = k.Model(
            inputs=model.inputs, outputs=model.get_layer(name="my_intermediate_layer").output
        )
        outputs.append([_numpy(f) for f in extractor(x)] + [_numpy(middle(x))])
    assert [o.shape for o in outputs[0]] == [o.shape for o in outputs[1]]
    for ours, theirs in zip(*outputs):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_sequential_layers_add_pop_and_names(real_keras):
    for k in (keras, real_keras):
        model = k.Sequential(name="d5_seq")
        model.add(k.Input(shape=(4,)))
        model.add(k.layers.Dense(2, activation="relu", name="layer1"))
        model.add(k.layers.Dense(3, name="layer2"))
        assert [layer.name for layer in model.layers] == ["layer1", "layer2"]
        assert model.outputs[0].shape == (None, 3)
        assert [w.path for w in model.weights][:2] == ["d5_seq/layer1/kernel", "d5_seq/layer1/bias"]
        model.pop()
        assert len(model.layers) == 1 and model.outputs[0].shape == (None, 2)
    with pytest.raises(ValueError, match="unique"):
        keras.Sequential([keras.layers.Dense(2, name="same"), keras.layers.Dense(2, name="same")])


def test_sequential_built_by_its_first_call_has_inputs():
    model = keras.Sequential([keras.layers.Dense(2), keras.layers.Dense(4)])
    assert model.weights == [] and not model.built
    model(np.ones((1, 3), "float32"))
    assert len(model.weights) == 4 and model.inputs[0].shape == (None, 3)
    assert model.layers[1].output.shape == (None, 4)


def test_model_keyword_arguments(real_keras):
    model = keras.Model(name="d5_named", trainable=False, dtype="float32")
    assert model.name == "d5_named" and model.trainable is False
    for k in (keras, real_keras):
        with pytest.raises(ValueError, match="foo"):
            k.Model(foo=1)
    with pytest.raises(TypeError, match="foo"):
        keras.Model(foo=1)
    with pytest.raises(TypeError, match="foo"):
        keras.Sequential(foo=1)


def _subclassed(k):
    class Net(k.Model):
        def __init__(self):
            super().__init__(name="d5_net")
            self.blocks = [k.layers.Dense(3, name="d5_b0"), k.layers.Dense(3, name="d5_b1")]
            self.heads = {"out": k.layers.Dense(1, name="d5_head")}
            self.blocks.append(k.layers.Dense(3, name="d5_b2"))

        def call(self, x):
            for block in self.blocks:
                x = block(x)
            return self.heads["out"](x)

    return Net()


def test_subclassed_model_tracks_lists_and_dicts_of_layers(real_keras):
    x = np.ones((2, 4), "float32")
    ours, theirs = _subclassed(keras), _subclassed(real_keras)
    ours(x)
    theirs(x)
    assert [w.path for w in ours.weights] == [w.path for w in theirs.weights]
    assert sorted(la.name for la in ours.layers) == sorted(la.name for la in theirs.layers)
    ours.set_weights([w.numpy() for w in theirs.weights])
    np.testing.assert_allclose(ours(x).numpy(), theirs(x).detach().numpy(), rtol=1e-5)


def test_summary_of_an_unbuilt_model_says_so():
    lines = []
    keras.Sequential([keras.layers.Dense(2, name="d5_unbuilt")]).summary(print_fn=lines.append)
    row = next(line for line in lines if "d5_unbuilt" in line)
    assert "?" in row and "0 (unbuilt)" in row


def test_subclassed_model_build_and_summary():
    model = _subclassed(keras)
    model.build((None, 4))
    lines = []
    model.summary(print_fn=lines.append, show_trainable=True)
    assert model.count_params() == 4 * 3 + 3 + 2 * (3 * 3 + 3) + 3 + 1
    assert any("Trainable" in line for line in lines)


def test_uncalled_layer_as_outputs_connects_the_layers_made_after_the_input(caplog):
    inputs = keras.Input(shape=(5,))
    hidden = keras.layers.Dense(4, activation="relu")
    outputs = keras.layers.Dense(2)
    with caplog.at_level(logging.WARNING, logger="zerograd.keras"):
        model = keras.Model(inputs=inputs, outputs=outputs)
    assert "uncalled layers" in caplog.text
    assert [la.name for la in model.layers[1:]] == [hidden.name, outputs.name]
    assert model(np.ones((3, 5), "float32")).shape == (3, 2)


def test_training_false_given_in_the_graph_is_kept():
    inputs = keras.Input(shape=(3,))
    bn = keras.layers.BatchNormalization()
    model = keras.Model(inputs, bn(inputs, training=False))
    model(np.random.default_rng(0).normal(size=(4, 3)).astype("float32"), training=True)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(3, "float32"))


def test_functional_model_with_dicts_of_inputs_and_outputs(real_keras):
    data = {"a": np.ones((4, 3), "float32"), "b": np.full((4, 2), 0.5, "float32")}
    results, weights = [], None
    for k in (real_keras, keras):  # real Keras first: its initial weights are copied into ours
        a, b = k.Input(shape=(3,), name="a"), k.Input(shape=(2,), name="b")
        x = k.layers.Concatenate()([a, b])
        model = k.Model({"a": a, "b": b}, {"out": k.layers.Dense(2)(x), "mid": x})
        if weights is None:
            weights = [w.numpy() for w in model.weights]
        else:
            model.set_weights(weights)
        out = model(data)
        assert sorted(out) == ["mid", "out"]
        results.append({key: _numpy(value) for key, value in out.items()})
    for key in ("mid", "out"):
        np.testing.assert_allclose(results[1][key], results[0][key], rtol=1e-5, atol=1e-6)


def test_an_input_one_unit_axis_off_is_adjusted_as_keras(real_keras):
    def build(k):
        inputs = k.Input((4, 1))
        return k.Model(inputs, k.layers.Flatten()(k.layers.Dense(2)(inputs)))

    ref, ours = build(real_keras), build(keras)
    ours.set_weights(ref.get_weights())
    x = np.arange(12, dtype="float32").reshape(3, 4)
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="expected input .* of shape"):
        ours.predict(np.zeros((3, 5), "float32"), verbose=0)
