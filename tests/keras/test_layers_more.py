"""Attention, AdditiveAttention, DepthwiseConv1D/2D, SeparableConv1D/2D, GroupNormalization,
UnitNormalization, RMSNormalization, Identity and EinsumDense against real Keras 3: outputs, input
and weight gradients with copied weights; configs; functional use; argument errors."""

import numpy as np
import pytest

import zerograd as zg
from tests.keras.layer_oracle import compare, config_keys_match, round_trip
from zerograd import keras
from zerograd.keras import layers as L

RNG = np.random.default_rng(0)
Q = RNG.standard_normal((2, 3, 4)).astype("float32")
V = RNG.standard_normal((2, 5, 4)).astype("float32")
K = RNG.standard_normal((2, 5, 4)).astype("float32")
Q_MASK = np.array([[1, 1, 0], [1, 0, 1]], bool)
V_MASK = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1]], bool)
X4 = RNG.standard_normal((2, 7, 8, 4)).astype("float32")

# --- Attention, AdditiveAttention ------------------------------------------------------------------

ATTENTION = [
    ("Attention", {}),
    ("Attention", {"use_scale": True}),
    ("Attention", {"score_mode": "concat"}),
    ("Attention", {"score_mode": "concat", "use_scale": True}),
    ("AdditiveAttention", {}),
    ("AdditiveAttention", {"use_scale": False}),
]
CALLS = [
    ([Q, V], {}),
    ([Q, V, K], {"use_causal_mask": True}),
    ([Q, V, K], {"mask": [Q_MASK, V_MASK]}),
    ([Q, V], {"mask": [None, V_MASK], "use_causal_mask": True}),
]


@pytest.mark.parametrize(("name", "kwargs"), ATTENTION, ids=str)
@pytest.mark.parametrize(("x", "call"), CALLS, ids=["qv", "qvk-causal", "masks", "vmask-causal"])
def test_attention_matches_keras(real_keras, name, kwargs, x, call):
    ours, theirs = getattr(L, name)(**kwargs), getattr(real_keras.layers, name)(**kwargs)
    compare(real_keras, ours, theirs, x, **call)
    config_keys_match(theirs, ours)


@pytest.mark.parametrize("name", ["Attention", "AdditiveAttention"])
def test_attention_returns_scores_as_keras(real_keras, name):
    ours, theirs = getattr(L, name)(), getattr(real_keras.layers, name)()
    theirs([Q, V])
    ours([Q, V])
    ours.set_weights(theirs.get_weights())
    out, scores = ours([Q, V], mask=[Q_MASK, V_MASK], return_attention_scores=True)
    want_out, want_scores = theirs([Q, V], mask=[Q_MASK, V_MASK], return_attention_scores=True)
    conv = real_keras.ops.convert_to_numpy
    np.testing.assert_allclose(out.numpy(), conv(want_out), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores.numpy(), conv(want_scores), rtol=1e-5, atol=1e-6)


def test_attention_dropout_only_in_training():
    layer = L.Attention(dropout=0.5, seed=3)
    eval_out = layer([Q, V]).numpy()
    np.testing.assert_allclose(layer([Q, V], training=False).numpy(), eval_out)
    _, w = layer([Q, V], return_attention_scores=True, training=True)
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0, rtol=1e-5)  # scores: before dropout
    assert not np.allclose(layer([Q, V], training=True).numpy(), eval_out)


def test_attention_in_functional_model_with_embedding_masks(real_keras):
    ids = np.array([[3, 1, 0, 0], [2, 5, 4, 0]])

    def build(k):
        inp = k.Input((4,), dtype="int32")
        e = k.layers.Embedding(8, 4, mask_zero=True)(inp)
        out, scores = k.layers.Attention(use_scale=True)([e, e], return_attention_scores=True)
        return k.Model(inp, [out, scores])

    ours, theirs = build(keras), build(real_keras)
    ours.set_weights(theirs.get_weights())
    got = ours.predict(ids, verbose=0)
    want = theirs.predict(ids, verbose=0)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_attention_configs_round_trip():
    round_trip(L.Attention(use_scale=True, score_mode="concat", dropout=0.2, seed=4), [Q, V])
    round_trip(L.AdditiveAttention(use_scale=False, dropout=0.1), [Q, V])
    assert "score_mode" not in L.AdditiveAttention().get_config()


def test_attention_bad_arguments():
    with pytest.raises(ValueError, match="score_mode"):
        L.Attention(score_mode="general")
    with pytest.raises(ValueError, match="dropout"):
        L.Attention(dropout=1.5)
    with pytest.raises(ValueError, match=r"\[query, value\]"):
        L.Attention()(Q)
    with pytest.raises(ValueError, match="same last axis"):
        L.Attention()([Q, V[..., :3]])
    with pytest.raises(ValueError, match="mask must be a list"):
        L.Attention()([Q, V], mask=V_MASK)


# --- DepthwiseConv, SeparableConv --------------------------------------------------------------

CONV = [
    {},
    {"depth_multiplier": 2, "padding": "same", "strides": 2, "activation": "relu"},
    {"dilation_rate": 2, "padding": "same", "use_bias": False},
    {"padding": "same", "data_format": "channels_first", "depth_multiplier": 3},
]


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("kwargs", CONV, ids=str)
def test_depthwise_conv_matches_keras(real_keras, rank, kwargs):
    name = f"DepthwiseConv{rank}D"
    ours, theirs = getattr(L, name)(3, **kwargs), getattr(real_keras.layers, name)(3, **kwargs)
    compare(real_keras, ours, theirs, X4 if rank == 2 else X4[:, 0])
    config_keys_match(theirs, ours)


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("kwargs", CONV, ids=str)
def test_separable_conv_matches_keras(real_keras, rank, kwargs):
    name = f"SeparableConv{rank}D"
    ours, theirs = (
        getattr(L, name)(5, 3, **kwargs),
        getattr(real_keras.layers, name)(5, 3, **kwargs),
    )
    compare(real_keras, ours, theirs, X4 if rank == 2 else X4[:, 0])
    config_keys_match(theirs, ours)


def test_depthwise_separable_configs_round_trip():
    kw = {"strides": (2, 1), "padding": "same", "depth_multiplier": 2, "activation": "elu"}
    round_trip(L.DepthwiseConv2D((3, 2), use_bias=False, **kw), zg.Tensor(X4))
    round_trip(L.SeparableConv2D(3, 2, pointwise_initializer="he_normal", **kw), zg.Tensor(X4))
    round_trip(L.SeparableConv1D(3, 2, data_format="channels_first"), zg.Tensor(X4[:, 0]))


def test_depthwise_separable_bad_arguments():
    with pytest.raises(ValueError, match="depth_multiplier"):
        L.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match="padding"):
        L.SeparableConv2D(4, 3, padding="full")
    with pytest.raises(ValueError, match="filters"):
        L.SeparableConv1D(-1, 3)
    with pytest.raises(ValueError, match="cannot be combined"):
        L.DepthwiseConv2D(3, strides=2, dilation_rate=2)
    layer = L.DepthwiseConv2D(3)
    layer(X4)
    with pytest.raises(ValueError, match="expected input of shape"):
        layer(X4[..., :2])


# --- normalization, Identity ---------------------------------------------------------------------

NORMS = [
    ("GroupNormalization", {"groups": 2}),
    ("GroupNormalization", {"groups": -1, "epsilon": 1e-5}),
    ("GroupNormalization", {"groups": 8, "axis": 2, "center": False}),
    ("GroupNormalization", {"groups": 1, "axis": 1, "scale": False}),
    ("UnitNormalization", {}),
    ("UnitNormalization", {"axis": [1, 2]}),
    ("RMSNormalization", {}),
    ("RMSNormalization", {"axis": [2, 3], "epsilon": 1e-3}),
    ("Identity", {}),
]


@pytest.mark.parametrize(("name", "kwargs"), NORMS, ids=str)
def test_normalization_matches_keras(real_keras, name, kwargs):
    ours, theirs = getattr(L, name)(**kwargs), getattr(real_keras.layers, name)(**kwargs)
    compare(real_keras, ours, theirs, X4)
    config_keys_match(theirs, ours)
    round_trip(ours, zg.Tensor(X4))


def test_normalization_bad_arguments():
    with pytest.raises(ValueError, match="groups"):
        L.GroupNormalization(groups=0)
    with pytest.raises(ValueError, match="split into groups=3"):
        L.GroupNormalization(groups=3)(X4)
    with pytest.raises(TypeError, match="axis"):
        L.UnitNormalization(axis="last")
    with pytest.raises(ValueError, match="out of bounds"):
        L.RMSNormalization(axis=5)(X4)
    with pytest.raises(ValueError, match="epsilon"):
        L.RMSNormalization(epsilon=-1.0)


# --- EinsumDense --------------------------------------------------------------------------------

EINSUM = [
    ("ab,bc->ac", 5, "c", Q[:, 0]),
    ("abc,cd->abd", (None, 6), "d", Q),
    ("abc,cde->abde", (3, 2, 5), "de", Q),
    ("abc,cde->abde", (3, 2, 5), "e", Q),
    ("...b,bc->...c", 5, "c", Q),
    ("abc,cd->abd", (3, 6), None, Q),
    ("ab...,bc->ac...", 5, "c", Q),
]


@pytest.mark.parametrize(("equation", "output_shape", "bias_axes", "x"), EINSUM, ids=str)
def test_einsum_dense_matches_keras(real_keras, equation, output_shape, bias_axes, x):
    kw = {"bias_axes": bias_axes, "activation": "tanh"}
    ours = L.EinsumDense(equation, output_shape, **kw)
    theirs = real_keras.layers.EinsumDense(equation, output_shape, **kw)
    compare(real_keras, ours, theirs, x)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    config_keys_match(theirs, ours)
    round_trip(ours, zg.Tensor(x))


def test_einsum_dense_in_functional_model():
    x = keras.Input((None, 4))
    y = L.EinsumDense("...b,bc->...c", 7, bias_axes="c")(x)
    assert tuple(y.shape) == (None, None, 7)
    model = keras.Model(x, y)
    assert model(np.ones((2, 3, 4), "float32")).shape == (2, 3, 7)


def test_einsum_dense_bad_arguments():
    with pytest.raises(ValueError, match="equation"):
        L.EinsumDense("ab->b", 3)
    with pytest.raises(ValueError, match="bias_axes"):
        L.EinsumDense("ab,bc->ac", 3, bias_axes="z")
    with pytest.raises(ValueError, match="output_shape needs 2 sizes"):
        L.EinsumDense("abc,cd->abd", 6)(Q)
    with pytest.raises(ValueError, match="does not match"):
        L.EinsumDense("abc,cd->abd", (7, 6))(Q)
    with pytest.raises(ValueError, match="lora_rank"):
        L.EinsumDense("ab,bc->ac", 3, lora_rank=2)


# --- the layers in one functional model ----------------------------------------------------------


def test_layers_in_one_functional_model_match_keras(real_keras):
    def build(k):
        x = k.Input((8, 8, 3))
        y = k.layers.DepthwiseConv2D(3, depth_multiplier=2)(x)
        y = k.layers.SeparableConv2D(4, 3, padding="same")(y)
        y = k.layers.GroupNormalization(2)(y)
        y = k.layers.RMSNormalization()(k.layers.UnitNormalization()(y))
        y = k.layers.EinsumDense("abcd,de->abce", (6, 6, 5), bias_axes="e")(k.layers.Identity()(y))
        return k.Model(x, y)

    ours, theirs = build(keras), build(real_keras)
    ours.set_weights(theirs.get_weights())
    x = RNG.standard_normal((2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(
        ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("Attention", {"use_scale": True, "score_mode": "concat", "dropout": 0.1, "seed": 2}),
        ("AdditiveAttention", {"use_scale": False}),
        ("GroupNormalization", {"groups": 2, "epsilon": 1e-4, "center": False}),
        ("UnitNormalization", {"axis": [1, 2]}),
        ("RMSNormalization", {"epsilon": 1e-3}),
        ("Identity", {}),
    ],
    ids=str,
)
def test_layers_load_keras_configs(real_keras, name, kwargs):
    cfg = getattr(real_keras.layers, name)(**kwargs).get_config()
    ours = getattr(L, name).from_config(cfg)
    for key, value in kwargs.items():
        assert getattr(ours, key) == value, key
