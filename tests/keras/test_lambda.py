"""The Lambda layer against real Keras 3: outputs, masks, arguments, training, and saving."""

import numpy as np
import pytest

from zerograd import keras

X = np.random.default_rng(0).random((4, 3, 2)).astype("float32")


def euclidean(tensors):
    a, b = tensors
    return keras.ops.sqrt(keras.ops.sum(keras.ops.square(a - b), axis=1, keepdims=True))


@pytest.mark.parametrize(
    "make",
    [
        lambda k: k.layers.Lambda(lambda x: x * 2 + 1),
        lambda k: k.layers.Lambda(lambda x, scale: x * scale, arguments={"scale": 3.0}),
        lambda k: k.layers.Lambda(lambda x: k.ops.sum(x, axis=-1)),
    ],
)
def test_lambda_outputs_match_keras(real_keras, make):
    ours, ref = make(keras)(X), make(real_keras)(X)
    np.testing.assert_allclose(ours.numpy(), real_keras.ops.convert_to_numpy(ref), rtol=1e-6)


def test_lambda_in_a_functional_model_matches_keras(real_keras):
    def build(k, fn):
        a, b = k.Input((2,)), k.Input((2,))
        dist = k.layers.Lambda(fn)([a, b])
        return k.Model([a, b], k.layers.Dense(1)(dist))

    ref_fn = lambda t: real_keras.ops.sqrt(  # noqa: E731
        real_keras.ops.sum(real_keras.ops.square(t[0] - t[1]), axis=1, keepdims=True)
    )
    ref, ours = build(real_keras, ref_fn), build(keras, euclidean)
    ours.set_weights(ref.get_weights())
    a, b = X[:, 0], X[:, 1]
    np.testing.assert_allclose(
        ours.predict([a, b], verbose=0), ref.predict([a, b], verbose=0), rtol=1e-5
    )
    assert ours.layers[2].output.shape == (None, 1)


def test_lambda_mask_and_training_are_passed_when_the_function_takes_them():
    seen = {}

    def fn(x, mask=None, training=None):
        seen.update(mask=mask, training=training)
        return x

    layer = keras.layers.Lambda(fn, mask=lambda inputs, mask: mask)
    emb = keras.layers.Embedding(5, 2, mask_zero=True)
    ids = np.array([[1, 2, 0]])
    out = layer(emb(ids), training=True)
    assert seen["training"] is True
    np.testing.assert_array_equal(np.asarray(seen["mask"]), [[True, True, False]])
    np.testing.assert_array_equal(np.asarray(out._keras_mask), [[True, True, False]])


def test_lambda_saving_keeps_registered_functions_and_refuses_lambdas(tmp_path):
    @keras.saving.register_keras_serializable(package="test_lambda")
    def double(x):
        return x * 2

    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Lambda(double)(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(X[:, 0], verbose=0), X[:, 0] * 2)

    anon = keras.Model(inputs, keras.layers.Lambda(lambda x: x + 1, name="plus_one")(inputs))
    with pytest.raises(ValueError, match="Lambda 'plus_one' wraps a lambda"):
        anon.save(tmp_path / "anon.keras")
    assert not (tmp_path / "anon.keras").exists()


def test_lambda_rejects_what_is_not_a_function():
    with pytest.raises(TypeError, match="Lambda 'lambda.*': function must be callable"):
        keras.layers.Lambda(3)
