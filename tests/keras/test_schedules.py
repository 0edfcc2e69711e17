"""keras.optimizers.schedules against real Keras: values at many steps, configs, and an optimizer
that follows its schedule."""

import numpy as np
import pytest

from zerograd import keras

CASES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5)),
    (
        "ExponentialDecay",
        dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.9, staircase=True),
    ),
    ("PiecewiseConstantDecay", dict(boundaries=[3, 10, 20], values=[1.0, 0.5, 0.1, 0.01])),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=20)),
    (
        "PolynomialDecay",
        dict(
            initial_learning_rate=0.1, decay_steps=8, end_learning_rate=0.01, power=0.5, cycle=True
        ),
    ),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=5, decay_rate=0.5)),
    (
        "InverseTimeDecay",
        dict(initial_learning_rate=0.1, decay_steps=5, decay_rate=0.5, staircase=True),
    ),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=20)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=20, alpha=0.1)),
    (
        "CosineDecay",
        dict(initial_learning_rate=0.0, decay_steps=20, warmup_target=0.2, warmup_steps=6),
    ),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=5)),
    (
        "CosineDecayRestarts",
        dict(initial_learning_rate=0.1, first_decay_steps=4, t_mul=1.0, m_mul=0.5, alpha=0.05),
    ),
    (
        "CosineDecayRestarts",
        dict(initial_learning_rate=0.1, first_decay_steps=3, t_mul=1.5, m_mul=0.8),
    ),
]
STEPS = [0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 15, 20, 26, 27, 40, 100]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_schedule_values_match_keras(real_keras, name, kwargs):
    ours = getattr(keras.optimizers.schedules, name)(**kwargs)
    theirs = getattr(real_keras.optimizers.schedules, name)(**kwargs)
    got = [float(ours(s)) for s in STEPS]
    want = [float(real_keras.ops.convert_to_numpy(theirs(s))) for s in STEPS]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_schedule_config_matches_keras(real_keras, name, kwargs):
    ours = getattr(keras.optimizers.schedules, name)(**kwargs)
    theirs = getattr(real_keras.optimizers.schedules, name)(**kwargs)
    assert ours.get_config() == theirs.get_config()
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()
    assert [again(s) for s in STEPS] == [ours(s) for s in STEPS]
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(ours))
    assert type(restored) is type(ours) and restored.get_config() == ours.get_config()


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda s: s.ExponentialDecay(0.1, 0, 0.5), "decay_steps.*> 0.*0"),
        (lambda s: s.PiecewiseConstantDecay([1, 2], [1.0]), "one more value"),
        (lambda s: s.PiecewiseConstantDecay([2, 1], [1.0, 0.5, 0.1]), "increase"),
        (lambda s: s.CosineDecayRestarts(0.1, -1), "first_decay_steps"),
    ],
)
def test_bad_schedule_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make(keras.optimizers.schedules)


def test_custom_schedule_subclass():
    class Halving(keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self, lr):
            self.lr = lr

        def __call__(self, step):
            return self.lr / (step + 1)

        def get_config(self):
            return {"lr": self.lr}

    assert Halving.from_config({"lr": 1.0})(1) == 0.5
    with pytest.raises(NotImplementedError, match="__call__"):
        keras.optimizers.schedules.LearningRateSchedule()(0)


@pytest.mark.parametrize("opt", ["SGD", "Adam", "RMSprop"])
def test_optimizer_follows_its_schedule_like_keras(real_keras, opt):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    kw = dict(boundaries=[1, 3], values=[0.1, 0.02, 0.005])
    models = []
    for k in (keras, real_keras):
        schedule = k.optimizers.schedules.PiecewiseConstantDecay(**kw)
        model = k.Sequential([k.Input(shape=(3,)), k.layers.Dense(2)])
        model.compile(getattr(k.optimizers, opt)(learning_rate=schedule), "mse")
        models.append(model)
    models[0].set_weights(models[1].get_weights())
    lrs = []
    for _ in range(5):
        lrs.append(float(models[0].optimizer.learning_rate))
        for m in models:
            m.train_on_batch(x, y)
    assert lrs == [0.1, 0.1, 0.02, 0.02, 0.005]
    for ours, theirs in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    assert models[0].optimizer.iterations == 5


def test_schedules_import_path_and_metric_argument_order(real_keras):
    from zerograd.keras.optimizers.schedules import CosineDecay

    assert CosineDecay is keras.optimizers.schedules.CosineDecay
    # Metric's positional order is (dtype, name), as Keras's
    ours, theirs = keras.metrics.Metric("float64", "m"), real_keras.metrics.Metric("float64", "m")
    assert ours.get_config() == theirs.get_config()
