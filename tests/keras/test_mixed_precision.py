"""Keras mixed precision ("mixed_float16") against real Keras 3 (torch backend, CPU): dtype
policies, and layers that keep float32 weights and compute in float16 (inputs cast, variables
read in float16 inside ``call``, Keras's autocast scopes, configs). Training (the
LossScaleOptimizer, compile, fit, saving) is in test_mixed_precision_training.py."""

import numpy as np
import pytest

from tests.keras.mixed_helpers import F16, X, np_, restore_policies  # noqa: F401 - autouse
from tests.keras.mixed_helpers import both as _both
from zerograd import keras
from zerograd.keras import layers as L


# --- 1. policies ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mixed_float16", "float16", "float32", "float64"])
def test_policy_matches_keras(real_keras, name):
    ours, theirs = keras.DTypePolicy(name), real_keras.DTypePolicy(name)
    assert (ours.name, ours.compute_dtype, ours.variable_dtype) == (
        theirs.name,
        theirs.compute_dtype,
        theirs.variable_dtype,
    )
    assert repr(ours) == repr(theirs)
    assert ours.get_config() == theirs.get_config()
    assert keras.mixed_precision.Policy(name) == ours
    assert keras.dtype_policies.DTypePolicy.from_config(ours.get_config()) == ours


@pytest.mark.parametrize("name", ["mixed_bfloat16", "bfloat16"])
def test_bfloat16_policies_raise_naming_what_works(name):
    with pytest.raises(ValueError, match=rf"{name}.*bfloat16.*'mixed_float16'"):
        keras.mixed_precision.Policy(name)
    with pytest.raises(ValueError, match=rf"set_dtype_policy.*{name}"):
        keras.mixed_precision.set_global_policy(name)
    with pytest.raises(ValueError, match=rf"Dense 'd16'.*{name}.*'mixed_float16'"):
        L.Dense(2, dtype=name, name="d16")
    assert keras.mixed_precision.global_policy().name == "float32"


def test_policy_name_of_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="DTypePolicy: expected a dtype policy name.*int 3"):
        keras.DTypePolicy(3)
    with pytest.raises(ValueError, match="DTypePolicy.*'mixed_float17'"):
        keras.DTypePolicy("mixed_float17")


def test_global_policy_functions(real_keras):
    keras.mixed_precision.set_global_policy("mixed_float16")
    assert keras.mixed_precision.global_policy().name == "mixed_float16"
    assert keras.config.dtype_policy() == keras.mixed_precision.dtype_policy()
    assert keras.DTypePolicy().name == "mixed_float16"  # no name: the global policy
    keras.config.set_dtype_policy(keras.DTypePolicy("float64"))
    assert keras.config.dtype_policy().name == "float64"
    keras.mixed_precision.set_dtype_policy(None)
    assert keras.mixed_precision.global_policy().name == real_keras.config.floatx()
    assert sorted(n for n in dir(keras.mixed_precision) if not n.startswith("_")) == sorted(
        n for n in dir(real_keras.mixed_precision) if not n.startswith("_")
    )


@pytest.mark.parametrize(
    "dtype", [None, "float32", "mixed_float16", "float16", "policy_object"], ids=str
)
def test_layer_dtype_attributes_match_keras(real_keras, dtype):
    for k in _both(real_keras):
        arg = k.DTypePolicy("mixed_float16") if dtype == "policy_object" else dtype
        layer = k.layers.Dense(3, dtype=arg)
        layer.build((None, 4))
        got = (
            layer.dtype,
            layer.compute_dtype,
            layer.variable_dtype,
            repr(layer.dtype_policy),
            str(layer.kernel.dtype).replace("torch.", ""),
            layer.get_config()["dtype"]["config"],
        )
        if k is keras:
            ours = got
    assert ours == got


# --- 2. layers under a mixed policy --------------------------------------------------------------
def _pair(real_keras, make):
    keras_, theirs = _both(real_keras)
    ours, ref = make(keras_), make(theirs)
    ref.build((None, 8))
    ours.build((None, 8))
    ours.set_weights(ref.get_weights())
    return ours, ref


def test_mixed_dense_computes_in_float16_with_float32_weights(real_keras):
    ours, ref = _pair(real_keras, lambda k: k.layers.Dense(5, activation="tanh"))
    got, want = ours(X), ref(X)
    assert str(got.dtype) == "float16" and str(want.dtype) == "torch.float16"
    assert ours.kernel.dtype == "float32" and isinstance(ours.kernel, keras.Variable)
    np.testing.assert_allclose(np_(got).astype("float32"), np_(want).astype("float32"), **F16)


def test_gradients_reach_float32_variables(real_keras):
    import torch

    ours, ref = _pair(real_keras, lambda k: k.layers.Dense(4, activation="relu"))
    ours(X, training=True).astype("float32").sum().backward()
    ref(torch.tensor(X)).float().sum().backward()
    assert ours.kernel.grad.dtype == np.float32 and ours.bias.grad.dtype == np.float32
    np.testing.assert_allclose(ours.kernel.grad.numpy(), np_(ref.kernel.value.grad), **F16)
    np.testing.assert_allclose(ours.bias.grad.numpy(), np_(ref.bias.value.grad), **F16)


def test_integer_inputs_are_not_cast(real_keras):
    ids = np.array([[1, 2, 0], [3, 4, 4]])
    outs = []
    for k in _both(real_keras):
        probe = k.layers.Lambda(lambda x: x)
        seen = str(probe(ids.astype("int32")).dtype).replace("torch.", "")
        emb = k.layers.Embedding(5, 3)
        outs.append((seen, str(emb(ids).dtype).replace("torch.", ""), emb.dtype))
    assert outs[0] == outs[1] == ("int32", "float16", "float32")


LAYERS = {
    "BatchNormalization": (lambda k: k.layers.BatchNormalization(), (16, 6)),
    "LayerNormalization": (lambda k: k.layers.LayerNormalization(), (16, 6)),
    "GroupNormalization": (lambda k: k.layers.GroupNormalization(2), (16, 6)),
    "LSTM": (lambda k: k.layers.LSTM(4, return_sequences=True), (4, 5, 3)),
    "GRU": (lambda k: k.layers.GRU(4), (4, 5, 3)),
    "Conv1D": (lambda k: k.layers.Conv1D(2, 3, padding="same"), (4, 5, 3)),
    "Embedding": (lambda k: k.layers.Embedding(7, 3), (4, 5)),
    "MultiHeadAttention": (lambda k: k.layers.MultiHeadAttention(2, 3), (4, 5, 3)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_mixed_layers_match_keras(real_keras, name):
    """Output dtype and values, float32 weights (and BatchNormalization's moving statistics,
    updated in float32) as real Keras under "mixed_float16"."""
    make, shape = LAYERS[name]
    rng = np.random.default_rng(1)
    x = rng.integers(0, 7, shape) if name == "Embedding" else rng.standard_normal(shape) * 3 + 1
    x = x if name == "Embedding" else x.astype("float32")
    results, start = [], None
    for k in _both(real_keras):
        layer = make(k)
        args = (x, x) if name == "MultiHeadAttention" else (x,)
        layer(*args)
        if results:
            layer.set_weights(start)
        start = [np.array(np_(w)) for w in layer.weights]  # copies: numpy() may be a view
        out = layer(*args, training=True)
        weights = [np_(w) for w in layer.weights]
        results.append((str(out.dtype).replace("torch.", ""), np_(out).astype("float32"), weights))
    (d_ours, y_ours, w_ours), (d_ref, y_ref, w_ref) = results
    assert d_ours == d_ref == "float16"
    np.testing.assert_allclose(y_ours, y_ref, rtol=1e-2, atol=1e-2)
    for a, b in zip(w_ours, w_ref):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)


def test_float32_layer_inside_a_mixed_model(real_keras):
    """The guide's advice: a float32 last layer computes in float32 inside a mixed model."""
    dtypes = []
    for k in _both(real_keras):
        model = k.Sequential(
            [
                k.Input((8,)),
                k.layers.Dense(6, activation="relu"),
                k.layers.Dense(3, dtype="float32"),
                k.layers.Activation("softmax", dtype="float32"),
            ]
        )
        hidden = k.Model(model.inputs, model.layers[0].output)
        dtypes.append(
            [str(np_(hidden(X[:2])).dtype), str(np_(model(X[:2])).dtype)]
            + [la.dtype_policy.name for la in model.layers]
        )
    assert dtypes[0] == dtypes[1] == ["float16", "float32", "mixed_float16", "float32", "float32"]


def _reader(k, autocast_variable: bool, autocast_layer: bool = True):
    """A layer that reports the dtypes its input and its variable have inside ``call``."""

    class Reader(k.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(autocast=autocast_layer, **kwargs)
            self.seen = []

        def build(self, input_shape):
            self.w = self.add_weight(
                shape=(input_shape[-1],), initializer="ones", autocast=autocast_variable
            )

        def call(self, x):
            self.seen.append(
                [str(x.dtype).replace("torch.", ""), str(self.w.dtype).replace("torch.", "")]
            )
            return x * self.w

    return Reader()


@pytest.mark.parametrize("autocast_variable", [True, False])
@pytest.mark.parametrize("autocast_layer", [True, False])
def test_variables_read_in_compute_dtype_inside_call(real_keras, autocast_variable, autocast_layer):
    results = []
    for k in _both(real_keras):
        layer = _reader(k, autocast_variable, autocast_layer)
        out = layer(X[:2])
        results.append(layer.seen[0] + [str(out.dtype).replace("torch.", "")])
        assert str(layer.w.dtype).replace("torch.", "") == "float32"  # outside call: float32
    assert results[0] == results[1]


def test_nested_layers_follow_keras_scopes(real_keras):
    """A float32 sub-layer of a mixed layer reads its variables in float32; a mixed one in
    float16 (Keras's AutocastScope rules)."""
    results = []
    for k in _both(real_keras):
        inner32, inner16 = _reader(k, True), _reader(k, True)
        inner32.dtype_policy = k.DTypePolicy("float32")

        class Outer(k.layers.Layer):
            def __init__(self, a, b):
                super().__init__()
                self.a, self.b = a, b

            def call(self, x):
                return self.b(self.a(x))

        Outer(inner32, inner16)(X[:2])
        results.append((inner32.seen[0], inner16.seen[0]))
    assert results[0] == results[1]
    assert results[0] == (["float32", "float32"], ["float16", "float16"])


def test_mixed_config_round_trip(real_keras, tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = keras.Sequential(
        [keras.Input((8,)), L.Dense(4), L.Activation("softmax", dtype="float32")]
    )
    config = model.get_config()
    assert config["dtype"]["config"]["name"] == "mixed_float16"  # Keras writes it
    assert config["layers"][1]["config"]["dtype"]["config"]["name"] == "mixed_float16"
    keras.mixed_precision.set_global_policy("float32")
    clone = keras.Sequential.from_config(config)
    assert [la.dtype_policy.name for la in clone.layers] == ["mixed_float16", "float32"]
    assert str(clone(X[:2]).dtype) == "float32" and clone.layers[0].kernel.dtype == "float32"
    path = str(tmp_path / "mixed.keras")
    model.save(path)
    theirs = real_keras.saving.load_model(path)
    assert [la.dtype_policy.name for la in theirs.layers] == ["mixed_float16", "float32"]
    np.testing.assert_allclose(np_(theirs(X[:4])), model(X[:4]).numpy(), **F16)
