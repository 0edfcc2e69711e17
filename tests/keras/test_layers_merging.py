"""Merge layers and their functional forms (layers.add, concatenate, dot, ...) against real Keras 3:
outputs and gradients on real tensors, functional models, configs and shape errors."""

import numpy as np
import pytest

import zerograd as zg
from tests.keras.layer_oracle import compare, config_keys_match, round_trip
from zerograd import keras
from zerograd.keras import layers as L

RNG = np.random.default_rng(0)
A, B, C = (RNG.standard_normal((4, 3, 5)).astype("float32") for _ in range(3))

ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_matches_keras(real_keras, name):
    xs = [A, B] if name == "Subtract" else [A, B, C]
    ours, theirs = getattr(L, name)(), getattr(real_keras.layers, name)()
    compare(real_keras, ours, theirs, xs)
    config_keys_match(theirs, ours)


@pytest.mark.parametrize("name", ["Add", "Multiply", "Maximum"])
def test_broadcast_and_lower_rank_match_keras(real_keras, name):
    ones = RNG.standard_normal((4, 1, 5)).astype("float32")
    compare(real_keras, getattr(L, name)(), getattr(real_keras.layers, name)(), [A, ones])
    low = RNG.standard_normal((4, 5)).astype("float32")  # (4, 5) -> (4, 1, 5)
    compare(real_keras, getattr(L, name)(), getattr(real_keras.layers, name)(), [A, low])


@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_concatenate_matches_keras(real_keras, axis):
    b = RNG.standard_normal((4, 3 if axis != 1 else 2, 5 if axis != 2 else 2)).astype("float32")
    b = b if axis != -1 else RNG.standard_normal((4, 3, 2)).astype("float32")
    ours, theirs = L.Concatenate(axis=axis), real_keras.layers.Concatenate(axis=axis)
    compare(real_keras, ours, theirs, [A, b])
    config_keys_match(theirs, ours)


@pytest.mark.parametrize(
    ("axes", "normalize", "shapes"),
    [
        (1, False, [(4, 5), (4, 5)]),
        (-1, True, [(4, 5), (4, 5)]),
        ((2, 2), False, [(4, 3, 5), (4, 2, 5)]),
        ((1, 2), True, [(4, 5, 2), (4, 3, 5)]),
        ((2, 1), False, [(4, 3, 5), (4, 5)]),
    ],
)
def test_dot_matches_keras(real_keras, axes, normalize, shapes):
    xs = [RNG.standard_normal(s).astype("float32") for s in shapes]
    ours = L.Dot(axes=axes, normalize=normalize)
    theirs = real_keras.layers.Dot(axes=axes, normalize=normalize)
    compare(real_keras, ours, theirs, xs)
    config_keys_match(theirs, ours)


FUNCS = ["add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]


@pytest.mark.parametrize("fn", FUNCS)
def test_functional_helpers_on_tensors_and_in_models(real_keras, fn):
    kwargs = {"axes": -1} if fn == "dot" else {}
    a, b = A[:, 0], B[:, 0]
    want = real_keras.ops.convert_to_numpy(getattr(real_keras.layers, fn)([a, b], **kwargs))
    got = getattr(L, fn)([zg.Tensor(a), zg.Tensor(b)], **kwargs)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)

    i1, i2 = keras.Input(shape=(5,)), keras.Input(shape=(5,))
    out = getattr(L, fn)([L.Dense(5, name="d1")(i1), L.Dense(5, name="d2")(i2)], **kwargs)
    model = keras.Model([i1, i2], L.Dense(2)(out))
    assert model.predict([a, b], verbose=0).shape == (4, 2)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: L.Add(name="plus"),
        lambda: L.Average(),
        lambda: L.Concatenate(axis=1),
        lambda: L.Dot(axes=[2, 2], normalize=True),
    ],
)
def test_config_round_trip(layer):
    round_trip(layer(), [zg.Tensor(A), zg.Tensor(B)])


def test_add_and_concatenate_still_importable_from_core():
    from zerograd.keras.layers.core import Add, Concatenate

    assert Add is L.Add and Concatenate is L.Concatenate


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: L.Add()([A, B[:, :2]]), "incompatible shapes"),
        (lambda: L.Add()([A, B[:2]]), "different batch sizes"),
        (lambda: L.Add()(A), "list of tensors"),
        (lambda: L.Subtract()([A, B, C]), "exactly 2 inputs"),
        (lambda: L.Concatenate(axis=1)([A, B[:, :, :2]]), "match except on axis 1"),
        (lambda: L.Concatenate(axis=3)([A, B]), "axis 3 in range"),
        (lambda: L.Dot(axes=1)([A, B[:, :2]]), "axes"),
        (lambda: L.Dot(axes=(0, 0))([A[:, 0], B[:, 0]]), "batch axis"),
        (lambda: L.Dot(axes=(1, 2, 3)), "pair of ints"),
        (lambda: L.Concatenate(axis="x"), "axis must be an int"),
    ],
)
def test_errors_name_the_problem(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_symbolic_mismatch_raises_at_model_construction():
    i1, i2 = keras.Input(shape=(5,)), keras.Input(shape=(4,))
    with pytest.raises(ValueError, match="Add .*incompatible shapes"):
        L.add([i1, i2])


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("Add", {}),
        ("Maximum", {}),
        ("Concatenate", {}),
        ("Concatenate", {"axis": 1}),
        ("Dot", {"axes": 2}),
    ],
)
def test_compute_mask_matches_keras(real_keras, name, kwargs):
    m1 = RNG.random((4, 3)) > 0.5
    m2 = RNG.random((4, 3)) > 0.5
    ours, theirs = getattr(L, name)(**kwargs), getattr(real_keras.layers, name)(**kwargs)
    for masks in ([m1, m2], [m1, None], None):
        want = theirs.compute_mask([A, B], masks)
        zm = None if masks is None else [None if m is None else zg.Tensor(m) for m in masks]
        got = ours.compute_mask([zg.Tensor(A), zg.Tensor(B)], zm)
        if want is None:
            assert got is None
        else:
            np.testing.assert_array_equal(got.numpy(), real_keras.ops.convert_to_numpy(want))


def test_masks_flow_through_merges_in_models():
    inputs = keras.Input(shape=(4,), dtype="int64")
    e = L.Embedding(10, 3, mask_zero=True)(inputs)
    out = L.Concatenate()([L.ReLU()(e), L.add([e, e])])
    model = keras.Model(inputs, L.GlobalAveragePooling1D()(out))
    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    emb = model.layers[1](zg.Tensor(ids)).numpy()
    e1 = np.maximum(emb, 0)
    want = np.stack(
        [np.concatenate([e1[i], 2 * emb[i]], -1)[:n].mean(0) for i, n in enumerate([2, 1])]
    )
    np.testing.assert_allclose(model.predict(ids, verbose=0), want, rtol=1e-5, atol=1e-6)
