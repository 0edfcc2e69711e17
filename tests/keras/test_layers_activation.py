"""Activation layers (ReLU, LeakyReLU, PReLU, ELU, Softmax) against real Keras 3: outputs, input
gradients, configs, and errors for bad arguments."""

import numpy as np
import pytest

import zerograd as zg
from tests.keras.layer_oracle import compare, config_keys_match, round_trip
from zerograd.keras import layers as L

X = np.random.default_rng(0).uniform(-3, 8, (4, 3, 5)).astype("float32")

CASES = [
    ("ReLU", {}),
    ("ReLU", {"max_value": 6.0}),
    ("ReLU", {"negative_slope": 0.1}),
    ("ReLU", {"threshold": 1.5}),
    ("ReLU", {"max_value": 5.0, "negative_slope": 0.2, "threshold": 0.5}),
    ("LeakyReLU", {}),
    ("LeakyReLU", {"negative_slope": 0.05}),
    ("ELU", {}),
    ("ELU", {"alpha": 0.5}),
    ("Softmax", {}),
    ("Softmax", {"axis": 1}),
    ("Softmax", {"axis": [1, 2]}),
    ("PReLU", {"alpha_initializer": "random_uniform"}),
    ("PReLU", {"alpha_initializer": "ones", "shared_axes": [1]}),
    ("PReLU", {"alpha_initializer": "ones", "shared_axes": [1, 2]}),
]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=lambda v: str(v))
def test_matches_keras(real_keras, name, kwargs):
    ours, theirs = getattr(L, name)(**kwargs), getattr(real_keras.layers, name)(**kwargs)
    compare(real_keras, ours, theirs, X)
    config_keys_match(theirs, ours)


def test_softmax_mask_matches_keras(real_keras):
    mask = np.random.default_rng(2).random((4, 3, 5)) > 0.4
    mask[0, 0] = False  # a fully masked row: zeros, not a uniform distribution
    compare(real_keras, L.Softmax(), real_keras.layers.Softmax(), X, mask=mask)
    row_mask = np.ones((3, 5), dtype=bool)  # broadcast over the batch
    row_mask[:, -1] = False
    y = L.Softmax()(X, mask=row_mask).numpy()
    assert np.allclose(y[..., -1], 0) and np.allclose(y.sum(-1), 1, atol=1e-6)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: L.ReLU(max_value=4.0, negative_slope=0.1, threshold=0.2, name="r"),
        lambda: L.LeakyReLU(negative_slope=0.1),
        lambda: L.ELU(alpha=0.3),
        lambda: L.Softmax(axis=[1, 2]),
        lambda: L.PReLU(alpha_initializer="ones", alpha_regularizer="l2", shared_axes=[2]),
    ],
)
def test_config_round_trip(layer):
    round_trip(layer(), zg.Tensor(X))


def test_leaky_relu_keras2_alpha_and_default():
    assert L.LeakyReLU().negative_slope == 0.3
    assert L.LeakyReLU(alpha=0.2).negative_slope == 0.2


def test_prelu_learns_slope_per_feature_and_regularizes():
    layer = L.PReLU(alpha_regularizer="l2", shared_axes=1)
    layer(zg.Tensor(X))
    assert layer.alpha.shape == (1, 5) and len(layer.losses) == 1
    x = zg.Tensor(X, requires_grad=True)
    layer(x).sum().backward()
    assert layer.alpha.grad is not None and layer.alpha.grad.shape == (1, 5)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: L.ReLU(max_value=-1.0), "max_value"),
        (lambda: L.ReLU(negative_slope=-0.1), "negative_slope"),
        (lambda: L.ReLU(threshold=None), "threshold"),
        (lambda: L.LeakyReLU(negative_slope=-1), "negative_slope"),
        (lambda: L.PReLU(alpha_constraint="no_such"), "constraint"),
        (lambda: L.PReLU(shared_axes=[0]), "shared_axes"),
    ],
)
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_raise():
    layer = L.PReLU()
    layer(zg.Tensor(X))
    with pytest.raises(ValueError, match="PReLU .* expected input of shape"):
        layer(zg.Tensor(X[:, :2]))
    with pytest.raises(ValueError, match="mask must broadcast"):
        L.Softmax()(zg.Tensor(X), mask=np.ones((4, 2), dtype=bool))
