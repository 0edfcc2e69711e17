"""BatchNormalization, LayerNormalization, Embedding and MultiHeadAttention take every argument
of Keras 3's: initializers, regularizers, constraints, rms_scaling, attention_axes, use_gate,
sliding_window, seed; checked against real Keras with copied weights."""

import numpy as np
import pytest

import zerograd as zg
from tests.keras.layer_oracle import compare
from zerograd import keras

RTOL = ATOL = 1e-5
RNG = np.random.default_rng(0)


def _x(*shape):
    return RNG.standard_normal(shape).astype("float32")


def _np(real_keras, y):
    return np.asarray(real_keras.ops.convert_to_numpy(y))


def _both(real_keras, name, **kwargs):
    return getattr(keras.layers, name)(**kwargs), getattr(real_keras.layers, name)(**kwargs)


def _copy_and_compare(real_keras, ours, theirs, *xs, **call):
    theirs(*xs, **call)
    ours(*[zg.Tensor(x) for x in xs], **call)
    ours.set_weights(theirs.get_weights())
    got = ours(*[zg.Tensor(x) for x in xs], **call)
    want = theirs(*xs, **call)
    for g, w in zip(
        got if isinstance(got, list) else [got], want if isinstance(want, (list, tuple)) else [want]
    ):
        np.testing.assert_allclose(g.numpy(), _np(real_keras, w), rtol=RTOL, atol=ATOL)


def _init_kwargs(real_or_ours, prefix_pairs):
    return {k: real_or_ours.initializers.get(v) for k, v in prefix_pairs.items()}


# --- BatchNormalization ---------------------------------------------------------------------------
def test_batch_norm_initializers_build_the_weights_keras_builds(real_keras):
    opts = {
        "gamma_initializer": {"class_name": "Constant", "config": {"value": 1.5}},
        "beta_initializer": {"class_name": "Constant", "config": {"value": -0.5}},
        "moving_mean_initializer": {"class_name": "Constant", "config": {"value": 0.25}},
        "moving_variance_initializer": {"class_name": "Constant", "config": {"value": 2.0}},
    }
    ours, theirs = _both(real_keras, "BatchNormalization", **opts)
    x = _x(4, 3)
    ours(zg.Tensor(x)), theirs(x)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(ours(zg.Tensor(x)).numpy(), _np(real_keras, theirs(x)), atol=1e-5)


@pytest.mark.parametrize("training", [False, True])
def test_batch_norm_random_initializers_same_outputs_with_copied_weights(real_keras, training):
    opts = dict(gamma_initializer="random_normal", beta_initializer="random_uniform", axis=1)
    opts.update(moving_mean_initializer="random_normal", moving_variance_initializer="ones")
    ours, theirs = _both(real_keras, "BatchNormalization", **opts)
    _copy_and_compare(real_keras, ours, theirs, _x(4, 3, 2), training=training)


@pytest.mark.parametrize(
    "clipping,axis", [(None, -1), ({"rmin": 0.9, "rmax": 1.1, "dmax": 0.1}, 1)]
)
def test_batch_renorm_matches_keras(real_keras, clipping, axis):
    kw = dict(renorm=True, renorm_clipping=clipping, renorm_momentum=0.5, momentum=0.8, axis=axis)
    kw["moving_variance_initializer"] = {"class_name": "Constant", "config": {"value": 2.0}}
    ours, theirs = _both(real_keras, "BatchNormalization", **kw)
    x = _x(4, 3, 2) * 3 + 1
    compare(real_keras, ours, theirs, x, training=True)
    names = ["gamma", "beta", "moving_mean", "moving_variance", "moving_stddev"]
    assert [w.name for w in ours.weights] == names + ["renorm_mean", "renorm_stddev"]
    for step in range(2):  # the statistics move as Keras's, then inference uses them
        ours(zg.Tensor(x + step), training=True), theirs(x + step, training=True)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours(zg.Tensor(x)).numpy(), _np(real_keras, theirs(x)), atol=1e-5)
    with pytest.raises(ValueError, match="renorm_clipping"):
        keras.layers.BatchNormalization(renorm=True, renorm_clipping={"rmin": 2.0, "rmax": 1.0})


def test_batch_norm_synchronized_is_accepted():
    bn = keras.layers.BatchNormalization(synchronized=True)
    assert bn.get_config()["synchronized"] is True
    x = _x(4, 3)
    plain = keras.layers.BatchNormalization()
    np.testing.assert_allclose(
        bn(zg.Tensor(x), training=True).numpy(), plain(zg.Tensor(x), training=True).numpy()
    )


# --- LayerNormalization ---------------------------------------------------------------------------
@pytest.mark.parametrize("center", [True, False])
def test_layer_norm_rms_scaling_matches_keras(real_keras, center):
    with pytest.warns(UserWarning):
        ours = keras.layers.LayerNormalization(rms_scaling=True, center=center, epsilon=1e-2)
    theirs = real_keras.layers.LayerNormalization(rms_scaling=True, center=center, epsilon=1e-2)
    theirs.build((2, 5, 4))
    theirs.set_weights([RNG.standard_normal(w.shape).astype("float32") for w in theirs.weights])
    assert [w.name for w in theirs.weights] == ["gamma"]
    _copy_and_compare(real_keras, ours, theirs, _x(2, 5, 4) + 3.0)
    assert [w.name for w in ours.weights] == ["gamma"]


def test_layer_norm_initializers_and_copied_weights(real_keras):
    opts = dict(gamma_initializer="random_normal", beta_initializer="random_normal")
    ours, theirs = _both(real_keras, "LayerNormalization", **opts)
    _copy_and_compare(real_keras, ours, theirs, _x(3, 4))
    const = dict(gamma_initializer=real_keras.initializers.Constant(2.0).get_config())
    ours = keras.layers.LayerNormalization(
        gamma_initializer={"class_name": "Constant", "config": const["gamma_initializer"]}
    )
    ours.build((None, 4))
    np.testing.assert_allclose(ours.gamma.numpy(), np.full(4, 2.0))


# --- regularizer losses ---------------------------------------------------------------------------
def _losses(real_keras, ours, theirs, x):
    theirs(x)
    ours(zg.Tensor(x))
    ours.set_weights(theirs.get_weights())
    zm = keras.Sequential([keras.Input(x.shape[1:], dtype=str(x.dtype)), ours])
    rm = real_keras.Sequential([real_keras.Input(x.shape[1:], dtype=str(x.dtype)), theirs])
    zm(zg.Tensor(x)), rm(x)
    got = sorted(float(np.asarray(v.numpy())) for v in zm.losses)
    want = sorted(float(_np(real_keras, v)) for v in rm.losses)
    assert len(got) == len(want) and len(want) > 0
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize(
    "name,kwargs,shape",
    [
        ("BatchNormalization", dict(gamma_regularizer="l2", beta_regularizer="l1"), (4, 3)),
        ("LayerNormalization", dict(gamma_regularizer="l1", beta_regularizer="l2"), (4, 3)),
        (
            "Embedding",
            dict(input_dim=6, output_dim=3, embeddings_regularizer="l2", activity_regularizer="l1"),
            None,
        ),
    ],
)
def test_regularizer_losses_equal_keras(real_keras, name, kwargs, shape):
    ours, theirs = _both(real_keras, name, **kwargs)
    x = RNG.integers(0, 6, (2, 5)).astype("int32") if shape is None else _x(*shape)
    if shape is not None:
        ours.build(x.shape), theirs.build(x.shape)
        theirs.set_weights([RNG.standard_normal(w.shape).astype("float32") for w in theirs.weights])
    _losses(real_keras, ours, theirs, x)


@pytest.mark.parametrize("use_gate", [False, True])
def test_mha_regularizer_losses_equal_keras(real_keras, use_gate):
    opts = dict(num_heads=2, key_dim=3, kernel_regularizer="l2", bias_regularizer="l1")
    opts["use_gate"] = use_gate
    opts["activity_regularizer"] = "l2"
    opts["bias_initializer"] = "random_normal"
    ours, theirs = _both(real_keras, "MultiHeadAttention", **opts)
    x = _x(2, 4, 5)
    theirs(x, x), ours(zg.Tensor(x), zg.Tensor(x))
    ours.set_weights(theirs.get_weights())
    zi, ri = keras.Input((4, 5)), real_keras.Input((4, 5))
    zm = keras.Model(zi, ours(zi, zi))
    rm = real_keras.Model(ri, theirs(ri, ri))
    np.testing.assert_allclose(zm(zg.Tensor(x)).numpy(), _np(real_keras, rm(x)), atol=1e-5)
    got = sorted(float(np.asarray(v.numpy())) for v in zm.losses)
    want = sorted(float(_np(real_keras, v)) for v in rm.losses)
    assert len(got) == len(want) == (10 + 5 if use_gate else 8 + 4)  # weights, projections
    np.testing.assert_allclose(got, want, rtol=1e-5)


# --- MultiHeadAttention ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs,shape",
    [
        (dict(attention_axes=(1, 2)), (2, 3, 2, 4)),
        (dict(attention_axes=2), (2, 3, 2, 4)),
        (dict(attention_axes=-2), (2, 3, 2, 4)),
        (dict(attention_axes=None, output_shape=(2, 3)), (2, 3, 2, 4)),
        (dict(use_gate=True), (2, 4, 5)),
        (dict(sliding_window=2), (2, 5, 4)),
        (dict(kernel_initializer="he_normal", bias_initializer="random_normal"), (2, 3, 4)),
    ],
)
def test_mha_options_match_keras(real_keras, kwargs, shape):
    ours, theirs = _both(real_keras, "MultiHeadAttention", num_heads=2, key_dim=3, **kwargs)
    q, v = _x(*shape), _x(*shape)
    _copy_and_compare(real_keras, ours, theirs, q, v, return_attention_scores=True)
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert ours.get_config()["attention_axes"] == list(theirs.get_config()["attention_axes"])


def test_mha_constant_initializers_build_keras_weights(real_keras):
    opts = dict(num_heads=2, key_dim=2, kernel_initializer="ones")
    opts["bias_initializer"] = {"class_name": "Constant", "config": {"value": 0.5}}
    ours, theirs = _both(real_keras, "MultiHeadAttention", **opts)
    q = _x(2, 3, 4)
    want = _np(real_keras, theirs(q, q))
    np.testing.assert_allclose(ours(zg.Tensor(q), zg.Tensor(q)).numpy(), want, atol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b)


def test_mha_sliding_window_with_causal_mask_matches_keras(real_keras):
    ours, theirs = _both(real_keras, "MultiHeadAttention", num_heads=1, key_dim=2, sliding_window=2)
    x = _x(2, 5, 3)
    _copy_and_compare(real_keras, ours, theirs, x, x, use_causal_mask=True)


def test_mha_seeded_dropout_is_reproducible_and_unsupported_options_are_named():
    x = zg.Tensor(_x(2, 4, 3))
    a = keras.layers.MultiHeadAttention(2, 2, dropout=0.5, seed=3)
    b = keras.layers.MultiHeadAttention(2, 2, dropout=0.5, seed=3)
    a(x, x), b(x, x)
    b.set_weights(a.get_weights())
    ya, yb = a(x, x, training=True).numpy(), b(x, x, training=True).numpy()
    np.testing.assert_array_equal(ya, yb)
    assert not np.allclose(ya, a(x, x).numpy())
    with pytest.raises(ValueError, match="flash_attention"):
        keras.layers.MultiHeadAttention(2, 2, flash_attention=True)
    with pytest.raises(ValueError, match="attention_axes"):
        keras.layers.MultiHeadAttention(2, 2, attention_axes=3)(x, x)
    with pytest.raises(ValueError, match="sliding_window"):
        keras.layers.MultiHeadAttention(2, 2, sliding_window=0)


# --- Embedding ------------------------------------------------------------------------------------
def test_embedding_keras_only_options_need_their_neutral_value(real_keras):
    for arg, value in (("lora_rank", 2), ("quantization_config", {"mode": "int8"})):
        with pytest.raises(ValueError, match=arg):
            keras.layers.Embedding(5, 2, **{arg: value})
    w = _x(5, 2)
    emb, ref = keras.layers.Embedding(5, 2, weights=w), real_keras.layers.Embedding(5, 2, weights=w)
    idx = np.array([[0, 4, 2]])
    np.testing.assert_allclose(emb(zg.Tensor(idx)).numpy(), _np(real_keras, ref(idx)))


# --- configs --------------------------------------------------------------------------------------
CONSTRAINED = {
    "BatchNormalization": dict(
        gamma_constraint="non_neg",
        beta_constraint="max_norm",
        gamma_regularizer="l2",
        moving_variance_initializer="random_uniform",
        renorm_momentum=0.9,
        renorm=True,
        renorm_clipping={"rmax": 3.0},
    ),
    "LayerNormalization": dict(
        gamma_constraint="non_neg",
        beta_regularizer="l1",
        gamma_initializer="random_normal",
    ),
    "Embedding": dict(
        input_dim=5,
        output_dim=2,
        embeddings_constraint="unit_norm",
        activity_regularizer="l2",
        embeddings_regularizer="l1",
    ),
    "MultiHeadAttention": dict(
        num_heads=2,
        key_dim=3,
        kernel_constraint="max_norm",
        bias_constraint="non_neg",
        attention_axes=(1, 2),
        use_gate=True,
        sliding_window=3,
        seed=7,
        output_shape=5,
        kernel_regularizer="l2",
        activity_regularizer="l1",
    ),
}


def _plain(v, top=True):
    """Config values to compare: nested keys left at None (options that are off) dropped."""
    if isinstance(v, dict):
        skip = ("module", "registered_name")
        return {
            k: _plain(x, False) for k, x in v.items() if k not in skip and (top or x is not None)
        }
    if isinstance(v, (list, tuple)):
        return [_plain(x, False) for x in v]
    return v


@pytest.mark.parametrize("name", sorted(CONSTRAINED))
def test_configs_round_trip_and_cross_to_keras(real_keras, name):
    ours, theirs = _both(real_keras, name, **CONSTRAINED[name])
    cfg = ours.get_config()
    assert type(ours).from_config(cfg).get_config() == cfg
    assert set(cfg) == set(theirs.get_config())
    skip = ("name", "dtype")
    want = {k: v for k, v in _plain(theirs.get_config()).items() if k not in skip}
    for got in (type(ours).from_config(theirs.get_config()), type(theirs).from_config(cfg)):
        have = {k: v for k, v in _plain(got.get_config()).items() if k not in skip}
        assert have == want


def test_a_gated_mha_model_file_loads_in_keras(real_keras, tmp_path):
    inp = keras.Input((4, 3))
    out = keras.layers.MultiHeadAttention(2, 2, use_gate=True, attention_axes=1)(inp, inp)
    model = keras.Model(inp, out)
    model.save(tmp_path / "m.keras")
    theirs = real_keras.saving.load_model(tmp_path / "m.keras")
    x = _x(2, 4, 3)
    np.testing.assert_allclose(model(zg.Tensor(x)).numpy(), _np(real_keras, theirs(x)), atol=1e-5)
    theirs.save(tmp_path / "k.keras")  # and back: Keras's file into zerograd
    again = keras.saving.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(again(zg.Tensor(x)).numpy(), _np(real_keras, theirs(x)), atol=1e-5)


def test_gamma_constraint_holds_after_a_training_step():
    layer = keras.layers.LayerNormalization(gamma_constraint="non_neg")
    model = keras.Sequential([keras.Input((3,)), layer])
    layer.set_weights([np.array([0.01, -1.0, 1.0], "float32"), np.zeros(3, "float32")])
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    rng = np.random.default_rng(1)  # its own data: the module's RNG depends on the test order
    x = rng.standard_normal((4, 3)).astype("float32")
    model.fit(x, rng.standard_normal((4, 3)).astype("float32") * 5, epochs=1, verbose=0)
    gamma = layer.gamma.numpy()
    assert (gamma >= 0).all() and (gamma == 0).any(), gamma  # clipped by non_neg


def test_mha_attention_axes_with_an_attention_mask_matches_keras(real_keras):
    kw = dict(num_heads=2, key_dim=2, attention_axes=(1, 2))
    ours, theirs = _both(real_keras, "MultiHeadAttention", **kw)
    q, v = _x(2, 3, 2, 4), _x(2, 3, 2, 4)
    mask = RNG.random((2, 3, 2, 3, 2)) > 0.3
    _copy_and_compare(real_keras, ours, theirs, q, v, attention_mask=mask)
    with pytest.raises(ValueError, match="attention_mask of shape"):
        ours(zg.Tensor(q), zg.Tensor(v), attention_mask=np.ones((2, 3, 2, 3)))
