"""keras.random: shapes, dtypes, seeded reproducibility and moments, and Keras's signatures."""

import inspect

import numpy as np
import pytest

import zerograd as zg
from zerograd import keras
from zerograd.keras import random

DRAWS = [
    ("normal", lambda seed: random.normal((400, 50), mean=1.0, stddev=2.0, seed=seed), 1.0, 2.0),
    ("uniform", lambda seed: random.uniform((400, 50), -1.0, 3.0, seed=seed), 1.0, 4 / 12**0.5),
    (
        "truncated_normal",
        lambda seed: random.truncated_normal((400, 50), 0.0, 1.0, seed=seed),
        0.0,
        0.8796,  # the standard deviation of N(0, 1) truncated to [-2, 2]
    ),
    ("randint", lambda seed: random.randint((400, 50), 0, 10, seed=seed), 4.5, 99**0.5 / 12**0.5),
    ("gamma", lambda seed: random.gamma((400, 50), 2.0, seed=seed), 2.0, 2**0.5),
    ("beta", lambda seed: random.beta((400, 50), 2.0, 2.0, seed=seed), 0.5, (1 / 20) ** 0.5),
    ("binomial", lambda seed: random.binomial((400, 50), 10, 0.3, seed=seed), 3.0, 2.1**0.5),
]


@pytest.mark.parametrize("name, draw, mean, std", DRAWS, ids=[d[0] for d in DRAWS])
def test_draws_have_the_expected_moments_and_are_reproducible(name, draw, mean, std):
    x = draw(7)
    assert isinstance(x, zg.Tensor) and x.shape == (400, 50)
    assert x.dtype == ("int32" if name == "randint" else "float32")
    a = x.numpy().astype("float64")
    assert abs(a.mean() - mean) < 0.05 * max(std, 1) and abs(a.std() - std) < 0.05 * std
    np.testing.assert_array_equal(draw(7).numpy(), x.numpy())  # an int seed: the same draw
    assert not np.array_equal(draw(8).numpy(), x.numpy())


def test_seed_generator_gives_a_reproducible_stream():
    g1, g2 = random.SeedGenerator(1337), random.SeedGenerator(1337)
    a1, b1 = random.normal((3,), seed=g1), random.normal((3,), seed=g1)
    a2, b2 = random.normal((3,), seed=g2), random.normal((3,), seed=g2)
    np.testing.assert_array_equal(a1.numpy(), a2.numpy())
    np.testing.assert_array_equal(b1.numpy(), b2.numpy())
    assert not np.array_equal(a1.numpy(), b1.numpy())
    assert random.SeedGenerator.from_config(g1.get_config()).initial_seed == 1337
    assert isinstance(g1.next(), int)


def test_no_seed_follows_zerograd_manual_seed():
    zg.manual_seed(3)
    a = random.uniform((4,))
    zg.manual_seed(3)
    np.testing.assert_array_equal(random.uniform((4,)).numpy(), a.numpy())
    zg.manual_seed(3)
    g = random.SeedGenerator()
    zg.manual_seed(3)
    assert random.SeedGenerator().initial_seed == g.initial_seed


def test_dtypes_and_bad_arguments():
    assert random.normal((2,), dtype="float64").dtype == np.float64
    assert random.randint((2,), 0, 5, dtype="int64").dtype == np.int64
    with pytest.raises(ValueError, match="uniform"):
        random.uniform((2,), dtype="int32")
    with pytest.raises(ValueError, match="randint"):
        random.randint((2,), 0, 5, dtype="float32")
    with pytest.raises(TypeError, match="seed"):
        random.normal((2,), seed="abc")
    with pytest.raises(ValueError, match="dropout"):
        random.dropout(np.ones(3, "float32"), rate=1.0)


def test_dropout_scales_keeps_and_is_differentiable():
    x = zg.tensor(np.ones((200, 50), "float32"), requires_grad=True)
    y = random.dropout(x, rate=0.4, seed=random.SeedGenerator(1))
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.6) < 0.02
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.6, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.numpy())
    z = random.dropout(np.ones((4, 6), "float32"), 0.5, noise_shape=(None, 1), seed=0).numpy()
    assert all(len(set(row)) == 1 for row in z)  # one draw per row, broadcast along the row


def test_shuffle_permutes_along_an_axis():
    x = np.arange(12, dtype="float32").reshape(3, 4)
    y = random.shuffle(x, axis=1, seed=0).numpy()
    assert y.shape == (3, 4) and not np.array_equal(y, x)
    np.testing.assert_array_equal(np.sort(y, axis=1), x)
    np.testing.assert_array_equal(y, x[:, (y[0]).astype(int)])  # whole columns moved


def test_categorical_follows_the_softmax_probabilities():
    logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 1e-9]], dtype="float32"))
    s = random.categorical(logits, 4000, seed=0)
    assert s.shape == (2, 4000) and s.dtype == np.int32
    freq = [np.bincount(r, minlength=3) / 4000 for r in s.numpy()]
    np.testing.assert_allclose(freq[0], [0.1, 0.2, 0.7], atol=0.03)
    assert freq[1][2] == 0


def test_signatures_match_keras(real_keras):
    for name in random.__all__:
        if name == "SeedGenerator":
            continue
        ours = list(inspect.signature(getattr(random, name)).parameters)
        theirs = list(inspect.signature(getattr(real_keras.random, name)).parameters)
        assert ours == theirs, name


def test_keras_namespace_exposes_random_and_ops():
    assert keras.random is random
    assert keras.ops.matmul is not None and keras.ops.nn.relu is keras.ops.relu
    assert keras.ops.linalg.norm is keras.ops.norm and keras.ops.numpy.sum is keras.ops.sum
